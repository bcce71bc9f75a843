package ui

import (
	"cmp"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// Interfaces table columns.
const (
	ifName = iota
	ifKind
	ifState
	ifMTU
	ifAddrs
	ifMaster
	ifQdisc
	ifRxBits
	ifTxBits
	ifRxPkts
	ifTxPkts
	ifSpark
	ifRxErr
	ifRxDrop
	ifTxErr
	ifTxDrop
)

// ifHistLen is how many refreshes of each interface's rate the
// sparkline keeps.
const ifHistLen = 60

// ifacesPage is the Interfaces tab: every link of the namespace with its
// state, addresses, master, qdisc, receive and send rates in bits and
// packets per second, a sparkline of its total rate, and its error and
// drop counters per direction, busiest first; enter opens the selected
// interface in full (ifaceDetail). Not safe for concurrent use.
type ifacesPage struct {
	listBase[string]
	glyphs Glyphs
	// hist is each interface's rx+tx bit rate per refresh, oldest first,
	// by name: kept in the UI, as the Connections tab's process view
	// keeps its own, and moved with every new interface table.
	hist map[string][]uint64
	// moved are the interfaces whose error or drop counters grew since
	// the previous table.
	moved map[string]bool
	prev  map[string]uint64 // errors+drops per interface, last table

	// open is the name of the interface shown in full ("" : the list);
	// top is the first line of the detail shown.
	open string
	top  int

	summary string
}

func newIfacesPage(c Common, deps []string, g Glyphs) *ifacesPage {
	p := &ifacesPage{glyphs: g, hist: map[string][]uint64{}, moved: map[string]bool{}, prev: map[string]uint64{}}
	p.Common, p.deps = c, deps
	cols := []column{
		ifName:   {title: "Name", width: 10, flex: 2},
		ifKind:   {title: "Kind", width: 6, drop: 5},
		ifState:  {title: "State", width: 8},
		ifMTU:    {title: "MTU", width: 5, right: true, drop: 9},
		ifAddrs:  {title: "Addresses", width: 16, flex: 3, drop: 6},
		ifMaster: {title: "Master", width: 6, flex: 1, drop: 8},
		ifQdisc:  {title: "Qdisc", width: 8, drop: 7},
		ifRxBits: {title: "Rx b/s", width: 6, right: true},
		ifTxBits: {title: "Tx b/s", width: 6, right: true},
		ifRxPkts: {title: "Rx p/s", width: 6, right: true, drop: 3},
		ifTxPkts: {title: "Tx p/s", width: 6, right: true, drop: 3},
		ifSpark:  {title: "Rx+Tx", width: 8, flex: 2, drop: 2},
		ifRxErr:  {title: "RxErr", width: 5, right: true, drop: 4},
		ifRxDrop: {title: "RxDrp", width: 5, right: true},
		ifTxErr:  {title: "TxErr", width: 5, right: true, drop: 4},
		ifTxDrop: {title: "TxDrp", width: 5, right: true},
	}
	ifs := func() []model.Interface { return p.snap.Interfaces }
	byName := func(a, b int) int { return cmp.Compare(ifs()[a].Name, ifs()[b].Name) }
	rated := func(f func(l *model.Interface) float64) func(a, b int) int {
		return func(a, b int) int {
			l := ifs()
			if l[a].Rate.Known != l[b].Rate.Known {
				if l[a].Rate.Known {
					return 1
				}
				return -1
			}
			return cmp.Or(cmp.Compare(f(&l[a]), f(&l[b])), byName(b, a))
		}
	}
	counted := func(f func(s *model.LinkStats) uint64) func(a, b int) int {
		return func(a, b int) int {
			l := ifs()
			return cmp.Or(cmp.Compare(f(&l[a].Stats), f(&l[b].Stats)), byName(b, a))
		}
	}
	sorts := []sortSpec{
		{name: "rate", col: ifSpark, desc: true, cmp: rated(func(l *model.Interface) float64 { return l.Rate.RxBitsPerSec + l.Rate.TxBitsPerSec })},
		{name: "rx b/s", col: ifRxBits, desc: true, cmp: rated(func(l *model.Interface) float64 { return l.Rate.RxBitsPerSec })},
		{name: "tx b/s", col: ifTxBits, desc: true, cmp: rated(func(l *model.Interface) float64 { return l.Rate.TxBitsPerSec })},
		{name: "rx p/s", col: ifRxPkts, desc: true, cmp: rated(func(l *model.Interface) float64 { return l.Rate.RxPacketsPerSec })},
		{name: "tx p/s", col: ifTxPkts, desc: true, cmp: rated(func(l *model.Interface) float64 { return l.Rate.TxPacketsPerSec })},
		{name: "rx drops", col: ifRxDrop, desc: true, cmp: counted(func(s *model.LinkStats) uint64 { return s.RxDropped })},
		{name: "tx drops", col: ifTxDrop, desc: true, cmp: counted(func(s *model.LinkStats) uint64 { return s.TxDropped })},
		{name: "name", col: ifName, cmp: byName},
	}
	p.init(cols, sorts, 0)
	return p
}

// Title implements page.
func (p *ifacesPage) Title() string { return "Interfaces" }

// SetSnapshot implements page. The rate history moves with every new
// interface table, shown or not, so that the sparklines are full when
// the tab is opened.
func (p *ifacesPage) SetSnapshot(s model.Snapshot) {
	if sameSlice(p.snap.Interfaces, s.Interfaces) && p.snap.Seq != 0 {
		p.setSnapshot(p, s)
		return
	}
	if nsInode(p.snap.NetNS) != nsInode(s.NetNS) {
		// Another namespace (N): its eth0 is not this one's.
		clear(p.hist)
		clear(p.prev)
	}
	hist := make(map[string][]uint64, len(s.Interfaces))
	moved := make(map[string]bool)
	prev := make(map[string]uint64, len(s.Interfaces))
	for i := range s.Interfaces {
		l := &s.Interfaces[i]
		h := p.hist[l.Name]
		if l.Rate.Known {
			if len(h) == ifHistLen {
				h = h[1:]
			}
			h = append(h, uint64(l.Rate.RxBitsPerSec+l.Rate.TxBitsPerSec))
		}
		hist[l.Name] = h
		bad := l.Stats.RxErrors + l.Stats.RxDropped + l.Stats.TxErrors + l.Stats.TxDropped
		if old, ok := p.prev[l.Name]; ok && bad > old {
			moved[l.Name] = true
		}
		prev[l.Name] = bad
	}
	p.hist, p.moved, p.prev = hist, moved, prev
	p.setSnapshot(p, s)
}

// nsInode identifies the namespace a snapshot's interfaces were read in
// (0: netlens's own, also in the all-namespaces view).
func nsInode(ns *model.NetNS) uint64 {
	if ns == nil || ns.All {
		return 0
	}
	return ns.Inode
}

// Sync implements page.
func (p *ifacesPage) Sync() {
	if p.fresh() {
		p.summary = ifSummary(p.snap.Interfaces)
	}
	p.sync(p)
}

// Update implements page: enter opens the selected interface in full
// and closes it again; while it is open the movement keys scroll it.
func (p *ifacesPage) Update(msg tea.Msg) (page, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		k := p.Keys
		if p.open != "" {
			switch {
			case key.Matches(msg, k.Details):
				p.open = ""
			case key.Matches(msg, k.Up):
				p.top--
			case key.Matches(msg, k.Down):
				p.top++
			case key.Matches(msg, k.PageUp):
				p.top -= max(p.Height-2, 1)
			case key.Matches(msg, k.PageDown):
				p.top += max(p.Height-2, 1)
			case key.Matches(msg, k.Home):
				p.top = 0
			case key.Matches(msg, k.End):
				p.top = 1 << 30
			}
			return p, nil
		}
		if key.Matches(msg, k.Details) {
			if i := p.selected(); i >= 0 {
				p.open, p.top = p.snap.Interfaces[i].Name, 0
			}
			return p, nil
		}
		p.handleKey(msg)
	case tea.MouseWheelMsg:
		if p.open != "" {
			switch msg.Button {
			case tea.MouseWheelUp:
				p.top -= 3
			case tea.MouseWheelDown:
				p.top += 3
			}
			return p, nil
		}
		p.handleMouse(msg)
	case tea.MouseMsg:
		if p.open == "" {
			p.handleMouse(msg)
		}
	}
	return p, nil
}

