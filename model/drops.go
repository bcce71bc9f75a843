package model

import "time"

// DropMonitor is what the kernel's drop monitor (the NET_DM generic
// netlink family, what dropwatch uses) reported: every packet the kernel
// freed as dropped, counted per drop reason and code location. It is the
// zero value until the drop monitor collector has run; Supported and
// Reason say whether the kernel has a drop monitor at all.
type DropMonitor struct {
	// At is when the aggregates were last updated.
	At time.Time `json:"at"`
	// Supported is false when the kernel has no drop monitor or netlens
	// may not use it; Reason then says why ("kernel has no drop monitor
	// (CONFIG_NET_DROP_MONITOR)", "needs CAP_NET_ADMIN").
	Supported bool   `json:"supported"`
	Reason    string `json:"reason,omitempty"`
	// Mode is how the kernel reports drops: "packet" (one notification
	// per dropped packet, with its drop reason on kernels 5.18 and later)
	// or "summary" (counts per location, no reason).
	Mode string `json:"mode,omitempty"`
	// Drops are the aggregates, one per (reason, location, origin), most
	// recently moved first. At most DropMonitorMaxEntries are kept: the
	// least recently seen are evicted first (Evicted counts them).
	Drops []DropReason `json:"drops"`
	// Total is the number of drops reported since netlens started.
	Total uint64 `json:"total"`
	// Lost counts the times the kernel could not queue notifications for
	// netlens because its socket buffer was full (ENOBUFS): the drops in
	// them are missing from Drops and Total.
	Lost uint64 `json:"lost"`
	// QueueDropped is the kernel's own count of alerts it discarded
	// because its per-CPU queue of packet alerts was full
	// (NET_DM_ATTR_STATS_DROPPED, packet mode): those drops are missing
	// from Drops and Total too.
	QueueDropped uint64 `json:"queue_dropped,omitempty"`
	// Evicted counts aggregates dropped to keep Drops bounded.
	Evicted uint64 `json:"evicted,omitempty"`
}

// DropMonitorMaxEntries bounds DropMonitor.Drops.
const DropMonitorMaxEntries = 1024

// DropReason is the count of drops for one drop reason at one location.
type DropReason struct {
	// Reason is the kernel's drop reason without its SKB_DROP_REASON_
	// prefix ("NETFILTER_DROP", "TCP_CSUM"); "" when the kernel reports
	// none (summary mode, or kernels before 5.18).
	Reason string `json:"reason,omitempty"`
	// Layer is the layer the reason (or, without one, the location)
	// belongs to.
	Layer Layer `json:"layer"`
	// Location is the kernel function that freed the packet, as
	// symbol+offset ("nf_hook_slow+0x9c"), or its address in hex when
	// the kernel gave no symbol.
	Location string `json:"location"`
	// Origin is "sw" for drops in the stack, "hw" for drops a device
	// reported.
	Origin string `json:"origin"`
	// Delta is the count in the last second, Total since netlens started.
	Delta uint64 `json:"delta"`
	Total uint64 `json:"delta_total"`
	// LastSeen is when the last drop was counted.
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// DropsUpdate replaces the drop monitor's aggregates. The per-reason
// totals are published as counters too (a CountersUpdate), so that they
// take part in the funnel's deltas, rates and histories.
type DropsUpdate struct {
	Monitor DropMonitor
}

func (u DropsUpdate) apply(s *Store, snap *Snapshot) {
	if u.Monitor.Drops == nil {
		u.Monitor.Drops = []DropReason{}
	}
	snap.DropMonitor = u.Monitor
	snap.TakenAt = later(snap.TakenAt, u.Monitor.At)
}
