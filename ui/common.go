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
}

// SetSize records the size of the page's area.
func (c *Common) SetSize(w, h int) { c.Width, c.Height = w, h }

// page is one tab. Pages are pointers updated in place by the App (only from
// the Bubble Tea goroutine; pages are not safe for concurrent use).
//
// To add a tab (Filters, Capture, ...), implement page and append it in
// New. A page that needs its own asynchronous work returns commands from
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
	// understand them: filter.go); Filter returns it.
	SetFilter(f string)
	Filter() string
	// ShortHelp and FullHelp are the page's own bindings.
	ShortHelp() []key.Binding
	FullHelp() [][]key.Binding
}
