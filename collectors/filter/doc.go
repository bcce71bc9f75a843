// Package filter manages netlens filter rules: the Backend interface and
// its selection (the netlens kernel module through kmodbackend, else the
// netlens nftables table through nft, else read-only with the reason),
// validation of rules (the same for the TUI form and the CLI), the lockout
// guard (which established connections, and whether the operator's own SSH
// session, a change would cut), persistence of rule sets as JSON, the
// "filters" collector that publishes model.RulesUpdate, and the
// `netlens rules` command line.
//
// Wiring, as the TUI and main use it:
//
//	b, err := filter.Open(filter.Options{Backend: flagFilterBackend}) // never fails but for a bad name (UsageError)
//	col := filter.NewCollector(b)                                     // Name "filters"; Close closes b
//	m := &filter.Manager{Backend: b, Guard: func() filter.GuardInput { return filter.GuardFromSnapshot(store.Snapshot()) }}
//	p, err := m.Plan(filter.Op{Kind: filter.OpDisable, ID: id}) // validation errors: UsageError wrapping *ValidationError
//	if p.NeedsSecondConfirm() { /* show p.Impact (String, Session, Hits), ask again */ }
//	res, err := m.Apply(p) // res.Txn, res.RevertAt when p.Revert > 0: show the countdown
//	err = m.Confirm(res.Txn) // or Confirm(0): every pending change
//	col.Refresh()          // publish now rather than at the next interval
//
// root.AddCommand(filter.NewRulesCmd(filter.CLIConfig{})) adds `netlens
// rules`, including the hidden `rules revert-watch` that the nft backend
// starts (as os.Executable() + "rules revert-watch FILE"), so the command
// must sit at the root under that name. See docs/filters.md.
package filter
