package model

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// FlowProto returns the Proto for an IP protocol number as conntrack(8)
// names it ("unknown" for protocols it has no tracker for).
func FlowProto(num uint8) Proto {
	switch num {
	case 1: // IPPROTO_ICMP
		return ProtoICMP
	case 6: // IPPROTO_TCP
		return ProtoTCP
	case 17: // IPPROTO_UDP
		return ProtoUDP
	case 33: // IPPROTO_DCCP
		return ProtoDCCP
	case 47: // IPPROTO_GRE
		return ProtoGRE
	case 58: // IPPROTO_ICMPV6
		return ProtoICMPv6
	case 132: // IPPROTO_SCTP
		return ProtoSCTP
	case 136: // IPPROTO_UDPLITE
		return ProtoUDPLite
	}
	return ProtoUnknown
}

// ICMPKey is what identifies an ICMP or ICMPv6 flow in place of ports.
type ICMPKey struct {
	Type uint8  `json:"type"`
	Code uint8  `json:"code"`
	ID   uint16 `json:"id"`
}

// FlowTuple is one direction of a conntrack entry: the addresses and ports
// (or ICMP type, code and id) packets in that direction carry.
type FlowTuple struct {
	// Src and Dst are the addresses and ports. For protocols without
	// ports (ICMP, GRE, ...) the port is 0.
	Src netip.AddrPort `json:"src"`
	Dst netip.AddrPort `json:"dst"`
	// ICMP is set for ICMP and ICMPv6 flows only.
	ICMP *ICMPKey `json:"icmp,omitempty"`
}

// String returns the tuple as conntrack(8) prints it:
// "src=10.0.0.1 dst=10.0.0.2 sport=5000 dport=80" or, for ICMP,
// "src=... dst=... type=8 code=0 id=7".
func (t FlowTuple) String() string {
	s := "src=" + t.Src.Addr().String() + " dst=" + t.Dst.Addr().String()
	if t.ICMP != nil {
		return s + fmt.Sprintf(" type=%d code=%d id=%d", t.ICMP.Type, t.ICMP.Code, t.ICMP.ID)
	}
	if t.Src.Port() == 0 && t.Dst.Port() == 0 {
		return s
	}
	return s + " sport=" + strconv.Itoa(int(t.Src.Port())) + " dport=" + strconv.Itoa(int(t.Dst.Port()))
}

// FlowStatus is a conntrack entry's status bits (enum ip_conntrack_status
// in include/uapi/linux/netfilter/nf_conntrack_common.h). It marshals to
// JSON as a list of the kernel's names without the IPS_ prefix.
type FlowStatus uint32

// Status bits, with the kernel's names in comments.
const (
	StatusExpected     FlowStatus = 1 << 0  // IPS_EXPECTED
	StatusSeenReply    FlowStatus = 1 << 1  // IPS_SEEN_REPLY
	StatusAssured      FlowStatus = 1 << 2  // IPS_ASSURED
	StatusConfirmed    FlowStatus = 1 << 3  // IPS_CONFIRMED
	StatusSrcNAT       FlowStatus = 1 << 4  // IPS_SRC_NAT
	StatusDstNAT       FlowStatus = 1 << 5  // IPS_DST_NAT
	StatusSeqAdjust    FlowStatus = 1 << 6  // IPS_SEQ_ADJUST
	StatusSrcNATDone   FlowStatus = 1 << 7  // IPS_SRC_NAT_DONE
	StatusDstNATDone   FlowStatus = 1 << 8  // IPS_DST_NAT_DONE
	StatusDying        FlowStatus = 1 << 9  // IPS_DYING
	StatusFixedTimeout FlowStatus = 1 << 10 // IPS_FIXED_TIMEOUT
	StatusTemplate     FlowStatus = 1 << 11 // IPS_TEMPLATE
	StatusUntracked    FlowStatus = 1 << 12 // IPS_UNTRACKED
	StatusHelper       FlowStatus = 1 << 13 // IPS_HELPER
	StatusOffload      FlowStatus = 1 << 14 // IPS_OFFLOAD
	StatusHWOffload    FlowStatus = 1 << 15 // IPS_HW_OFFLOAD
)

