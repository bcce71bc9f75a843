package ui

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// Connections table columns.
const (
	connProto = iota
	connLocal
	connRemote
	connState
	connRecvQ
	connSendQ
	connProc
	connUID
	connDrops
	connRx      // bytes received per second (tcp_info)
	connTx      // bytes acknowledged per second (tcp_info)
	connRetrans // segments retransmitted per second (tcp_info)
	connNS      // the all-namespaces view only
)

// sockKey identifies a socket across snapshots.
type sockKey struct {
	proto         model.Proto
	local, remote netip.AddrPort
	inode         uint64
}

// sockView is the Connections tab's sockets view: the socket table, as
// ss shows it. Not safe for concurrent use.
type sockView struct {
	listBase[sockKey]
	summary string // "1234 sockets: 800 ESTAB, 12 LISTEN, ..."
	// sumOf is the list summary was counted from: a new snapshot (a
	// counter's, twice a second) with the same list keeps it.
	sumOf listID
	ord   sockOrder
	// tr is the eBPF tracer's drops per socket (droptraced.go).
	tr tracedDrops
	// sampled are the UDP sockets' rates from a running capture
	// (model.SampledUDPRates), by socket index; nil without one.
	sampled map[int]model.SocketRate
	// lookCtl reads the selected socket's tcp_info when the table has
	// none (tcplookup.go); look is its last answer.
	lookCtl TCPInfoControl
	look    tcpLookup
}

func newSockView(c Common, deps []string) *sockView {
	p := &sockView{}
	p.Common, p.deps = c, deps
	cols := []column{
		connProto:   {title: "Proto", width: 5},
		connLocal:   {title: "Local", width: 13, flex: 2, keepTail: true, pref: 15},
		connRemote:  {title: "Remote", width: 13, flex: 2, keepTail: true, pref: 15},
		connState:   {title: "State", width: 10},
		connRecvQ:   {title: "Recv-Q", width: 6, right: true},
		connSendQ:   {title: "Send-Q", width: 6, right: true},
		connProc:    {title: "Process", width: 9, flex: 3},
		connUID:     {title: "UID", width: 5, right: true, drop: 3},
		connDrops:   {title: "Drops", width: 5, right: true, drop: 2},
		connRx:      {title: "Rx/s", width: 5, right: true},
		connTx:      {title: "Tx/s", width: 5, right: true},
		connRetrans: {title: "Retr/s", width: 6, right: true, drop: 1},
		connNS:      {title: "Namespace", width: 12, flex: 2, off: true},
	}
	socks := func() []model.Socket { return p.snap.Sockets }
	// Address sorts compare precomputed integer keys (sockOrd); the
	// others break ties by local address the same way. The address and
	// protocol sorts read only what sockKey holds (keyOnly).
	prep := func() { p.ord.build(&p.snap) }
	byLocal := p.ord.cmpLocal
	sorts := []sortSpec{
		{name: "local", col: connLocal, keyOnly: true, prep: prep, cmp: byLocal},
		{name: "remote", col: connRemote, keyOnly: true, prep: prep, cmp: func(a, b int) int {
			if c := p.ord.ord[a].remote.compare(&p.ord.ord[b].remote); c != 0 {
				return c
			}
			return byLocal(a, b)
		}},
		{name: "state", col: connState, prep: prep, cmp: func(a, b int) int {
			s := socks()
			return cmp.Or(cmp.Compare(s[a].State.String(), s[b].State.String()), byLocal(a, b))
		}},
		{name: "recv-q", col: connRecvQ, desc: true, cmp: func(a, b int) int { s := socks(); return cmp.Compare(s[a].RecvQ, s[b].RecvQ) }},
		{name: "send-q", col: connSendQ, desc: true, cmp: func(a, b int) int { s := socks(); return cmp.Compare(s[a].SendQ, s[b].SendQ) }},
		{name: "process", col: connProc, prep: prep, cmp: func(a, b int) int {
			s := socks()
			return cmp.Or(cmpProcs(s[a].Procs, s[b].Procs), byLocal(a, b))
		}},
		{name: "uid", col: connUID, cmp: func(a, b int) int { s := socks(); return cmp.Compare(s[a].UID, s[b].UID) }},
		{name: "drops", col: connDrops, desc: true, cmp: func(a, b int) int { s := socks(); return cmp.Compare(s[a].Drops, s[b].Drops) }},
		{name: "proto", col: connProto, keyOnly: true, prep: prep, cmp: func(a, b int) int {
			s := socks()
			return cmp.Or(cmp.Compare(s[a].Proto, s[b].Proto), byLocal(a, b))
		}},
		{name: "rx/s", col: connRx, desc: true, prep: prep, cmp: func(a, b int) int {
			ra, rb := p.rate(a), p.rate(b)
			return cmp.Or(cmpRate(&ra, &rb, ra.RxBps, rb.RxBps), byLocal(b, a))
		}},
		{name: "tx/s", col: connTx, desc: true, prep: prep, cmp: func(a, b int) int {
			ra, rb := p.rate(a), p.rate(b)
			return cmp.Or(cmpRate(&ra, &rb, ra.TxBps, rb.TxBps), byLocal(b, a))
		}},
		{name: "retrans/s", col: connRetrans, desc: true, prep: prep, cmp: func(a, b int) int {
			ra, rb := p.rate(a), p.rate(b)
			return cmp.Or(cmpRate(&ra, &rb, ra.RetransPerSec, rb.RetransPerSec), byLocal(b, a))
		}},
		{name: "namespace", col: connNS, prep: prep, cmp: func(a, b int) int {
			s := socks()
			return cmp.Or(cmp.Compare(s[a].Namespace, s[b].Namespace), byLocal(a, b))
		}},
	}
	p.init(cols, sorts, 0)
	p.detailH = sockDetailH
	return p
}

