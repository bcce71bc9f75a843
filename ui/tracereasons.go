package ui

import (
	"cmp"
	"net/netip"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/model"
	"netlens/model/drops"
)

// Trace reasons table columns.
const (
	trReason = iota
	trMeaning
	trSysctl
	trFunction
	trLayer
	trCount
	trRate
	trSpark
)

// traceKey identifies a traced (reason, location) across snapshots.
type traceKey struct{ reason, location string }

// traceView is the Drops tab's reasons view when the eBPF drop tracer
// runs: every traced drop per reason and location, with what the reason
// means, the sysctl that governs it, the function that freed the packet,
// the layer, the count since the tracer started, the rate and a
// sparkline (from the drop_trace counters the collector publishes). Enter
// lists the reason's flows (traceFlowView); there, enter shows the flow's
// socket in the Connections tab, or, with the sampled stream on
// (--drop-trace-sample), the flow's sampled packets with their headers
// first (traceSamplesView: enter again for the connection); left or
// backspace goes back. Not safe for concurrent use.
type traceView struct {
	listBase[traceKey]
	glyphs Glyphs
	// source says which drop source netlens uses and why (the header).
	source string
	// counters are the drop_trace counters of the snapshot, by row key.
	counters   map[traceKey]*model.Counter
	countersOf []model.Counter
	flows      *traceFlowView
	open       bool // the flows of one reason are shown
}

func newTraceView(c Common, g Glyphs) *traceView {
	p := &traceView{glyphs: g}
	p.Common, p.deps = c, []string{model.CollectorDropTrace}
	cols := []column{
		trReason:   {title: "Reason", width: 14, flex: 2},
		trMeaning:  {title: "Meaning", width: 12, flex: 4, drop: 2},
		trSysctl:   {title: "Sysctl", width: 10, flex: 1, drop: 3},
		trFunction: {title: "Function", width: 12, flex: 2},
		trLayer:    {title: "Layer", width: 9, drop: 1},
		trCount:    {title: "Count", width: 8, right: true},
		trRate:     {title: "Rate/s", width: 7, right: true},
		trSpark:    {title: "History", width: 8, flex: 2, drop: 4},
	}
	rs := func() []model.DropTraceReason { return p.snap.DropTrace.Reasons }
	sorts := []sortSpec{
		{name: "count", col: trCount, desc: true, cmp: func(a, b int) int { r := rs(); return cmp.Compare(r[a].Packets, r[b].Packets) }},
		{name: "rate", col: trRate, desc: true, cmp: func(a, b int) int {
			r := rs()
			return cmp.Or(cmp.Compare(r[a].Delta, r[b].Delta), cmp.Compare(r[a].Packets, r[b].Packets))
		}},
		{name: "reason", col: trReason, cmp: func(a, b int) int { r := rs(); return cmp.Compare(r[a].Reason, r[b].Reason) }},
		{name: "layer", col: trLayer, cmp: func(a, b int) int {
			r := rs()
			return cmp.Or(cmp.Compare(r[a].Layer.Rank(), r[b].Layer.Rank()), cmp.Compare(r[a].Reason, r[b].Reason))
		}},
		{name: "function", col: trFunction, cmp: func(a, b int) int { r := rs(); return cmp.Compare(r[a].Location, r[b].Location) }},
	}
	p.init(cols, sorts, 0)
	p.detailH = 4
	p.flows = newTraceFlowView(c)
	return p
}

// active reports whether the tracer is the drop source: it has run, or
// its collector has reported (to say why it cannot).
func (p *traceView) active() bool {
	if p.snap.DropTrace.Supported || p.snap.DropTrace.Reason != "" {
		return true
	}
	_, ok := p.snap.Status(model.CollectorDropTrace)
	return ok
}

func (p *traceView) SetSnapshot(s model.Snapshot) {
	p.setSnapshot(p, s)
	p.flows.SetSnapshot(s)
}

