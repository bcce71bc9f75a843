// Package ui is netlens's full-screen terminal interface, a Bubble Tea v2
// program.
//
// The UI only reads model.Snapshot values: it never reads /proc or opens a
// socket. It learns of changes through model.Store.Subscribe, one
// notification at a time (a tea.Cmd that waits for one and is re-issued),
// and redraws at most once per Options.Refresh however often collectors
// publish. While paused it keeps showing the snapshot it froze on.
//
// The App is the root model: a header (host, kernel, refresh, LIVE/PAUSED,
// collector health), a tab bar, the active page, a status line and a short
// help footer. Each page (Connections, Drops, Sysctl; more later) embeds a
// Common (size, styles, keys) and implements the page interface in page.go.
// Tables render only their visible rows (table.go); pages filter and sort
// into an index slice only when the snapshot, the filter or the sort
// changes.
//
// Output is plain ASCII (no box-drawing or other glyphs the Linux console
// lacks); colours come from one Styles value built for the terminal's colour
// profile, with no colours at all under NO_COLOR (selection is then shown in
// reverse video). The layout needs 80x24; smaller terminals get a "terminal
// too small" message.
package ui
