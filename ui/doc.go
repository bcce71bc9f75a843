// Package ui is netlens's full-screen terminal interface, a Bubble Tea v2
// program.
//
// It only reads model.Snapshot values: it imports no collector and opens
// no socket (imports_test.go checks it). It acts on the host only through
// Options.Controls (options.go), interfaces that cli wires, and only from
// tea.Cmds, so Update never blocks. It learns of new data through
// model.Store.Subscribe (waitStoreCmd, re-issued after each notification)
// and redraws at most once per Options.Refresh; paused, it keeps the
// snapshot it froze on.
//
// The App (app.go) is the root model: header, collector health, tab bar,
// the active page, status and help lines. It knows the pages only through
// the page interface (common.go); to add a tab, write a type that embeds
// Common and implements page, and append it in New. The table pages share
// listBase (list.go: search, sort, selection, detail pane, and the text
// that explains an empty pane whose collector is down); tables (table.go)
// format only their visible rows.
//
// Tabs: Connections (conns.go: sockets.go, flows.go, joined.go), Drops
// (drops.go, dropviews.go, netfilter.go, explain.go, sparkline.go),
// Sysctls (sysctl.go), Filters (filters.go, ruleform.go) and Capture
// (capture.go). The search (search.go) is words and key:value terms;
// keys are in keys.go, colours in styles.go. Output is ASCII but for the
// sparklines' block glyphs where the terminal has them (Options.Glyphs).
// N opens the namespace picker over the page (netns.go; the keyboard is
// the picker's while the input mode is inputPicker); the header names the
// namespace the collectors read.
// The layout needs 80x24.
package ui
