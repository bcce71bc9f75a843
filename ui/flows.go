package ui

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// Flows table columns. At 80 cells the first seven show; wider
// terminals add the rest, TTL first.
const (
	flowProto = iota
	flowSrc
	flowDst
	flowState
	flowNAT
	flowXlat
	flowBytes
	flowTTL
	flowPkts
	flowAge
	flowZone
	flowMark
)

// flowKey identifies a flow across snapshots.
type flowKey struct {
	id       uint32
	proto    uint8
	zone     uint16
	src, dst netip.AddrPort
}

// flowOrd is the sort keys of a flow, built once per snapshot (a Flow is
// big: comparing fields in place would walk 50,000 of them per sort).
type flowOrd struct {
	src, dst       addrOrd
	bytes, packets uint64
	start, expires int64 // unix ns: age and timeout left
}

// flowView is the Connections tab's flows view: the conntrack table, one
// row per flow, with its original tuple, state, NAT at a glance (kind and
// translated address) and counts; the detail pane has both tuples and
// the NAT in words. Not safe for concurrent use.
type flowView struct {
	listBase[flowKey]
	summary string

	ord   []flowOrd
	ordOf listID // the list ord was built for
}

func newFlowView(c Common, deps []string) *flowView {
	p := &flowView{}
	p.Common, p.deps = c, deps
	p.detailH = 4
	cols := []column{
		flowProto: {title: "Proto", width: 5},
		flowSrc:   {title: "Source", width: 15, flex: 3, keepTail: true},
		flowDst:   {title: "Destination", width: 15, flex: 3, keepTail: true},
		flowState: {title: "State", width: 12},
		flowNAT:   {title: "NAT", width: 4},
		flowXlat:  {title: "Translated", width: 14, flex: 2, keepTail: true},
		flowBytes: {title: "Bytes", width: 9, right: true},
		flowTTL:   {title: "TTL", width: 6, right: true, drop: 1},
		flowPkts:  {title: "Packets", width: 9, right: true, drop: 2},
		flowAge:   {title: "Age", width: 6, right: true, drop: 3},
		flowZone:  {title: "Zone", width: 4, right: true, drop: 4},
		flowMark:  {title: "Mark", width: 8, right: true, drop: 5},
	}
	fs := func() []model.Flow { return p.snap.Flows }
	prep := p.buildOrd
	bySrc := p.cmpSrc
	// The address and zone sorts read only what flowKey holds (keyOnly).
	sorts := []sortSpec{
		{name: "bytes", col: flowBytes, desc: true, prep: prep, cmp: func(a, b int) int {
			return cmp.Or(cmp.Compare(p.ord[a].bytes, p.ord[b].bytes), -bySrc(a, b))
		}},
		{name: "packets", col: flowPkts, desc: true, prep: prep, cmp: func(a, b int) int {
			return cmp.Or(cmp.Compare(p.ord[a].packets, p.ord[b].packets), -bySrc(a, b))
		}},
		{name: "age", col: flowAge, desc: true, prep: prep, cmp: func(a, b int) int {
			return cmp.Or(cmp.Compare(p.ord[b].start, p.ord[a].start), -bySrc(a, b))
		}},
		{name: "ttl", col: flowTTL, prep: prep, cmp: func(a, b int) int {
			return cmp.Or(cmp.Compare(p.ord[a].expires, p.ord[b].expires), bySrc(a, b))
		}},
		{name: "source", col: flowSrc, keyOnly: true, prep: prep, cmp: bySrc},
		{name: "destination", col: flowDst, keyOnly: true, prep: prep, cmp: func(a, b int) int {
			return cmp.Or(p.ord[a].dst.compare(&p.ord[b].dst), bySrc(a, b))
		}},
		{name: "state", col: flowState, prep: prep, cmp: func(a, b int) int {
			f := fs()
			return cmp.Or(cmp.Compare(flowStateCell(&f[a]), flowStateCell(&f[b])), bySrc(a, b))
		}},
		{name: "nat", col: flowNAT, prep: prep, cmp: func(a, b int) int {
			f := fs()
			return cmp.Or(-cmp.Compare(f[a].NAT, f[b].NAT), bySrc(a, b))
		}},
		{name: "proto", col: flowProto, prep: prep, cmp: func(a, b int) int {
			f := fs()
			return cmp.Or(cmp.Compare(f[a].Proto, f[b].Proto), bySrc(a, b))
		}},
		{name: "zone", col: flowZone, keyOnly: true, prep: prep, cmp: func(a, b int) int {
			f := fs()
			return cmp.Or(cmp.Compare(f[a].Zone, f[b].Zone), bySrc(a, b))
		}},
		{name: "mark", col: flowMark, prep: prep, cmp: func(a, b int) int {
			f := fs()
			return cmp.Or(cmp.Compare(f[a].Mark, f[b].Mark), bySrc(a, b))
		}},
	}
	p.init(cols, sorts, 0)
	return p
}

