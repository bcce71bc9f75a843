package model

import (
	"cmp"
	"slices"
	"time"
)

// NFTables is the namespace's nftables ruleset outside netlens's own
// table (inet netlens, which Rules holds): what iptables-nft (Docker,
// kube-proxy), firewalld or an administrator's nft file put there. It is
// read, never changed. The zero value means not read (no collector, no
// CAP_NET_ADMIN, or no nf_tables).
type NFTables struct {
	// At is when it was read.
	At time.Time `json:"at"`
	// Tables counts the tables read (netlens's own left out).
	Tables int `json:"tables"`
	// Chains are every chain of those tables, table by table (in the
	// kernel's order), base chains before regular ones within a table,
	// with their rules in evaluation order.
	Chains []NFTChain `json:"chains"`
}

// NFTChain is one chain of an nftables table.
type NFTChain struct {
	Family string `json:"family"` // ip, ip6, inet, arp, bridge, netdev
	Table  string `json:"table"`
	Name   string `json:"name"`
	// Type, Hook, Priority and Policy are a base chain's (Hook "" for a
	// regular chain, which runs only when a rule jumps to it).
	Type     string    `json:"type,omitempty"` // filter, nat, route
	Hook     string    `json:"hook,omitempty"` // prerouting, input, forward, output, postrouting, ingress, egress
	Priority int32     `json:"priority,omitempty"`
	Policy   string    `json:"policy,omitempty"` // accept, drop
	Rules    []NFTRule `json:"rules"`
	// Unreadable says why the chain's rules are missing: the kernel sent
	// them and netlens could not decode them.
	Unreadable string `json:"unreadable,omitempty"`
}

// NFTRule is one rule of a chain, with its counter when it has one.
type NFTRule struct {
	Handle uint64 `json:"handle"`
	// Text is the rule as nft(8) lists it, without the counter's figures
	// ("tcp dport 22 counter drop"); an expression netlens cannot render
	// shows as [kind].
	Text string `json:"text"`
	// Verdict is the rule's terminal verdict (accept, drop, reject,
	// return, jump NAME, goto NAME, queue), "" when it has none.
	Verdict string `json:"verdict,omitempty"`
	// Counter says the rule has a counter expression: Packets and Bytes
	// are its figures (iptables-nft gives every rule one; nft rules have
	// one only when written with "counter").
	Counter bool   `json:"counter"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Delta is the packets counted since the previous reading, Rate
	// that per second; both 0 on the first reading of the rule.
	Delta uint64  `json:"delta"`
	Rate  float64 `json:"rate_pps"`
}

// Drops says whether the rule drops or rejects what it matches.
func (r *NFTRule) Drops() bool { return r.Verdict == "drop" || r.Verdict == "reject" }

// NFTablesUpdate replaces the ruleset.
type NFTablesUpdate struct {
	NFTables NFTables
}

func (u NFTablesUpdate) apply(s *Store, snap *Snapshot) {
	if u.NFTables.Chains == nil {
		u.NFTables.Chains = []NFTChain{}
	}
	snap.NFTables = u.NFTables
	snap.TakenAt = later(snap.TakenAt, u.NFTables.At)
}

// NFTRuleRef is one rule of the ruleset, with its chain.
type NFTRuleRef struct {
	Chain *NFTChain
	Rule  *NFTRule
}

// Dropping returns the rules that drop or reject and counted packets at
// the last reading (Delta > 0), most first, and the base chains whose
// policy is drop: where a NETFILTER_DROP that no netlens rule made may
// have come from. It is a correlation in time, not an attribution.
func (t *NFTables) Dropping() (rules []NFTRuleRef, policies []*NFTChain) {
	for i := range t.Chains {
		ch := &t.Chains[i]
		if ch.Hook != "" && ch.Policy == "drop" {
			policies = append(policies, ch)
		}
		for j := range ch.Rules {
			if r := &ch.Rules[j]; r.Drops() && r.Delta > 0 {
				rules = append(rules, NFTRuleRef{ch, r})
			}
		}
	}
	slices.SortStableFunc(rules, func(a, b NFTRuleRef) int { return cmp.Compare(b.Rule.Delta, a.Rule.Delta) })
	return rules, policies
}