func (p *traceView) Sync() {
	if p.fresh() && !sameSlice(p.countersOf, p.snap.Counters) {
		p.counters, p.countersOf = map[traceKey]*model.Counter{}, p.snap.Counters
		for i := range p.snap.Counters {
			c := &p.snap.Counters[i]
			if c.Source == drops.DropTraceSource && c.Group == "reason" {
				p.counters[traceKey{c.Name, c.Instance}] = c
			}
		}
	}
	p.sync(p)
	if p.open {
		p.flows.Sync()
	}
}

func (p *traceView) SetSize(w, h int) {
	p.listBase.SetSize(w, h)
	p.flows.SetSize(w, h)
}

func (p *traceView) SetFilter(f string) {
	p.listBase.SetFilter(f)
	p.flows.SetFilter(f)
}

// update handles enter (open the selected reason's flows) and, in the
// flows, left/backspace (back); the rest goes to the list shown.
func (p *traceView) update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case p.open && p.flows.samplesOpen:
			return p.flows.update(k)
		case p.open && isBack(k):
			p.open = false
			p.Sync()
			return nil
		case p.open:
			return p.flows.update(k)
		case key.Matches(k, p.Keys.Details):
			if i := p.selected(); i >= 0 {
				r := &p.snap.DropTrace.Reasons[i]
				p.flows.show(traceKey{r.Reason, r.Location})
				p.open = true
				p.flows.Sync()
			}
			return nil
		}
	}
	if p.open {
		return p.flows.update(msg)
	}
	p.listBase.update(msg)
	return nil
}

// CloseView goes back a level (esc, as left): from a flow's samples to
// the flows, from the flows to the reasons; it reports whether it did.
func (p *traceView) CloseView() bool {
	switch {
	case p.open && p.flows.samplesOpen:
		p.flows.samplesOpen = false
	case p.open:
		p.open = false
		p.Sync()
	default:
		return false
	}
	return true
}

// isBack reports whether k is the key back from the flows to the
// reasons: left, h or backspace.
func isBack(k tea.KeyPressMsg) bool {
	switch k.String() {
	case "left", "h", "backspace":
		return true
	}
	return false
}

func (p *traceView) sameRows(a, b model.Snapshot) bool {
	return sameSlice(a.DropTrace.Reasons, b.DropTrace.Reasons) && sameSlice(a.Counters, b.Counters)
}
func (p *traceView) count() int         { return len(p.snap.DropTrace.Reasons) }
func (p *traceView) include(i int) bool { return true }
func (p *traceView) key(i int) traceKey {
	r := &p.snap.DropTrace.Reasons[i]
	return traceKey{r.Reason, r.Location}
}

func (p *traceView) appendHaystack(b []byte, i int) []byte {
	for c := trReason; c <= trLayer; c++ {
		b = append(b, p.cell(i, c)...)
		b = append(b, ' ')
	}
	return append(b, p.snap.DropTrace.Reasons[i].Location...)
}

func (p *traceView) cell(i, c int) string {
	r := &p.snap.DropTrace.Reasons[i]
	switch c {
	case trReason:
		return sanitize(r.Reason)
	case trMeaning:
		if k, ok := drops.Default().Reason(r.Reason); ok {
			return k.Meaning
		}
		return ""
	case trSysctl:
		if k, ok := drops.Default().Reason(r.Reason); ok {
			return k.Sysctl
		}
		return ""
	case trFunction:
		return sanitize(r.Function)
	case trLayer:
		return string(r.Layer)
	case trCount:
		return fmtCount(r.Packets, 8)
	case trRate:
		if x := p.counters[traceKey{r.Reason, r.Location}]; x != nil {
			return fmtRate(x.Rate)
		}
		return ""
	case trSpark:
		if x := p.counters[traceKey{r.Reason, r.Location}]; x != nil {
			return sparkString(x.History, p.tbl.ColWidth(trSpark), p.glyphs)
		}
		return ""
	}
	return ""
}