// buildOrd computes the sort keys of the snapshot's flows, unless they
// are those of the same rows already.
func (p *flowView) buildOrd() {
	fs := p.snap.Flows
	id := idOf(fs, p.snap.FlowsSeq)
	if len(p.ord) == len(fs) && (len(fs) == 0 || p.ordOf == id) {
		return
	}
	p.ordOf = id
	p.ord = p.ord[:0]
	for i := range fs {
		f := &fs[i]
		p.ord = append(p.ord, flowOrd{
			src: newAddrOrd(f.Orig.Src), dst: newAddrOrd(f.Orig.Dst),
			bytes: f.OrigBytes + f.ReplyBytes, packets: f.OrigPackets + f.ReplyPackets,
			start: flowStart(f).UnixNano(), expires: f.Updated.Add(f.Timeout).UnixNano(),
		})
	}
}

// cmpSrc orders flows by original source, then destination (after
// buildOrd).
func (p *flowView) cmpSrc(a, b int) int {
	x, y := &p.ord[a], &p.ord[b]
	if c := x.src.compare(&y.src); c != 0 {
		return c
	}
	return x.dst.compare(&y.dst)
}

// Title implements page.
func (p *flowView) Title() string { return "Connections" }

// SetSnapshot implements page.
func (p *flowView) SetSnapshot(s model.Snapshot) { p.setSnapshot(p, s) }

// Sync implements page.
func (p *flowView) Sync() {
	if p.fresh() {
		p.summary = flowSummary(p.snap.Flows, &p.snap.Conntrack)
	}
	p.sync(p)
}

// Update implements page.
func (p *flowView) Update(msg tea.Msg) (page, tea.Cmd) {
	p.update(msg)
	return p, nil
}

func (p *flowView) sameRows(a, b model.Snapshot) bool { return sameFlows(&a, &b) }
func (p *flowView) count() int                        { return len(p.snap.Flows) }
func (p *flowView) include(int) bool                  { return true }
func (p *flowView) key(i int) flowKey {
	f := &p.snap.Flows[i]
	return flowKey{id: f.ID, proto: f.ProtoNum, zone: f.Zone, src: f.Orig.Src, dst: f.Orig.Dst}
}

// matchTerm implements termMatcher.
func (p *flowView) matchTerm(i int, t *filterTerm) bool { return matchFlowTerm(&p.snap.Flows[i], t) }

func (p *flowView) appendHaystack(b []byte, i int) []byte {
	return appendFlowHaystack(b, &p.snap.Flows[i])
}

// appendFlowHaystack appends the text the filter matches in a flow: the
// original tuple (and the reply tuple when NAT makes it say more), the
// state and flags, the NAT, and the mark, zone and helper when set.
func appendFlowHaystack(b []byte, f *model.Flow) []byte {
	b = append(b, f.Proto.String()...)
	b = append(b, ' ')
	b = appendTuple(b, f.Orig)
	if f.NAT != model.NATNone || f.Orig.ICMP != nil {
		b = append(b, ' ')
		b = appendTuple(b, f.Reply)
	}
	b = append(b, ' ')
	b = append(b, tcpState(f)...)
	b = appendBrackets(b, f.Status)
	b = append(b, ' ')
	b = append(b, flowStateCell(f)...)
	if f.NAT != model.NATNone {
		b = append(b, ' ')
		b = append(b, f.NAT.String()...)
		b = append(b, ' ')
		src, dst := f.NATAddrs()
		if f.NAT == model.NATSrc {
			b = appendAddr(b, src)
		} else {
			b = appendAddr(b, dst)
		}
	}
	if f.Mark != 0 {
		b = append(b, " mark "...)
		b = strconv.AppendUint(b, uint64(f.Mark), 10)
	}
	if f.Zone != 0 {
		b = append(b, " zone "...)
		b = strconv.AppendUint(b, uint64(f.Zone), 10)
	}
	if f.Helper != "" {
		b = append(b, ' ')
		b = append(b, f.Helper...)
	}
	return b
}

