package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// connView is one of the Connections tab's views.
type connView int

// Connections views, in the order v cycles through them.
const (
	viewSockets connView = iota // the socket table (sockView)
	viewFlows                   // the conntrack table (flowView)
	viewJoined                  // sockets with their flows (joinView)
	numViews
	// viewProcs is the sockets by process (procView), reached with P
	// rather than v.
	viewProcs = numViews
)

// connsPage is the Connections tab: three views of the host's
// connections, which v cycles through: the sockets (what ss shows), the
// conntrack flows (what conntrack -L shows, NAT included) and the two
// joined on the 5-tuple (a process, its socket state and its conntrack
// state on one row). The filter is shared by the three views; each keeps
// its own sort and selection. Only the view on screen does any work. Not
// safe for concurrent use.
type connsPage struct {
	Common
	view   connView
	socks  *sockView
	flows  *flowView
	joined *joinView
	procs  *procView
	filter string
	// back is the view P returns to.
	back connView
}

// newConnsPage returns the Connections tab. sockDeps are the collectors
// of the sockets view, flowDeps those of the flows view; the joined view
// depends on both.
func newConnsPage(c Common, sockDeps, flowDeps []string, g Glyphs, tcp TCPInfoControl) *connsPage {
	socks := newSockView(c, sockDeps)
	socks.lookCtl = tcp
	return &connsPage{
		Common: c,
		socks:  socks,
		flows:  newFlowView(c, flowDeps),
		joined: newJoinView(c, append(append([]string{}, sockDeps...), flowDeps...)),
		procs:  newProcView(c, sockDeps, g),
	}
}

// cur returns the view on screen.
func (p *connsPage) cur() page {
	switch p.view {
	case viewFlows:
		return p.flows
	case viewJoined:
		return p.joined
	case viewProcs:
		return p.procs
	}
	return p.socks
}

func (p *connsPage) views() []page { return []page{p.socks, p.flows, p.joined, p.procs} }

// Title implements page.
func (p *connsPage) Title() string { return "Connections" }

// Init implements page.
func (p *connsPage) Init() tea.Cmd { return nil }

// Update implements page: v switches views, n cycles the NAT term of the
// filter (flows and joined views); the rest goes to the view.
func (p *connsPage) Update(msg tea.Msg) (page, tea.Cmd) {
	if msg, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(msg, p.Keys.View):
			if p.view == viewProcs {
				p.setView(viewSockets)
			} else {
				p.setView((p.view + 1) % numViews)
			}
			return p, nil
		case key.Matches(msg, p.Keys.ProcView):
			if p.view == viewProcs {
				p.setView(p.back)
			} else {
				p.back = p.view
				p.setView(viewProcs)
			}
			return p, nil
		case key.Matches(msg, p.Keys.NATFilter) && p.view != viewSockets && p.view != viewProcs:
			p.SetFilter(cycleNAT(p.filter))
			p.Sync()
			return p, nil
		}
	}
	_, cmd := p.cur().Update(msg)
	return p, cmd
}

// ClosePane implements paneCloser for the view shown.
func (p *connsPage) ClosePane() bool {
	pc, ok := p.cur().(paneCloser)
	return ok && pc.ClosePane()
}

// setView shows view v.
func (p *connsPage) setView(v connView) {
	p.view = v
	p.cur().Sync()
}

// View implements page.
func (p *connsPage) View() string { return p.cur().View() }

// SetSize implements page.
func (p *connsPage) SetSize(w, h int) {
	p.Common.SetSize(w, h)
	for _, v := range p.views() {
		v.SetSize(w, h)
	}
}

// SetSnapshot implements page. Views that are not on screen only note
// the snapshot; they catch up when shown.
func (p *connsPage) SetSnapshot(s model.Snapshot) {
	for _, v := range p.views() {
		v.SetSnapshot(s)
	}
}

// Sync implements page.
func (p *connsPage) Sync() { p.cur().Sync() }

// SetFilter implements page: the filter applies to every view.
func (p *connsPage) SetFilter(f string) {
	p.filter = f
	for _, v := range p.views() {
		v.SetFilter(f)
	}
}

// Filter implements page.
func (p *connsPage) Filter() string { return p.filter }

// ShortHelp implements page.
func (p *connsPage) ShortHelp() []key.Binding {
	if p.view == viewSockets || p.view == viewProcs {
		return []key.Binding{p.Keys.shortView, p.Keys.ProcView, p.Keys.Details}
	}
	return []key.Binding{p.Keys.shortView, p.Keys.NATFilter, p.Keys.Details}
}

// FullHelp implements page.
func (p *connsPage) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.Keys.View, p.Keys.ProcView, p.Keys.NATFilter, p.Keys.Details}}
}

// natCycle is the order n steps the nat: term through ("" is none).
var natCycle = []string{"", "nat:snat", "nat:dnat", "nat:any"}

// cycleNAT returns filter f with its nat: term replaced by the next one
// of natCycle (the first nat: term counts; the others are dropped).
func cycleNAT(f string) string {
	fields := strings.Fields(f)
	cur := ""
	rest := fields[:0:0]
	for _, x := range fields {
		if strings.HasPrefix(strings.ToLower(x), "nat:") {
			if cur == "" {
				cur = strings.ToLower(x)
			}
			continue
		}
		rest = append(rest, x)
	}
	next := natCycle[1] // after none, or a nat: term not in the cycle
	for i, n := range natCycle {
		if n == cur && cur != "" {
			next = natCycle[(i+1)%len(natCycle)]
		}
	}
	if next != "" {
		rest = append(rest, next)
	}
	return strings.Join(rest, " ")
}

// HelpLines implements page.
func (p *connsPage) HelpLines(width int) []string {
	return helpText(width,
		"Connections: v shows sockets, flows, joined; flow State A assured, U "+
			"unreplied; Bytes and Packets are original/reply direction. Filter terms: "+
			"proto:udp port:53 addr:10.0.0.0/8 state:estab mark:N zone:N "+
			"nat:snat|dnat|both|any|none (n cycles it). Rx/s Tx/s Retr/s: TCP bytes "+
			"received, bytes acked and segments retransmitted per second, from the "+
			"kernel's tcp_info; - where there are none: UDP and raw sockets (no byte "+
			"counters in the kernel), listeners, sockets from /proc/net, and a "+
			"socket's first refresh. While a capture runs, UDP sockets get rates from "+
			"its packets, marked ~ (sampled: only what crossed the captured "+
			"interface). P groups them by process and container (the nethogs view).")
}