// addrOrd is an address and port as integers, ordered as
// netip.AddrPort.Compare orders them (family, address, port; zones are
// left out).
type addrOrd struct {
	hi, lo uint64
	port   uint16
	bits   uint8 // 0 (none), 32 or 128
}

func newAddrOrd(ap netip.AddrPort) addrOrd {
	a := ap.Addr()
	o := addrOrd{port: ap.Port(), bits: uint8(a.BitLen())}
	o.hi, o.lo = addrWords(a) // zeros for no address
	return o
}

func (x *addrOrd) compare(y *addrOrd) int {
	switch {
	case x.bits != y.bits:
		return cmp.Compare(x.bits, y.bits)
	case x.hi != y.hi:
		return cmp.Compare(x.hi, y.hi)
	case x.lo != y.lo:
		return cmp.Compare(x.lo, y.lo)
	}
	return cmp.Compare(x.port, y.port)
}

// sockOrd is the sort key of a socket by local address, protocol and
// remote address.
type sockOrd struct {
	local, remote addrOrd
	proto         model.Proto
}

// sockOrder holds the sort keys of a socket table.
type sockOrder struct {
	ord []sockOrd // sort keys, by socket
	of  listID    // the list ord was built for
}

// build computes the sort keys of snap's sockets, unless they are those
// of the same rows already.
func (o *sockOrder) build(snap *model.Snapshot) {
	socks := snap.Sockets
	id := idOf(socks, snap.SocketsSeq)
	if len(o.ord) == len(socks) && (len(socks) == 0 || o.of == id) {
		return
	}
	o.of = id
	o.ord = o.ord[:0]
	for i := range socks {
		s := &socks[i]
		o.ord = append(o.ord, sockOrd{local: newAddrOrd(s.Local), remote: newAddrOrd(s.Remote), proto: s.Proto})
	}
}

// cmpLocal orders sockets a and b by local address, protocol and remote
// address (after build).
func (o *sockOrder) cmpLocal(a, b int) int {
	x, y := &o.ord[a], &o.ord[b]
	if c := x.local.compare(&y.local); c != 0 {
		return c
	}
	if x.proto != y.proto {
		return cmp.Compare(x.proto, y.proto)
	}
	return x.remote.compare(&y.remote)
}

// rate is socket i's rate: tcp_info's, else a sampled one from a
// capture (UDP), else none.
func (p *sockView) rate(i int) model.SocketRate {
	if r := p.snap.Sockets[i].Rate; r != nil {
		return *r
	}
	if p.sampled != nil {
		return p.sampled[i]
	}
	return model.SocketRate{}
}