// View renders the reasons, or a reason's flows, or why there are none.
func (p *traceView) View() string {
	if p.open {
		return p.flows.View()
	}
	s := p.Styles
	d := &p.snap.DropTrace
	if !d.Supported {
		why := d.Reason
		if st, ok := p.snap.Status(model.CollectorDropTrace); why == "" && ok && st.State != model.StateOK && st.State != model.StatePending {
			why = strings.TrimPrefix(describe(st), model.CollectorDropTrace+": ")
		}
		if why == "" {
			why = "waiting for the first sample"
		}
		lines := []string{s.Summary.Render(fitString("[reasons] eBPF drop tracer: "+oneLine(why), p.Width)), ""}
		for _, l := range wrap("The funnel (v) still shows every drop the kernel counts, layer by layer. The tracer needs CAP_BPF and CAP_PERFMON (or root), and a kernel with BTF (Linux 5.17+): sudo setcap cap_bpf,cap_perfmon,cap_syslog+ep netlens, or --drop-source netdm.", p.Width-4) {
			lines = append(lines, s.PaneText.Render("   "+l))
		}
		return fixHeight(lines, p.Height)
	}
	left := "[reasons] eBPF " + d.Attach + ": " + strconv.FormatUint(d.Seen, 10) + " drops seen"
	if d.Netns == 0 {
		left += " (all namespaces)"
	}
	if p.source != "" {
		left += "  source " + p.source
	}
	if sp := &d.Sampling; sp.Every > 0 {
		left += "  " + samplingLine(sp)
	}
	head := summaryLine(s, left, p.rightLabel(len(d.Reasons)), p.Width)
	// What the map could not hold first: the counts below undercount.
	warn := d.Unattributed > 0 || d.NotParsed > 0 || d.Missed > 0
	if warn {
		var parts []string
		if d.Unattributed > 0 {
			parts = append(parts, "unattributed "+strconv.FormatUint(d.Unattributed, 10)+" of "+strconv.FormatUint(d.Seen, 10)+" ("+
				strconv.FormatFloat(100*d.UnattributedShare(), 'f', 1, 64)+"%): the flows map ("+itoa(d.MapMax)+" keys) was full and refused "+
				strconv.FormatUint(d.NotAggregated, 10))
		}
		if d.NotParsed > 0 {
			parts = append(parts, strconv.FormatUint(d.NotParsed, 10)+" without a readable header")
		}
		if d.Missed > 0 {
			parts = append(parts, strconv.FormatUint(d.Missed, 10)+" missed (the tracer was already running on that CPU)")
		}
		msg := "! " + strings.Join(parts, ", ")
		head += "\n" + s.Warn.Render(fitString(msg, p.Width))
		p.Height--
		defer func() { p.Height++ }()
	}
	empty := p.emptyText("reasons", "no drops traced since the tracer started")
	rows := p.idx
	out := p.render(head, 1, empty, func(i, c int) string { return p.cell(rows[i], c) }, p.rowKind, p.detail)
	if warn {
		p.tblTop++
	}
	return out
}

func (p *traceView) rowKind(i int) rowKind {
	r := &p.snap.DropTrace.Reasons[p.idx[i]]
	if r.Delta > 0 || !r.LastSeen.IsZero() && p.snap.TakenAt.Sub(r.LastSeen) < recentWindow {
		return rowHot
	}
	return rowPlain
}

