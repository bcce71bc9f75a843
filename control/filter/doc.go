// Package filter is the filter rules control plane: the Backend interface
// and its selection (the netlens kernel module through kmodbackend, else
// the netlens nftables table through nft, else read-only with the
// reason), the lockout guard (which established connections, and whether
// the operator's own SSH session, a change would cut), the Manager (plan,
// apply, confirm), the recovery of overdue reverts, persistence of rule
// sets as JSON, and Control, what the TUI holds. Rule types, validation
// and the plan types are in model/rules; the collector that publishes the
// rules is collectors/filter; `netlens rules` is cli/rules.go.
//
// Wiring, as cli uses it:
//
//	b, err := filter.Open(filter.Options{Backend: flagFilterBackend}) // never fails but for a bad name (rules.InvalidError)
//	col := filtercol.New(b)                                  // the collector reads b; Close closes b
//	m := &filter.Manager{Backend: b, Guard: func() filter.GuardInput { return filter.GuardFromSnapshot(store.Snapshot()) }}
//	p, err := m.Plan(rules.Op{Kind: rules.OpDisable, ID: id}) // validation errors: rules.InvalidError wrapping *rules.ValidationError
//	if p.NeedsSecondConfirm() { /* show p.Impact (String, Session, Hits), ask again */ }
//	res, err := m.Apply(p) // res.Txn, res.RevertAt when p.Revert > 0: show the countdown
//	err = m.Confirm(res.Txn) // or Confirm(0): every pending change
//	col.Refresh()          // publish now rather than at the next interval
//
// The nft backend starts its revert helper as os.Executable() + "rules
// revert-watch FILE", so that hidden command must stay at the root under
// that name (cli/rules.go). See docs/filters.md.
package filter