// cmpRate orders two sockets' rates by one of their figures, a socket
// without a rate below any with one (an ascending order: the rate sorts
// start descending).
func cmpRate(a, b *model.SocketRate, x, y float64) int {
	if a.Known != b.Known {
		if a.Known {
			return 1
		}
		return -1
	}
	return cmp.Compare(x, y)
}

func cmpProcs(a, b []model.Proc) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1 // sockets without a known process last
	case len(b) == 0:
		return -1
	}
	return cmp.Or(cmp.Compare(a[0].Comm, b[0].Comm), cmp.Compare(a[0].PID, b[0].PID))
}

// Title implements page.
func (p *sockView) Title() string { return "Connections" }

// SetSnapshot implements page.
func (p *sockView) SetSnapshot(s model.Snapshot) {
	// The Namespace column shows in the all-namespaces view only.
	if all := s.NetNS != nil && s.NetNS.All; p.tbl.cols[connNS].off == all {
		p.tbl.cols[connNS].off = !all
		p.tbl.layout()
	}
	p.setSnapshot(p, s)
}

// Sync implements page.
func (p *sockView) Sync() {
	if p.fresh() {
		if id := idOf(p.snap.Sockets, p.snap.SocketsSeq); id != p.sumOf || p.summary == "" {
			p.summary = socketSummary(p.snap.Sockets)
			p.sumOf = id
		}
		p.tr.update(&p.snap)
		sampled := model.SampledUDPRates(p.snap.Sockets, &p.snap.Capture)
		if len(sampled) > 0 || len(p.sampled) > 0 {
			p.invalidate() // a rate sort reads them
		}
		p.sampled = sampled
	}
	p.sync(p)
}

// Update implements page.
func (p *sockView) Update(msg tea.Msg) (page, tea.Cmd) {
	p.update(msg)
	return p, nil
}

// matchTerm implements termMatcher. Sockets have no NAT, mark or zone:
// nat:none matches every socket, the other nat, mark and zone terms none.
func (p *sockView) matchTerm(i int, t *filterTerm) bool {
	s := &p.snap.Sockets[i]
	switch t.key {
	case "proto":
		return s.Proto.String() == t.val
	case "port":
		return t.matchPort(s.Local.Port()) || t.matchPort(s.Remote.Port())
	case "addr":
		return t.matchAddr(s.Local.Addr()) || t.matchAddr(s.Remote.Addr())
	case "state":
		return t.matchState(s.State.String())
	case "nat":
		return t.val == "none"
	}
	return false
}

func (p *sockView) sameRows(a, b model.Snapshot) bool { return sameSockets(&a, &b) }
func (p *sockView) count() int                        { return len(p.snap.Sockets) }
func (p *sockView) include(int) bool                  { return true }
func (p *sockView) key(i int) sockKey {
	s := &p.snap.Sockets[i]
	return sockKey{proto: s.Proto, local: s.Local, remote: s.Remote, inode: s.Inode}
}

// keyHash implements keyHasher: the socket's key but for its addresses'
// zones (no sort reads them), in three 64x64-bit products folded to 64
// bits (wyhash's mum). The addresses are in: a UDP socket connected
// again keeps its inode and ports, and the address sorts keep their
// order on a matching fingerprint. About twice the time of the inode and
// ports alone (0.6 against 0.3 ms at 100,000 sockets), which sufficed
// while a fingerprint only gave the sort a head start.
func (p *sockView) keyHash(i int) uint64 {
	s := &p.snap.Sockets[i]
	l, r := s.Local.Addr(), s.Remote.Addr()
	var lhi, llo, rhi, rlo uint64
	if l.Is4() && r.Is4() {
		lb, rb := l.As4(), r.As4() // cheaper than As16
		llo, rlo = uint64(binary.BigEndian.Uint32(lb[:])), uint64(binary.BigEndian.Uint32(rb[:]))
	} else {
		lhi, llo = addrWords(l)
		rhi, rlo = addrWords(r)
	}
	// BitLen tells an IPv4 address from its IPv4-mapped IPv6 form, and
	// both from none.
	rest := uint64(s.Local.Port())<<48 | uint64(s.Remote.Port())<<32 | uint64(l.BitLen())<<16 | uint64(r.BitLen())<<8 | uint64(s.Proto)
	return mum(lhi^0xa0761d6478bd642f, llo^0xe7037ed1a0b428db) ^
		mum(rhi^0x8ebc6af09c88c6e3, rlo^0x589965cc75374cc3) ^
		mum(s.Inode^0x1d8e4e27c47d124f, rest^0x9e3779b97f4a7c15)
}

