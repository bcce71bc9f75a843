package model

import (
	"encoding/json"
	"net/netip"
	"time"
)

// flowJSON is Flow as JSON has it: Flow's fields in order, with the NAT
// addresses (Flow.NATAddrs) after nat. Flow does not keep them: they
// follow from the tuples.
type flowJSON struct {
	ID            uint32         `json:"id"`
	Family        Family         `json:"family"`
	Proto         Proto          `json:"proto"`
	ProtoNum      uint8          `json:"proto_num"`
	Orig          FlowTuple      `json:"orig"`
	Reply         FlowTuple      `json:"reply"`
	TCPState      TCPState       `json:"tcp_state,omitempty"`
	Status        FlowStatus     `json:"status"`
	Timeout       time.Duration  `json:"timeout_ns"`
	Mark          uint32         `json:"mark"`
	Zone          uint16         `json:"zone"`
	Helper        string         `json:"helper,omitempty"`
	OrigPackets   uint64         `json:"orig_packets"`
	OrigBytes     uint64         `json:"orig_bytes"`
	ReplyPackets  uint64         `json:"reply_packets"`
	ReplyBytes    uint64         `json:"reply_bytes"`
	CountersKnown bool           `json:"counters_known"`
	Start         time.Time      `json:"start,omitzero"`
	NAT           NATKind        `json:"nat,omitempty"`
	NATSrc        netip.AddrPort `json:"nat_src,omitzero"`
	NATDst        netip.AddrPort `json:"nat_dst,omitzero"`
	FirstSeen     time.Time      `json:"first_seen"`
	Updated       time.Time      `json:"updated"`
}

// MarshalJSON writes the flow with its NAT addresses (nat_src, nat_dst)
// derived from the tuples. Decoding needs no counterpart: it reads the
// fields Flow has and ignores the two.
func (f Flow) MarshalJSON() ([]byte, error) {
	src, dst := f.NATAddrs()
	return json.Marshal(flowJSON{
		ID: f.ID, Family: f.Family, Proto: f.Proto, ProtoNum: f.ProtoNum,
		Orig: f.Orig, Reply: f.Reply, TCPState: f.TCPState, Status: f.Status,
		Timeout: f.Timeout, Mark: f.Mark, Zone: f.Zone, Helper: f.Helper,
		OrigPackets: f.OrigPackets, OrigBytes: f.OrigBytes,
		ReplyPackets: f.ReplyPackets, ReplyBytes: f.ReplyBytes,
		CountersKnown: f.CountersKnown, Start: f.Start,
		NAT: f.NAT, NATSrc: src, NATDst: dst,
		FirstSeen: f.FirstSeen, Updated: f.Updated,
	})
}