var statusNames = [...]string{
	"EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SRC_NAT", "DST_NAT",
	"SEQ_ADJUST", "SRC_NAT_DONE", "DST_NAT_DONE", "DYING", "FIXED_TIMEOUT",
	"TEMPLATE", "UNTRACKED", "HELPER", "OFFLOAD", "HW_OFFLOAD",
}

// Names returns the names of the bits set in s, lowest bit first; bits
// the kernel may add later are named "BIT_n".
func (s FlowStatus) Names() []string {
	names := []string{}
	for i := range 32 {
		if s&(1<<i) == 0 {
			continue
		}
		if i < len(statusNames) {
			names = append(names, statusNames[i])
		} else {
			names = append(names, "BIT_"+strconv.Itoa(i))
		}
	}
	return names
}

// Brackets returns the flags conntrack(8) prints in brackets:
// "[UNREPLIED]" when no reply was seen, "[ASSURED]", "[OFFLOAD]",
// "[HW_OFFLOAD]", joined by spaces ("" if none).
func (s FlowStatus) Brackets() string {
	var b []string
	if s&StatusSeenReply == 0 {
		b = append(b, "[UNREPLIED]")
	}
	if s&StatusAssured != 0 {
		b = append(b, "[ASSURED]")
	}
	if s&StatusOffload != 0 {
		b = append(b, "[OFFLOAD]")
	}
	if s&StatusHWOffload != 0 {
		b = append(b, "[HW_OFFLOAD]")
	}
	return strings.Join(b, " ")
}