// detail is the selected reason: location, meaning, counter, sysctl.
func (p *traceView) detail(i int) []string {
	r := &p.snap.DropTrace.Reasons[p.idx[i]]
	out := []string{sanitize(r.Reason) + " (" + strconv.FormatUint(uint64(r.Code), 10) + ")  layer " + string(r.Layer) + "  at " + sanitize(r.Location) +
		"  +" + strconv.FormatUint(r.Delta, 10) + " last interval  " + strconv.FormatUint(r.Packets, 10) + " since start  (enter: its flows)"}
	if k, ok := drops.Default().Reason(r.Reason); ok {
		text := k.Meaning
		if k.Counter != "" {
			text += " Also counted by " + k.Counter + "."
		}
		if k.Sysctl != "" {
			text += " Governed by " + k.Sysctl + sysctlNow(p.snap.Sysctls, k.Sysctl) + "."
		}
		out = append(out, wrap(text, p.Width-1)...)
	}
	return out
}

// sysctlNow is " (= value)" of a sysctl in the snapshot, or "".
func sysctlNow(scs []model.Sysctl, name string) string {
	for _, sc := range scs {
		if sc.Name == name {
			return " (= " + strings.Join(strings.Fields(sanitize(sc.Value)), " ") + ")"
		}
	}
	return ""
}

// Trace flows table columns.
const (
	tfProto = iota
	tfSrc
	tfDst
	tfOwner
	tfConntrack
	tfDelta
	tfCount
)

// traceFlowKey identifies a traced flow across snapshots.
type traceFlowKey struct {
	src, dst netip.AddrPort
	proto    string
	cookie   uint64
}

// traceFlowView is the flows of one traced reason and location: the
// tuple, the owning process (by socket cookie, else by tuple: ~), the
// conntrack state of the flow (NAT shown), the drops. Enter shows the
// flow in the Connections tab. Not safe for concurrent use.
type traceFlowView struct {
	listBase[traceFlowKey]
	which  traceKey
	owners []int // DropOwners of the snapshot
	index  model.DropOwnerIndex
	ownOf  model.Snapshot
	// samples is the selected flow's sampled packets, shown when
	// samplesOpen.
	samples     traceSamplesView
	samplesOpen bool
}

func newTraceFlowView(c Common) *traceFlowView {
	p := &traceFlowView{}
	p.Common, p.deps = c, []string{model.CollectorDropTrace}
	cols := []column{
		tfProto:     {title: "Proto", width: 6},
		tfSrc:       {title: "Source", width: 15, flex: 3, keepTail: true},
		tfDst:       {title: "Destination", width: 15, flex: 3, keepTail: true},
		tfOwner:     {title: "Owner", width: 10, flex: 2},
		tfConntrack: {title: "Conntrack", width: 10, flex: 2, drop: 1},
		tfDelta:     {title: "Delta", width: 6, right: true},
		tfCount:     {title: "Count", width: 8, right: true},
	}
	fs := func() []model.DropTraceFlow { return p.snap.DropTrace.Flows }
	sorts := []sortSpec{
		{name: "count", col: tfCount, desc: true, cmp: func(a, b int) int { f := fs(); return cmp.Compare(f[a].Packets, f[b].Packets) }},
		{name: "delta", col: tfDelta, desc: true, cmp: func(a, b int) int { f := fs(); return cmp.Compare(f[a].Delta, f[b].Delta) }},
	}
	p.init(cols, sorts, 0)
	// The selected flow in full under the table, always: enter goes to
	// its connection, so the pane has no key of its own. For a
	// NETFILTER_DROP it names the netlens rule that dropped it, or the
	// other tables' rules that dropped at the time.
	p.detailH, p.details = 3, true
	return p
}

func (p *traceFlowView) show(k traceKey) {
	p.which = k
	p.invalidate()
}

func (p *traceFlowView) SetSnapshot(s model.Snapshot) { p.setSnapshot(p, s) }

func (p *traceFlowView) Sync() {
	if p.fresh() && (!sameSlice(p.ownOf.DropTrace.Flows, p.snap.DropTrace.Flows) || !sameSockets(&p.ownOf, &p.snap)) {
		p.owners, p.ownOf = p.index.Owners(&p.snap), p.snap
	}
	p.sync(p)
}

