package ui

import (
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// label is what the picker and the status line call the choice; netlens's
// own is marked, and called host only when it is PID 1's (netlens may run
// in another: ip netns exec, a container).
func (c NetNSChoice) label() string {
	if c.Own && !c.All {
		c.Own = false
		return c.label() + " (netlens's own)"
	}
	switch {
	case c.All:
		return "all namespaces"
	case c.Host:
		return "host"
	case c.Name != "":
		return c.Name
	case c.Pod != "" && c.Container != "":
		return c.Pod + " " + c.Container
	case c.Container != "":
		return c.Container
	}
	return "net:[" + strconv.FormatUint(c.Inode, 10) + "]"
}

// text is what the picker's filter matches against.
func (c NetNSChoice) text() string {
	return strings.ToLower(strings.Join([]string{strconv.FormatUint(c.Inode, 10), c.label(), c.Container, c.Pod, c.Command, "pid:" + strconv.Itoa(c.PID)}, " "))
}

// nsPicker is the namespace picker N opens over the page: a filterable
// table; Enter switches, Esc closes.
type nsPicker struct {
	all     []NetNSChoice
	shown   []int // indexes into all that match the filter
	filter  []rune
	sel     int
	loading bool
	err     string
}

type netnsListMsg struct {
	choices []NetNSChoice
	err     error
}

type netnsSwitchedMsg struct {
	label string
	err   error
}

func listNetNSCmd(c NetNSControl) tea.Cmd {
	return func() tea.Msg {
		cs, err := c.List()
		return netnsListMsg{cs, err}
	}
}

func switchNetNSCmd(c NetNSControl, ch NetNSChoice) tea.Cmd {
	return func() tea.Msg {
		inode := ch.Inode
		switch {
		case ch.All:
			inode = AllNamespaces
		case ch.Own:
			inode = 0
		}
		return netnsSwitchedMsg{label: ch.label(), err: c.Switch(inode)}
	}
}

func (p *nsPicker) refilter() {
	words := strings.Fields(strings.ToLower(string(p.filter)))
	p.shown = p.shown[:0]
	for i, c := range p.all {
		t := c.text()
		ok := true
		for _, w := range words {
			if !strings.Contains(t, w) {
				ok = false
				break
			}
		}
		if ok {
			p.shown = append(p.shown, i)
		}
	}
	p.sel = min(max(p.sel, 0), max(len(p.shown)-1, 0))
}

// openNetNSPicker opens the picker and asks for the list.
func (a *App) openNetNSPicker() (tea.Model, tea.Cmd) {
	if a.opts.Controls.NetNS == nil {
		a.setStatus("namespaces: not available here", true)
		return a, nil
	}
	a.mode, a.picker = inputPicker, &nsPicker{loading: true}
	return a, listNetNSCmd(a.opts.Controls.NetNS)
}

// updateNetNS handles the answers of the NetNSControl.
func (a *App) updateNetNS(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case netnsListMsg:
		if a.mode != inputPicker {
			return a, nil
		}
		a.picker.loading = false
		if msg.err != nil {
			a.picker.err = oneLine(msg.err.Error())
			return a, nil
		}
		a.picker.all = msg.choices
		for i, c := range msg.choices {
			if isCurrent(c, a.snap.NetNS) {
				a.picker.sel = i
			}
		}
		a.picker.refilter()
	case netnsSwitchedMsg:
		if msg.err != nil {
			a.setStatus("namespace "+msg.label+": "+oneLine(msg.err.Error()), true)
		} else {
			status := "now reading namespace " + msg.label
			for _, pg := range a.pages {
				if fp, ok := pg.(*filtersPage); ok && fp.namespaceSwitched() {
					status += " (the packet log of the namespace left is closed)"
				}
			}
			a.setStatus(status, false)
		}
	}
	return a, nil
}

// closePicker gives the keyboard back to the page.
func (a *App) closePicker() { a.mode, a.picker = inputNormal, nil }

// handlePickerKey: typing filters, up/down move, Enter switches, Esc
// closes (or clears the filter first).
func (a *App) handlePickerKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	p, k := a.picker, a.keys
	switch {
	case key.Matches(msg, k.Escape):
		if len(p.filter) > 0 {
			p.filter = p.filter[:0]
			p.refilter()
		} else {
			a.closePicker()
		}
	case msg.String() == "enter":
		if len(p.shown) == 0 {
			return a, nil
		}
		ch := p.all[p.shown[p.sel]]
		if !ch.Enterable {
			p.err = ch.label() + ": " + ch.Reason
			return a, nil
		}
		a.closePicker()
		a.setStatus("switching to namespace "+ch.label()+"...", false)
		return a, switchNetNSCmd(a.opts.Controls.NetNS, ch)
	case msg.String() == "up":
		p.sel = max(p.sel-1, 0)
	case msg.String() == "down":
		p.sel = min(p.sel+1, max(len(p.shown)-1, 0))
	case msg.String() == "pgup", msg.String() == "home":
		p.sel = 0
	case msg.String() == "pgdown", msg.String() == "end":
		p.sel = max(len(p.shown)-1, 0)
	case msg.String() == "backspace":
		if len(p.filter) > 0 {
			p.filter = p.filter[:len(p.filter)-1]
			p.refilter()
		}
	default:
		if msg.Text != "" {
			p.filter = append(p.filter, []rune(sanitize(msg.Text))...)
			p.refilter()
		}
	}
	return a, nil
}