// CloseView closes the interface shown in full (esc); it reports whether
// one was open.
func (p *ifacesPage) CloseView() bool {
	if p.open == "" {
		return false
	}
	p.open = ""
	return true
}

// ShortHelp implements page.
func (p *ifacesPage) ShortHelp() []key.Binding { return []key.Binding{p.detailKey()} }

// FullHelp implements page.
func (p *ifacesPage) FullHelp() [][]key.Binding { return [][]key.Binding{{p.detailKey()}} }

// detailKey is enter with the tab's help text.
func (p *ifacesPage) detailKey() key.Binding {
	b := p.Keys.Details
	if p.open != "" {
		b.SetHelp(b.Help().Key+"/esc", "back to the list")
	} else {
		b.SetHelp(b.Help().Key, "interface in full")
	}
	return b
}

// HelpLines is what the full help says about the Interfaces tab, in w
// cells.
func (p *ifacesPage) HelpLines(w int) []string {
	return helpText(w,
		"Interfaces: every link of the namespace (ip -s link), busiest first. b/s "+
			"are bits per second, p/s packets, over the last refresh (- until a "+
			"second sample); Rx+Tx: a minute of the total bit rate. Errors and drops "+
			"are totals since the interface appeared; a row is highlighted when one "+
			"grew. State: up, down, no-link (up without a carrier), or the kernel's "+
			"operstate. / filters by name, kind, master or address. enter: the "+
			"interface in full: every counter, the driver's statistics (ethtool -S), "+
			"its qdiscs and classes (tc -s), and its sysctls (net.ipv4.conf.IF, "+
			"net.ipv6.conf.IF); enter or esc goes back.")
}

