package model

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// DropTrace is what the eBPF drop tracer (collectors/droptrace, on the
// skb:kfree_skb tracepoint) counted: every packet the kernel freed as
// dropped in the namespace in scope, per (reason, location) and per flow.
// It is the zero value until the tracer has run; Supported and Reason say
// whether it can run at all.
//
// Accounting: every drop in scope is counted in Seen, and then either in
// a flow (Attributed) or, when the kernel's map had no room for it, in
// Unattributed. Seen = Attributed + Unattributed.
type DropTrace struct {
	// At is when the tracer's map was last read.
	At time.Time `json:"at"`
	// Supported is false when the tracer cannot run; Reason then says
	// why ("needs CAP_BPF and CAP_PERFMON (or root)").
	Supported bool   `json:"supported"`
	Reason    string `json:"reason,omitempty"`
	// Attach is how the program is attached: "tp_btf/kfree_skb" or
	// "raw_tp/kfree_skb".
	Attach string `json:"attach,omitempty"`
	// Netns is the inode of the network namespace in scope; 0 means
	// every namespace.
	Netns uint32 `json:"netns"`
	// Seen counts the drops in scope since the tracer started.
	Seen uint64 `json:"seen"`
	// Attributed counts the drops read from the map into flows.
	Attributed uint64 `json:"attributed"`
	// Unattributed = Seen - Attributed: drops the map could not hold
	// (NotAggregated; it is emptied every read).
	Unattributed uint64 `json:"unattributed"`
	// NotAggregated counts drops the kernel's map refused outright.
	NotAggregated uint64 `json:"not_aggregated"`
	// NotParsed counts drops whose headers could not be read; they are
	// in flows with no tuple.
	NotParsed uint64 `json:"not_parsed"`
	// OtherNetns counts drops in namespaces out of scope (not in Seen).
	OtherNetns uint64 `json:"other_netns"`
	// Missed counts the drops the kernel did not run the tracer for: it
	// was already running on that CPU (the drop happened in an interrupt
	// of it). They are in no other count, and may be of any namespace.
	Missed uint64 `json:"missed"`
	// MapEntries and MapMax are the flows map's fill and size.
	MapEntries int `json:"map_entries"`
	MapMax     int `json:"map_max"`
	// Reasons are the counts per (reason, location) since the tracer
	// started, most drops first.
	Reasons []DropTraceReason `json:"reasons"`
	// Flows are the flows netlens holds (at most MapMax, the least
	// recently dropped forgotten first), most recently dropped first.
	Flows []DropTraceFlow `json:"flows"`
	// Sampling is the sampled packet stream (--drop-trace-sample); its
	// Every is 0 when it is off.
	Sampling DropTraceSampling `json:"sampling"`
}

// DropTraceSampling is the drop tracer's optional sampled stream: one
// drop in Every (counted per CPU), at most MaxPerSecond a second per
// CPU, is sent to netlens with its headers. Every sampled drop is either
// emitted or lost: Sampled = Emitted + Lost.
type DropTraceSampling struct {
	// Every is the sampling rate, one in Every; 0: off.
	Every uint32 `json:"every"`
	// MaxPerSecond caps the samples a second per CPU.
	MaxPerSecond uint32 `json:"max_per_second"`
	// Sampled counts the drops chosen since the tracer started, Emitted
	// those written to the ring, Lost those not written: the ring was
	// full, or (LostLimit, a part of Lost) the cap was reached.
	Sampled   uint64 `json:"sampled"`
	Emitted   uint64 `json:"emitted"`
	Lost      uint64 `json:"lost"`
	LostLimit uint64 `json:"lost_limit"`
	// Read counts the samples netlens has read from the ring (Emitted
	// once it has caught up).
	Read uint64 `json:"read"`
	// Samples are the most recent samples read, newest first.
	Samples []DropTraceSample `json:"samples"`
}

// DropTraceSample is one sampled drop: its flow (Packets 1) and its
// headers from the IP header on, decoded.
type DropTraceSample struct {
	Flow   DropTraceFlow  `json:"flow"`
	Packet CapturedPacket `json:"packet"`
}

