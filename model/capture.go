package model

import (
	"net/netip"
	"time"
)

// CaptureStats is what the packet capture saw: totals, rates, a
// per-protocol breakdown and the top flows and hosts by bytes. It is the
// zero value until the capture collector has run (capture is opt-in).
// Rates are over the last interval between two updates.
type CaptureStats struct {
	At time.Time `json:"at"`
	// Source is "live" (an AF_PACKET ring) or "file" (a pcap or pcapng
	// file replayed); Interface is the interface captured ("any" for all)
	// or the file's path. Filter is the capture filter in tcpdump syntax,
	// "" for none. Running is false once a file has been read to its end.
	Source    string `json:"source"`
	Interface string `json:"interface"`
	Filter    string `json:"filter,omitempty"`
	Running   bool   `json:"running"`
	// Started is when the capture began (a file: its first packet).
	Started time.Time `json:"started,omitzero"`

	// Packets and Bytes count what the capture decoded since it started;
	// Bytes are lengths on the wire (not the captured, possibly truncated,
	// length).
	Packets       uint64  `json:"packets"`
	Bytes         uint64  `json:"bytes"`
	PacketsPerSec float64 `json:"packets_per_sec"`
	BitsPerSec    float64 `json:"bits_per_sec"`

	// RingDrops are the packets the kernel dropped because the capture
	// ring was full (tp_drops of PACKET_STATISTICS): they are missing from
	// every other figure. RingFreezes counts the times the ring froze
	// (tp_freeze_q_cnt). Both stay 0 for a file.
	RingDrops   uint64 `json:"ring_drops"`
	RingFreezes uint64 `json:"ring_freezes"`
	// DecodeErrors counts packets that could not be decoded (malformed or
	// truncated headers); Truncated those whose capture length was shorter
	// than their length on the wire (a snap length). Fragments counts IP
	// fragments (IPv4 with MF or an offset, IPv6 with a fragment header):
	// they are not reassembled and count in a flow of proto "ip" without ports.
	DecodeErrors uint64 `json:"decode_errors"`
	// NonEthernet counts packets skipped because they came from an
	// interface without Ethernet headers (a tunnel, WireGuard) while
	// capturing on all interfaces: netlens decodes Ethernet frames only.
	NonEthernet uint64 `json:"non_ethernet"`
	Truncated   uint64 `json:"truncated"`
	Fragments   uint64 `json:"fragments"`

	// CPUSeconds is the CPU time the capture goroutine used (user and
	// system, its thread's) since it started; CPUPercent its share of one
	// CPU over the last interval (between CPU readings, at most 100; for
	// a replayed file, over the wall time the replay took; 0 once a
	// stopped capture's last interval was reported).
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPercent float64 `json:"cpu_percent"`
	// RingBytes is the size of the kernel ring; StoreBytes the memory held
	// for the last packets (see StorePackets).
	RingBytes  int `json:"ring_bytes"`
	StoreBytes int `json:"store_bytes"`
	// StorePackets is how many of the last packets are kept (raw, for
	// the Capture tab's packets view and pcapng writing).
	StorePackets int `json:"store_packets"`

	// Protocols counts packets per protocol layer, in a fixed order
	// (CaptureProtocols): a packet counts once in each layer it carries
	// (an 802.1Q-tagged TCP/IPv4 packet counts in eth, vlan, ipv4 and
	// tcp).
	Protocols []CaptureProto `json:"protocols"`

	// TopFlows are the flows with the most bytes, most first, at most
	// CaptureTopN. FlowsTracked is how many flows the capture holds (at
	// most CaptureMaxFlows); FlowsEvicted counts flows dropped to stay
	// within that bound (the least recently seen goes, by CLOCK: see
	// docs/performance.md, "Bounded tables").
	TopFlows     []CaptureFlow `json:"top_flows"`
	FlowsTracked int           `json:"flows_tracked"`
	FlowsEvicted uint64        `json:"flows_evicted"`
	// TopHosts are the addresses with the most bytes sent or received,
	// most first, at most CaptureTopN; HostsTracked and HostsEvicted are
	// as for flows (at most CaptureMaxHosts).
	TopHosts []CaptureHost `json:"top_hosts"`
	// UDPFlows are the UDP flows that carried packets in the last
	// interval of a live capture, busiest first, at most
	// CaptureMaxUDPFlows: what the Connections tab joins UDP sockets to
	// for their sampled rates (SampledUDPRates). Empty for a file.
	UDPFlows     []CaptureFlow `json:"udp_flows,omitempty"`
	HostsTracked int           `json:"hosts_tracked"`
	HostsEvicted uint64        `json:"hosts_evicted"`
}

// Bounds of the capture's tables.
const (
	CaptureTopN     = 50
	CaptureMaxFlows = 4096
	CaptureMaxHosts = 4096
	// CaptureMaxUDPFlows bounds CaptureStats.UDPFlows.
	CaptureMaxUDPFlows = 1024
)

// CaptureProtocols is the order of CaptureStats.Protocols.
var CaptureProtocols = []string{
	"eth", "vlan", "arp", "ipv4", "ipv6", "fragment",
	"tcp", "udp", "icmp", "icmpv6", "dns", "other",
}

