package model

import "time"

// Layer is a layer of the network stack, ordered as a received packet
// travels it (bottom-up).
type Layer string

// Layers, bottom-up.
const (
	LayerNIC       Layer = "nic"
	LayerSoftnet   Layer = "softnet"
	LayerQdisc     Layer = "qdisc"
	LayerIP        Layer = "ip"
	LayerNetfilter Layer = "netfilter"
	LayerTransport Layer = "transport"
	LayerSocket    Layer = "socket"
	LayerIPsec     Layer = "ipsec"
	LayerOther     Layer = "other"
)

// Layers lists every Layer in packet order.
var Layers = []Layer{LayerNIC, LayerSoftnet, LayerQdisc, LayerIP, LayerNetfilter, LayerTransport, LayerSocket, LayerIPsec, LayerOther}

// Rank returns the position of l in Layers (unknown layers sort last).
func (l Layer) Rank() int {
	switch l {
	case LayerNIC:
		return 0
	case LayerSoftnet:
		return 1
	case LayerQdisc:
		return 2
	case LayerIP:
		return 3
	case LayerNetfilter:
		return 4
	case LayerTransport:
		return 5
	case LayerSocket:
		return 6
	case LayerIPsec:
		return 7
	case LayerOther:
		return 8
	}
	return len(Layers)
}

// CounterKind says whether a value only grows (a counter) or goes up and
// down (a gauge, e.g. sockets in use). Deltas and rates are computed for
// counters only.
type CounterKind string

// Counter kinds.
const (
	KindCounter CounterKind = "counter"
	KindGauge   CounterKind = "gauge"
)

// CounterKey identifies one counter across samples.
type CounterKey struct {
	Source   string // the file or interface it was read from: "/proc/net/snmp"
	Group    string // the kernel's group: "Udp", "TcpExt", "IpExt"; "" if none
	Instance string // per-instance counters: interface "eth0", CPU "cpu1"; "" if global
	Name     string // the kernel's name: "RcvbufErrors"
}

// RawCounter is one value as a collector read it.
type RawCounter struct {
	Layer    Layer       `json:"layer"`
	Source   string      `json:"source"`
	Group    string      `json:"group,omitempty"`
	Instance string      `json:"instance,omitempty"`
	Name     string      `json:"name"`
	Kind     CounterKind `json:"kind"`
	Value    uint64      `json:"value"`
}

// Key returns the identity of the counter.
func (c RawCounter) Key() CounterKey {
	return CounterKey{Source: c.Source, Group: c.Group, Instance: c.Instance, Name: c.Name}
}

// Counter is a RawCounter with what the Store derived from its history.
type Counter struct {
	RawCounter
	// Delta is the change since the previous sample (counters only).
	Delta uint64 `json:"delta"`
	// Total is the change since netlens first saw the counter.
	Total uint64 `json:"delta_total"`
	// Rate is Delta per second over the last interval.
	Rate float64 `json:"rate"`
	// LastChange is when the value last moved (zero if it never has).
	LastChange time.Time `json:"last_change,omitzero"`
	// Reset is set when the value went backwards (wrap or reset);
	// Delta then counts from zero.
	Reset bool `json:"reset,omitempty"`
	// History holds the last HistoryLen samples, oldest first, for
	// sparklines: the Delta of each (counters) or the Value (gauges). It
	// is shorter while netlens has seen fewer samples, and empty after
	// the first. It is shared with later snapshots and must not be
	// modified.
	History []uint64 `json:"history,omitempty"`
}

// HistoryLen is how many samples Counter.History keeps (a minute at the
// default 1s refresh).
const HistoryLen = 60
