package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Conntrack states a rule can match (Rule.CTState), in the order nft(8)
// prints them.
var CTStates = []string{"new", "established", "related", "invalid", "untracked"}

// Negatable lists the matches a rule can negate (Rule.Negate), in
// canonical order.
var Negatable = []string{"src", "dst", "sport", "dport", "iif", "oif", "icmp", "tcp_flags", "ct_state"}

// TCP flag bits, as in the TCP header's flags byte (and nft's tcp_flag
// type).
const (
	TCPFin uint8 = 0x01
	TCPSyn uint8 = 0x02
	TCPRst uint8 = 0x04
	TCPPsh uint8 = 0x08
	TCPAck uint8 = 0x10
	TCPUrg uint8 = 0x20
	TCPEcn uint8 = 0x40
	TCPCwr uint8 = 0x80
)

var tcpFlagNames = []string{"fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"}

// icmpName is one of nft(8)'s symbolic constants: a name and its number.
type icmpName struct {
	name string
	num  uint8
}

// The symbol tables of nft(8) (nftables src/proto.c and datatype.c:
// icmp_type, icmpv6_type, icmp_code, icmpv6_code), in the order nft keeps
// them; `nft describe icmp type` prints them and
// TestIntegrationICMPNamesNft checks these against it. A number with two
// names prints as the first (nft's mld-listener-done, not its alias
// mld-listener-reduction).
var (
	icmpTypes4 = []icmpName{
		{"echo-reply", 0}, {"destination-unreachable", 3}, {"source-quench", 4}, {"redirect", 5},
		{"echo-request", 8}, {"router-advertisement", 9}, {"router-solicitation", 10}, {"time-exceeded", 11},
		{"parameter-problem", 12}, {"timestamp-request", 13}, {"timestamp-reply", 14}, {"info-request", 15},
		{"info-reply", 16}, {"address-mask-request", 17}, {"address-mask-reply", 18},
	}
	icmpTypes6 = []icmpName{
		{"destination-unreachable", 1}, {"packet-too-big", 2}, {"time-exceeded", 3}, {"parameter-problem", 4},
		{"echo-request", 128}, {"echo-reply", 129}, {"mld-listener-query", 130}, {"mld-listener-report", 131},
		{"mld-listener-done", 132}, {"mld-listener-reduction", 132}, {"nd-router-solicit", 133},
		{"nd-router-advert", 134}, {"nd-neighbor-solicit", 135}, {"nd-neighbor-advert", 136},
		{"nd-redirect", 137}, {"router-renumbering", 138}, {"ind-neighbor-solicit", 141},
		{"ind-neighbor-advert", 142}, {"mld2-listener-report", 143},
	}
	icmpCodes4 = []icmpName{
		{"net-unreachable", 0}, {"host-unreachable", 1}, {"prot-unreachable", 2}, {"port-unreachable", 3},
		{"net-prohibited", 9}, {"host-prohibited", 10}, {"admin-prohibited", 13}, {"frag-needed", 4},
	}
	icmpCodes6 = []icmpName{
		{"no-route", 0}, {"admin-prohibited", 1}, {"addr-unreachable", 3}, {"port-unreachable", 4},
		{"policy-fail", 5}, {"reject-route", 6},
	}
)

// icmpTables returns the type and code names of protocol proto (58
// icmpv6, else icmp).
func icmpTables(proto uint8) (types, codes []icmpName) {
	if proto == 58 {
		return icmpTypes6, icmpCodes6
	}
	return icmpTypes4, icmpCodes4
}

func lookupName(tbl []icmpName, name string) (uint8, bool) {
	for _, e := range tbl {
		if e.name == name {
			return e.num, true
		}
	}
	return 0, false
}

// nameOf returns the first name of n in tbl, or its number.
func nameOf(tbl []icmpName, n uint8) string {
	for _, e := range tbl {
		if e.num == n {
			return e.name
		}
	}
	return strconv.Itoa(int(n))
}

