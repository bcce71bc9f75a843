package model

import (
	"net/netip"
	"time"
)

// RuleAction is what a filter rule does with a packet it matches.
type RuleAction string

// Rule actions.
const (
	ActionAccept RuleAction = "accept" // stop evaluating, let the packet through
	ActionDrop   RuleAction = "drop"   // stop evaluating, drop the packet
	ActionCount  RuleAction = "count"  // count and continue with the next rule
	// ActionReject stops evaluating, drops the packet and answers it: a TCP
	// reset for a rule of protocol tcp, else an ICMP/ICMPv6 port
	// unreachable, so the sender fails at once instead of timing out.
	ActionReject RuleAction = "reject"
)

// Drops reports whether the action drops the packets it matches.
func (a RuleAction) Drops() bool { return a == ActionDrop || a == ActionReject }

// Netfilter hooks a rule can sit at, named as nft(8) names them.
const (
	HookPreRouting  = "prerouting"  // NF_INET_PRE_ROUTING
	HookInput       = "input"       // NF_INET_LOCAL_IN
	HookForward     = "forward"     // NF_INET_FORWARD
	HookOutput      = "output"      // NF_INET_LOCAL_OUT
	HookPostRouting = "postrouting" // NF_INET_POST_ROUTING
)

// RuleFamilyBoth is a rule's Family when it applies to IPv4 and IPv6.
const RuleFamilyBoth Family = "both"

// PortRange is an inclusive range of ports; the zero value means any port.
type PortRange struct {
	Min uint16 `json:"min"`
	Max uint16 `json:"max"`
}

// Any reports whether the range matches every port.
func (p PortRange) Any() bool { return p.Min == 0 && (p.Max == 0 || p.Max == 0xffff) }

// Rule is one filter rule of the backend in use (the netlens kernel module
// or the netlens nftables table), with its counters.
type Rule struct {
	// ID is assigned by the backend; it is 0 in a rule not yet added.
	ID      uint32 `json:"id"`
	Enabled bool   `json:"enabled"`
	// Hooks are the netfilter hooks the rule sits at (HookInput, ...).
	Hooks []string `json:"hooks"`
	// Family is FamilyIPv4, FamilyIPv6 or RuleFamilyBoth.
	Family Family `json:"family"`
	// Proto is the L4 protocol: "tcp", "udp", "udplite", "sctp", "icmp",
	// "icmpv6", or an IP protocol number in decimal; "" is any.
	Proto string `json:"proto,omitempty"`
	// Src and Dst are address prefixes; the zero Prefix is any.
	Src      netip.Prefix `json:"src,omitzero"`
	Dst      netip.Prefix `json:"dst,omitzero"`
	SrcPorts PortRange    `json:"sport,omitzero"`
	DstPorts PortRange    `json:"dport,omitzero"`
	// InIface and OutIface are interface names; "" is any.
	// SrcSet and DstSet are sets of prefixes of one family the source or
	// destination must be in, looked up in O(1) (instead of Src or Dst);
	// SrcPortSet and DstPortSet are sets of ports (instead of a range).
	// Each holds at most 65,536 elements; nil is no set.
	SrcSet     []netip.Prefix `json:"src_set,omitempty"`
	DstSet     []netip.Prefix `json:"dst_set,omitempty"`
	SrcPortSet []uint16       `json:"sport_set,omitempty"`
	DstPortSet []uint16       `json:"dport_set,omitempty"`
	InIface    string         `json:"iif,omitempty"`
	// CTState lists the conntrack states a packet must be in, any of
	// them: "new", "established", "related", "invalid", "untracked"
	// (nft's ct state); nil is any.
	CTState []string `json:"ct_state,omitempty"`
	// ICMP matches an ICMP or ICMPv6 message (Proto icmp or icmpv6): its
	// type by nft(8) name or number, then optionally "/" and the code:
	// "echo-request", "destination-unreachable/3", "8/0"; "" is any. Code
	// names ("destination-unreachable/port-unreachable") are accepted on
	// input and kept as numbers here (and in JSON); rules.DisplayICMP
	// names them for display.
	ICMP string `json:"icmp,omitempty"`
	// TCPFlags matches the TCP flags (Proto tcp): "syn" or "syn,ack"
	// (those flags set, others free), "syn/syn,ack" (of SYN and ACK, only
	// SYN set: a connection's first packet), as nft's "tcp flags syn /
	// syn,ack"; "" is any.
	TCPFlags string `json:"tcp_flags,omitempty"`
	// Negate lists the matches that hold when they do not match, as
	// nft's "!=": "src", "dst", "sport", "dport", "iif", "oif", "icmp",
	// "tcp_flags", "ct_state" (src and dst apply to the address or the
	// set, sport and dport to the range or the set).
	Negate []string `json:"negate,omitempty"`
	// Log sends every packet the rule matches to the packet log, at most
	// LogRate a second (0: the backend's default, 10); a count rule that
	// logs is a dry run. Kernel module only.
	Log      bool       `json:"log,omitempty"`
	LogRate  uint32     `json:"log_rate,omitempty"`
	OutIface string     `json:"oif,omitempty"`
	Action   RuleAction `json:"action"`
	// Priority orders rules: lower runs first, ties by ID.
	Priority uint32 `json:"priority"`
	Label    string `json:"label,omitempty"`

	// Read-only: counters and state the backend reports.
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Rate is packets per second between the last two samples.
	Rate float64 `json:"rate_pps"`
	// LastHit is when the rule last matched a packet: the kernel module
	// keeps it; for nftables, which does not, it is when netlens saw the
	// counter move (to within a refresh; zero until it moves while
	// netlens runs).
	LastHit time.Time `json:"last_hit,omitzero"`
	// LogDropped counts the matched packets the log did not send (over
	// LogRate).
	LogDropped uint64 `json:"log_dropped,omitempty"`
	// PendingTxn is the unconfirmed change the rule is part of; the change
	// is undone at RevertAt unless confirmed.
	PendingTxn uint32    `json:"pending_txn,omitempty"`
	RevertAt   time.Time `json:"revert_at,omitzero"`
	// Foreign marks a rule netlens did not make and cannot read fully (a
	// rule added to the netlens nftables table by hand); it is shown but
	// not changed.
	Foreign bool `json:"foreign,omitempty"`
}

