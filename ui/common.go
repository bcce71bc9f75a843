package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// Common is what every page shares with the App: its size, the styles and
// the keys. Styles and Keys point at values owned by the App, so a colour
// profile change reaches every page at once.
type Common struct {
	Width, Height int
	Styles        *Styles
	Keys          *KeyMap
	// Changed, when the TUI shows a diff of two snapshot files, is what
	// differs between them; nil otherwise.
	Changed *Changed
	// Offline is true when the TUI shows snapshot files: a collector
	// they have no status of never reports (the snapshot predates it).
	Offline bool
}

// SetSize records the size of the page's area.
func (c *Common) SetSize(w, h int) { c.Width, c.Height = w, h }

// HelpLines are none by default.
func (c *Common) HelpLines(width int) []string { return nil }

// CapturesKeys is false by default.
func (c *Common) CapturesKeys() bool { return false }

// Background takes no message by default.
func (c *Common) Background(tea.Msg, func()) (tea.Cmd, bool) { return nil, false }

// TickCmd is none by default.
func (c *Common) TickCmd(bool) tea.Cmd { return nil }

// Alarm is none by default.
func (c *Common) Alarm(width int) string { return "" }

// page is one tab. Pages are pointers updated in place by the App (only from
// the Bubble Tea goroutine; pages are not safe for concurrent use).
//
// To add a tab, implement page (embed Common) and append it in New: the
// App knows pages only through this interface. A page that needs its own asynchronous work returns commands from
// Init/Update like any Bubble Tea model.
type page interface {
	// Title is the name on the tab bar.
	Title() string
	Init() tea.Cmd
	// Update handles a message the App did not handle itself (keys while
	// the page is active, mouse wheel, the page's own messages).
	Update(msg tea.Msg) (page, tea.Cmd)
	// View renders exactly Height lines of at most Width cells.
	View() string
	SetSize(w, h int)
	// SetSnapshot hands the page a new snapshot; the page refreshes its
	// rows lazily, on the next Sync.
	SetSnapshot(s model.Snapshot)
	// Sync brings the page's rows up to date with its snapshot, filter
	// and sort. It does nothing when nothing changed.
	Sync()
	// SetFilter sets the live filter (words, any case, all of which a
	// row's columns must contain, and key:value terms on pages that
	// understand them: search.go); Filter returns it.
	SetFilter(f string)
	Filter() string
	// ShortHelp and FullHelp are the page's own bindings.
	ShortHelp() []key.Binding
	FullHelp() [][]key.Binding
	// HelpLines are what the full help (?) says about the page, under
	// the keys, wrapped to width (helpText; Common: none).
	HelpLines(width int) []string
	// CapturesKeys reports whether a form, a question or a view open on
	// the page takes every key (Common: never).
	CapturesKeys() bool
	// Background takes a message of the page's own (the result of one of
	// its commands, its tick) whichever tab is shown, and reports whether
	// it did; refresh has the App take the Store's latest snapshot now
	// (unless paused). Common takes none.
	Background(msg tea.Msg, refresh func()) (tea.Cmd, bool)
	// TickCmd returns the command for the page's next tick, or nil when
	// it needs none (an idle screen writes nothing). The App asks every
	// page after each message, whichever tab is shown; shown says whether
	// this page is on screen (App.shown). Common: nil.
	TickCmd(shown bool) tea.Cmd
	// Alarm is what the header shows on every tab, fitted to a screen
	// width cells wide, or "" (Common).
	Alarm(width int) string
}

// viewCloser is a page with a view of its own open over its table (the
// Interfaces tab's interface in full, the flows of a drop reason): esc
// closes it, a level at a time, before it clears the filter. CloseView
// reports whether a view was open.
type viewCloser interface {
	CloseView() bool
}

// paneCloser is a page whose detail pane (enter) may be open: esc closes
// it once there is no filter left to clear. ClosePane reports whether it
// was open.
type paneCloser interface {
	ClosePane() bool
}