// MarshalJSON writes s as a list of names: ["SEEN_REPLY","ASSURED","CONFIRMED"].
func (s FlowStatus) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range s.Names() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(n))
	}
	b.WriteByte(']')
	return []byte(b.String()), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *FlowStatus) UnmarshalJSON(b []byte) error {
	str := strings.TrimSpace(string(b))
	if !strings.HasPrefix(str, "[") || !strings.HasSuffix(str, "]") {
		return fmt.Errorf("flow status %s: not a list", str)
	}
	*s = 0
	for f := range strings.SplitSeq(str[1:len(str)-1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, err := strconv.Unquote(f)
		if err != nil {
			return fmt.Errorf("flow status %s: %w", f, err)
		}
		bit := -1
		for i, n := range statusNames {
			if n == name {
				bit = i
			}
		}
		if rest, ok := strings.CutPrefix(name, "BIT_"); ok {
			bit, _ = strconv.Atoi(rest)
		}
		if bit < 0 || bit > 31 {
			return fmt.Errorf("flow status: unknown flag %q", name)
		}
		*s |= 1 << bit
	}
	return nil
}

// TCPState is conntrack's TCP state (enum tcp_conntrack in
// include/uapi/linux/netfilter/nf_conntrack_tcp.h), which is not the
// socket state: conntrack sees both ends from the middle.
type TCPState uint8

// TCP conntrack states, with the kernel's names in comments.
const (
	TCPNone        TCPState = 0 // TCP_CONNTRACK_NONE
	TCPSynSent     TCPState = 1 // TCP_CONNTRACK_SYN_SENT
	TCPSynRecv     TCPState = 2 // TCP_CONNTRACK_SYN_RECV
	TCPEstablished TCPState = 3 // TCP_CONNTRACK_ESTABLISHED
	TCPFinWait     TCPState = 4 // TCP_CONNTRACK_FIN_WAIT
	TCPCloseWait   TCPState = 5 // TCP_CONNTRACK_CLOSE_WAIT
	TCPLastAck     TCPState = 6 // TCP_CONNTRACK_LAST_ACK
	TCPTimeWait    TCPState = 7 // TCP_CONNTRACK_TIME_WAIT
	TCPClose       TCPState = 8 // TCP_CONNTRACK_CLOSE
	TCPSynSent2    TCPState = 9 // TCP_CONNTRACK_SYN_SENT2 (simultaneous open)
)

var tcpStateNames = [...]string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

// String returns the state as conntrack(8) prints it ("ESTABLISHED").
func (s TCPState) String() string {
	if int(s) < len(tcpStateNames) {
		return tcpStateNames[s]
	}
	return "UNKNOWN"
}

// MarshalText implements encoding.TextMarshaler.
func (s TCPState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *TCPState) UnmarshalText(b []byte) error {
	for i, n := range tcpStateNames {
		if n == string(b) {
			*s = TCPState(i)
			return nil
		}
	}
	return fmt.Errorf("unknown conntrack TCP state %q", b)
}

// NATKind says which translations a flow undergoes. It is one byte, its
// values in the order of their names ("", "both", "dnat", "snat"); JSON
// and text have the name.
type NATKind uint8

// NAT kinds.
const (
	NATNone NATKind = iota // ""
	NATBoth                // "both"
	NATDst                 // "dnat"
	NATSrc                 // "snat"
)

var natNames = [...]string{NATNone: "", NATBoth: "both", NATDst: "dnat", NATSrc: "snat"}

// String returns the kind's name ("snat"), "" for NATNone.
func (k NATKind) String() string {
	if int(k) < len(natNames) {
		return natNames[k]
	}
	return fmt.Sprintf("NATKind(%d)", uint8(k))
}

// MarshalText returns the name.
func (k NATKind) MarshalText() ([]byte, error) {
	if int(k) >= len(natNames) {
		return nil, fmt.Errorf("invalid NAT kind %d", uint8(k))
	}
	return []byte(natNames[k]), nil
}

// UnmarshalText reads a name; one it does not know reads as NATNone
// (the addresses, Flow.NATAddrs, still follow from the tuples), so that
// a snapshot from a newer netlens still loads.
func (k *NATKind) UnmarshalText(b []byte) error {
	*k = NATNone
	for i, n := range natNames {
		if n == string(b) {
			*k = NATKind(i)
		}
	}
	return nil
}

// DeriveNAT works out the NAT a flow undergoes from its tuples, as the
// kernel does (nf_nat_setup_info): without NAT the reply tuple is the
// inverted original; a reply destination other than the original source
// means source NAT, a reply source other than the original destination
// means destination NAT. For ICMP a changed id counts as source NAT (the
// id is ICMP's port). src is the source the packets leave with after SNAT
// and dst the destination they reach after DNAT; each is the zero
// AddrPort when that translation is absent.
func DeriveNAT(orig, reply FlowTuple) (kind NATKind, src, dst netip.AddrPort) {
	if !orig.Src.IsValid() || !reply.Src.IsValid() {
		return NATNone, src, dst
	}
	snat := reply.Dst != orig.Src
	if orig.ICMP != nil && reply.ICMP != nil && orig.ICMP.ID != reply.ICMP.ID {
		snat = true
	}
	dnat := reply.Src != orig.Dst
	if snat {
		src = reply.Dst
		if reply.ICMP != nil {
			src = netip.AddrPortFrom(reply.Dst.Addr(), reply.ICMP.ID)
		}
	}
	if dnat {
		dst = reply.Src
	}
	switch {
	case snat && dnat:
		kind = NATBoth
	case snat:
		kind = NATSrc
	case dnat:
		kind = NATDst
	}
	return kind, src, dst
}

// Flow is one conntrack entry.
//
// Byte and packet counts are those of the last full dump or DESTROY event
// (conntrack events carry no counters otherwise); they are meaningful only
// when CountersKnown is set (net.netfilter.nf_conntrack_acct was on when
// the flow began). Timeout is the time left as of Updated.
type Flow struct {
	// The one- to four-byte fields come first, so that they share words:
	// a Flow is held tens of thousands of times, twice (flowJSON has the
	// order JSON writes).

	// ID is the kernel's id for the entry (CTA_ID).
	ID     uint32     `json:"id"`
	Status FlowStatus `json:"status"`
	Mark   uint32     `json:"mark"`
	Zone   uint16     `json:"zone"`
	Proto  Proto      `json:"proto"`
	// ProtoNum is the IP protocol number.
	ProtoNum uint8 `json:"proto_num"`
	// TCPState is set for TCP flows only.
	TCPState TCPState `json:"tcp_state,omitempty"`
	// NAT is DeriveNAT(Orig, Reply)'s kind; NATAddrs its addresses,
	// which snapshots write as nat_src and nat_dst (they are not kept:
	// 64 bytes a flow).
	NAT           NATKind   `json:"nat,omitempty"`
	CountersKnown bool      `json:"counters_known"`
	Family        Family    `json:"family"`
	Orig          FlowTuple `json:"orig"`
	Reply         FlowTuple `json:"reply"`
	// Timeout is the time left as of Updated.
	Timeout time.Duration `json:"timeout_ns"`
	// Helper is the conntrack helper attached (ftp, sip, ...), if any.
	Helper       string `json:"helper,omitempty"`
	OrigPackets  uint64 `json:"orig_packets"`
	OrigBytes    uint64 `json:"orig_bytes"`
	ReplyPackets uint64 `json:"reply_packets"`
	ReplyBytes   uint64 `json:"reply_bytes"`
	// Start is when the flow began (net.netfilter.nf_conntrack_timestamp
	// on); zero otherwise.
	Start time.Time `json:"start,omitzero"`
	// FirstSeen is when netlens first saw the flow; Updated when a dump or
	// event last told it about the flow.
	FirstSeen time.Time `json:"first_seen"`
	Updated   time.Time `json:"updated"`
}

// Packets returns the packets seen in both directions.
func (f Flow) Packets() uint64 { return f.OrigPackets + f.ReplyPackets }

// Bytes returns the bytes seen in both directions.
func (f Flow) Bytes() uint64 { return f.OrigBytes + f.ReplyBytes }

// TimeoutLeft returns the time left before the entry expires, as of now.
func (f Flow) TimeoutLeft(now time.Time) time.Duration {
	return max(0, f.Timeout-now.Sub(f.Updated))
}

// Age returns how long the flow has existed: since Start when the kernel
// keeps timestamps, else since netlens first saw it.
func (f Flow) Age(now time.Time) time.Duration {
	if !f.Start.IsZero() {
		return now.Sub(f.Start)
	}
	return now.Sub(f.FirstSeen)
}

// State returns the state as conntrack(8) shows it: the TCP state for TCP
// flows, "" for the others.
func (f Flow) State() string {
	if f.ProtoNum == 6 {
		return f.TCPState.String()
	}
	return ""
}

// SetNAT fills NAT from the tuples.
func (f *Flow) SetNAT() { f.NAT, _, _ = DeriveNAT(f.Orig, f.Reply) }

// NATAddrs returns the source the flow's packets leave with after SNAT
// and the destination they reach after DNAT, each the zero AddrPort when
// that translation is absent (DeriveNAT).
func (f *Flow) NATAddrs() (src, dst netip.AddrPort) {
	_, src, dst = DeriveNAT(f.Orig, f.Reply)
	return src, dst
}

// ConntrackCPU is one CPU's conntrack statistics (CTA_STATS_* of
// IPCTNL_MSG_CT_GET_STATS_CPU, what `conntrack -S` prints), or their sum.
// The kernel keeps them as 32-bit counters that wrap.
type ConntrackCPU struct {
	CPU           int    `json:"cpu"`
	Found         uint64 `json:"found"`
	Invalid       uint64 `json:"invalid"`
	Ignore        uint64 `json:"ignore"`
	Insert        uint64 `json:"insert"`
	InsertFailed  uint64 `json:"insert_failed"`
	Drop          uint64 `json:"drop"`
	EarlyDrop     uint64 `json:"early_drop"`
	Error         uint64 `json:"error"`
	SearchRestart uint64 `json:"search_restart"`
	ClashResolve  uint64 `json:"clash_resolve"`
	ChainTooLong  uint64 `json:"chaintoolong"`
}

// Add adds o's counters to c (CPU is left alone).
func (c *ConntrackCPU) Add(o ConntrackCPU) {
	c.Found += o.Found
	c.Invalid += o.Invalid
	c.Ignore += o.Ignore
	c.Insert += o.Insert
	c.InsertFailed += o.InsertFailed
	c.Drop += o.Drop
	c.EarlyDrop += o.EarlyDrop
	c.Error += o.Error
	c.SearchRestart += o.SearchRestart
	c.ClashResolve += o.ClashResolve
	c.ChainTooLong += o.ChainTooLong
}

// ConntrackStats is the health of the conntrack table and of netlens's
// view of it. The counters here are raw; the conntrack collector also
// publishes the totals as Counters (layer netfilter, source "ctnetlink"),
// which carry deltas and rates.
type ConntrackStats struct {
	At time.Time `json:"at"`
	// Count is the number of entries (CTA_STATS_GLOBAL_ENTRIES,
	// net.netfilter.nf_conntrack_count); Max the limit
	// (net.netfilter.nf_conntrack_max); Buckets the hash size.
	Count   uint64 `json:"count"`
	Max     uint64 `json:"max"`
	Buckets uint64 `json:"buckets"`
	// Accounting is net.netfilter.nf_conntrack_acct: when off, flows carry
	// no byte or packet counts. Timestamps is
	// net.netfilter.nf_conntrack_timestamp: when off, flows have no start
	// time. Events is net.netfilter.nf_conntrack_events != 0: when off,
	// the kernel sends no events and the table is refreshed by dumps only.
	Accounting bool `json:"accounting"`
	Timestamps bool `json:"timestamps"`
	Events     bool `json:"events"`
	// PerCPU are the per-CPU statistics; Total their sum.
	PerCPU []ConntrackCPU `json:"per_cpu"`
	Total  ConntrackCPU   `json:"total"`

	// FlowsHeld is the number of flows netlens holds (len(Snapshot.Flows));
	// FlowsLimit the most it holds. FlowsTruncated is set when the table
	// had more entries than that: netlens then holds those with the most
	// bytes as of the last dump, plus newer ones while room remains.
	FlowsHeld      int  `json:"flows_held"`
	FlowsLimit     int  `json:"flows_limit"`
	FlowsTruncated bool `json:"flows_truncated"`
	// Dumps counts full dumps; Resyncs those made to repair lost events.
	// LastDump is when the last one finished and DumpDuration what it took.
	Dumps   uint64 `json:"dumps"`
	Resyncs uint64 `json:"resyncs"`
	// ResyncPending is set when events were lost and the re-dump that
	// repairs the table has not run yet: until then the table may be stale.
	ResyncPending bool          `json:"resync_pending"`
	LastDump      time.Time     `json:"last_dump,omitzero"`
	DumpDuration  time.Duration `json:"dump_duration_ns"`
	// Listening is set while the event listener runs; EventsError says
	// why it does not.
	Listening   bool   `json:"listening"`
	EventsError string `json:"events_error,omitempty"`
	// EventsNew, EventsUpdate and EventsDestroy count the events received.
	EventsNew     uint64 `json:"events_new"`
	EventsUpdate  uint64 `json:"events_update"`
	EventsDestroy uint64 `json:"events_destroy"`
	// EventsLost counts the event messages the kernel dropped because the
	// listener's socket buffer was full (the socket's drop count);
	// Overruns counts the ENOBUFS errors that reported them. Each overrun
	// is repaired by a re-dump (Resyncs).
	EventsLost uint64 `json:"events_lost"`
	Overruns   uint64 `json:"overruns"`
	// EventBuffer is the event socket's receive buffer in bytes;
	// EventQueued the bytes of events in it not read yet (near
	// EventBuffer, events are about to be lost).
	EventBuffer int `json:"event_buffer"`
	EventQueued int `json:"event_queued"`
	// DecodeErrors counts kernel messages netlens could not decode.
	DecodeErrors uint64 `json:"decode_errors"`
}

// Full reports whether the table is at its limit: new connections are
// being dropped (or early-dropped) by the kernel.
func (s ConntrackStats) Full() bool { return s.Max > 0 && s.Count >= s.Max }

// Fill returns Count/Max (0 when Max is unknown).
func (s ConntrackStats) Fill() float64 {
	if s.Max == 0 {
		return 0
	}
	return float64(s.Count) / float64(s.Max)
}

// FlowDir says which end of a flow a local socket is.
type FlowDir uint8

// Flow directions.
const (
	DirNone     FlowDir = iota
	DirOriginal         // the socket sent the first packet: (Local, Remote) is the original tuple
	DirReply            // the socket answered: (Local, Remote) is the reply tuple
)

// flowKey is a 5-tuple.
type flowKey struct {
	proto    uint8
	src, dst netip.AddrPort
}

func tupleKey(proto uint8, t FlowTuple) flowKey {
	return flowKey{proto, unmapAP(t.Src), unmapAP(t.Dst)}
}

func unmapAP(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap().WithZone(""), a.Port())
}

