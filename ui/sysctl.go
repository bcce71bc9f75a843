package ui

import (
	"cmp"
	"strconv"
	"strings"

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
	ed          *sysctlEditor // e, c: shared with the Drops tab
	pageH       int
	extra       int // lines under the table: the journal's, the message
}

func newSysctlPage(c Common, deps []string, ed *sysctlEditor) *sysctlPage {
	p := &sysctlPage{ed: ed}
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
func (p *sysctlPage) SetSnapshot(s model.Snapshot) {
	p.setSnapshot(p, s)
	p.ed.setSnapshot(s)
	if p.extraLines() != p.extra {
		p.SetSize(p.Width, p.pageH)
	}
}

// extraLines is how many lines go under the table: the last journal
// entries and the message line, when sysctls can be changed here or a
// change was made.
func (p *sysctlPage) extraLines() int {
	n := 0
	if p.ed.ctl != nil || len(p.ed.journal) > 0 {
		n = 1 + min(len(p.ed.journal), sysctlJournalLines)
		if p.ed.pending != nil {
			n++
		}
	}
	return n
}

// sysctlJournalLines is how many journal entries the tab shows.
const sysctlJournalLines = 3

// SetSize implements page: the table gets what the journal lines and
// the message line leave.
func (p *sysctlPage) SetSize(w, h int) {
	p.pageH = h
	p.extra = p.extraLines()
	p.listBase.SetSize(w, max(h-p.extra, 1))
}

// CapturesKeys implements page: the editor takes every key.
func (p *sysctlPage) CapturesKeys() bool { return p.ed.isOpen() }

// Background implements page: the editor's results and ticks.
func (p *sysctlPage) Background(msg tea.Msg, refresh func()) (tea.Cmd, bool) {
	return p.ed.result(msg, refresh)
}

// TickCmd implements page: the countdown of a change waiting for c, on
// every tab.
func (p *sysctlPage) TickCmd(bool) tea.Cmd { return p.ed.tickCmd() }

// Alarm implements page.
func (p *sysctlPage) Alarm(width int) string { return p.ed.alarm(width) }

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
	case tea.PasteMsg:
		p.ed.paste(msg.Content)
	case tea.KeyPressMsg:
		if p.ed.isOpen() {
			return p, p.ed.key(msg)
		}
		switch {
		case key.Matches(msg, p.Keys.SysctlEdit):
			if i := p.selected(); i >= 0 {
				x := p.snap.Sysctls[i]
				if why := p.ed.open(x.Name, x.Value); why != "" {
					p.ed.fromDrops = false
					p.ed.setMsg(why, true)
				}
			}
		case key.Matches(msg, p.Keys.SysctlConfirm):
			p.ed.fromDrops = false
			return p, p.ed.confirm()
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
	if p.ed.ctl != nil {
		return []key.Binding{p.Keys.WatchedOnly, p.Keys.Details, p.Keys.SysctlEdit, p.Keys.SysctlConfirm}
	}
	return []key.Binding{p.Keys.WatchedOnly, p.Keys.Details}
}

// FullHelp implements page.
func (p *sysctlPage) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.Keys.WatchedOnly, p.Keys.Details, p.Keys.SysctlEdit, p.Keys.SysctlConfirm}}
}

// HelpLines implements page.
func (p *sysctlPage) HelpLines(width int) []string {
	return helpText(width,
		"Sysctl: e changes the selected value (also on a Drops counter's "+
			"explanation): it is checked, written, and written back at its deadline "+
			"(SYSCTL REVERT IN, also in the header) unless c keeps it, even if "+
			"netlens is killed; a change that could cut your SSH session asks again "+
			"(Y or y twice). The last changes are listed below.")
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
	if p.ed.isOpen() {
		return p.ed.view(s, p.Width, p.pageH-1) + "\n" + resultLine(s, p.ed.msg, p.ed.msgErr, p.Width)
	}
	rows := p.idx
	out := p.render(head, n, empty, func(i, c int) string { return p.cell(rows[i], c) }, p.rowKind, p.detail)
	if p.extra == 0 {
		return out
	}
	return out + "\n" + strings.Join(p.journalLines(), "\n")
}

// journalLines are the lines under the table: the change waiting for a
// confirm, the last journal entries, and the message line.
func (p *sysctlPage) journalLines() []string {
	s, w := p.Styles, p.Width
	var out []string
	if pc := p.ed.pending; pc != nil {
		// What to do first: the line may be cut.
		out = append(out, s.Warn.Render(fitString(" pending: "+sanitize(pc.Name)+" "+sanitize(pc.Old)+" -> "+sanitize(pc.New)+
			": c keeps it, else written back at "+pc.RevertAt.Local().Format("15:04:05"), w)))
	}
	j := p.ed.journal
	for _, e := range j[max(len(j)-sysctlJournalLines, 0):] {
		line := " " + e.At.Local().Format("15:04:05") + " " + e.Outcome + " " + sanitize(e.Name) + " " + sanitize(e.Old) + " -> " + sanitize(e.New) + " by " + sanitize(e.User)
		if e.Message != "" {
			line += ": " + sanitize(oneLine(e.Message))
		}
		st := s.Dim
		if e.Outcome == model.SysctlFailed || e.Outcome == model.SysctlReverted {
			st = s.Warn
		}
		out = append(out, st.Render(fitString(line, w)))
	}
	out = append(out, resultLine(s, p.ed.msg, p.ed.msgErr, w))
	return fixLines(out, p.extra)
}

// fixLines pads or cuts lines to n.
func fixLines(lines []string, n int) []string {
	for len(lines) < n {
		lines = append(lines, "")
	}
	return lines[:n]
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
