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
// Tables (table.go) format only their visible rows. Pages filter and sort
// into an index only when the snapshot (or the filter, the sort, a page
// toggle) changes, and not at all when the Store hands them the same rows
// again; the filter's lower-case text of every row is built once per
// snapshot.
//
// Output is plain ASCII (no box-drawing or other glyphs the Linux console
// lacks); colours come from one Styles value (styles.go) built for the
// terminal's colour profile: none under NO_COLOR (selection in reverse
// video), the 16 basic colours on TERM=linux and other 16-colour terminals,
// the 256 palette otherwise. The layout needs 80x24; a smaller terminal
// gets "terminal too small". Nothing changes on screen unless the data
// or the user does, so an idle screen writes nothing.
//
// Keys (keys.go): tab/shift+tab and 1-9 switch tabs; / filters (enter
// keeps, esc clears); o sorts by the next column, O reverses; up/down/j/k,
// pgup/pgdn, home/end (g/G) and the mouse wheel scroll, a click selects a
// row or a tab; enter shows the detail pane; a shows every counter (Drops);
// w shows watched sysctls only; p pauses; s saves a snapshot; ctrl+l
// repaints; ? shows every key and each collector's state; q or ctrl+c
// quits; ctrl+z suspends.
package ui