func socketProtoNum(p Proto) (uint8, bool) {
	switch p {
	case ProtoTCP:
		return 6, true
	case ProtoUDP:
		return 17, true
	case ProtoUDPLite:
		return 136, true
	}
	return 0, false
}

type flowRef struct {
	i   int
	dir FlowDir
}

// FlowIndex finds the flow of a socket by its 5-tuple. Build it with
// IndexFlows; it is read-only afterwards and safe for concurrent use.
type FlowIndex struct {
	m map[flowKey]flowRef
}

// IndexFlows indexes flows by both their tuples. When several flows share
// a tuple (different zones), the first wins.
func IndexFlows(flows []Flow) *FlowIndex {
	ix := &FlowIndex{m: make(map[flowKey]flowRef, 2*len(flows))}
	for i, f := range flows {
		for _, r := range []struct {
			k   flowKey
			dir FlowDir
		}{{tupleKey(f.ProtoNum, f.Orig), DirOriginal}, {tupleKey(f.ProtoNum, f.Reply), DirReply}} {
			if _, dup := ix.m[r.k]; !dup {
				ix.m[r.k] = flowRef{i, r.dir}
			}
		}
	}
	return ix
}

// Lookup returns the index of the flow of socket s and which end s is.
// A socket that initiated a connection matches the original tuple
// (Local=Orig.Src, Remote=Orig.Dst: SNAT happens after it and DNAT of
// locally generated packets is seen by conntrack before the socket's
// address is rewritten); a socket that accepted one matches the reply
// tuple (Local=Reply.Src, Remote=Reply.Dst: what the packets look like
// after DNAT and SNAT on the way in). Only connected TCP, UDP and
// UDP-Lite sockets can match; IPv4-mapped IPv6 addresses match their
// IPv4 flows.
func (ix *FlowIndex) Lookup(s Socket) (i int, dir FlowDir, ok bool) {
	proto, ok := socketProtoNum(s.Proto)
	if !ok || s.Remote.Port() == 0 || !s.Remote.Addr().IsValid() || s.Remote.Addr().IsUnspecified() {
		return -1, DirNone, false
	}
	r, ok := ix.m[flowKey{proto, unmapAP(s.Local), unmapAP(s.Remote)}]
	if !ok {
		return -1, DirNone, false
	}
	return r.i, r.dir, true
}

