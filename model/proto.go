package model

import "fmt"

// Protocols of sockets (TCP, UDP, UDP-Lite, raw) and of conntrack flows
// (those and ICMP, ICMPv6, SCTP, DCCP, GRE; ProtoUnknown for any other,
// see Flow.ProtoNum) and captured flows (ProtoIP: an IP protocol without
// ports). Names are ss(8)'s and conntrack(8)'s. A Proto is
// one byte (a socket list of 100,000 holds it 200,000 times), its values
// in the order of its names, so that comparing two compares their names;
// JSON and text have the name.
const (
	ProtoNone Proto = iota // ""
	ProtoDCCP
	ProtoGRE
	ProtoICMP
	ProtoICMPv6
	ProtoIP
	ProtoRAW
	ProtoSCTP
	ProtoTCP
	ProtoUDP
	ProtoUDPLite
	ProtoUnknown
)

var protoNames = [...]string{
	ProtoNone:    "",
	ProtoDCCP:    "dccp",
	ProtoGRE:     "gre",
	ProtoICMP:    "icmp",
	ProtoICMPv6:  "icmpv6",
	ProtoIP:      "ip",
	ProtoRAW:     "raw",
	ProtoSCTP:    "sctp",
	ProtoTCP:     "tcp",
	ProtoUDP:     "udp",
	ProtoUDPLite: "udplite",
	ProtoUnknown: "unknown",
}

// String returns the protocol's name ("tcp"), "" for ProtoNone.
func (p Proto) String() string {
	if int(p) < len(protoNames) {
		return protoNames[p]
	}
	return fmt.Sprintf("Proto(%d)", uint8(p))
}

// ParseProto returns the Proto named s ("" is ProtoNone).
func ParseProto(s string) (Proto, error) {
	for i, n := range protoNames {
		if n == s {
			return Proto(i), nil
		}
	}
	return ProtoNone, fmt.Errorf("unknown protocol %q", s)
}

// MarshalText returns the name.
func (p Proto) MarshalText() ([]byte, error) {
	if int(p) >= len(protoNames) {
		return nil, fmt.Errorf("invalid protocol %d", uint8(p))
	}
	return []byte(protoNames[p]), nil
}

// UnmarshalText reads a name; a name it does not know (a protocol a
// newer netlens names) reads as ProtoUnknown, so that a snapshot from a
// newer netlens of the same schema still loads (snapshot.Decode).
// ParseProto is the strict form.
func (p *Proto) UnmarshalText(b []byte) error {
	v, err := ParseProto(string(b))
	if err != nil {
		v = ProtoUnknown
	}
	*p = v
	return nil
}