// appendBrackets appends the flags conntrack(8) shows in brackets, as
// model.FlowStatus.Brackets, each after a space, without allocating.
func appendBrackets(b []byte, s model.FlowStatus) []byte {
	if s&model.StatusSeenReply == 0 {
		b = append(b, " [UNREPLIED]"...)
	}
	if s&model.StatusAssured != 0 {
		b = append(b, " [ASSURED]"...)
	}
	if s&model.StatusOffload != 0 {
		b = append(b, " [OFFLOAD]"...)
	}
	if s&model.StatusHWOffload != 0 {
		b = append(b, " [HW_OFFLOAD]"...)
	}
	return b
}

// cell returns the text of column c for flow i.
func (p *flowView) cell(i, c int) string {
	return flowCell(&p.snap.Flows[i], c, &p.snap)
}

// flowCell returns the text of flows column c for f.
func flowCell(f *model.Flow, c int, snap *model.Snapshot) string {
	st := &snap.Conntrack
	switch c {
	case flowProto:
		return protoCell(f.Proto, f.ProtoNum)
	case flowSrc:
		return flowAddr(f.Orig.Src)
	case flowDst:
		return flowAddr(f.Orig.Dst)
	case flowState:
		return flowStateCell(f)
	case flowNAT:
		return natCell(f)
	case flowXlat:
		return natAddr(f)
	case flowBytes:
		return pairCell(f, st, f.OrigBytes, f.ReplyBytes)
	case flowTTL:
		return fmtDur(f.TimeoutLeft(snap.TakenAt))
	case flowPkts:
		return pairCell(f, st, f.OrigPackets, f.ReplyPackets)
	case flowAge:
		return flowAgeCell(f, st, snap.TakenAt)
	case flowZone:
		return strconv.FormatUint(uint64(f.Zone), 10)
	case flowMark:
		return strconv.FormatUint(uint64(f.Mark), 10)
	}
	return ""
}

// View implements page.
func (p *flowView) View() string {
	n := len(p.snap.Flows)
	head := flowHead(p.Styles, "[flows] ", p.summary+countersAge(&p.snap), &p.snap.Conntrack, p.rightLabel(n), p.Width)
	empty := p.emptyText("flows", "no flows (the conntrack table is empty)")
	rows := p.idx
	return p.render(head, n, empty, func(i, c int) string { return p.cell(rows[i], c) }, p.rowKind, p.detail)
}

// flowHead is the summary line of the flows and joined views: the view,
// lost events first (they must not go unseen), then the summary.
func flowHead(s *Styles, tag, summary string, st *model.ConntrackStats, right string, w int) string {
	lost := lostLabel(st)
	if lost == "" {
		return summaryLine(s, tag+summary, right, w)
	}
	room := w - width(right) - 1
	if room < len(tag)+len(lost)+2 {
		return summaryLine(s, tag+summary, right, w)
	}
	rest := room - len(tag) - len(lost) - 1
	return s.Summary.Render(tag) + s.Warn.Render(lost) + " " + s.Summary.Render(fitString(summary, rest)) + " " + s.Dim.Render(right)
}

// staleCounters is how old the last dump may be before the flows and
// joined views say how old their counters are: conntrack's refresh
// (10 s) and a collection's interval (2 s), and some slack. The TUI dumps
// for the counters only while one of those views is shown
// (Controls.FlowCounters): on coming back to them, the counters are
// those of the last dump until the next one, at most a collection later.
const staleCounters = 15 * time.Second

// countersAge is "; counters as of 1m05s ago" when the flows' counters
// are older than staleCounters, else "".
func countersAge(snap *model.Snapshot) string {
	st := &snap.Conntrack
	if !st.Accounting || st.LastDump.IsZero() || snap.TakenAt.Sub(st.LastDump) <= staleCounters {
		return ""
	}
	return "; counters as of " + fmtDur(snap.TakenAt.Sub(st.LastDump)) + " ago"
}