// SocketFlow is one row of the joined socket and flow view: indexes into
// the sockets and flows joined (-1 when that side is absent).
type SocketFlow struct {
	Socket int
	Flow   int
	Dir    FlowDir
}

// JoinSocketsFlows joins sockets with their conntrack flows on the
// 5-tuple (see FlowIndex.Lookup). netns is the inode of the namespace the
// flows were read in: a socket of another (its NetNS set and not netns:
// the all-namespaces view) has no flow there, whatever its tuple; 0 takes
// every socket as the flows' namespace's. It returns one row per socket,
// in order, with its flow if any, followed by one row per flow no socket
// matched (forwarded or NATed-through traffic, connections of other
// namespaces), in order. It is a pure function.
func JoinSocketsFlows(socks []Socket, flows []Flow, netns uint64) []SocketFlow {
	ix := IndexFlows(flows)
	used := make([]bool, len(flows))
	rows := make([]SocketFlow, 0, len(socks)+len(flows))
	for si, s := range socks {
		if netns != 0 && s.NetNS != 0 && s.NetNS != netns {
			rows = append(rows, SocketFlow{Socket: si, Flow: -1, Dir: DirNone})
			continue
		}
		fi, dir, ok := ix.Lookup(s)
		if ok {
			used[fi] = true
		}
		rows = append(rows, SocketFlow{Socket: si, Flow: fi, Dir: dir})
	}
	for fi := range flows {
		if !used[fi] {
			rows = append(rows, SocketFlow{Socket: -1, Flow: fi})
		}
	}
	return rows
}
