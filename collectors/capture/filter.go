package capture

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket/layers"
)

// ErrFilter is wrapped by errors for filter expressions that are invalid
// or use tcpdump syntax netlens does not support. An unsupported
// expression is refused, never widened.
var ErrFilter = errors.New("capture filter")

// Supported is the filter syntax netlens compiles, for error messages and
// help.
const Supported = "host, src/dst host, net A/LEN, port, src/dst port, portrange A-B, " +
	"tcp, udp, icmp, icmp6, arp, ip, ip6, vlan [ID], and/or/not (&&, ||, !), parentheses"

// The parsed expression: a tree of and/or/not over comparisons of packet
// bytes, built with the offsets of an Ethernet frame (shifted by 4 after
// each "vlan", in the order they appear, as libpcap does).
type node interface{ isNode() }

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

// cmpNode loads size bytes at off (after the IPv4 header when ipHdr, at
// the offset whose IHL is at ipHdrAt), masks them, and compares.
type cmpNode struct {
	size    int // 1, 2, 4
	off     uint32
	ipHdr   bool
	ipHdrAt uint32
	mask    uint32
	op      cmpOp
	val     uint32
}

type cmpOp int

const (
	opEq  cmpOp = iota // jeq
	opSet              // jset
	opGe               // jge
	opGt               // jgt
)

// trueNode always holds (a /0 prefix).
type trueNode struct{}

func (trueNode) isNode() {}
func (andNode) isNode()  {}
func (orNode) isNode()   {}
func (notNode) isNode()  {}
func (cmpNode) isNode()  {}

func and(ns ...node) node {
	out := ns[0]
	for _, n := range ns[1:] {
		out = andNode{out, n}
	}
	return out
}

func or(ns ...node) node {
	out := ns[0]
	for _, n := range ns[1:] {
		out = orNode{out, n}
	}
	return out
}

// token is one word of the expression.
type token struct {
	s   string
	pos int
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')' || c == '!':
			out = append(out, token{string(c), i})
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			out = append(out, token{s[i : i+2], i})
			i += 2
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, token{s[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("%w: unexpected %q at offset %d", ErrFilter, c, i)
		}
	}
	return out, nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".:/-_", c) >= 0
}

// parser is a recursive-descent parser for the supported subset.
type parser struct {
	toks []token
	i    int
	// link is the offset of the network header: 14 on Ethernet, plus 4
	// per "vlan"; etherOff that of the Ethernet type (protocol) field.
	link, etherOff uint32
	ethernet       bool
	linkName       string
	// last qualifiers, for "host a or b" (tcpdump repeats them).
	last *prim
}

// prim is a primitive's qualifiers: [proto] [dir] [kind] id.
type prim struct {
	proto string // "", ip, ip6, arp, tcp, udp
	dir   string // "", src, dst
	kind  string // host, net, port, portrange
}

// Link layers a filter can be compiled for: where the network header and
// the Ethernet type (protocol) field are.
var linkOffsets = map[layers.LinkType]struct {
	link, etherOff uint32
}{
	layers.LinkTypeEthernet:  {14, 12},
	layers.LinkTypeLinuxSLL:  {16, 14}, // LINUX_SLL: protocol at 14
	layers.LinkTypeLinuxSLL2: {20, 0},  // LINUX_SLL2: protocol at 0
}

// parse parses expr into a tree for Ethernet frames.
func parse(expr string) (node, error) { return parseFor(expr, layers.LinkTypeEthernet) }

// parseFor parses expr into a tree for frames of link type lt.
func parseFor(expr string, lt layers.LinkType) (node, error) {
	off, ok := linkOffsets[lt]
	if !ok {
		return nil, fmt.Errorf("%w: link type %v not supported", ErrFilter, lt)
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("%w: empty expression", ErrFilter)
	}
	p := &parser{toks: toks, link: off.link, etherOff: off.etherOff, ethernet: lt == layers.LinkTypeEthernet, linkName: lt.String()}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, p.errf("unexpected %q", p.toks[p.i].s)
	}
	return n, nil
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].s
	}
	return ""
}

