package ui

import (
	"net/netip"
	"strconv"
	"strings"
)

// A filter is words and terms separated by spaces, in any case. A row
// matches when it has every word in the text of its columns and meets
// every term. A term is key:value with a key the page knows (the
// Connections views know termKeys); any other word, "10.0.0.1:443" or
// "fe80::1" included, is plain text:
//
//	proto:udp       the protocol (tcp, udp, icmp, icmpv6, ...)
//	port:53         either end's port, in either direction of a flow
//	addr:10.0.0.1   either end's address; addr:10.0.0.0/8 a prefix
//	state:estab     the socket or conntrack state, by prefix; a flow's
//	                flags too (state:assured, state:unreplied)
//	nat:dnat        snat, dnat, both, any (some NAT) or none
//	mark:0x10       the conntrack mark (decimal or 0x hex)
//	zone:1          the conntrack zone
//
// A term with a value that cannot match (port:http) matches nothing.

// termKeys are the keys of the terms the Connections views understand.
var termKeys = []string{"proto", "port", "addr", "state", "nat", "mark", "zone"}

// filterTerm is one key:value term of a filter, its value parsed once.
type filterTerm struct {
	key, val string // lower case
	num      uint64 // port, mark, zone
	numOK    bool
	prefix   netip.Prefix // addr
}

// termMatcher is implemented by list sources that understand terms.
type termMatcher interface {
	// matchTerm reports whether row i meets t.
	matchTerm(i int, t *filterTerm) bool
}

// parsedFilter is a filter split into plain words and terms.
type parsedFilter struct {
	words [][]byte
	terms []filterTerm
}

// parseFilter splits a lower-case filter into words and terms; terms are
// recognised only when withTerms is set (the page understands them).
func parseFilter(lf string, withTerms bool) parsedFilter {
	var pf parsedFilter
	for _, f := range strings.Fields(lf) {
		if withTerms {
			if t, ok := parseTerm(f); ok {
				pf.terms = append(pf.terms, t)
				continue
			}
		}
		pf.words = append(pf.words, []byte(f))
	}
	return pf
}

// parseTerm parses "key:value" for a known key.
func parseTerm(f string) (filterTerm, bool) {
	k, v, ok := strings.Cut(f, ":")
	if !ok || v == "" {
		return filterTerm{}, false
	}
	known := false
	for _, tk := range termKeys {
		known = known || tk == k
	}
	if !known {
		return filterTerm{}, false
	}
	t := filterTerm{key: k, val: v}
	switch k {
	case "port", "zone":
		n, err := strconv.ParseUint(v, 10, 16)
		t.num, t.numOK = n, err == nil
	case "mark":
		n, err := strconv.ParseUint(v, 0, 32)
		t.num, t.numOK = n, err == nil
	case "addr":
		if p, err := netip.ParsePrefix(v); err == nil {
			a, bits := p.Addr(), p.Bits()
			if a.Is4In6() {
				a, bits = a.Unmap(), max(bits-96, 0)
			}
			t.prefix = netip.PrefixFrom(a, bits).Masked()
		} else if a, err := netip.ParseAddr(strings.Trim(v, "[]")); err == nil {
			a = a.Unmap().WithZone("")
			t.prefix = netip.PrefixFrom(a, a.BitLen())
		}
	case "proto":
		if t.val == "icmp6" || t.val == "ipv6-icmp" {
			t.val = "icmpv6"
		}
	}
	return t, true
}

// matchPort reports whether t (a port term) names p.
func (t *filterTerm) matchPort(p uint16) bool { return t.numOK && t.num == uint64(p) }

// matchAddr reports whether t (an addr term) contains a.
func (t *filterTerm) matchAddr(a netip.Addr) bool {
	return t.prefix.IsValid() && a.IsValid() && t.prefix.Contains(a.Unmap().WithZone(""))
}

// matchState reports whether t (a state term) is a prefix of name, any
// case, with '-' and '_' alike.
func (t *filterTerm) matchState(name string) bool {
	if len(t.val) > len(name) {
		return false
	}
	for i := 0; i < len(t.val); i++ {
		a, b := t.val[i], name[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a == '_' {
			a = '-'
		}
		if b == '_' {
			b = '-'
		}
		if a != b {
			return false
		}
	}
	return true
}
