package ui

import (
	"cmp"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// Sysctl table columns.
const (
	sysMark = iota
	sysName
	sysValue
)

// sysctlPage is the Sysctl tab: every entry under /proc/sys/net, watched
// ones first and marked, with what a watched entry governs in a pane
// under the table. Not safe for concurrent use.
type sysctlPage struct {
	listBase[string]
	watchedOnly bool
	watched     int
}

func newSysctlPage(c Common, deps []string) *sysctlPage {
	p := &sysctlPage{}
	p.details = true
	p.Common, p.deps = c, deps
	cols := []column{
		sysMark:  {title: "W", width: 2},
		sysName:  {title: "Name", width: 30, flex: 3},
		sysValue: {title: "Value", width: 20, flex: 2},
	}
	ss := func() []model.Sysctl { return p.snap.Sysctls }
	byName := func(a, b int) int { s := ss(); return cmp.Compare(s[a].Name, s[b].Name) }
	sorts := []sortSpec{
		{name: "watched", col: sysMark, cmp: func(a, b int) int {
			s := ss()
			return cmp.Or(-cmp.Compare(b2i(s[a].Watched), b2i(s[b].Watched)), byName(a, b))
		}},
		{name: "name", col: sysName, cmp: byName},
		{name: "value", col: sysValue, cmp: func(a, b int) int {
			s := ss()
			return cmp.Or(cmpValues(s[a].Value, s[b].Value), byName(a, b))
		}},
	}
	p.init(cols, sorts, 0)
	return p
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cmpValues compares sysctl values numerically when both are integers.
func cmpValues(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return cmp.Compare(a, b)
}

// Title implements page.
func (p *sysctlPage) Title() string { return "Sysctl" }

// SetSnapshot implements page.
func (p *sysctlPage) SetSnapshot(s model.Snapshot) { p.setSnapshot(p, s) }

// Sync implements page.
func (p *sysctlPage) Sync() {
	if p.fresh() {
		p.watched = 0
		for i := range p.snap.Sysctls {
			if p.snap.Sysctls[i].Watched {
				p.watched++
			}
		}
	}
	p.sync(p)
}

// Update implements page.
func (p *sysctlPage) Update(msg tea.Msg) (page, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, p.Keys.WatchedOnly):
			p.watchedOnly = !p.watchedOnly
			p.invalidate()
			p.Sync()
		default:
			p.handleKey(msg)
		}
	case tea.MouseMsg:
		p.handleMouse(msg)
	}
	return p, nil
}

// ShortHelp implements page.
func (p *sysctlPage) ShortHelp() []key.Binding {
	return []key.Binding{p.Keys.WatchedOnly, p.Keys.Details}
}

// FullHelp implements page.
func (p *sysctlPage) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.Keys.WatchedOnly, p.Keys.Details}}
}

func (p *sysctlPage) sameRows(a, b model.Snapshot) bool { return sameSlice(a.Sysctls, b.Sysctls) }
func (p *sysctlPage) count() int                        { return len(p.snap.Sysctls) }
func (p *sysctlPage) include(i int) bool {
	return !p.watchedOnly || p.snap.Sysctls[i].Watched
}
func (p *sysctlPage) key(i int) string { return p.snap.Sysctls[i].Name }
func (p *sysctlPage) appendHaystack(b []byte, i int) []byte {
	for c := sysMark; c <= sysValue; c++ {
		b = append(b, p.cell(i, c)...)
		b = append(b, ' ')
	}
	return b
}

func (p *sysctlPage) cell(i, c int) string {
	x := &p.snap.Sysctls[i]
	switch c {
	case sysMark:
		if x.Watched {
			return "*"
		}
		return ""
	case sysName:
		return sanitize(x.Name)
	case sysValue:
		return sanitize(x.Value)
	}
	return ""
}

// View implements page.
func (p *sysctlPage) View() string {
	s := p.Styles
	n := len(p.snap.Sysctls)
	left := itoa(n) + " sysctls, " + itoa(p.watched) + " watched (*)"
	if p.watchedOnly {
		left += ", showing watched only"
	}
	right := p.sortLabel()
	if f := p.shownLabel(n); f != "" && p.filter != "" {
		right = f + "  " + right
	}
	head := summaryLine(s, left, right, p.Width)
	empty := "no sysctls"
	if p.filter != "" {
		empty = "no sysctls match the filter " + strconv.Quote(p.filter)
	}
	rows := p.idx
	return p.render(head, n, empty, func(i, c int) string { return p.cell(rows[i], c) }, p.rowKind, p.detail)
}

// detail is the selected entry in full and, for a watched one, why it
// matters.
func (p *sysctlPage) detail(i int) []string {
	x := &p.snap.Sysctls[p.idx[i]]
	why := x.Why
	if why == "" {
		why = "(not on the watch list)"
	}
	return append([]string{sanitize(x.Name) + " = " + sanitize(x.Value)}, wrap(oneLine(why), p.Width)...)
}

func (p *sysctlPage) rowKind(i int) rowKind {
	if p.Changed != nil && p.Changed.Sysctls[p.snap.Sysctls[p.idx[i]].Name] {
		return rowHot
	}
	if p.snap.Sysctls[p.idx[i]].Watched {
		return rowMarked
	}
	return rowPlain
}

func repeat(c byte, n int) string {
	b := make([]byte, max(n, 0))
	for i := range b {
		b[i] = c
	}
	return string(b)
}