// addrWords is a's 16 bytes (As16) as two big-endian words.
func addrWords(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// mum folds the 128-bit product of a and b to 64 bits.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func (p *sockView) appendHaystack(b []byte, i int) []byte {
	s := &p.snap.Sockets[i]
	b = appendSockText(b, s)
	b = strconv.AppendUint(b, uint64(s.RecvQ), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(s.SendQ), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(s.UID), 10)
	if s.HasDrops {
		b = append(b, ' ')
		b = strconv.AppendUint(b, s.Drops, 10)
	}
	return b
}

// appendSockText appends a socket's protocol, addresses, state and
// processes, each followed by a space, for the filter.
func appendSockText(b []byte, s *model.Socket) []byte {
	if s.Namespace != "" {
		b = append(b, s.Namespace...)
		b = append(b, ' ')
	}
	b = append(b, s.Proto.String()...)
	b = append(b, ' ')
	b = appendAddr(b, s.Local)
	b = append(b, ' ')
	b = appendAddr(b, s.Remote)
	b = append(b, ' ')
	b = append(b, s.State.String()...)
	b = append(b, ' ')
	for _, pr := range s.Procs {
		b = append(b, pr.Comm...)
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(pr.PID), 10)
		b = append(b, ' ')
	}
	return b
}

// cell returns the text of column c for socket i.
func (p *sockView) cell(i, c int) string {
	s := &p.snap.Sockets[i]
	switch c {
	case connProto:
		return s.Proto.String()
	case connLocal:
		return fmtAddr(s.Local)
	case connRemote:
		return fmtAddr(s.Remote)
	case connState:
		return s.State.String()
	case connRecvQ:
		return fmtCount(uint64(s.RecvQ), 6)
	case connSendQ:
		return fmtCount(uint64(s.SendQ), 6)
	case connProc:
		return fmtProcs(s.Procs)
	case connUID:
		return strconv.FormatUint(uint64(s.UID), 10)
	case connDrops:
		if p.tr.on {
			return fmtCount(p.tr.count(i), 5)
		}
		if !s.HasDrops {
			return "-"
		}
		return fmtCount(s.Drops, 5)
	case connRx, connTx, connRetrans:
		r := p.rate(i)
		switch c {
		case connRx:
			return rateCell(&r, r.RxBps)
		case connTx:
			return rateCell(&r, r.TxBps)
		}
		if r.Sampled {
			return "-" // a capture does not see retransmits of UDP
		}
		return rateCell(&r, r.RetransPerSec)
	case connNS:
		return sanitize(s.Namespace)
	}
	return ""
}

// rateCell is a figure v of a socket's rate r, "-" where it has none:
// UDP and raw sockets (no byte counters in the kernel) without a
// capture, listeners, TIME-WAIT, sockets from /proc/net (no tcp_info),
// and sockets seen for the first time. A rate sampled by a capture ends
// in "~".
func rateCell(r *model.SocketRate, v float64) string {
	switch {
	case !r.Known:
		return "-"
	case r.Sampled:
		return fmtRateFit(v, 4) + "~"
	}
	return fmtRateFit(v, 5)
}

// fmtRateFit is fmtRate in at most w cells, dropping the decimal where
// it does not fit ("200.0k" in 5 cells is "200k").
func fmtRateFit(r float64, w int) string {
	s := fmtRate(r)
	if len(s) <= w {
		return s
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		s = s[:i] + s[j:]
	}
	return s
}