func (p *parser) errf(format string, args ...any) error {
	pos := "end of expression"
	if p.i < len(p.toks) {
		pos = "offset " + strconv.Itoa(p.toks[p.i].pos)
	}
	return fmt.Errorf("%w: %s (at %s)", ErrFilter, fmt.Sprintf(format, args...), pos)
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" || p.peek() == "||" {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" || p.peek() == "&&" {
		p.i++
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) not() (node, error) {
	if p.peek() == "not" || p.peek() == "!" {
		p.i++
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	if p.peek() == "(" {
		p.i++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, p.errf("missing )")
		}
		p.i++
		return n, nil
	}
	return p.primitive()
}

var unsupportedWords = map[string]bool{
	"ether": true, "gateway": true, "less": true, "greater": true, "proto": true, "broadcast": true,
	"multicast": true, "sctp": true, "rarp": true, "mpls": true, "pppoed": true, "pppoes": true,
	"geneve": true, "vxlan": true, "inbound": true, "outbound": true, "ifname": true, "on": true,
	"len": true, "mask": true, "protochain": true, "atalk": true, "decnet": true, "iso": true,
	"llc": true, "wlan": true, "type": true, "subtype": true, "dir": true, "ra": true, "ta": true,
	"addr1": true, "addr2": true, "addr3": true, "addr4": true, "igmp": true, "pim": true,
	"vrrp": true, "carp": true, "ah": true, "esp": true, "stp": true, "ipx": true, "netbeui": true,
	"lat": true, "moprc": true, "mopdl": true, "sca": true, "clnp": true, "esis": true, "isis": true,
}

func (p *parser) primitive() (node, error) {
	w := p.peek()
	switch {
	case w == "":
		return nil, p.errf("expression ends early")
	case unsupportedWords[w] || strings.ContainsAny(w, "[]") || strings.HasPrefix(w, "\\"):
		return nil, p.errf("%q is not supported (netlens supports: %s)", w, Supported)
	case w == "vlan" && !p.ethernet:
		return nil, p.errf("vlan is not supported on a %s capture (only on Ethernet)", p.linkName)
	case w == "vlan":
		p.i++
		n := p.vlan()
		if id, err := strconv.ParseUint(p.peek(), 10, 16); err == nil && p.peek() != "" {
			if id > 4095 {
				return nil, p.errf("VLAN id %d out of range 0-4095", id)
			}
			p.i++
			n = and(n, cmpNode{size: 2, off: p.link, mask: 0xfff, val: uint32(id)})
		}
		p.link += 4
		p.etherOff += 4
		p.last = nil
		return n, nil
	}
	var q prim
	if w == "ip" || w == "ip6" || w == "arp" || w == "tcp" || w == "udp" || w == "icmp" || w == "icmp6" {
		p.i++
		q.proto = w
	}
	if d := p.peek(); d == "src" || d == "dst" {
		p.i++
		q.dir = d
		if n := p.peek(); (n == "or" || n == "and") && p.i+1 < len(p.toks) && (p.toks[p.i+1].s == "src" || p.toks[p.i+1].s == "dst") {
			return nil, p.errf("%q is not supported (use two primitives)", d+" "+n+" "+p.toks[p.i+1].s)
		}
	}
	if k := p.peek(); k == "host" || k == "net" || k == "port" || k == "portrange" {
		p.i++
		q.kind = k
	}
	if q.kind == "" {
		if q.dir != "" {
			return nil, p.errf("%q needs host, net, port or portrange", q.dir)
		}
		if q.proto != "" {
			p.last = nil
			return p.protoOnly(q.proto)
		}
		// A bare id repeats the previous primitive's qualifiers.
		if p.last == nil || !isID(w) {
			return nil, p.errf("%q is not supported (netlens supports: %s)", w, Supported)
		}
		q = *p.last
	}
	if q.proto == "icmp" || q.proto == "icmp6" {
		return nil, p.errf("%q is not supported with %s", q.proto, q.kind)
	}
	id := p.peek()
	if !isID(id) {
		return nil, p.errf("%s needs a value", q.kind)
	}
	p.i++
	qq := q
	p.last = &qq
	switch q.kind {
	case "host":
		a, err := netip.ParseAddr(id)
		if err != nil || a.Zone() != "" {
			return nil, p.errf("host %q: not an IP address (names are not resolved)", id)
		}
		return p.net(q, netip.PrefixFrom(a, a.BitLen()))
	case "net":
		pf, err := netip.ParsePrefix(id)
		if err != nil {
			if a, aerr := netip.ParseAddr(id); aerr == nil && a.Is6() {
				pf, err = netip.PrefixFrom(a, 128), nil
			}
		}
		if err != nil {
			return nil, p.errf("net %q: want ADDRESS/LENGTH", id)
		}
		if pf.Masked() != pf {
			return nil, p.errf("net %q: non-network bits set", id)
		}
		return p.net(q, pf)
	case "port", "portrange":
		lo, hi, err := parsePorts(id, q.kind == "portrange")
		if err != nil {
			return nil, p.errf("%s %q: %v", q.kind, id, err)
		}
		return p.port(q, lo, hi)
	}
	return nil, p.errf("unreachable")
}

func isID(s string) bool {
	return s != "" && s != "and" && s != "or" && s != "not" && s != "(" && s != ")" && s != "!" && s != "&&" && s != "||"
}

func parsePorts(s string, isRange bool) (lo, hi uint32, err error) {
	a, b := s, s
	if isRange {
		var ok bool
		a, b, ok = strings.Cut(s, "-")
		if !ok {
			return 0, 0, errors.New("want LOW-HIGH")
		}
	} else if strings.Contains(s, "-") {
		return 0, 0, errors.New("use portrange for a range")
	}
	x, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, errors.New("not a port number (service names are not resolved)")
	}
	y, err := strconv.ParseUint(b, 10, 16)
	if err != nil {
		return 0, 0, errors.New("not a port number (service names are not resolved)")
	}
	if x > y {
		x, y = y, x
	}
	return uint32(x), uint32(y), nil
}