func (p *ifacesPage) sameRows(a, b model.Snapshot) bool { return sameSlice(a.Interfaces, b.Interfaces) }
func (p *ifacesPage) count() int                        { return len(p.snap.Interfaces) }
func (p *ifacesPage) include(int) bool                  { return true }
func (p *ifacesPage) key(i int) string                  { return p.snap.Interfaces[i].Name }

func (p *ifacesPage) appendHaystack(b []byte, i int) []byte {
	l := &p.snap.Interfaces[i]
	b = append(b, sanitize(l.Name)...)
	b = append(b, ' ')
	b = append(b, l.Kind...)
	b = append(b, ' ')
	b = append(b, sanitize(l.Master)...)
	for _, a := range l.Addresses {
		b = append(b, ' ')
		b = append(b, a.Address...)
	}
	return b
}

// ifStateWord is an interface's state in a word of at most 8 cells:
// "up", "down" (admin), "no-link" (up without a carrier), else the
// operstate ("dormant", "testing"; "lower-dn" for lowerlayerdown,
// "absent" for notpresent). lo and tun report "unknown" while they
// work: shown as up.
func ifStateWord(l *model.Interface) string {
	switch {
	case !l.Up:
		return "down"
	case !l.Carrier:
		return "no-link"
	case l.OperState == "up" || l.OperState == "unknown":
		return "up"
	case l.OperState == "lowerlayerdown":
		return "lower-dn"
	case l.OperState == "notpresent":
		return "absent"
	}
	return l.OperState
}

// ifKindName names an interface's kind: IFLA_INFO_KIND, else "loop" or
// "device" (a physical NIC).
func ifKindName(l *model.Interface) string {
	switch {
	case l.Kind != "":
		return l.Kind
	case l.LinkType == "loopback":
		return "loop"
	}
	return "device"
}

// ifAddrShort is the first address with its prefix and "+N" for the
// others: "10.0.0.1/24 +1".
func ifAddrShort(as []model.InterfaceAddr) string {
	if len(as) == 0 {
		return ""
	}
	s := as[0].Address + "/" + strconv.Itoa(as[0].PrefixLen)
	if len(as) > 1 {
		s += " +" + strconv.Itoa(len(as)-1)
	}
	return s
}