// ICMPTypeNames returns nft(8)'s names of the ICMP (proto 1) or ICMPv6
// (58) types with their numbers (aliases included).
func ICMPTypeNames(proto uint8) map[string]uint8 { t, _ := icmpTables(proto); return nameMap(t) }

// ICMPCodeNames returns nft(8)'s names of the ICMP (proto 1) or ICMPv6
// (58) codes with their numbers.
func ICMPCodeNames(proto uint8) map[string]uint8 { _, c := icmpTables(proto); return nameMap(c) }

func nameMap(tbl []icmpName) map[string]uint8 {
	m := make(map[string]uint8, len(tbl))
	for _, e := range tbl {
		m[e.name] = e.num
	}
	return m
}

// ICMPMatch is a parsed Rule.ICMP: a type and, when HasCode, a code.
type ICMPMatch struct {
	Type, Code uint8
	HasCode    bool
}

// ParseICMP parses a Rule.ICMP for protocol proto (1 icmp or 58 icmpv6):
// a type and an optional code, each by nft(8)'s name or by number:
// "echo-request", "8", "destination-unreachable/port-unreachable",
// "destination-unreachable/3", "3/1". As in nft, a code name does not
// depend on the type.
func ParseICMP(s string, proto uint8) (ICMPMatch, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	typ, code, hasCode := strings.Cut(s, "/")
	typ = strings.TrimSpace(typ)
	types, codes := icmpTables(proto)
	var m ICMPMatch
	if n, ok := lookupName(types, typ); ok {
		m.Type = n
	} else if n, err := strconv.ParseUint(typ, 10, 8); err == nil {
		m.Type = uint8(n)
	} else {
		return ICMPMatch{}, fmt.Errorf("icmp type %q is not a number 0-255 or a name (echo-request, echo-reply, destination-unreachable, ...)", typ)
	}
	if hasCode {
		code = strings.TrimSpace(code)
		if n, ok := lookupName(codes, code); ok {
			m.Code = n
		} else if n, err := strconv.ParseUint(code, 10, 8); err == nil {
			m.Code = uint8(n)
		} else {
			return ICMPMatch{}, fmt.Errorf("icmp code %q is not a number 0-255 or a name (%s)", code, namesOf(codes))
		}
		m.HasCode = true
	}
	return m, nil
}

func namesOf(tbl []icmpName) string {
	out := make([]string, len(tbl))
	for i, e := range tbl {
		out[i] = e.name
	}
	return strings.Join(out, ", ")
}

// FormatICMP returns the canonical Rule.ICMP of m, as stored and in JSON:
// the type's name when it has one, then "/" and the code as a number
// ("destination-unreachable/3"). DisplayICMP names the code too.
func FormatICMP(m ICMPMatch, proto uint8) string {
	types, _ := icmpTables(proto)
	s := nameOf(types, m.Type)
	if m.HasCode {
		s += "/" + strconv.Itoa(int(m.Code))
	}
	return s
}

// DisplayICMP returns a Rule.ICMP as nft(8) prints it, type and code by
// name where nft has one, else by number: "destination-unreachable/port-unreachable",
// "echo-request", "200/7". Text that does not parse is returned as it is.
func DisplayICMP(s string, proto uint8) string {
	m, err := ParseICMP(s, proto)
	if err != nil {
		return s
	}
	types, codes := icmpTables(proto)
	out := nameOf(types, m.Type)
	if m.HasCode {
		out += "/" + nameOf(codes, m.Code)
	}
	return out
}