// CaptureProto is the count of one protocol layer.
type CaptureProto struct {
	Name          string  `json:"name"`
	Packets       uint64  `json:"packets"`
	Bytes         uint64  `json:"bytes"`
	PacketsPerSec float64 `json:"packets_per_sec"`
	BitsPerSec    float64 `json:"bits_per_sec"`
}

// CaptureFlowKey identifies a flow in both directions: A is the lesser
// endpoint (address, then port), so a reply counts in the same flow.
// Proto is "tcp", "udp", "icmp", "icmpv6" or, for other IP protocols and
// for IP fragments (the first too), "ip"; ports are 0 where there are none.
// A CaptureFlowKey is comparable and may be a map key.
type CaptureFlowKey struct {
	Proto Proto          `json:"proto"`
	A     netip.AddrPort `json:"a"`
	B     netip.AddrPort `json:"b"`
}

// String returns "tcp 10.0.0.1:5000 <-> 10.0.0.2:80".
func (k CaptureFlowKey) String() string {
	return k.Proto.String() + " " + k.A.String() + " <-> " + k.B.String()
}

// CaptureFlow is one flow's counts. AToB are the packets from A to B,
// BToA the replies.
type CaptureFlow struct {
	Key           CaptureFlowKey `json:"key"`
	PacketsAToB   uint64         `json:"packets_a_to_b"`
	BytesAToB     uint64         `json:"bytes_a_to_b"`
	PacketsBToA   uint64         `json:"packets_b_to_a"`
	BytesBToA     uint64         `json:"bytes_b_to_a"`
	PacketsPerSec float64        `json:"packets_per_sec"`
	BitsPerSec    float64        `json:"bits_per_sec"`
	// PayloadPerSecAToB and PayloadPerSecBToA are a UDP flow's payload
	// bytes per second each way, from the datagrams' length fields
	// (headers left out: what the sockets sent and received); 0 for
	// other protocols.
	PayloadPerSecAToB float64   `json:"payload_per_sec_a_to_b,omitempty"`
	PayloadPerSecBToA float64   `json:"payload_per_sec_b_to_a,omitempty"`
	FirstSeen         time.Time `json:"first_seen"`
	LastSeen          time.Time `json:"last_seen"`
}

// Packets returns the packets in both directions.
func (f CaptureFlow) Packets() uint64 { return f.PacketsAToB + f.PacketsBToA }

// Bytes returns the bytes in both directions.
func (f CaptureFlow) Bytes() uint64 { return f.BytesAToB + f.BytesBToA }

// CaptureHost is one address's counts.
type CaptureHost struct {
	Addr          netip.Addr `json:"addr"`
	PacketsSent   uint64     `json:"packets_sent"`
	BytesSent     uint64     `json:"bytes_sent"`
	PacketsRecv   uint64     `json:"packets_received"`
	BytesRecv     uint64     `json:"bytes_received"`
	BitsPerSec    float64    `json:"bits_per_sec"`
	PacketsPerSec float64    `json:"packets_per_sec"`
	LastSeen      time.Time  `json:"last_seen"`
}

// CapturedPacket is one stored packet decoded.
type CapturedPacket struct {
	At time.Time `json:"at"`
	// Length is the length on the wire, CaptureLength what was captured.
	Length        int `json:"length"`
	CaptureLength int `json:"capture_length"`
	// Summary is one line: "TCP 10.0.0.1:5000 > 10.0.0.2:80 [S] len 0".
	Summary string `json:"summary"`
	// Layers are outermost first.
	Layers []PacketLayer `json:"layers"`
	// Error is why decoding stopped early, "" if it did not.
	Error string `json:"error,omitempty"`
}

// PacketLayer is one decoded layer: its name ("Ethernet", "IPv4", ...)
// and its fields in header order.
type PacketLayer struct {
	Name   string       `json:"name"`
	Fields []LayerField `json:"fields"`
}

// LayerField is one header field, formatted.
type LayerField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CaptureUpdate replaces the capture statistics.
type CaptureUpdate struct {
	Stats CaptureStats
}

func (u CaptureUpdate) apply(s *Store, snap *Snapshot) {
	if u.Stats.Protocols == nil {
		u.Stats.Protocols = []CaptureProto{}
	}
	if u.Stats.TopFlows == nil {
		u.Stats.TopFlows = []CaptureFlow{}
	}
	if u.Stats.TopHosts == nil {
		u.Stats.TopHosts = []CaptureHost{}
	}
	snap.Capture = u.Stats
	snap.TakenAt = later(snap.TakenAt, u.Stats.At)
}

// CaptureRequest is a capture to start from inside the TUI (the Capture
// tab's c): where, what, and when it stops by itself.
type CaptureRequest struct {
	// Interface is the interface to capture on, "any" for all.
	Interface string
	// Filter is a capture filter in tcpdump syntax ("" for none),
	// compiled by the same compiler as --capture-filter.
	Filter string
	// Count stops the capture after this many packets, Duration after
	// this long; at least one of them is set.
	Count    int
	Duration time.Duration
}
