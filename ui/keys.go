package ui

import "charm.land/bubbles/v2/key"

// KeyMap is every key binding the UI knows, with its help text. One KeyMap
// is built by DefaultKeyMap and shared (read-only) by the App and its pages.
type KeyMap struct {
	// Global.
	Quit     key.Binding
	Help     key.Binding
	NextTab  key.Binding
	PrevTab  key.Binding
	Tab      key.Binding // the number keys, for help only
	Filter   key.Binding
	Sort     key.Binding
	Reverse  key.Binding
	Pause    key.Binding
	Redraw   key.Binding
	Snapshot key.Binding
	Record   key.Binding
	Escape   key.Binding
	NetNS    key.Binding // the namespace picker

	// Movement.
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Home     key.Binding
	End      key.Binding

	// Page-specific.
	ShowAll     key.Binding // drops: moved only / all counters
	WatchedOnly key.Binding // sysctl: watched only / all
	Details     key.Binding // lists: show/hide the detail pane (sysctl: the "why")
	View        key.Binding // connections: sockets / flows / joined
	ProcView    key.Binding // connections: sockets by process (P)
	NATFilter   key.Binding // connections: cycle the nat: filter term

	// Filters tab (space is its toggle, page down elsewhere).
	RuleToggle  key.Binding
	RuleAdd     key.Binding
	RuleEdit    key.Binding
	RuleDelete  key.Binding
	RuleConfirm key.Binding
	RuleLog     key.Binding // the selected rule's live packet log
	RulePolicy  key.Binding // set a hook's default policy

	// Sysctl tab (and a Drops counter's explanation).
	SysctlEdit    key.Binding
	SysctlConfirm key.Binding

	// Capture tab.
	CaptureWrite key.Binding
	CaptureStart key.Binding // start / stop a capture

	// Drops tab: the drop tracer's sampled stream on and off.
	DropSample key.Binding

	// Shorter help texts for the footer.
	shortHelp, shortFilter, shortTab, shortSort, shortPause, shortSnapshot, shortView key.Binding
	// escBack is esc in the full help: it goes back from a view, clears
	// the filter, then closes the detail pane.
	escBack key.Binding

	// Filter input.
	FilterAccept key.Binding
	FilterDelete key.Binding
	FilterClear  key.Binding
}

// DefaultKeyMap returns the netlens key bindings.
func DefaultKeyMap() *KeyMap {
	k := &KeyMap{
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		NextTab:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next tab")),
		PrevTab:  key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "prev tab")),
		Tab:      key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9"), key.WithHelp("1-9", "go to tab")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Sort:     key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "sort column")),
		Reverse:  key.NewBinding(key.WithKeys("O"), key.WithHelp("O", "reverse sort")),
		Pause:    key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Redraw:   key.NewBinding(key.WithKeys("ctrl+l"), key.WithHelp("ctrl+l", "redraw")),
		Snapshot: key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "save snapshot")),
		Record:   key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "recorder")),
		Escape:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		NetNS:    key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "network namespace")),

		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("up/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("down/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", "ctrl+d", "space"), key.WithHelp("pgdn", "page down")),
		Home:     key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("home/g", "first row")),
		End:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end/G", "last row")),

		ShowAll:     key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "all/moved")),
		WatchedOnly: key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "watched")),
		Details:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		View:        key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "view")),
		ProcView:    key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "by process")),
		NATFilter:   key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "nat")),

		RuleToggle:  key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "on/off")),
		RuleAdd:     key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add")),
		RuleEdit:    key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit")),
		RuleDelete:  key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete")),
		RuleConfirm: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "confirm")),
		RuleLog:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "packet log")),
		RulePolicy:  key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "policy")),

		CaptureWrite:  key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "pcapng")),
		SysctlEdit:    key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit value")),
		SysctlConfirm: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "confirm change")),
		CaptureStart:  key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "start/stop capture")),

		FilterAccept: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
		FilterDelete: key.NewBinding(key.WithKeys("backspace", "ctrl+h"), key.WithHelp("bksp", "delete")),
		FilterClear:  key.NewBinding(key.WithKeys("ctrl+u", "ctrl+w"), key.WithHelp("ctrl+u", "clear")),

		DropSample: key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "drop samples on/off")),
	}
	short := func(b key.Binding, desc string) key.Binding {
		b.SetHelp(b.Help().Key, desc)
		return b
	}
	k.shortHelp = short(k.Help, "help")
	k.shortFilter = short(k.Filter, "filter")
	k.shortTab = short(k.NextTab, "tabs")
	k.shortSort = short(k.Sort, "sort")
	k.shortPause = short(k.Pause, "pause")
	k.shortSnapshot = short(k.Snapshot, "snapshot")
	k.shortView = short(k.View, "view")
	k.escBack = short(k.Escape, "back, clear filter, close")
	return k
}

// globalShort is the start of the footer help, before a page's own keys.
func (k *KeyMap) globalShort() []key.Binding {
	return []key.Binding{k.shortHelp, k.shortFilter, k.shortTab, k.shortSort, k.shortPause, k.shortSnapshot, k.Quit}
}

// globalFull is the global part of the full help, in columns.
func (k *KeyMap) globalFull() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End},
		{k.NextTab, k.PrevTab, k.Tab, k.Filter, k.escBack, k.Sort, k.Reverse},
		{k.Pause, k.Redraw, k.Snapshot, k.Record, k.NetNS, k.Help, k.Quit},
	}
}