// Same reports whether s and f are the same flow: the same reason,
// location, namespace, interface, socket and tuple.
func (s DropTraceSample) Same(f DropTraceFlow) bool {
	g := s.Flow
	return g.Code == f.Code && g.Location == f.Location && g.Netns == f.Netns && g.Ifindex == f.Ifindex &&
		g.Cookie == f.Cookie && g.L3 == f.L3 && g.Proto == f.Proto && g.Src == f.Src && g.Dst == f.Dst &&
		g.SrcPort == f.SrcPort && g.DstPort == f.DstPort && g.ICMPType == f.ICMPType && g.ICMPCode == f.ICMPCode &&
		g.Fragment == f.Fragment
}

// FlowSamples returns the samples of flow f, newest first.
func (d DropTrace) FlowSamples(f DropTraceFlow) []DropTraceSample {
	var out []DropTraceSample
	for _, s := range d.Sampling.Samples {
		if s.Same(f) {
			out = append(out, s)
		}
	}
	return out
}

// UnattributedShare returns Unattributed / Seen, 0 when nothing was seen.
func (d DropTrace) UnattributedShare() float64 {
	if d.Seen == 0 {
		return 0
	}
	return float64(d.Unattributed) / float64(d.Seen)
}

// DropTraceReason is the count of traced drops for one reason at one
// location.
type DropTraceReason struct {
	// Reason is the kernel's name without SKB_DROP_REASON_ ("NO_SOCKET"),
	// or the number in decimal when this kernel's BTF does not name it.
	Reason string `json:"reason"`
	// Code is the reason's number on this kernel.
	Code uint32 `json:"code"`
	// Location is where the packet was freed: "function+0xoffset", or the
	// address in hex when /proc/kallsyms cannot resolve it. Function is
	// the function alone.
	Location string `json:"location"`
	Function string `json:"function"`
	// Layer is the layer the reason belongs to (the drops knowledge
	// file).
	Layer Layer `json:"layer"`
	// Packets and Bytes count since the tracer started; Delta is the
	// packets since the previous read.
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	Delta   uint64 `json:"delta"`
	// LastSeen is when the last of them was dropped.
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// DropTraceFlow is the count of traced drops of one flow, for one reason
// at one location.
type DropTraceFlow struct {
	Reason   string `json:"reason"`
	Code     uint32 `json:"code"`
	Location string `json:"location"`
	Function string `json:"function"`
	Layer    Layer  `json:"layer"`
	// Netns is the namespace's inode; Ifindex the device the packet was
	// on (0 when none).
	Netns   uint32 `json:"netns"`
	Ifindex uint32 `json:"ifindex"`
	// L3 is the ethertype ("ipv4", "ipv6", or "0x0806"), Proto the
	// transport ("tcp", "udp", "icmp", "icmpv6", or the number).
	L3    string `json:"l3"`
	Proto string `json:"proto,omitempty"`
	// Src and Dst are the addresses; the ports are 0 where the protocol
	// has none. ICMP flows carry type and code instead.
	Src      netip.Addr `json:"src,omitzero"`
	Dst      netip.Addr `json:"dst,omitzero"`
	SrcPort  uint16     `json:"sport,omitempty"`
	DstPort  uint16     `json:"dport,omitempty"`
	ICMPType uint8      `json:"icmp_type,omitempty"`
	ICMPCode uint8      `json:"icmp_code,omitempty"`
	// Fragment marks an IP fragment; Parsed is false when the headers
	// could not be read (no tuple).
	Fragment bool `json:"fragment,omitempty"`
	Parsed   bool `json:"parsed"`
	// Cookie is the socket cookie of the socket the packet belonged to
	// (0 when none): Socket.Cookie holds the same number.
	Cookie uint64 `json:"cookie,omitempty"`
	// Packets and Bytes since netlens first read the flow; Delta the
	// packets since the previous read.
	Packets  uint64    `json:"packets"`
	Bytes    uint64    `json:"bytes"`
	Delta    uint64    `json:"delta"`
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// DropTraceUpdate replaces the drop tracer's state.
type DropTraceUpdate struct {
	Trace DropTrace
}

func (u DropTraceUpdate) apply(s *Store, snap *Snapshot) {
	if u.Trace.Reasons == nil {
		u.Trace.Reasons = []DropTraceReason{}
	}
	if u.Trace.Flows == nil {
		u.Trace.Flows = []DropTraceFlow{}
	}
	if u.Trace.Sampling.Samples == nil {
		u.Trace.Sampling.Samples = []DropTraceSample{}
	}
	snap.DropTrace = u.Trace
	snap.TakenAt = later(snap.TakenAt, u.Trace.At)
}

// SocketByCookie returns the socket with the given cookie. Sockets read
// over sock_diag carry their cookie; cookie 0 matches nothing.
func (s Snapshot) SocketByCookie(cookie uint64) (Socket, bool) {
	if cookie == 0 {
		return Socket{}, false
	}
	for _, so := range s.Sockets {
		if so.Cookie == cookie {
			return so, true
		}
	}
	return Socket{}, false
}

// DropOwner returns the socket a traced drop belongs to: the socket with
// the flow's cookie (exact), else a socket of the same protocol bound to
// the flow's destination (a drop on receive) or source (a drop on send)
// address and port, an unspecified local address matching any. exact
// says whether the cookie matched.
func (s Snapshot) DropOwner(f DropTraceFlow) (so Socket, exact, ok bool) {
	if so, ok := s.SocketByCookie(f.Cookie); ok {
		return so, true, true
	}
	if f.SrcPort == 0 && f.DstPort == 0 {
		return Socket{}, false, false
	}
	for _, end := range []netip.AddrPort{netip.AddrPortFrom(f.Dst, f.DstPort), netip.AddrPortFrom(f.Src, f.SrcPort)} {
		for _, so := range s.Sockets {
			if so.Proto.String() != f.Proto || so.Local.Port() != end.Port() {
				continue
			}
			if la := so.Local.Addr(); la.Unmap() == end.Addr().Unmap() || la.IsUnspecified() {
				return so, false, true
			}
		}
	}
	return Socket{}, false, false
}

// DropRule attributes a traced NETFILTER_DROP to the netlens filter rule
// that made it, with either backend. A NETFILTER_DROP is a packet freed
// because a netfilter hook returned NF_DROP: the kernel module's hook
// (freed in nf_hook_slow) or a chain of any nftables table (nf_hook_slow
// on 6.1, nft_do_chain on 6.18); the location alone does not tell which
// rule, or even whether netlens's, except that with the kmod backend a
// drop freed inside nftables or xtables (nft_*, ipt_*, ip6t_*, ...) is
// not the module's. Otherwise the join is by tuple and order: netlens's rules are evaluated at each hook in priority order
// (then by ID), the first accept, drop or reject rule that matches
// deciding; the drop is attributed to the first such rule whose match
// (family, protocol, prefixes, port ranges, address and port sets) covers
// the flow's tuple, when it is a drop or reject rule (a reject drops the
// packet after sending its ICMP error or RST) whose own counter is not 0.
// Rules bound to an interface are taken to match (the flow carries an
// ifindex, the rule a name), and a rule's hooks are not compared (the
// flow does not say at which hook it was dropped). It returns false for
// other reasons, when the first deciding rule accepts the flow (the drop
// then came from another table or from iptables), when no rule matches,
// and for drops by the kernel module's default policy (no rule decided).
func (s Snapshot) DropRule(f DropTraceFlow) (Rule, bool) {
	if f.Reason != "NETFILTER_DROP" || s.Rules == nil || !f.Parsed {
		return Rule{}, false
	}
	if s.Rules.Backend == "kmod" && inTables(f.Function) {
		return Rule{}, false
	}
	rules := make([]Rule, 0, len(s.Rules.Rules))
	for _, r := range s.Rules.Rules {
		if r.Enabled && !r.Foreign && r.Action != ActionCount && r.matches(f) {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return Rule{}, false
	}
	first := rules[0]
	for _, r := range rules[1:] {
		if r.Priority < first.Priority || (r.Priority == first.Priority && r.ID < first.ID) {
			first = r
		}
	}
	if !first.Drops() || first.Packets == 0 {
		return Rule{}, false
	}
	return first, true
}

// inTables reports whether fn is a function of nftables or xtables (the
// kernel module's drops are freed by the hook's caller, nf_hook_slow).
func inTables(fn string) bool {
	for _, p := range []string{"nft_", "nf_tables_", "ipt_", "ip6t_", "arpt_", "ebt_"} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// Drops reports whether the rule's action drops the packets it matches
// (drop, or reject: dropped after the ICMP error or RST is sent).
func (r Rule) Drops() bool { return r.Action == ActionDrop || r.Action == ActionReject }

// matches reports whether r's match covers the flow's tuple: family,
// protocol, prefixes and port ranges, and the address and port sets, each
// negated where r.Negate says so. What the tuple does not carry (conntrack
// state, TCP flags, the ICMP type of a rule written with nft's names) is
// decided by the rule's action: the packet was dropped, so an accept rule
// that needs them did not take it, and a drop or reject rule may have.
func (r Rule) matches(f DropTraceFlow) bool {
	neg := func(field string) bool { return slices.Contains(r.Negate, field) }
	switch {
	case r.Family == FamilyIPv4 && f.L3 != "ipv4", r.Family == FamilyIPv6 && f.L3 != "ipv6":
		return false
	case r.Proto != "" && r.Proto != f.Proto:
		return false
	}
	// field is one match: whether the rule has it and whether the flow
	// is in it; a negated match holds when the flow is not.
	field := func(name string, has, in bool) bool { return !has || in != neg(name) }
	srcIn := (!r.Src.IsValid() || r.Src.Contains(f.Src)) &&
		(r.SrcSet == nil || slices.ContainsFunc(r.SrcSet, func(p netip.Prefix) bool { return p.Contains(f.Src) }))
	dstIn := (!r.Dst.IsValid() || r.Dst.Contains(f.Dst)) &&
		(r.DstSet == nil || slices.ContainsFunc(r.DstSet, func(p netip.Prefix) bool { return p.Contains(f.Dst) }))
	sportIn := (r.SrcPorts.Any() || f.SrcPort >= r.SrcPorts.Min && f.SrcPort <= r.SrcPorts.Max) &&
		(r.SrcPortSet == nil || slices.Contains(r.SrcPortSet, f.SrcPort))
	dportIn := (r.DstPorts.Any() || f.DstPort >= r.DstPorts.Min && f.DstPort <= r.DstPorts.Max) &&
		(r.DstPortSet == nil || slices.Contains(r.DstPortSet, f.DstPort))
	if !field("src", r.Src.IsValid() || r.SrcSet != nil, srcIn) ||
		!field("dst", r.Dst.IsValid() || r.DstSet != nil, dstIn) ||
		!field("sport", !r.SrcPorts.Any() || r.SrcPortSet != nil, sportIn) ||
		!field("dport", !r.DstPorts.Any() || r.DstPortSet != nil, dportIn) {
		return false
	}
	if len(r.CTState) > 0 || r.TCPFlags != "" || r.ICMP != "" {
		return r.Drops()
	}
	return true
}

// DropOwners returns, for each of s.DropTrace.Flows, the index in
// s.Sockets of the socket DropOwner would give, or -1. A caller that
// asks every refresh keeps a DropOwnerIndex instead.
func (s Snapshot) DropOwners() []int {
	var x DropOwnerIndex
	return x.Owners(&s)
}

// DropOwnerIndex joins traced flows to their sockets (DropOwners) again
// and again: the flows are few (up to the tracer's bound, thousands after
// a flood) and change only when something drops, the sockets many
// (100,000 on a busy host) and new every refresh. It indexes the flows'
// ends by protocol, port and address, and keeps that index while the
// flows are the same slice; each Owners passes over the sockets once,
// resolving each distinct end at the first socket bound to it, so many
// flows to one port (a flood's drops to one listener, each a flow of its
// own) cost one lookup per socket, not one per flow. O(sockets) a call,
// and nothing allocated but the result while the flows stay. The zero
// value is ready to use; not safe for concurrent use.
type DropOwnerIndex struct {
	flows []DropTraceFlow // what the index is of
	// byCookie has each cookie's first flow, nextCookie the next flow
	// with the same cookie (-1 ends the chain).
	byCookie   map[uint64]int
	nextCookie []int
	// An end is one distinct (protocol, port, address) among the flows'
	// destinations and sources: the first socket bound to its address,
	// or to the wildcard on its port, owns every flow end that is it.
	ends     map[dropEndKey]int32
	dst, src []int32 // by flow: its ends, -1 for a flow without ports
	// byPort has a port's last end, prevOfPort the port's end before
	// each (-1: none), for a socket bound to the wildcard address.
	byPort     map[dropPortKey]int32
	prevOfPort []int32
	ports      [1 << 16 / 64]uint64 // a port of byPort: skips most sockets' lookup
	// Per call: the socket of each end (-1: none yet), and the pass in
	// which a wildcard socket claimed a port's ends.
	sock     []int
	portPass []uint32 // by a port's last end
	pass     uint32
}

type dropPortKey struct {
	proto string
	port  uint16
}

type dropEndKey struct {
	dropPortKey
	addr netip.Addr
}

// index builds the index of flows.
func (x *DropOwnerIndex) index(flows []DropTraceFlow) {
	n := min(2*len(flows), 1<<16)
	*x = DropOwnerIndex{flows: flows, nextCookie: make([]int, len(flows)),
		ends: make(map[dropEndKey]int32, n), dst: make([]int32, len(flows)), src: make([]int32, len(flows)),
		byPort: make(map[dropPortKey]int32, n), prevOfPort: make([]int32, 0, n)}
	for fi := len(flows) - 1; fi >= 0; fi-- { // backwards: each chain in flow order
		x.nextCookie[fi] = -1
		if c := flows[fi].Cookie; c != 0 {
			if x.byCookie == nil {
				x.byCookie = make(map[uint64]int, len(flows))
			}
			if first, ok := x.byCookie[c]; ok {
				x.nextCookie[fi] = first
			}
			x.byCookie[c] = fi
		}
	}
	endOf := func(proto string, port uint16, addr netip.Addr) int32 {
		k := dropEndKey{dropPortKey{proto, port}, addr.Unmap()}
		e, ok := x.ends[k]
		if !ok {
			e = int32(len(x.prevOfPort))
			x.ends[k] = e
			prev, ok := x.byPort[k.dropPortKey]
			if !ok {
				prev = -1
			}
			x.prevOfPort = append(x.prevOfPort, prev)
			x.byPort[k.dropPortKey] = e
			x.ports[port/64] |= 1 << (port % 64)
		}
		return e
	}
	for fi, f := range flows {
		x.dst[fi], x.src[fi] = -1, -1
		if f.SrcPort == 0 && f.DstPort == 0 {
			continue
		}
		x.dst[fi] = endOf(f.Proto, f.DstPort, f.Dst)
		x.src[fi] = endOf(f.Proto, f.SrcPort, f.Src)
	}
	x.sock = make([]int, len(x.prevOfPort))
	x.portPass = make([]uint32, len(x.prevOfPort))
}

// Owners returns, for each of s.DropTrace.Flows, the index in s.Sockets
// of the socket DropOwner would give, or -1: by cookie, else the first
// socket bound to the flow's destination, else to its source.
func (x *DropOwnerIndex) Owners(s *Snapshot) []int {
	flows := s.DropTrace.Flows
	out := make([]int, len(flows))
	if len(out) == 0 {
		return out
	}
	if len(x.flows) != len(flows) || &x.flows[0] != &flows[0] {
		x.index(flows)
	}
	for fi := range out {
		out[fi] = -1 // by cookie, first
	}
	for e := range x.sock {
		x.sock[e] = -1
	}
	x.pass++
	open := len(x.sock)
	for i := range s.Sockets {
		so := &s.Sockets[i]
		if so.Cookie != 0 && x.byCookie != nil {
			if fi, ok := x.byCookie[so.Cookie]; ok {
				for ; fi >= 0; fi = x.nextCookie[fi] {
					if out[fi] < 0 {
						out[fi] = i
					}
				}
			}
		}
		if open == 0 {
			continue
		}
		port := so.Local.Port()
		if x.ports[port/64]&(1<<(port%64)) == 0 {
			continue
		}
		pk := dropPortKey{so.Proto.String(), port}
		la := so.Local.Addr()
		if !la.IsUnspecified() {
			if e, ok := x.ends[dropEndKey{pk, la.Unmap()}]; ok && x.sock[e] < 0 {
				x.sock[e] = i
				open--
			}
			continue
		}
		if last, ok := x.byPort[pk]; ok && x.portPass[last] != x.pass {
			x.portPass[last] = x.pass // all of the port's ends claimed
			for e := last; e >= 0; e = x.prevOfPort[e] {
				if x.sock[e] < 0 {
					x.sock[e] = i
					open--
				}
			}
		}
	}
	for fi := range out {
		if out[fi] < 0 && x.dst[fi] >= 0 {
			out[fi] = x.sock[x.dst[fi]]
			if out[fi] < 0 {
				out[fi] = x.sock[x.src[fi]]
			}
		}
	}
	return out
}

// RuleDrops sums the traced NETFILTER_DROP flows that DropRule
// attributes to the rule with the given ID: their packets and how many
// flows.
func (s Snapshot) RuleDrops(id uint32) (packets uint64, flows int) {
	for _, f := range s.DropTrace.Flows {
		if f.Reason != "NETFILTER_DROP" {
			continue
		}
		if r, ok := s.DropRule(f); ok && r.ID == id {
			packets += f.Packets
			flows++
		}
	}
	return packets, flows
}