// Ethernet types and IP protocols.
const (
	etherIPv4  = 0x0800
	etherARP   = 0x0806
	etherRARP  = 0x8035
	etherIPv6  = 0x86dd
	protoICMP  = 1
	protoTCP   = 6
	protoUDP   = 17
	protoFrag  = 44
	protoICMP6 = 58
	protoSCTP  = 132
)

func (p *parser) ether(t uint32) node { return cmpNode{size: 2, off: p.etherOff, val: t} }

func (p *parser) vlan() node {
	return or(cmpNode{size: 2, off: p.link - 2, val: 0x8100}, cmpNode{size: 2, off: p.link - 2, val: 0x88a8}, cmpNode{size: 2, off: p.link - 2, val: 0x9100})
}

// ip4Proto and ip6Proto test the IP protocol the way libpcap does: IPv6
// looks past one fragment header when frag is set.
func (p *parser) ip4Proto(n uint32) node {
	return and(p.ether(etherIPv4), cmpNode{size: 1, off: p.link + 9, val: n})
}

func (p *parser) ip6Proto(n uint32, frag bool) node {
	nh := cmpNode{size: 1, off: p.link + 6, val: n}
	if !frag {
		return and(p.ether(etherIPv6), nh)
	}
	return and(p.ether(etherIPv6), or(nh, and(cmpNode{size: 1, off: p.link + 6, val: protoFrag}, cmpNode{size: 1, off: p.link + 40, val: n})))
}

func (p *parser) protoOnly(proto string) (node, error) {
	switch proto {
	case "ip":
		return p.ether(etherIPv4), nil
	case "ip6":
		return p.ether(etherIPv6), nil
	case "arp":
		return p.ether(etherARP), nil
	case "tcp":
		return or(p.ip4Proto(protoTCP), p.ip6Proto(protoTCP, true)), nil
	case "udp":
		return or(p.ip4Proto(protoUDP), p.ip6Proto(protoUDP, true)), nil
	case "icmp":
		return p.ip4Proto(protoICMP), nil
	case "icmp6":
		return p.ip6Proto(protoICMP6, true), nil
	}
	return nil, p.errf("unreachable proto %q", proto)
}

// words returns the 32-bit words of an address and of its mask, for a
// prefix.
func words(pf netip.Prefix) (addr, mask []uint32) {
	b := pf.Addr().AsSlice()
	bits := pf.Bits()
	for i := 0; i < len(b); i += 4 {
		w := uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
		m := uint32(0)
		switch n := bits - i*8; {
		case n >= 32:
			m = 0xffffffff
		case n > 0:
			m = ^uint32(0) << (32 - n)
		}
		if m == 0 {
			continue // libpcap skips words outside the prefix
		}
		addr, mask = append(addr, w&m), append(mask, m)
	}
	return addr, mask
}