func (p *traceFlowView) update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if ok && p.samplesOpen {
		switch {
		case isBack(k):
			p.samplesOpen = false
		case key.Matches(k, p.Keys.Details):
			return showConnectionCmd(connFilter(&p.samples.flow))
		default:
			p.samples.update(k, p.Keys)
		}
		return nil
	}
	if ok && key.Matches(k, p.Keys.Details) {
		if i := p.selected(); i >= 0 {
			f := &p.snap.DropTrace.Flows[i]
			if p.snap.DropTrace.Sampling.Every > 0 {
				p.samples = traceSamplesView{flow: *f}
				p.samplesOpen = true
				return nil
			}
			return showConnectionCmd(connFilter(f))
		}
		return nil
	}
	p.listBase.update(msg)
	return nil
}

func (p *traceFlowView) sameRows(a, b model.Snapshot) bool {
	return sameSlice(a.DropTrace.Flows, b.DropTrace.Flows) && sameSockets(&a, &b) && sameSlice(a.Flows, b.Flows)
}
func (p *traceFlowView) count() int { return len(p.snap.DropTrace.Flows) }
func (p *traceFlowView) include(i int) bool {
	f := &p.snap.DropTrace.Flows[i]
	return f.Reason == p.which.reason && f.Location == p.which.location
}
func (p *traceFlowView) key(i int) traceFlowKey {
	f := &p.snap.DropTrace.Flows[i]
	return traceFlowKey{netip.AddrPortFrom(f.Src, f.SrcPort), netip.AddrPortFrom(f.Dst, f.DstPort), f.Proto, f.Cookie}
}

func (p *traceFlowView) appendHaystack(b []byte, i int) []byte {
	for c := tfProto; c <= tfConntrack; c++ {
		b = append(b, p.cell(i, c)...)
		b = append(b, ' ')
	}
	return b
}

func (p *traceFlowView) cell(i, c int) string {
	f := &p.snap.DropTrace.Flows[i]
	switch c {
	case tfProto:
		return cmp.Or(f.Proto, f.L3)
	case tfSrc:
		return traceEnd(f.Src, f.SrcPort, f)
	case tfDst:
		if f.Proto == "icmp" || f.Proto == "icmpv6" {
			return traceEnd(f.Dst, 0, f) + " t" + itoa(int(f.ICMPType)) + "/c" + itoa(int(f.ICMPCode))
		}
		return traceEnd(f.Dst, f.DstPort, f)
	case tfOwner:
		if i < len(p.owners) && p.owners[i] >= 0 && p.owners[i] < len(p.snap.Sockets) {
			so := &p.snap.Sockets[p.owners[i]]
			own := fmtProcs(so.Procs)
			if own == "" {
				own = "socket " + strconv.FormatUint(so.Inode, 10)
			}
			if f.Cookie == 0 || so.Cookie != f.Cookie {
				own = "~" + own // joined by tuple, not cookie
			}
			return own
		}
		return "-"
	case tfConntrack:
		return conntrackOf(p.snap.Flows, f)
	case tfDelta:
		return fmtCount(f.Delta, 6)
	case tfCount:
		return fmtCount(f.Packets, 8)
	}
	return ""
}

// traceEnd formats a flow's address and port, "-" when not parsed.
func traceEnd(a netip.Addr, port uint16, f *model.DropTraceFlow) string {
	switch {
	case !a.IsValid():
		return "-"
	case port == 0:
		return a.String()
	}
	return fmtAddr(netip.AddrPortFrom(a, port))
}

// conntrackOf is the conntrack state of the flow a traced drop belongs
// to: the TCP state or "tracked", with "NAT" when the kernel rewrites
// it; "" when conntrack has no such flow.
func conntrackOf(flows []model.Flow, f *model.DropTraceFlow) string {
	src, dst := netip.AddrPortFrom(f.Src, f.SrcPort), netip.AddrPortFrom(f.Dst, f.DstPort)
	for i := range flows {
		x := &flows[i]
		if x.Proto.String() != f.Proto {
			continue
		}
		if (x.Orig.Src == src && x.Orig.Dst == dst) || (x.Reply.Src == src && x.Reply.Dst == dst) {
			st := "tracked"
			if x.Proto == model.ProtoTCP {
				st = x.TCPState.String()
			}
			if x.NAT != model.NATNone {
				st += " NAT " + x.NAT.String()
			}
			return st
		}
	}
	return ""
}