// View implements page.
func (p *sockView) View() string {
	socks := p.snap.Sockets
	head := summaryLine(p.Styles, "[sockets] "+p.summary, p.rightLabel(len(socks)), p.Width)
	empty := p.emptyText("sockets", "no sockets")
	rows := p.idx
	return p.render(head, len(socks), empty, func(i, c int) string { return p.cell(rows[i], c) }, p.rowKind, p.detail)
}

// detail is the selected socket in full: both ends, every process holding
// it, and what the table leaves out.
func (p *sockView) detail(i int) []string {
	s := &p.snap.Sockets[p.idx[i]]
	first := s.Proto.String() + " " + fmtAddr(s.Local) + " -> " + fmtAddr(s.Remote) + "  " + s.State.String()
	if s.Interface != "" {
		first += "  dev " + sanitize(s.Interface)
	}
	drops := "-"
	if s.HasDrops {
		drops = strconv.FormatUint(s.Drops, 10)
	}
	second := "recv-q " + strconv.FormatUint(uint64(s.RecvQ), 10) + "  send-q " + strconv.FormatUint(uint64(s.SendQ), 10) +
		"  drops " + drops + "  uid " + strconv.FormatUint(uint64(s.UID), 10) + "  inode " + strconv.FormatUint(s.Inode, 10)
	if s.Cookie != 0 {
		second += "  cookie " + strconv.FormatUint(s.Cookie, 10)
	}
	if why := p.tr.reasons(p.idx[i]); why != "" {
		second += "  traced drops: " + why
	}
	procs := "process unknown (no owner found, or not permitted to look)"
	if len(s.Procs) > 0 {
		procs = procsDetail(s.Procs)
	}
	// In another namespace: which, and that the PIDs are the host's.
	switch n := p.snap.NetNS; {
	case s.Namespace != "":
		procs += "  (host PIDs)  namespace " + sanitize(s.Namespace) + " net:[" + strconv.FormatUint(s.NetNS, 10) + "]"
	case n != nil && !n.All:
		procs += "  (host PIDs)" + netnsHeader(n)
	}
	more := p.tcpLines(s)
	if r, ok := p.sampled[p.idx[i]]; ok && s.Rate == nil {
		more = append(more, "sampled by the capture on "+sanitize(p.snap.Capture.Interface)+": rx "+fmtRate(r.RxBps)+"B/s  tx "+fmtRate(r.TxBps)+
			"B/s of UDP payload, what crossed that interface")
	}
	return append([]string{first, second, procs}, more...)
}

// procsDetail lists every process holding a socket: "held by
// nginx/1402 fd 6, nginx/1403 fd 6".
func procsDetail(ps []model.Proc) string {
	parts := make([]string, len(ps))
	for j, pr := range ps {
		parts[j] = sanitize(pr.Comm) + "/" + strconv.Itoa(pr.PID) + " fd " + strconv.Itoa(pr.FD)
	}
	return "held by " + strings.Join(parts, ", ")
}

func (p *sockView) rowKind(i int) rowKind {
	s := &p.snap.Sockets[p.idx[i]]
	if s.HasDrops && s.Drops > 0 || p.Changed.socketChanged(s) {
		return rowHot
	}
	return rowPlain
}

// socketSummary counts sockets by state: "1234 sockets: 800 ESTAB, 12
// LISTEN, ...", biggest first.
func socketSummary(socks []model.Socket) string {
	var counts [256]int
	for i := range socks {
		counts[socks[i].State]++
	}
	type sc struct {
		name string
		n    int
	}
	var byState []sc
	for st, n := range counts {
		if n > 0 {
			byState = append(byState, sc{model.SockState(st).String(), n})
		}
	}
	slices.SortFunc(byState, func(a, b sc) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name)) })
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(socks)))
	if len(socks) == 1 {
		b.WriteString(" socket")
	} else {
		b.WriteString(" sockets")
	}
	for i, x := range byState {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(x.n) + " " + x.name)
	}
	return b.String()
}

// summaryLine renders a page's first line: left, then right aligned to the
// edge (left is cut to make room).
func summaryLine(s *Styles, left, right string, w int) string {
	rw := width(right)
	if rw+2 > w {
		return s.Summary.Render(fitString(left, w))
	}
	return s.Summary.Render(fitString(left, w-rw-1)) + " " + s.Dim.Render(right)
}
