package ui

import (
	"cmp"
	"strconv"
	"strings"

	"netlens/model"
	"netlens/model/drops"
)

// Drop reasons table columns.
const (
	reasonName = iota
	reasonLayer
	reasonLocation
	reasonOrigin
	reasonDelta
	reasonTotal
	reasonSeen
)

// reasonKey identifies a drop monitor aggregate across snapshots.
type reasonKey struct{ reason, location, origin string }

// reasonView is the Drops tab's reasons view: what the kernel's drop
// monitor reported, per drop reason and code location, with the drops
// in the last interval and since netlens started; or why the kernel
// offers none. Not safe for concurrent use.
type reasonView struct {
	listBase[reasonKey]
	// source is the drop source netlens chose and why (Options.DropSource).
	source string
}

func newReasonView(c Common) *reasonView {
	p := &reasonView{}
	p.Common, p.deps = c, []string{model.CollectorDropMon}
	cols := []column{
		reasonName:     {title: "Reason", width: 16, flex: 2},
		reasonLayer:    {title: "Layer", width: 9},
		reasonLocation: {title: "Location", width: 20, flex: 3},
		reasonOrigin:   {title: "Org", width: 3},
		reasonDelta:    {title: "Delta", width: 7, right: true},
		reasonTotal:    {title: "Total", width: 9, right: true},
		reasonSeen:     {title: "Last", width: 8, drop: 1},
	}
	ds := func() []model.DropReason { return p.snap.DropMonitor.Drops }
	sorts := []sortSpec{
		{name: "delta", col: reasonDelta, desc: true, cmp: func(a, b int) int {
			d := ds()
			return cmp.Or(cmp.Compare(d[a].Delta, d[b].Delta), cmp.Compare(d[a].Total, d[b].Total))
		}},
		{name: "total", col: reasonTotal, desc: true, cmp: func(a, b int) int { d := ds(); return cmp.Compare(d[a].Total, d[b].Total) }},
		{name: "reason", col: reasonName, cmp: func(a, b int) int { d := ds(); return cmp.Compare(d[a].Reason, d[b].Reason) }},
		{name: "layer", col: reasonLayer, cmp: func(a, b int) int {
			d := ds()
			return cmp.Or(cmp.Compare(d[a].Layer.Rank(), d[b].Layer.Rank()), cmp.Compare(d[a].Reason, d[b].Reason))
		}},
		{name: "location", col: reasonLocation, cmp: func(a, b int) int { d := ds(); return cmp.Compare(d[a].Location, d[b].Location) }},
	}
	p.init(cols, sorts, 0)
	p.detailH = 4
	return p
}

func (p *reasonView) SetSnapshot(s model.Snapshot) { p.setSnapshot(p, s) }

func (p *reasonView) Sync() {
	p.fresh()
	p.sync(p)
}

func (p *reasonView) sameRows(a, b model.Snapshot) bool {
	return sameSlice(a.DropMonitor.Drops, b.DropMonitor.Drops)
}
func (p *reasonView) count() int         { return len(p.snap.DropMonitor.Drops) }
func (p *reasonView) include(i int) bool { return true }
func (p *reasonView) key(i int) reasonKey {
	d := &p.snap.DropMonitor.Drops[i]
	return reasonKey{d.Reason, d.Location, d.Origin}
}

func (p *reasonView) appendHaystack(b []byte, i int) []byte {
	for c := reasonName; c <= reasonSeen; c++ {
		b = append(b, p.cell(i, c)...)
		b = append(b, ' ')
	}
	return b
}

func (p *reasonView) cell(i, c int) string {
	d := &p.snap.DropMonitor.Drops[i]
	switch c {
	case reasonName:
		if d.Reason == "" {
			return "-"
		}
		return sanitize(d.Reason)
	case reasonLayer:
		return string(d.Layer)
	case reasonLocation:
		return sanitize(d.Location)
	case reasonOrigin:
		return sanitize(d.Origin)
	case reasonDelta:
		return fmtCount(d.Delta, 7)
	case reasonTotal:
		return fmtCount(d.Total, 9)
	case reasonSeen:
		if d.LastSeen.IsZero() {
			return ""
		}
		return d.LastSeen.UTC().Format("15:04:05")
	}
	return ""
}

