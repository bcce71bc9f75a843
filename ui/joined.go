package ui

import (
	"cmp"
	"strconv"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// Joined table columns.
const (
	joinProto = iota
	joinLocal
	joinRemote
	joinState
	joinCT
	joinNAT
	joinProc
	joinBytes
	joinDir
	joinXlat
	joinTTL
	joinNS // the all-namespaces view only
)

// joinView is the Connections tab's joined view: one row per local
// socket with the conntrack flow it belongs to (model.JoinSocketsFlows),
// so that a process, its socket state and its conntrack state and NAT
// show together. Sockets that cannot have a flow (listening, unconnected)
// show "-", connected ones without a flow "no flow" (in the all-namespaces
// view, those of another namespace than the flows' "other netns"). Flows of no local
// socket (forwarded traffic) are counted in the summary and listed by
// the flows view. Not safe for concurrent use.
type joinView struct {
	listBase[sockKey]
	summary string

	// join[i] is socket i's flow; computed by Sync when the sockets or
	// the flows changed.
	join      []model.SocketFlow
	joinSocks []model.Socket
	joinSeq   uint64 // joinSocks' SocketsSeq
	joinFlows []model.Flow
	joinFSeq  uint64 // joinFlows' FlowsSeq
	orphans   int    // flows without a local socket
	matched   int    // sockets with a flow

	ord sockOrder
}

func newJoinView(c Common, deps []string) *joinView {
	p := &joinView{}
	p.Common, p.deps = c, deps
	p.detailH = 4
	cols := []column{
		joinProto:  {title: "Proto", width: 5},
		joinLocal:  {title: "Local", width: 15, flex: 3, keepTail: true},
		joinRemote: {title: "Remote", width: 15, flex: 3, keepTail: true},
		joinState:  {title: "State", width: 10},
		joinCT:     {title: "Conntrack", width: 12},
		joinNAT:    {title: "NAT", width: 4},
		joinProc:   {title: "Process", width: 10, flex: 2},
		joinBytes:  {title: "Bytes", width: 9, right: true, drop: 1},
		joinDir:    {title: "Dir", width: 5, drop: 2},
		joinXlat:   {title: "Translated", width: 15, flex: 1, keepTail: true, drop: 3},
		joinTTL:    {title: "TTL", width: 6, right: true, drop: 4},
		joinNS:     {title: "Namespace", width: 12, flex: 2, off: true},
	}
	socks := func() []model.Socket { return p.snap.Sockets }
	// As in the sockets view, the address and protocol sorts read only
	// what sockKey holds (keyOnly).
	prep := func() { p.ord.build(&p.snap) }
	byLocal := p.ord.cmpLocal
	flowOf := func(i int) *model.Flow {
		if fi := p.join[i].Flow; fi >= 0 {
			return &p.joinFlows[fi]
		}
		return nil
	}
	sorts := []sortSpec{
		{name: "local", col: joinLocal, keyOnly: true, prep: prep, cmp: byLocal},
		{name: "remote", col: joinRemote, keyOnly: true, prep: prep, cmp: func(a, b int) int {
			return cmp.Or(p.ord.ord[a].remote.compare(&p.ord.ord[b].remote), byLocal(a, b))
		}},
		{name: "state", col: joinState, prep: prep, cmp: func(a, b int) int {
			s := socks()
			return cmp.Or(cmp.Compare(s[a].State.String(), s[b].State.String()), byLocal(a, b))
		}},
		{name: "conntrack", col: joinCT, joined: true, prep: prep, cmp: func(a, b int) int {
			return cmp.Or(cmp.Compare(p.ctCell(a), p.ctCell(b)), byLocal(a, b))
		}},
		{name: "nat", col: joinNAT, joined: true, prep: prep, cmp: func(a, b int) int {
			x, y := model.NATNone, model.NATNone
			if f := flowOf(a); f != nil {
				x = f.NAT
			}
			if f := flowOf(b); f != nil {
				y = f.NAT
			}
			return cmp.Or(-cmp.Compare(x, y), byLocal(a, b))
		}},
		{name: "process", col: joinProc, prep: prep, cmp: func(a, b int) int {
			s := socks()
			return cmp.Or(cmpProcs(s[a].Procs, s[b].Procs), byLocal(a, b))
		}},
		{name: "bytes", col: joinBytes, desc: true, joined: true, prep: prep, cmp: func(a, b int) int {
			x, y := int64(-1), int64(-1)
			if f := flowOf(a); f != nil {
				x = int64(f.OrigBytes + f.ReplyBytes)
			}
			if f := flowOf(b); f != nil {
				y = int64(f.OrigBytes + f.ReplyBytes)
			}
			return cmp.Or(cmp.Compare(x, y), -byLocal(a, b))
		}},
		{name: "proto", col: joinProto, keyOnly: true, prep: prep, cmp: func(a, b int) int {
			s := socks()
			return cmp.Or(cmp.Compare(s[a].Proto, s[b].Proto), byLocal(a, b))
		}},
		{name: "namespace", col: joinNS, prep: prep, cmp: func(a, b int) int {
			s := socks()
			return cmp.Or(cmp.Compare(s[a].Namespace, s[b].Namespace), byLocal(a, b))
		}},
	}
	p.init(cols, sorts, 0)
	return p
}

// Title implements page.
func (p *joinView) Title() string { return "Connections" }

// SetSnapshot implements page. A new flow table with the same sockets
// keeps the order when the sort reads only the sockets (the flows change
// every few seconds; re-sorting 50,000 sockets for them is waste).
func (p *joinView) SetSnapshot(s model.Snapshot) {
	// The Namespace column shows in the all-namespaces view only.
	if all := s.NetNS != nil && s.NetNS.All; p.tbl.cols[joinNS].off == all {
		p.tbl.cols[joinNS].off = !all
		p.tbl.layout()
	}
	if sameSockets(&p.snap, &s) && !sameFlows(&p.snap, &s) && !p.sorts[p.sortIdx].joined {
		p.snap = s
		p.hayValid = false
		p.dirty = true
		return
	}
	p.setSnapshot(p, s)
}

// Sync implements page: it joins the sockets with the flows when either
// changed, then filters and sorts.
func (p *joinView) Sync() {
	if p.fresh() {
		p.joinNow()
		p.describe()
	}
	p.sync(p)
}

// joinNow joins the snapshot's sockets and flows, unless they are those
// joined already.
func (p *joinView) joinNow() {
	socks, flows := p.snap.Sockets, p.snap.Flows
	if p.join != nil && sameSlice(socks, p.joinSocks) && p.joinSeq == p.snap.SocketsSeq && sameSlice(flows, p.joinFlows) && p.joinFSeq == p.snap.FlowsSeq {
		return
	}
	rows := model.JoinSocketsFlows(socks, flows, flowsNetNS(p.snap.NetNS))
	p.join, p.joinSocks, p.joinSeq, p.joinFlows, p.joinFSeq = rows[:len(socks)], socks, p.snap.SocketsSeq, flows, p.snap.FlowsSeq
	p.orphans = len(rows) - len(socks)
	p.matched = 0
	for _, r := range p.join {
		if r.Flow >= 0 {
			p.matched++
		}
	}
}

// flowsNetNS is the inode of the namespace the flows were read in, in the
// all-namespaces view (where every socket carries its own); 0 elsewhere.
func flowsNetNS(ns *model.NetNS) uint64 {
	if ns == nil || !ns.All {
		return 0
	}
	return ns.Inode
}

// describe sets the summary line, and the warning's note while conntrack
// is down (the sockets are fresh; the flows unknown).
func (p *joinView) describe() {
	p.summary = joinSummary(len(p.snap.Sockets), p.matched, p.orphans)
	if len(p.snap.Flows) == 0 && len(p.problems) == 0 {
		p.summary += " (the conntrack table is empty)"
	}
	p.staleNote = ""
	if p.ctDown() {
		p.summary = strconv.Itoa(len(p.snap.Sockets)) + " sockets; their conntrack flows are unknown (conntrack down)"
		if len(p.problems) == 1 {
			p.staleNote = "(flows unknown)"
		}
	}
}

// joinSummary is "120 sockets, 80 with a conntrack flow; 12 flows of no
// local socket (v: flows)".
func joinSummary(socks, matched, orphans int) string {
	s := strconv.Itoa(socks) + " sockets, " + strconv.Itoa(matched) + " with a conntrack flow"
	if socks == 1 {
		s = "1 socket, " + strconv.Itoa(matched) + " with a conntrack flow"
	}
	if orphans > 0 {
		s += "; " + strconv.Itoa(orphans) + " flows without a local socket"
	}
	return s
}

// Update implements page.
func (p *joinView) Update(msg tea.Msg) (page, tea.Cmd) {
	p.update(msg)
	return p, nil
}

func (p *joinView) sameRows(a, b model.Snapshot) bool {
	return sameSockets(&a, &b) && sameFlows(&a, &b)
}
func (p *joinView) count() int       { return len(p.snap.Sockets) }
func (p *joinView) include(int) bool { return true }
func (p *joinView) key(i int) sockKey {
	s := &p.snap.Sockets[i]
	return sockKey{proto: s.Proto, local: s.Local, remote: s.Remote, inode: s.Inode}
}

// flow returns socket i's flow, or nil.
func (p *joinView) flow(i int) *model.Flow {
	if i < len(p.join) {
		if fi := p.join[i].Flow; fi >= 0 {
			return &p.joinFlows[fi]
		}
	}
	return nil
}

// ctDown reports whether the flows are unknown: the conntrack collector
// is not working and has given no flows.
func (p *joinView) ctDown() bool {
	if len(p.snap.Flows) > 0 {
		return false
	}
	for _, pr := range p.problems {
		if pr.status.Name == model.CollectorConntrack {
			return true
		}
	}
	return false
}

// ctCell is the conntrack column of socket i.
func (p *joinView) ctCell(i int) string {
	if f := p.flow(i); f != nil {
		return flowStateCell(f)
	}
	s := &p.snap.Sockets[i]
	switch {
	case !canHaveFlow(s):
		return "-"
	case s.NetNS != 0 && s.NetNS != flowsNetNS(p.snap.NetNS) && flowsNetNS(p.snap.NetNS) != 0:
		// All namespaces: its flow would be in its namespace's table,
		// which netlens does not read.
		return "other netns"
	case p.ctDown():
		return "unknown"
	}
	return "no flow"
}

// matchTerm implements termMatcher: proto, port, addr and state match
// the socket or its flow; nat, mark and zone the flow (nat:none matches
// sockets without one).
func (p *joinView) matchTerm(i int, t *filterTerm) bool {
	s, f := &p.snap.Sockets[i], p.flow(i)
	switch t.key {
	case "proto":
		return s.Proto.String() == t.val
	case "port":
		if t.matchPort(s.Local.Port()) || t.matchPort(s.Remote.Port()) {
			return true
		}
	case "addr":
		if t.matchAddr(s.Local.Addr()) || t.matchAddr(s.Remote.Addr()) {
			return true
		}
	case "state":
		if t.matchState(s.State.String()) {
			return true
		}
	case "nat":
		if f == nil {
			return t.val == "none" || t.val == "no"
		}
	}
	return f != nil && matchFlowTerm(f, t)
}

func (p *joinView) appendHaystack(b []byte, i int) []byte {
	b = appendSockText(b, &p.snap.Sockets[i])
	if f := p.flow(i); f != nil {
		return appendFlowHaystack(b, f)
	}
	return append(b, p.ctCell(i)...)
}

// cell returns the text of column c for socket i.
func (p *joinView) cell(i, c int) string {
	s := &p.snap.Sockets[i]
	f := p.flow(i)
	switch c {
	case joinProto:
		return protoCell(s.Proto, 0)
	case joinLocal:
		return fmtAddr(s.Local)
	case joinRemote:
		return fmtAddr(s.Remote)
	case joinState:
		return s.State.String()
	case joinCT:
		return p.ctCell(i)
	case joinProc:
		return fmtProcs(s.Procs)
	case joinNS:
		return sanitize(s.Namespace)
	}
	if f == nil {
		return ""
	}
	switch c {
	case joinNAT:
		return natCell(f)
	case joinBytes:
		return flowCell(f, flowBytes, &p.snap)
	case joinDir:
		if p.join[i].Dir == model.DirReply {
			return "reply"
		}
		return "orig"
	case joinXlat:
		return natAddr(f)
	case joinTTL:
		return flowCell(f, flowTTL, &p.snap)
	}
	return ""
}

// View implements page.
func (p *joinView) View() string {
	n := len(p.snap.Sockets)
	head := flowHead(p.Styles, "[joined] ", p.summary+countersAge(&p.snap), &p.snap.Conntrack, p.rightLabel(n), p.Width)
	rows := p.idx
	empty := p.emptyText("sockets", "no sockets")
	return p.render(head, n, empty, func(i, c int) string { return p.cell(rows[i], c) }, p.rowKind, p.detail)
}

// detail is the selected socket and its flow.
func (p *joinView) detail(i int) []string {
	si := p.idx[i]
	s := &p.snap.Sockets[si]
	first := s.Proto.String() + " " + fmtAddr(s.Local) + " -> " + fmtAddr(s.Remote) + "  " + s.State.String()
	if len(s.Procs) > 0 {
		first += "  " + procsDetail(s.Procs)
	} else {
		first += "  process unknown"
	}
	f := p.flow(si)
	if f == nil {
		why := "no conntrack flow has this socket's 5-tuple (untracked, or not seen yet)"
		switch p.ctCell(si) {
		case "-":
			why = "not connected: only connected TCP and UDP sockets have a conntrack flow"
		case "unknown":
			why = "conntrack flows unknown: the conntrack collector is not working (see the warning above)"
		}
		return []string{first, why}
	}
	d := flowDetail(f, &p.snap)
	end := "this socket opened the flow (original direction)"
	if p.join[si].Dir == model.DirReply {
		end = "this socket answered the flow (reply direction)"
	}
	return []string{first, d[0], d[3], end + ";  " + string(appendTuple(nil, f.Orig)) + "  /  " + string(appendTuple(nil, f.Reply))}
}

func (p *joinView) rowKind(i int) rowKind {
	si := p.idx[i]
	f := p.flow(si)
	switch {
	case p.Changed.socketChanged(&p.snap.Sockets[si]) || f != nil && p.Changed.flowChanged(f):
		return rowHot
	case f == nil && canHaveFlow(&p.snap.Sockets[si]) && !p.ctDown():
		return rowDim
	}
	return rowPlain
}