func (p *ifacesPage) cell(i, c int) string {
	l := &p.snap.Interfaces[i]
	rate := func(v float64) string {
		if !l.Rate.Known {
			return "-"
		}
		return fmtRateFit(v, 6)
	}
	count := func(v uint64, w int) string {
		if v == 0 {
			return ""
		}
		return fmtCount(v, w)
	}
	switch c {
	case ifName:
		return sanitize(l.Name)
	case ifKind:
		return sanitize(ifKindName(l))
	case ifState:
		return ifStateWord(l)
	case ifMTU:
		return strconv.FormatUint(uint64(l.MTU), 10)
	case ifAddrs:
		return ifAddrShort(l.Addresses)
	case ifMaster:
		return sanitize(l.Master)
	case ifQdisc:
		return sanitize(l.Qdisc)
	case ifRxBits:
		return rate(l.Rate.RxBitsPerSec)
	case ifTxBits:
		return rate(l.Rate.TxBitsPerSec)
	case ifRxPkts:
		return rate(l.Rate.RxPacketsPerSec)
	case ifTxPkts:
		return rate(l.Rate.TxPacketsPerSec)
	case ifSpark:
		return sparkString(p.hist[l.Name], p.tbl.ColWidth(ifSpark), p.glyphs)
	case ifRxErr:
		return count(l.Stats.RxErrors, 5)
	case ifRxDrop:
		return count(l.Stats.RxDropped, 5)
	case ifTxErr:
		return count(l.Stats.TxErrors, 5)
	case ifTxDrop:
		return count(l.Stats.TxDropped, 5)
	}
	return ""
}

func (p *ifacesPage) rowKind(i int) rowKind {
	l := &p.snap.Interfaces[p.idx[i]]
	switch {
	case p.moved[l.Name]:
		return rowHot
	case !l.Up:
		return rowDim
	}
	return rowPlain
}

// View implements page.
func (p *ifacesPage) View() string {
	if p.open != "" {
		return p.viewDetail()
	}
	head := summaryLine(p.Styles, p.summary, p.rightLabel(len(p.snap.Interfaces)), p.Width)
	empty := p.emptyText("interfaces", "no interfaces")
	rows := p.idx
	return p.render(head, len(p.snap.Interfaces), empty, func(i, c int) string { return p.cell(rows[i], c) }, p.rowKind, p.detail)
}

// detail is unused: enter opens the full view instead of the pane.
func (p *ifacesPage) detail(int) []string { return nil }

// viewDetail draws the open interface in full, scrolled to p.top.
func (p *ifacesPage) viewDetail() string {
	s := p.Styles
	var lines []string
	title := p.open
	if l := p.find(p.open); l != nil {
		lines = ifaceDetail(l, p.snap.Sysctls, p.Width)
	} else {
		lines = []string{"", "  " + sanitize(p.open) + " is gone: the last interface table does not have it."}
	}
	body := max(p.Height-1, 0)
	p.top = max(min(p.top, len(lines)-body), 0)
	more := ""
	if len(lines) > body {
		more = "lines " + strconv.Itoa(p.top+1) + "-" + strconv.Itoa(min(p.top+body, len(lines))) + " of " + strconv.Itoa(len(lines))
	}
	out := []string{summaryLine(s, "[interface] "+sanitize(title)+"  (enter or esc: back)", more, p.Width)}
	for _, l := range lines[p.top:min(p.top+body, len(lines))] {
		st := s.PaneText
		if strings.HasPrefix(l, "--") {
			st = s.PaneTitle
		}
		out = append(out, st.Render(fitString(l, p.Width)))
	}
	return fixHeight(out, p.Height)
}

func (p *ifacesPage) find(name string) *model.Interface {
	for i := range p.snap.Interfaces {
		if p.snap.Interfaces[i].Name == name {
			return &p.snap.Interfaces[i]
		}
	}
	return nil
}

// ifSummary totals the interfaces: "6 interfaces, 4 up: rx 941.0M b/s
// 81.0k p/s  tx 12.5M b/s 21.0k p/s" (up: with a carrier).
func ifSummary(ifs []model.Interface) string {
	up := 0
	var rx, tx, rxp, txp float64
	for i := range ifs {
		if ifs[i].Up && ifs[i].Carrier {
			up++
		}
		r := &ifs[i].Rate
		rx, tx, rxp, txp = rx+r.RxBitsPerSec, tx+r.TxBitsPerSec, rxp+r.RxPacketsPerSec, txp+r.TxPacketsPerSec
	}
	return strconv.Itoa(len(ifs)) + " interfaces, " + strconv.Itoa(up) + " up: rx " + fmtRate(rx) + " b/s " + fmtRate(rxp) +
		" p/s  tx " + fmtRate(tx) + " b/s " + fmtRate(txp) + " p/s"
}