// ParseTCPFlags parses a Rule.TCPFlags: "syn,ack" (value and mask both
// SYN|ACK) or "syn/syn,ack" (value SYN of mask SYN|ACK). The value must
// be within the mask.
func ParseTCPFlags(s string) (value, mask uint8, err error) {
	vs, ms, hasMask := strings.Cut(s, "/")
	if value, err = parseFlagList(vs, hasMask); err != nil {
		return 0, 0, err
	}
	mask = value
	if hasMask {
		if mask, err = parseFlagList(ms, false); err != nil {
			return 0, 0, err
		}
		if mask == 0 {
			return 0, 0, fmt.Errorf("tcp flags %q: the mask after / names no flag", s)
		}
		if value&^mask != 0 {
			return 0, 0, fmt.Errorf("tcp flags %q: %s is not in the mask", s, formatFlagList(value&^mask))
		}
	}
	if mask == 0 {
		return 0, 0, fmt.Errorf("tcp flags %q names no flag", s)
	}
	return value, mask, nil
}

// parseFlagList parses "syn,ack" (or "syn|ack"); empty is allowed before
// a mask ("/syn,ack": none of them set).
func parseFlagList(s string, emptyOK bool) (uint8, error) {
	var v uint8
	s = strings.TrimSpace(s)
	if s == "" && emptyOK {
		return 0, nil
	}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' || r == ' ' }) {
		i := slices.Index(tcpFlagNames, strings.ToLower(f))
		if i < 0 {
			return 0, fmt.Errorf("unknown tcp flag %q (%s)", f, strings.Join(tcpFlagNames, ", "))
		}
		v |= 1 << i
	}
	if v == 0 && !emptyOK {
		return 0, fmt.Errorf("no tcp flag in %q", s)
	}
	return v, nil
}

func formatFlagList(v uint8) string {
	var out []string
	for i, n := range tcpFlagNames {
		if v&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// PacketTCPFlags returns the flags set in a TCP header's flags byte as the
// packet log shows them: "SYN,ACK".
func PacketTCPFlags(b uint8) string {
	var out []string
	for i, n := range []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"} {
		if b&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// FormatTCPFlags returns the canonical Rule.TCPFlags of a value and mask:
// "syn,ack" when they are equal, else "syn/syn,ack".
func FormatTCPFlags(value, mask uint8) string {
	if value == mask {
		return formatFlagList(value)
	}
	return formatFlagList(value) + "/" + formatFlagList(mask)
}

// ParseCTState parses a comma-separated list of conntrack states
// ("new", "established,related").
func ParseCTState(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		f = strings.ToLower(f)
		if !slices.Contains(CTStates, f) {
			return nil, fmt.Errorf("unknown conntrack state %q (%s)", f, strings.Join(CTStates, ", "))
		}
		out = append(out, f)
	}
	return normalizeNames(out, CTStates), nil
}

// ParseNegate parses a comma-separated list of the matches to negate
// ("src,dport").
func ParseNegate(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		f = strings.ToLower(f)
		if !slices.Contains(Negatable, f) {
			return nil, fmt.Errorf("cannot negate %q (%s)", f, strings.Join(Negatable, ", "))
		}
		out = append(out, f)
	}
	return normalizeNames(out, Negatable), nil
}

// normalizeNames orders names as in order, without duplicates; unknown
// names go last, sorted. nil for none.
func normalizeNames(names, order []string) []string {
	if len(names) == 0 {
		return nil
	}
	out := slices.Clone(names)
	slices.SortFunc(out, func(a, b string) int {
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(out)
}

// NormalizeNegate returns the names of a Rule.Negate in canonical order
// without duplicates (nil for none).
func NormalizeNegate(negate []string) []string { return normalizeNames(negate, Negatable) }

// CutNegation splits a leading "!" (or "!=") off a form or CLI value, as
// nft's "ip saddr != 10.0.0.0/8": "!10.0.0.0/8" is ("10.0.0.0/8", true).
func CutNegation(s string) (string, bool) {
	t := strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(t, "!="); ok {
		return strings.TrimSpace(rest), true
	}
	if rest, ok := strings.CutPrefix(t, "!"); ok {
		return strings.TrimSpace(rest), true
	}
	return s, false
}

// Negated reports whether a rule negates the match named field.
func Negated(negate []string, field string) bool { return slices.Contains(negate, field) }
