package model

import "time"

// CollectorState is the health of a collector.
type CollectorState string

// Collector states.
const (
	StatePending      CollectorState = "pending" // not run yet
	StateOK           CollectorState = "ok"
	StateNotSupported CollectorState = "not-supported"
	StateNoPermission CollectorState = "no-permission"
	StateError        CollectorState = "error"
)

// CollectorStatus is what the runner knows about one collector.
type CollectorStatus struct {
	Name  string         `json:"name"`
	State CollectorState `json:"state"`
	// Reason says why a collector is not ok, in words a user can act on
	// ("needs CAP_NET_ADMIN").
	Reason       string        `json:"reason,omitempty"`
	Interval     time.Duration `json:"interval_ns"`
	LastDuration time.Duration `json:"last_duration_ns"`
	// Errors counts the runs that failed (any state but ok) since
	// netlens started.
	Errors      uint64    `json:"errors"`
	LastRun     time.Time `json:"last_run,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// Source says where the data came from when a collector has several
	// ("sock_diag", "/proc/net").
	Source string `json:"source,omitempty"`
	// Note is what a working collector wants the user to know: data it
	// could only partly read and why ("owners of 3 of 90 processes
	// unreadable (needs root or CAP_SYS_PTRACE)").
	Note string `json:"note,omitempty"`
}

// Collector names, as in CollectorStatus.Name and CountersUpdate.Collector.
// Each collector package's Name is one of these; the UI, which imports no
// collector, names the collectors behind its tabs with them.
const (
	CollectorSockets   = "sockets"
	CollectorCounters  = "counters" // /proc/net counters (procnet)
	CollectorSysctl    = "sysctl"
	CollectorQdisc     = "qdisc"
	CollectorLinks     = "links" // the Interfaces tab: links, addresses, ethtool, tc
	CollectorDropMon   = "dropmon"
	CollectorDropTrace = "droptrace" // the eBPF drop tracer
	CollectorConntrack = "conntrack"
	CollectorFilters   = "filters"
	CollectorCapture   = "capture"
	CollectorIPsec     = "ipsec"    // SAs and policies over NETLINK_XFRM
	CollectorNFTables  = "nftables" // the ruleset outside netlens's own table, read only
)
