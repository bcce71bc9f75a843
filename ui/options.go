package ui

import (
	"time"

	"netlens/collectors/filter"
	"netlens/model"
)

// DefaultRefresh is the redraw interval when Options.Refresh is zero.
const DefaultRefresh = time.Second

// Minimum terminal size the layout is designed for.
const (
	MinWidth  = 80
	MinHeight = 24
)

// Options configure the UI.
type Options struct {
	// Refresh is the minimum interval between redraws caused by new data:
	// however often collectors publish, the screen changes at most once
	// per Refresh (DefaultRefresh when zero).
	Refresh time.Duration
	// SaveSnapshot writes a snapshot and returns where it went. It is
	// called, off the UI goroutine, with the snapshot on screen when the
	// user presses `s`. Nil disables the key (the status line says so).
	SaveSnapshot func(model.Snapshot) (path string, err error)
	// Version is shown in the header.
	Version string
	// NoMouse leaves the mouse to the terminal (text selection); by
	// default the UI takes mouse events to scroll with the wheel.
	NoMouse bool
	// Deps names the collectors each tab's data comes from, so that a tab
	// whose collector is down says why instead of showing an empty table.
	// Nil fields take DefaultConnectionsDeps, DefaultFlowsDeps,
	// DefaultDropsDeps, DefaultSysctlDeps, DefaultFiltersDeps and
	// DefaultCaptureDeps.
	Deps Deps
	// Filters changes filter rules for the Filters tab (a
	// *filter.Manager satisfies it); nil shows the rules read-only.
	Filters FilterControl
	// CaptureDir is the directory where the Capture tab's w writes
	// pcapng files ("." when empty).
	CaptureDir string
	// Now is the clock (time.Now when nil); tests replace it.
	Now func() time.Time
	// Glyphs says whether the Drops tab's sparklines may use Unicode
	// block glyphs. Run detects it from TERM and the locale when it is
	// GlyphsAuto; New alone then draws ASCII.
	Glyphs Glyphs
	// Offline, when set, says the TUI shows snapshot files, not a live
	// host (netlens --open): the header says whose snapshot and when.
	Offline *Offline
	// Recorder toggles the flight recorder with R; nil disables the key.
	Recorder RecordControl
}

// FilterControl plans, applies and confirms filter rule changes: what
// *filter.Manager does. The UI calls it only from tea.Cmds, never from
// Update; implementations must be safe for concurrent use.
type FilterControl interface {
	// Plan validates op and works out its effect (drop-capable, the
	// revert deadline, the lockout guard's Impact).
	Plan(op filter.Op) (filter.Plan, error)
	// Apply makes the planned change (commit-confirmed when the plan has
	// a revert deadline). Apply and Confirm should publish the rules they
	// leave to the Store before they return: the UI shows the Store's
	// latest snapshot as soon as they do, whatever the refresh interval.
	Apply(p filter.Plan) (filter.Result, error)
	// Confirm keeps the pending change txn (0: every pending change).
	Confirm(txn uint32) error
}

// Deps names the collectors behind each tab.
type Deps struct {
	// Connections is the Connections tab's sockets view; Flows its flows
	// view (the joined view needs both). The first of Flows is also the
	// collector whose health the Drops tab's netfilter section and the
	// TABLE FULL banner describe.
	Connections []string
	Flows       []string
	Drops       []string
	Sysctl      []string
	Filters     []string
	Capture     []string
}

func (o Options) withDefaults() Options {
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Deps.Connections == nil {
		o.Deps.Connections = DefaultConnectionsDeps
	}
	if o.Deps.Flows == nil {
		o.Deps.Flows = DefaultFlowsDeps
	}
	if o.Deps.Drops == nil {
		o.Deps.Drops = DefaultDropsDeps
	}
	if o.Deps.Sysctl == nil {
		o.Deps.Sysctl = DefaultSysctlDeps
	}
	if o.Deps.Filters == nil {
		o.Deps.Filters = DefaultFiltersDeps
	}
	if o.Deps.Capture == nil {
		o.Deps.Capture = DefaultCaptureDeps
	}
	if o.CaptureDir == "" {
		o.CaptureDir = "."
	}
	return o
}