// View renders the reasons, or why there are none.
func (p *reasonView) View() string {
	s := p.Styles
	dm := &p.snap.DropMonitor
	st, known := p.snap.Status(model.CollectorDropMon)
	if !dm.Supported {
		var lines []string
		why := dropmonDown(&p.snap)
		switch {
		case why != "":
			lines = append(lines, s.Summary.Render(fitString("[reasons] no drop reasons here: "+why, p.Width)), "")
			for _, l := range wrap("The funnel (v) still shows every drop the kernel counts, layer by layer; only the reason and the code location of each drop are missing. They need the kernel's drop monitor (CONFIG_NET_DROP_MONITOR: sudo modprobe drop_monitor) and CAP_NET_ADMIN.", p.Width-4) {
				lines = append(lines, s.PaneText.Render("   "+l))
			}
		case known && st.State == model.StatePending:
			lines = append(lines, s.Summary.Render(fitString("[reasons] drop monitor: waiting for the first sample", p.Width)))
		case p.source != "" && !known:
			lines = append(lines, s.Summary.Render(fitString("[reasons] no drop reasons: drop source "+p.source, p.Width)))
		default:
			lines = append(lines, s.Summary.Render(fitString("[reasons] drop monitor: the collector has not reported (not running here?)", p.Width)))
		}
		return fixHeight(lines, p.Height)
	}
	left := "[reasons] drop monitor, " + dm.Mode + " mode: " + strconv.FormatUint(dm.Total, 10) + " drops since start"
	if dm.Mode == "summary" {
		left += " (no reasons in summary mode)"
	}
	head := summaryLine(s, left, p.rightLabel(len(dm.Drops)), p.Width)
	// Losses first: the counts below undercount.
	var lost []string
	if dm.Lost > 0 {
		lost = append(lost, strconv.FormatUint(dm.Lost, 10)+" notification batches lost (socket buffer full)")
	}
	if dm.QueueDropped > 0 {
		lost = append(lost, strconv.FormatUint(dm.QueueDropped, 10)+" alerts dropped by the kernel's queue")
	}
	if dm.Evicted > 0 {
		lost = append(lost, strconv.FormatUint(dm.Evicted, 10)+" old entries evicted")
	}
	if len(lost) > 0 {
		head += "\n" + s.Warn.Render(fitString("! undercounts: "+strings.Join(lost, ", "), p.Width))
		p.Height--
		defer func() { p.Height++ }()
	}
	empty := p.emptyText("drops", "no drops reported since netlens started")
	rows := p.idx
	out := p.render(head, 1, empty, func(i, c int) string { return p.cell(rows[i], c) }, p.rowKind, p.detail)
	if len(lost) > 0 {
		p.tblTop++ // clicks land one line lower
	}
	return out
}

// rowKind highlights, like the funnel, an aggregate that moved in the
// last recentWindow before the snapshot.
func (p *reasonView) rowKind(i int) rowKind {
	d := &p.snap.DropMonitor.Drops[p.idx[i]]
	if d.Delta > 0 || !d.LastSeen.IsZero() && p.snap.TakenAt.Sub(d.LastSeen) < recentWindow {
		return rowHot
	}
	return rowPlain
}

// detail is the selected aggregate with what its reason means.
func (p *reasonView) detail(i int) []string {
	d := &p.snap.DropMonitor.Drops[p.idx[i]]
	name := d.Reason
	if name == "" {
		name = "(no reason)"
	}
	first := sanitize(name) + "  layer " + string(d.Layer) + "  at " + sanitize(d.Location) + " (" + sanitize(d.Origin) + ")  +" +
		strconv.FormatUint(d.Delta, 10) + " last interval  +" + strconv.FormatUint(d.Total, 10) + " since start"
	out := []string{first}
	if r, ok := drops.Default().Reason(d.Reason); ok {
		text := r.Meaning
		if r.Counter != "" {
			text += " Also counted by " + r.Counter + "."
		}
		out = append(out, wrap(text, p.Width-1)...)
	} else if d.Reason == "" {
		out = append(out, "The kernel gave no reason: summary mode, or a kernel before 5.18.")
	}
	return out
}

// Drop sockets table columns.
const (
	dsProto = iota
	dsLocal
	dsRemote
	dsState
	dsRecvQ
	dsProc
	dsDrops
)

// topSocketsShown bounds the sockets view.
const topSocketsShown = 100

// dropSockView is the Drops tab's socket layer: the sockets with the
// most drops (sk_drops, counted since each socket was created), most
// first. Not safe for concurrent use.
type dropSockView struct {
	listBase[sockKey]
	top   []model.Socket
	topOf listID // the list top was taken from
	known bool   // some socket's drops are known
}