// addrMatch tests the words at off against a prefix.
func addrMatch(off uint32, addr, mask []uint32, wordOffs []uint32) node {
	ns := []node{trueNode{}} // a /0 prefix tests no word
	if len(addr) > 0 {
		ns = ns[:0]
	}
	for i := range addr {
		m := mask[i]
		if m == 0xffffffff {
			m = 0
		}
		ns = append(ns, cmpNode{size: 4, off: off + wordOffs[i], mask: m, val: addr[i]})
	}
	return and(ns...)
}

func (p *parser) net(q prim, pf netip.Prefix) (node, error) {
	addr, mask := words(pf)
	if pf.Addr().Is4() {
		if q.proto == "ip6" || q.proto == "tcp" || q.proto == "udp" {
			if q.proto == "ip6" {
				return nil, p.errf("ip6 with an IPv4 address")
			}
		}
		one := []uint32{0}
		srcdst := func(srcOff, dstOff uint32) node {
			s := addrMatch(srcOff, addr, mask, one)
			d := addrMatch(dstOff, addr, mask, one)
			switch q.dir {
			case "src":
				return s
			case "dst":
				return d
			}
			return or(s, d)
		}
		ip := and(p.ether(etherIPv4), srcdst(p.link+12, p.link+16))
		arp := and(or(p.ether(etherARP), p.ether(etherRARP)), srcdst(p.link+14, p.link+24))
		switch q.proto {
		case "ip":
			return ip, nil
		case "arp":
			return and(p.ether(etherARP), srcdst(p.link+14, p.link+24)), nil
		case "":
			return or(ip, arp), nil
		}
		return nil, p.errf("%s host/net is not supported (use \"%s and host ...\")", q.proto, q.proto)
	}
	if q.proto != "" && q.proto != "ip6" {
		return nil, p.errf("%s with an IPv6 address", q.proto)
	}
	var offs []uint32
	for i := range 4 {
		offs = append(offs, uint32(4*i))
	}
	offs = offs[:len(addr)]
	s := addrMatch(p.link+8, addr, mask, offs)
	d := addrMatch(p.link+24, addr, mask, offs)
	var m node
	switch q.dir {
	case "src":
		m = s
	case "dst":
		m = d
	default:
		m = or(s, d)
	}
	return and(p.ether(etherIPv6), m), nil
}

func (p *parser) port(q prim, lo, hi uint32) (node, error) {
	var protos []uint32
	switch q.proto {
	case "":
		protos = []uint32{protoSCTP, protoTCP, protoUDP}
	case "tcp":
		protos = []uint32{protoTCP}
	case "udp":
		protos = []uint32{protoUDP}
	case "ip", "ip6":
		protos = []uint32{protoSCTP, protoTCP, protoUDP}
	default:
		return nil, p.errf("%s port is not supported", q.proto)
	}
	inRange := func(off uint32, ipHdr bool) node {
		if lo == hi {
			return cmpNode{size: 2, off: off, ipHdr: ipHdr, ipHdrAt: p.link, val: lo}
		}
		return and(cmpNode{size: 2, off: off, ipHdr: ipHdr, ipHdrAt: p.link, op: opGe, val: lo},
			notNode{cmpNode{size: 2, off: off, ipHdr: ipHdr, ipHdrAt: p.link, op: opGt, val: hi}})
	}
	ports := func(base uint32, ipHdr bool) node {
		switch q.dir {
		case "src":
			return inRange(base, ipHdr)
		case "dst":
			return inRange(base+2, ipHdr)
		}
		return or(inRange(base, ipHdr), inRange(base+2, ipHdr))
	}
	var p6, p4 []node
	for _, pr := range protos {
		p6 = append(p6, cmpNode{size: 1, off: p.link + 6, val: pr})
		p4 = append(p4, cmpNode{size: 1, off: p.link + 9, val: pr})
	}
	v6 := and(p.ether(etherIPv6), or(p6...), ports(p.link+40, false))
	v4 := and(p.ether(etherIPv4), or(p4...),
		notNode{cmpNode{size: 2, off: p.link + 6, op: opSet, val: 0x1fff}},
		ports(p.link, true))
	switch q.proto {
	case "ip":
		return v4, nil
	case "ip6":
		return v6, nil
	}
	return or(v6, v4), nil
}
