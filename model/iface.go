package model

import "time"

// Interface is one network interface (link) of the namespace, as
// `ip -s -s -d link`, `ip addr`, `ethtool -S` and `tc -s qdisc`/`tc -s
// class` show it together.
type Interface struct {
	Index int32  `json:"index"`
	Name  string `json:"name"`
	// Kind is IFLA_INFO_KIND: "veth", "bridge", "vlan", "bond", "tun",
	// "dummy", ...; "" for a device without one (a physical NIC, lo).
	Kind string `json:"kind,omitempty"`
	// LinkType is the hardware type (ARPHRD_*): "ether", "loopback",
	// "none" (tun), "ipip", ... or "arphrd N".
	LinkType string `json:"link_type"`
	// Up is IFF_UP: the interface is administratively up.
	Up bool `json:"up"`
	// OperState is IFLA_OPERSTATE (RFC 2863): "up", "down",
	// "lowerlayerdown", "dormant", "testing", "notpresent", "unknown".
	OperState string `json:"operstate"`
	// Carrier is IFLA_CARRIER (else IFF_LOWER_UP).
	Carrier bool `json:"carrier"`
	// CarrierChanges is IFLA_CARRIER_CHANGES: how often the carrier
	// came and went.
	CarrierChanges uint32 `json:"carrier_changes"`
	MTU            uint32 `json:"mtu"`
	TxQueueLen     uint32 `json:"txqueuelen"`
	// MAC is IFLA_ADDRESS in colon-hex; "" when the link has none.
	MAC string `json:"mac,omitempty"`
	// Master is the bridge or bond the interface is a port of.
	Master      string `json:"master,omitempty"`
	MasterIndex int32  `json:"master_index,omitempty"`
	// LinkIndex is IFLA_LINK: a veth's peer, a VLAN's parent.
	LinkIndex int32 `json:"link_index,omitempty"`
	// VLANID is a VLAN's id (IFLA_VLAN_ID); 0 for other kinds.
	VLANID uint16 `json:"vlan_id,omitempty"`
	// Qdisc is the root queueing discipline's kind (IFLA_QDISC).
	Qdisc     string          `json:"qdisc,omitempty"`
	Addresses []InterfaceAddr `json:"addresses"`
	Stats     LinkStats       `json:"stats"`
	Rate      InterfaceRate   `json:"rate"`
	Ethtool   []EthtoolStat   `json:"ethtool"`
	// EthtoolNote says why Ethtool is empty: the driver has no
	// statistics, or reading them failed.
	EthtoolNote string `json:"ethtool_note,omitempty"`
	// TC is the interface's queueing disciplines, then its classes, in
	// the kernel's order, with their statistics.
	TC []TCObject `json:"tc"`
}

// InterfaceAddr is one address of an interface (RTM_NEWADDR).
type InterfaceAddr struct {
	Family    string `json:"family"` // "inet" or "inet6"
	Address   string `json:"address"`
	PrefixLen int    `json:"prefixlen"`
	// Scope is "global", "site", "link", "host" or a number.
	Scope string `json:"scope"`
}

// InterfaceRate is an interface's rates over the last refresh, from the
// change of its counters. Known is false on the first sample of an
// interface and after its counters went backwards.
type InterfaceRate struct {
	Known bool `json:"known"`
	// Interval is the time between the two samples.
	Interval        time.Duration `json:"interval_ns"`
	RxBitsPerSec    float64       `json:"rx_bits_per_sec"`
	TxBitsPerSec    float64       `json:"tx_bits_per_sec"`
	RxPacketsPerSec float64       `json:"rx_packets_per_sec"`
	TxPacketsPerSec float64       `json:"tx_packets_per_sec"`
}

// EthtoolStat is one of a driver's extended statistics, as `ethtool -S`
// prints it.
type EthtoolStat struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
}

// TCObject is a queueing discipline or a class of one interface, with
// its statistics (`tc -s qdisc show` / `tc -s class show`).
type TCObject struct {
	Class      bool   `json:"class"` // a class; else a qdisc
	Kind       string `json:"kind"`  // "htb", "fq_codel", ...
	Handle     string `json:"handle"`
	Parent     string `json:"parent"` // "root" or a handle
	Bytes      uint64 `json:"bytes"`
	Packets    uint64 `json:"packets"`
	Drops      uint64 `json:"drops"`
	Overlimits uint64 `json:"overlimits"`
	Requeues   uint64 `json:"requeues"`
	Backlog    uint64 `json:"backlog"` // bytes queued
	Qlen       uint64 `json:"qlen"`    // packets queued
}

