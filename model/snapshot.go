package model

import "time"

// SchemaVersion is the version of the snapshot JSON schema
// (docs/snapshot.schema.json). Bump it on any incompatible change.
const SchemaVersion = 3

// Snapshot is everything netlens knows at one moment. It is a value: the
// Store never changes a Snapshot, or any slice in it, once handed out, and
// readers must not either.
type Snapshot struct {
	SchemaVersion int       `json:"schema_version"`
	Host          string    `json:"host"`
	Kernel        string    `json:"kernel"`
	TakenAt       time.Time `json:"taken_at"`
	StartedAt     time.Time `json:"started_at"`
	// Seq grows by one with every update the Store applies.
	Seq     uint64   `json:"seq"`
	Sockets []Socket `json:"sockets"`
	// SocketsSeq is the Seq of the update that last replaced Sockets: two
	// snapshots of a Store with the same SocketsSeq have the same socket
	// list, and two with different ones never do, even when the sockets
	// collector filled the same memory again (see SocketsGen). Readers
	// that remember what they computed from a list compare it, not the
	// slice's address. Not part of the JSON.
	SocketsSeq uint64            `json:"-"`
	Counters   []Counter         `json:"counters"`
	Sysctls    []Sysctl          `json:"sysctls"`
	Collectors []CollectorStatus `json:"collectors"`
	// Flows is the conntrack table (at most ConntrackStats.FlowsLimit
	// entries: see ConntrackStats.FlowsTruncated).
	Flows []Flow `json:"flows"`
	// FlowsSeq is to Flows what SocketsSeq is to Sockets: the conntrack
	// collector fills a list nobody holds again too. Not part of the
	// JSON.
	FlowsSeq uint64 `json:"-"`
	// Conntrack is the conntrack table's health; zero until the conntrack
	// collector has run.
	Conntrack ConntrackStats `json:"conntrack,omitzero"`
	// DropMonitor is the kernel drop monitor's per-reason aggregates;
	// zero until the drop monitor collector has run.
	DropMonitor DropMonitor `json:"drop_monitor,omitzero"`
	// DropTrace is the eBPF drop tracer's per-reason and per-flow counts;
	// zero until the drop tracer has run.
	DropTrace DropTrace `json:"drop_trace,omitzero"`
	// Capture is the packet capture's statistics; zero unless a capture
	// runs (it is opt-in).
	Capture CaptureStats `json:"capture,omitzero"`
	// Rules are the filter rules and the backend holding them; nil until
	// the filters collector has run.
	Rules *RulesState `json:"rules,omitempty"`
	// SysctlChanges is the sysctl change journal (who changed which
	// sysctl, from what, to what, when, and whether it was confirmed or
	// reverted) and the change waiting for a confirm; nil when no change
	// was ever made in this namespace.
	SysctlChanges *SysctlChanges `json:"sysctl_changes,omitempty"`
	// Interfaces are the namespace's network interfaces, by index; nil
	// until the links collector has run (schema_version 3).
	Interfaces []Interface `json:"interfaces,omitempty"`
	// IPsec is the xfrm state: SAs and policies, never their keys; zero
	// until the ipsec collector has run.
	IPsec IPsec `json:"ipsec,omitzero"`
	// NFTables is the nftables ruleset outside netlens's own table, read
	// only; zero until the nftables collector has run.
	NFTables NFTables `json:"nftables,omitzero"`
	// NetNS is the network namespace every section was read in; nil for
	// netlens's own.
	NetNS *NetNS `json:"netns,omitempty"`
}

// Status returns the status of the named collector, if known.
func (s Snapshot) Status(name string) (CollectorStatus, bool) {
	for _, c := range s.Collectors {
		if c.Name == name {
			return c, true
		}
	}
	return CollectorStatus{}, false
}