// pickerView draws the picker in the page area (h lines).
// nameW is the width of the picker's NAME column; ownMark is what marks
// netlens's own namespace there when its label does not fit.
const (
	nameW   = 24
	ownMark = " (own)"
)

func (a *App) pickerView(h int) string {
	p, s, w := a.picker, &a.styles, a.width
	lines := []string{s.Summary.Render(fitString(" Network namespaces - type to filter, enter switches, esc closes   filter: "+string(p.filter), w))}
	switch {
	case p.loading:
		lines = append(lines, fitString(" reading /proc and /run/netns...", w))
		return fixHeight(lines, h)
	case p.err != "":
		lines = append(lines, s.Alarm.Render(fitString(" "+p.err, w)))
	}
	cols := []struct {
		title string
		w     int
	}{{"", 1}, {"INODE", 10}, {"NAME", nameW}, {"CONTAINER", 14}, {"POD", 22}, {"PID", 7}, {"PROCS", 5}, {"SOCKS", 5}, {"COMMAND", 0}}
	// CONTAINER and POD take their room only when a namespace has one:
	// on a host without containers the PID and command keep theirs at
	// 80 columns.
	hasCtr := slices.ContainsFunc(p.all, func(c NetNSChoice) bool { return c.Container != "" })
	hasPod := slices.ContainsFunc(p.all, func(c NetNSChoice) bool { return c.Pod != "" })
	row := func(vals []string) string {
		var b strings.Builder
		used := 0
		for i, c := range cols {
			if i == 3 && !hasCtr || i == 4 && !hasPod {
				continue
			}
			cw := c.w
			if cw == 0 {
				cw = max(w-used-1, 1)
			}
			b.WriteString(fitString(vals[i], cw))
			b.WriteByte(' ')
			used += cw + 1
		}
		return fitString(b.String(), w)
	}
	hdr := make([]string, len(cols))
	for i, c := range cols {
		hdr[i] = c.title
	}
	lines = append(lines, s.TableHeader.Render(row(hdr)))
	room := max(h-len(lines), 1)
	first := max(0, p.sel-room+1)
	for i := first; i < len(p.shown) && i < first+room; i++ {
		c := p.all[p.shown[i]]
		mark := " "
		if isCurrent(c, a.snap.NetNS) {
			mark = "*"
		}
		socks := "-"
		if c.Sockets >= 0 {
			socks = itoa(c.Sockets)
		}
		pid := "-"
		if c.PID > 0 {
			pid = itoa(c.PID)
		}
		cmd := sanitize(c.Command)
		if !c.Enterable {
			cmd = "(" + c.Reason + ") " + cmd
		}
		name := sanitize(c.Name)
		if c.Own || c.All || c.Host {
			name = sanitize(c.label())
		}
		if c.Own && !c.All && width(name) > nameW {
			// The mark stays whole: the name is cut instead.
			base := c
			base.Own = false
			name = strings.TrimRight(fitString(sanitize(base.label()), nameW-len(ownMark)), " ") + ownMark
		}
		inode := strconv.FormatUint(c.Inode, 10)
		procs := itoa(c.Procs)
		if c.All {
			inode, procs = "*", "-"
		}
		line := row([]string{mark, inode, name, sanitize(c.Container), sanitize(c.Pod), pid, procs, socks, cmd})
		if i == p.sel {
			line = s.Selected.Render(line)
		}
		lines = append(lines, line)
	}
	if len(p.shown) == 0 {
		lines = append(lines, fitString(" no namespace matches the filter", w))
	}
	return fixHeight(lines, h)
}

// isCurrent says whether c is the namespace n the collectors read (nil:
// netlens's own).
func isCurrent(c NetNSChoice, n *model.NetNS) bool {
	switch {
	case n == nil:
		return c.Own
	case n.All:
		return c.All
	}
	return !c.All && c.Inode == n.Inode
}

// netnsHeader is the header's namespace part: "netns NAME container C
// pod P", with GONE when it disappeared while selected; "" for
// netlens's own.
func netnsHeader(n *model.NetNS) string {
	if n == nil {
		return ""
	}
	if n.All {
		return "  netns ALL"
	}
	name := n.Name
	if name == "" {
		name = "net:[" + strconv.FormatUint(n.Inode, 10) + "]"
	}
	s := "  netns " + sanitize(name)
	if n.Container != "" {
		s += " container " + sanitize(n.Container)
	}
	if n.Pod != "" {
		s += " pod " + sanitize(n.Pod)
	}
	if n.Gone {
		s += " (GONE: last data shown)"
	}
	return s
}