// LinkStats is struct rtnl_link_stats64, with the names
// /sys/class/net/IFACE/statistics gives its fields.
type LinkStats struct {
	RxPackets          uint64 `json:"rx_packets"`
	TxPackets          uint64 `json:"tx_packets"`
	RxBytes            uint64 `json:"rx_bytes"`
	TxBytes            uint64 `json:"tx_bytes"`
	RxErrors           uint64 `json:"rx_errors"`
	TxErrors           uint64 `json:"tx_errors"`
	RxDropped          uint64 `json:"rx_dropped"`
	TxDropped          uint64 `json:"tx_dropped"`
	Multicast          uint64 `json:"multicast"`
	Collisions         uint64 `json:"collisions"`
	RxLengthErrors     uint64 `json:"rx_length_errors"`
	RxOverErrors       uint64 `json:"rx_over_errors"`
	RxCRCErrors        uint64 `json:"rx_crc_errors"`
	RxFrameErrors      uint64 `json:"rx_frame_errors"`
	RxFIFOErrors       uint64 `json:"rx_fifo_errors"`
	RxMissedErrors     uint64 `json:"rx_missed_errors"`
	TxAbortedErrors    uint64 `json:"tx_aborted_errors"`
	TxCarrierErrors    uint64 `json:"tx_carrier_errors"`
	TxFIFOErrors       uint64 `json:"tx_fifo_errors"`
	TxHeartbeatErrors  uint64 `json:"tx_heartbeat_errors"`
	TxWindowErrors     uint64 `json:"tx_window_errors"`
	RxCompressed       uint64 `json:"rx_compressed"`
	TxCompressed       uint64 `json:"tx_compressed"`
	RxNoHandler        uint64 `json:"rx_nohandler"`
	RxOtherhostDropped uint64 `json:"rx_otherhost_dropped"`
}

// LinkStatNames names LinkStats' fields in the kernel's order (that of
// struct rtnl_link_stats64), as LinkStats.Field numbers them.
var LinkStatNames = [...]string{
	"rx_packets", "tx_packets", "rx_bytes", "tx_bytes",
	"rx_errors", "tx_errors", "rx_dropped", "tx_dropped",
	"multicast", "collisions",
	"rx_length_errors", "rx_over_errors", "rx_crc_errors", "rx_frame_errors",
	"rx_fifo_errors", "rx_missed_errors",
	"tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors",
	"tx_heartbeat_errors", "tx_window_errors",
	"rx_compressed", "tx_compressed",
	"rx_nohandler",
	"rx_otherhost_dropped",
}

// Field returns the i-th field of s in the order of LinkStatNames, or
// nil when i is out of range.
func (s *LinkStats) Field(i int) *uint64 {
	fs := [...]*uint64{
		&s.RxPackets, &s.TxPackets, &s.RxBytes, &s.TxBytes,
		&s.RxErrors, &s.TxErrors, &s.RxDropped, &s.TxDropped,
		&s.Multicast, &s.Collisions,
		&s.RxLengthErrors, &s.RxOverErrors, &s.RxCRCErrors, &s.RxFrameErrors,
		&s.RxFIFOErrors, &s.RxMissedErrors,
		&s.TxAbortedErrors, &s.TxCarrierErrors, &s.TxFIFOErrors,
		&s.TxHeartbeatErrors, &s.TxWindowErrors,
		&s.RxCompressed, &s.TxCompressed,
		&s.RxNoHandler,
		&s.RxOtherhostDropped,
	}
	if i < 0 || i >= len(fs) {
		return nil
	}
	return fs[i]
}

// InterfacesUpdate replaces the interface table.
type InterfacesUpdate struct {
	At         time.Time
	Interfaces []Interface
}

func (u InterfacesUpdate) apply(s *Store, snap *Snapshot) {
	if u.Interfaces == nil {
		u.Interfaces = []Interface{}
	}
	snap.Interfaces = u.Interfaces
	snap.TakenAt = later(snap.TakenAt, u.At)
}