// HookVerdicts are the verdict counters of one hook of one family.
type HookVerdicts struct {
	Family   Family `json:"family"`
	Hook     string `json:"hook"`
	Seen     uint64 `json:"seen"`
	Accepted uint64 `json:"accepted"`
	Dropped  uint64 `json:"dropped"`
	// Policy is the hook's default verdict (ActionAccept or ActionDrop)
	// when the backend reports it (the kernel module does).
	Policy RuleAction `json:"policy,omitempty"`
}

// RulesState is the filter rules section of a snapshot, and the shape of a
// rules file (`netlens rules save`).
type RulesState struct {
	// Backend is "kmod", "nft" or "none".
	Backend string `json:"backend"`
	// ReadOnly says why rules cannot be changed ("" when they can).
	ReadOnly string    `json:"read_only,omitempty"`
	At       time.Time `json:"at,omitzero"`
	Rules    []Rule    `json:"rules"`
	// Hooks are the per-hook verdict counters (kernel module only).
	Hooks []HookVerdicts `json:"hooks,omitempty"`
	// Pending are the changes waiting for a confirm, each undone at its
	// RevertAt otherwise (also those no rule shows: a pending delete).
	Pending []PendingChange `json:"pending,omitempty"`
	// Events are the latest entries of the revert log, oldest first:
	// reverts done at a deadline, and reverts that met an error.
	Events []RulesEvent `json:"events,omitempty"`
}

// RulesEvent is one entry of the revert log.
type RulesEvent struct {
	At  time.Time `json:"at"`
	Txn uint32    `json:"txn,omitempty"`
	// By is who acted: "revert helper (pid N)", "netlens (pid N)".
	By      string `json:"by"`
	Message string `json:"message"`
	// Error marks an entry the operator must look at (a revert that
	// could not claim its state file, or failed).
	Error bool `json:"error,omitempty"`
}

// PendingChange is a commit-confirmed change not yet confirmed.
type PendingChange struct {
	Txn      uint32    `json:"txn"`
	RevertAt time.Time `json:"revert_at"`
}

// RulesUpdate replaces the filter rules section.
type RulesUpdate struct {
	State RulesState
}

func (u RulesUpdate) apply(s *Store, snap *Snapshot) {
	st := u.State
	if st.Rules == nil {
		st.Rules = []Rule{}
	}
	snap.Rules = &st
	snap.TakenAt = later(snap.TakenAt, st.At)
}

// LoggedPacket is one packet a rule with Log matched (the packet log).
type LoggedPacket struct {
	At     time.Time `json:"at"`
	RuleID uint32    `json:"rule"`
	// Hook is where the rule matched (HookInput, ...).
	Hook string `json:"hook"`
	// InIface and OutIface are interface names ("" for none).
	InIface  string `json:"iif,omitempty"`
	OutIface string `json:"oif,omitempty"`
	// Verdict is what the rule did: accept, drop, reject, or count (it
	// went on to the next rule).
	Verdict RuleAction `json:"verdict"`
	Family  Family     `json:"family"`
	Proto   string     `json:"proto"`
	Src     netip.Addr `json:"src"`
	Dst     netip.Addr `json:"dst"`
	// SrcPort and DstPort are 0 for protocols without ports.
	SrcPort uint16 `json:"sport,omitempty"`
	DstPort uint16 `json:"dport,omitempty"`
	Len     uint32 `json:"len"`
	// TCPFlags are the flags set ("SYN,ACK"), tcp only.
	TCPFlags string `json:"tcp_flags,omitempty"`
	// ICMP is "type/code" for icmp and icmpv6.
	ICMP string `json:"icmp,omitempty"`
	// CTState is the conntrack state: new, established, related,
	// invalid or untracked.
	CTState string `json:"ct_state,omitempty"`
}