// lostLabel says how many conntrack events the kernel dropped for
// netlens (ENOBUFS), and whether the table is repaired yet; "" if none.
func lostLabel(st *model.ConntrackStats) string {
	if st.EventsLost == 0 && st.Overruns == 0 {
		return ""
	}
	s := strconv.FormatUint(st.EventsLost, 10) + " events lost"
	if st.EventsLost == 0 {
		s = strconv.FormatUint(st.Overruns, 10) + " event overruns"
	}
	if st.ResyncPending {
		return s + " (re-dump pending)"
	}
	return s + " (re-dumped)"
}

// detail is the selected flow in full: both tuples with their counts, the
// state and flags, the NAT in words, timeout, age, mark, zone, id.
func (p *flowView) detail(i int) []string {
	return flowDetail(&p.snap.Flows[p.idx[i]], &p.snap)
}

// flowDetail describes f on four lines.
func flowDetail(f *model.Flow, snap *model.Snapshot) []string {
	st := &snap.Conntrack
	first := f.Proto.String() + " " + flowStateLong(f) + "  timeout " + fmtDur(f.TimeoutLeft(snap.TakenAt)) + " left  age " +
		flowAgeCell(f, st, snap.TakenAt) + "  mark " + strconv.FormatUint(uint64(f.Mark), 10) + "  zone " + strconv.FormatUint(uint64(f.Zone), 10)
	if f.Helper != "" {
		first += "  helper " + sanitize(f.Helper)
	}
	first += "  id " + strconv.FormatUint(uint64(f.ID), 10)
	dir := func(name string, t model.FlowTuple, pkts, bytes uint64) string {
		s := name + string(appendTuple(nil, t))
		switch {
		case acctOff(st) && !f.CountersKnown:
			s += "  (acct off: net.netfilter.nf_conntrack_acct=0)"
		case !f.CountersKnown:
			s += "  (no counts for this flow)"
		default:
			s += "  " + strconv.FormatUint(pkts, 10) + " pkts " + strconv.FormatUint(bytes, 10) + " bytes"
		}
		return s
	}
	return []string{
		first,
		dir("orig  ", f.Orig, f.OrigPackets, f.OrigBytes),
		dir("reply ", f.Reply, f.ReplyPackets, f.ReplyBytes),
		natDetail(f) + "  status " + strings.Join(f.Status.Names(), ","),
	}
}

func (p *flowView) rowKind(i int) rowKind {
	f := &p.snap.Flows[p.idx[i]]
	switch {
	case p.Changed.flowChanged(f):
		return rowHot
	case f.Status&model.StatusSeenReply == 0:
		return rowDim
	}
	return rowPlain
}

// flowSummary counts flows by protocol and NAT: "1234 flows: 800 tcp,
// 400 udp, 34 icmp; nat 12 snat, 3 dnat", with what the kernel does not
// keep (acct off, ts off) and whether netlens holds only part of the
// table.
func flowSummary(flows []model.Flow, st *model.ConntrackStats) string {
	protos := map[model.Proto]int{}
	var nat [4]int // snat, dnat, both
	for i := range flows {
		f := &flows[i]
		protos[f.Proto]++
		switch f.NAT {
		case model.NATSrc:
			nat[0]++
		case model.NATDst:
			nat[1]++
		case model.NATBoth:
			nat[2]++
		}
	}
	type pc struct {
		name string
		n    int
	}
	var byProto []pc
	for p, n := range protos {
		byProto = append(byProto, pc{p.String(), n})
	}
	slices.SortFunc(byProto, func(a, b pc) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name)) })
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(flows)))
	if len(flows) == 1 {
		b.WriteString(" flow")
	} else {
		b.WriteString(" flows")
	}
	if st.FlowsTruncated {
		b.WriteString(" (top by bytes of " + strconv.FormatUint(st.Count, 10) + ")")
	}
	for i, x := range byProto {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(x.n) + " " + x.name)
	}
	if nat != [4]int{} {
		b.WriteString("; nat")
		for i, name := range []string{"snat", "dnat", "both"} {
			if nat[i] > 0 {
				b.WriteString(" " + strconv.Itoa(nat[i]) + " " + name)
			}
		}
	}
	if acctOff(st) {
		b.WriteString("; acct off")
	}
	if tsOff(st) {
		b.WriteString("; ts off")
	}
	return b.String()
}