func newDropSockView(c Common) *dropSockView {
	p := &dropSockView{}
	p.Common, p.deps = c, DefaultConnectionsDeps
	cols := []column{
		dsProto:  {title: "Proto", width: 5},
		dsLocal:  {title: "Local", width: 15, flex: 3, keepTail: true},
		dsRemote: {title: "Remote", width: 15, flex: 3, keepTail: true},
		dsState:  {title: "State", width: 12},
		dsRecvQ:  {title: "Recv-Q", width: 7, right: true},
		dsProc:   {title: "Process", width: 10, flex: 2},
		dsDrops:  {title: "Drops", width: 9, right: true},
	}
	sorts := []sortSpec{
		{name: "drops", col: dsDrops, desc: true, cmp: func(a, b int) int { return cmp.Compare(b, a) }}, // TopSockets' order, most first
		{name: "recv-q", col: dsRecvQ, desc: true, cmp: func(a, b int) int { return cmp.Compare(p.top[a].RecvQ, p.top[b].RecvQ) }},
	}
	p.init(cols, sorts, 0)
	return p
}

func (p *dropSockView) SetSnapshot(s model.Snapshot) { p.setSnapshot(p, s) }

func (p *dropSockView) Sync() {
	if id := idOf(p.snap.Sockets, p.snap.SocketsSeq); p.fresh() && p.topOf != id {
		p.top, p.topOf = drops.TopSockets(p.snap.Sockets, topSocketsShown), id
		p.known = false
		for i := range p.snap.Sockets {
			if p.snap.Sockets[i].HasDrops {
				p.known = true
				break
			}
		}
	}
	p.sync(p)
}

func (p *dropSockView) sameRows(a, b model.Snapshot) bool { return sameSockets(&a, &b) }
func (p *dropSockView) count() int                        { return len(p.top) }
func (p *dropSockView) include(i int) bool                { return true }
func (p *dropSockView) key(i int) sockKey {
	s := &p.top[i]
	return sockKey{s.Proto, s.Local, s.Remote, s.Inode}
}

func (p *dropSockView) appendHaystack(b []byte, i int) []byte {
	for c := dsProto; c <= dsDrops; c++ {
		b = append(b, p.cell(i, c)...)
		b = append(b, ' ')
	}
	return b
}

func (p *dropSockView) cell(i, c int) string {
	s := &p.top[i]
	switch c {
	case dsProto:
		return s.Proto.String()
	case dsLocal:
		return fmtAddr(s.Local)
	case dsRemote:
		return fmtAddr(s.Remote)
	case dsState:
		return s.State.String()
	case dsRecvQ:
		return fmtCount(uint64(s.RecvQ), 7)
	case dsProc:
		return fmtProcs(s.Procs)
	case dsDrops:
		return fmtCount(s.Drops, 9)
	}
	return ""
}

// View renders the sockets with drops.
func (p *dropSockView) View() string {
	left := "[sockets] " + itoa(len(p.top)) + " sockets with drops (since each was created), most first"
	if len(p.top) == topSocketsShown {
		left = "[sockets] the " + itoa(topSocketsShown) + " sockets with the most drops (since each was created)"
	}
	head := summaryLine(p.Styles, left, p.rightLabel(len(p.top)), p.Width)
	empty := p.emptyText("sockets", "no socket has dropped a packet")
	if !p.known && len(p.snap.Sockets) > 0 {
		empty = "the sockets collector does not report per-socket drops here"
	}
	rows := p.idx
	return p.render(head, len(p.snap.Sockets), empty, func(i, c int) string { return p.cell(rows[i], c) }, nil, p.detail)
}

// detail is the selected socket, what sk_drops counts, and the receive
// buffer sysctls with their current values.
func (p *dropSockView) detail(i int) []string {
	s := &p.top[p.idx[i]]
	first := s.Proto.String() + " " + fmtAddr(s.Local) + " -> " + fmtAddr(s.Remote) + "  " + s.State.String() +
		"  " + fmtProcs(s.Procs) + "  drops " + strconv.FormatUint(s.Drops, 10) + "  recv-q " + strconv.FormatUint(uint64(s.RecvQ), 10)
	out := []string{first, "sk_drops: packets this socket dropped since it was created, mostly a full receive buffer (SO_RCVBUF)."}
	names := []string{"net.core.rmem_default", "net.core.rmem_max"}
	if s.Proto == model.ProtoTCP {
		names = []string{"net.ipv4.tcp_rmem", "net.core.rmem_max"}
	}
	var vals []string
	for _, n := range names {
		v := "not read"
		for _, sc := range p.snap.Sysctls {
			if sc.Name == n {
				v = strings.Join(strings.Fields(sanitize(sc.Value)), " ")
			}
		}
		vals = append(vals, n+" = "+v)
	}
	return append(out, strings.Join(vals, "  ")+"  (and the socket's own SO_RCVBUF)")
}