// View renders the flows of the reason, or a flow's samples.
func (p *traceFlowView) View() string {
	if p.samplesOpen {
		return p.samples.view(&p.Common, p.snap.DropTrace)
	}
	n := len(p.idx)
	enter := "the connection"
	if p.snap.DropTrace.Sampling.Every > 0 {
		enter = "its sampled packets"
	}
	left := "[reasons > flows] " + sanitize(p.which.reason) + " at " + sanitize(p.which.location) + ": " + itoa(n) + " flows (enter: " + enter + "; left: back)"
	head := summaryLine(p.Styles, left, p.sortLabel(), p.Width)
	empty := p.emptyText("flows", "no flows of this reason kept (forgotten as least recent, or unattributed)")
	rows := p.idx
	return p.render(head, len(p.snap.DropTrace.Flows), empty, func(i, c int) string { return p.cell(rows[i], c) }, nil, p.detail)
}

// detail is the selected flow in full.
func (p *traceFlowView) detail(i int) []string {
	f := &p.snap.DropTrace.Flows[p.idx[i]]
	first := cmp.Or(f.Proto, f.L3) + " " + traceEnd(f.Src, f.SrcPort, f) + " -> " + traceEnd(f.Dst, f.DstPort, f) +
		"  ifindex " + strconv.FormatUint(uint64(f.Ifindex), 10) + "  netns " + strconv.FormatUint(uint64(f.Netns), 10)
	if f.Fragment {
		first += "  fragment"
	}
	second := strconv.FormatUint(f.Packets, 10) + " packets, " + strconv.FormatUint(f.Bytes, 10) + " bytes"
	if f.Cookie != 0 {
		second += "  socket cookie " + strconv.FormatUint(f.Cookie, 10)
	}
	r, ok := p.snap.DropRule(*f)
	if ok {
		second += "  dropped by netlens rule " + strconv.FormatUint(uint64(r.ID), 10)
		if r.Label != "" {
			second += " (" + sanitize(r.Label) + ")"
		}
		return []string{first, second}
	}
	if f.Reason == "NETFILTER_DROP" {
		if third := otherTablesLine(&p.snap.NFTables); third != "" {
			return []string{first, second, third}
		}
	}
	return []string{first, second}
}

// otherTablesLine names, for a NETFILTER_DROP no netlens rule made, the
// other tables' dropping rules that counted packets at the last reading
// and their drop policies (the Filters tab's v view): "" when there are
// none. A correlation in time, and it says so.
func otherTablesLine(t *model.NFTables) string {
	rules, policies := t.Dropping()
	var parts []string
	for _, x := range rules[:min(len(rules), 3)] {
		parts = append(parts, x.Chain.Family+" "+x.Chain.Table+" "+x.Chain.Name+" #"+strconv.FormatUint(x.Rule.Handle, 10)+
			" +"+strconv.FormatUint(x.Rule.Delta, 10)+" ("+x.Rule.Text+")")
	}
	if len(rules) > 3 {
		parts = append(parts, "and "+itoa(len(rules)-3)+" more")
	}
	for _, ch := range policies[:min(len(policies), 2)] {
		parts = append(parts, "policy drop of "+ch.Family+" "+ch.Table+" "+ch.Name)
	}
	if len(parts) == 0 {
		return ""
	}
	return sanitize("no netlens rule; other tables that dropped at the last reading (Filters, v): " + strings.Join(parts, "; "))
}

