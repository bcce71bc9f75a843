// Package ui is netlens's full-screen terminal interface, a Bubble Tea v2
// program.
//
// The UI only reads model.Snapshot values: it never reads /proc or opens a
// socket. It learns of changes through model.Store.Subscribe, one
// notification at a time (waitStoreCmd waits for one and is re-issued, so
// Update never blocks), and redraws at most once per Options.Refresh however
// often collectors publish. While paused it keeps showing the snapshot it
// froze on; `s` saves the snapshot on screen.
//
// The App (app.go) is the root model: a header (host, kernel, refresh,
// LIVE/PAUSED), a collector-health line (those that are down first, with
// their reason), a tab bar, the active page, a status line (filter input,
// snapshot result) and a short help line. Each page embeds a Common (size,
// styles, keys) and implements the page interface (common.go). The table
// pages share listBase (list.go): the filter, the sort, the index of the
// rows shown, the selection kept across snapshots, the detail pane, and
// render, which also explains an empty pane whose collector is down. To
// add a tab, write a page (for a table: a listBase plus count, include,
// appendHaystack, key, sameRows, cell and detail) and append it in New.
//
// The Connections tab (conns.go) holds three views, which v cycles
// through, each a list page of its own sharing the tab's filter: sockets
// (sockets.go, what ss shows), conntrack flows (flows.go, what conntrack
// -L shows, with NAT at a glance and both tuples in the detail pane) and
// the two joined on the 5-tuple (joined.go, model.JoinSocketsFlows: a
// process, its socket state and its conntrack state on one row). Only the
// flows and joined views depend on the conntrack collector (Deps.Flows),
// so the sockets view is never degraded by it. The Drops tab starts with
// a netfilter section (netfilter.go): the conntrack table's fill with a
// bar, the rates and totals of drop, early_drop, insert_failed and
// invalid, and why the collector is down and how to fix it. While the
// table is full, or drop/early_drop move, a TABLE FULL banner shows under
// the header on every tab. Under it, v cycles three views (drops.go,
// dropviews.go): the funnel, every drop-like counter netlens knows
// (model/drops.Funnel) by layer in packet order with its deltas,
// rate and a sparkline of its last samples (sparkline.go), highlighted
// for 10 s of sample time after it moved, and enter explaining it
// (explain.go: what increments it, its causes, the settings with the
// sysctls' current values from the snapshot, the traps); the kernel
// drop monitor's drops per reason and location, or why there are none;
// and the sockets with the most drops (model/drops.TopSockets).
//
// The Filters tab (filters.go, ruleform.go) lists the filter rules of the
// backend in use (kmod, nft, or none with the reason it is read-only and
// the fix) in evaluation order with their counters, and the per-hook
// verdicts. It changes them only through Options.Filters (a
// *filter.Manager in main), from tea.Cmds: every change is planned first;
// one that would cut the operator's SSH session or established
// connections shows them and asks again (Y, or y twice); a drop-capable
// one is applied with a revert deadline whose countdown shows in the tab
// and in the header on every tab (countdownMsg ticks once a second only
// while a change is pending) until c keeps it, or the collector reports
// it reverted. The form validates as the user types with the filter
// package's parsers and rules.Validate, and refuses enter with the
// reason. While the form or a question is open it takes every key.
//
// The Capture tab (capture.go) shows the capture's rates and totals, its
// losses (ring drops, decode errors: never hidden), its CPU cost, the
// per-protocol rates, and the top flows or (v) hosts by bytes; enter on a
// flow decodes its last packets layer by layer, w writes the stored
// packets (or the open flow's) to a pcapng file in Options.CaptureDir,
// both through model.CaptureControl from tea.Cmds. Without a capture it
// says how to start one (--capture IFACE, --pcap FILE).
//
// A filter (search.go) is words, all of which a row's text must contain,
// and, on the Connections tab, key:value terms: proto:udp port:53
// addr:10.0.0.0/8 state:estab nat:snat|dnat|both|any|none mark:N zone:N.
// n cycles the nat: term.
//
// Tables (table.go) format only their visible rows. Pages filter and sort
// into an index only when the snapshot (or the filter, the sort, a page
// toggle) changes, and not at all when the Store hands them the same rows
// again; the filter's lower-case text of every row is built once per
// snapshot.
//
// Output is plain ASCII (no box-drawing or other glyphs the Linux console
// lacks), but for the sparklines' block elements where TERM and the
// locale say the terminal has them (Options.Glyphs, DetectGlyphs: never
// on TERM=linux); colours come from one Styles value (styles.go) built for the
// terminal's colour profile: none under NO_COLOR (selection in reverse
// video), the 16 basic colours on TERM=linux and other 16-colour terminals,
// the 256 palette otherwise. The layout needs 80x24; a smaller terminal
// gets "terminal too small". Nothing changes on screen unless the data
// or the user does, so an idle screen writes nothing.
//
// Keys (keys.go): tab/shift+tab and 1-9 switch tabs; / filters (enter
// keeps, esc clears); o sorts by the next column, O reverses; v switches
// the Connections view, n cycles its nat: filter; up/down/j/k,
// pgup/pgdn, home/end (g/G) and the mouse wheel scroll, a click selects a
// row or a tab; enter shows the detail pane (Drops: the explanation); v
// switches the Drops view; a shows every counter (Drops);
// w shows watched sysctls only; space toggles a rule, a adds, e edits, d
// deletes, c confirms (Filters; space pages down elsewhere); w writes
// pcapng, v flows/hosts (Capture); p pauses; s saves a snapshot; ctrl+l
// repaints; ? shows every key and each collector's state (up/down scroll
// it); q or ctrl+c quits; ctrl+z suspends.
package ui
