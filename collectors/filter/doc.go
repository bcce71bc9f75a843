// Package filter manages netlens filter rules: the Backend interface and
// its selection (the netlens kernel module through kmodbackend, else the
// netlens nftables table through nft, else read-only with the reason),
// validation of rules (the same for the TUI form and the CLI), the lockout
// guard (which established connections, and whether the operator's own SSH
// session, a change would cut), persistence of rule sets as JSON, the
// "filters" collector that publishes model.RulesUpdate, and the
// `netlens rules` command line.
//
// See docs/filters.md.
package filter