// connFilter is the Connections filter that shows the socket of a traced
// flow: its local end (the destination of a received packet).
func connFilter(f *model.DropTraceFlow) string {
	if !f.Dst.IsValid() {
		return ""
	}
	if f.DstPort == 0 {
		return f.Dst.String()
	}
	return fmtAddr(netip.AddrPortFrom(f.Dst, f.DstPort))
}

// showConnectionMsg asks the App to show the Connections tab filtered to
// one connection.
type showConnectionMsg struct{ filter string }

// showConnectionCmd returns a command delivering showConnectionMsg.
func showConnectionCmd(filter string) tea.Cmd {
	return func() tea.Msg { return showConnectionMsg{filter} }
}

// samplingLine is the sampled stream's accounting: "sampled 1/10: 2000,
// emitted 1990, lost 10".
func samplingLine(sp *model.DropTraceSampling) string {
	return "sampled 1/" + strconv.FormatUint(uint64(sp.Every), 10) + ": " + strconv.FormatUint(sp.Sampled, 10) +
		", emitted " + strconv.FormatUint(sp.Emitted, 10) + ", lost " + strconv.FormatUint(sp.Lost, 10)
}

// traceSamplesView is one traced flow's sampled packets (the tracer's
// sampled stream, newest first), one line each, and the headers of the
// selected one, layer by layer. Not safe for concurrent use.
type traceSamplesView struct {
	flow model.DropTraceFlow
	cur  int
}

func (v *traceSamplesView) update(k tea.KeyPressMsg, keys *KeyMap) {
	switch {
	case key.Matches(k, keys.Up):
		v.cur = max(v.cur-1, 0)
	case key.Matches(k, keys.Down):
		v.cur++
	case key.Matches(k, keys.Home):
		v.cur = 0
	case key.Matches(k, keys.End):
		v.cur = 1 << 30
	}
}

func (v *traceSamplesView) view(c *Common, d model.DropTrace) string {
	s, w := c.Styles, c.Width
	f := &v.flow
	pkts := d.FlowSamples(*f)
	v.cur = min(v.cur, max(len(pkts)-1, 0))
	head := "[reasons > flows > packets] " + cmp.Or(f.Proto, f.L3) + " " + traceEnd(f.Src, f.SrcPort, f) + " -> " + traceEnd(f.Dst, f.DstPort, f) +
		": " + itoa(len(pkts)) + " sampled (enter: connection; left: back)"
	lines := []string{summaryLine(s, head, samplingLine(&d.Sampling), w)}
	if len(pkts) == 0 {
		lines = append(lines, s.Dim.Render(fitString("  none of this flow's drops is among the last "+itoa(len(d.Sampling.Samples))+" sampled (one in "+
			strconv.FormatUint(uint64(d.Sampling.Every), 10)+")", w)))
		return fixHeight(lines, c.Height)
	}
	listH := min(len(pkts), max(c.Height/2-1, 3))
	top := max(min(v.cur-listH/2, len(pkts)-listH), 0)
	for i := top; i < top+listH && i < len(pkts); i++ {
		pk := &pkts[i].Packet
		text := "  " + pk.At.UTC().Format("15:04:05.000000") + " " + sanitize(pk.Summary)
		if i == v.cur {
			lines = append(lines, s.Selected.Render(fitString(text, w)))
		} else {
			lines = append(lines, fitString(text, w))
		}
	}
	pk := &pkts[v.cur].Packet
	lines = append(lines, s.Dim.Render(repeat('-', w)))
	lines = append(lines, fitString(" packet "+itoa(v.cur+1)+" of "+itoa(len(pkts))+": "+itoa(pk.Length)+" bytes, "+itoa(pk.CaptureLength)+" of its headers read, dropped "+
		sanitize(f.Reason)+" at "+sanitize(f.Location), w))
	lines = append(lines, layerLines(s, pk, w)...)
	return fixHeight(lines, c.Height)
}
