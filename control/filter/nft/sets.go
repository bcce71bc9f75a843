package nft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/big"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"netlens/model"
	"netlens/model/rules"
)

// A rule's sets are named nftables sets of the table, one per field a rule
// matches against a set ("ip saddr @nl7_saddr_1f2e3d4c"). The name holds
// the rule id, the field and a hash of the elements, so a set never
// changes once made: a change of the elements makes a set of another name
// in the same batch as the rule's new copies, and gcSets removes the sets
// no rule uses any more after every change. Address sets of hosts are
// plain hash sets; with a shorter prefix the set is an interval set whose
// elements are the prefixes' ranges.

// setField is one of the fields a rule can match against a set.
type setField int

const (
	setSaddr setField = iota
	setDaddr
	setSport
	setDport
	numSetFields
)

var setFieldNames = [numSetFields]string{"saddr", "daddr", "sport", "dport"}

// setRefs are the names of the sets a copy looks up, by field ("" none).
type setRefs [numSetFields]string

// ruleSets returns r's sets by field: prefixes for the address fields,
// ports for the port fields.
func ruleSets(r model.Rule) (pfx [2][]netip.Prefix, ports [2][]uint16) {
	return [2][]netip.Prefix{rules.NormalizePrefixSet(r.SrcSet), rules.NormalizePrefixSet(r.DstSet)},
		[2][]uint16{rules.NormalizePortSet(r.SrcPortSet), rules.NormalizePortSet(r.DstPortSet)}
}

// disjoint drops the prefixes another prefix of the sorted set covers: an
// interval set refuses overlapping ranges, and the match is the same.
func disjoint(set []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range set {
		if n := len(out); n > 0 && out[n-1].Overlaps(p) {
			if p.Bits() < out[n-1].Bits() {
				out[n-1] = p
			}
			continue
		}
		out = append(out, p)
	}
	return out
}

// setName is the name of rule id's set of field f with these elements.
func setName(id uint32, f setField, pfx []netip.Prefix, ports []uint16) string {
	h := fnv.New32a()
	for _, p := range pfx {
		b, _ := p.MarshalBinary()
		h.Write(b)
	}
	for _, p := range ports {
		h.Write(be16(p))
	}
	return fmt.Sprintf("nl%d_%s_%08x", id, setFieldNames[f], h.Sum32())
}

// lastOf returns the last address of p plus one, and false when p runs to
// the end of the address space (the interval then has no end element).
func endOf(p netip.Prefix) ([]byte, bool) {
	a := p.Addr().AsSlice()
	n := new(big.Int).SetBytes(a)
	n.Add(n, new(big.Int).Lsh(big.NewInt(1), uint(len(a)*8-p.Bits())))
	if n.BitLen() > len(a)*8 {
		return nil, false
	}
	return n.FillBytes(make([]byte, len(a))), true
}

// nftSet returns the set of field f and its elements; nil when r has none.
func nftSet(r model.Rule, f setField) (*nftables.Set, []nftables.SetElement) {
	pfxs, portss := ruleSets(r)
	var (
		s   = &nftables.Set{Table: table}
		els []nftables.SetElement
	)
	switch f {
	case setSaddr, setDaddr:
		pfx := disjoint(pfxs[f-setSaddr])
		if len(pfx) == 0 {
			return nil, nil
		}
		s.Name = setName(r.ID, f, pfx, nil)
		s.KeyType = nftables.TypeIPAddr
		if pfx[0].Addr().Is6() {
			s.KeyType = nftables.TypeIP6Addr
		}
		for _, p := range pfx {
			if p.Bits() != p.Addr().BitLen() {
				s.Interval = true
			}
		}
		for _, p := range pfx {
			els = append(els, nftables.SetElement{Key: p.Addr().AsSlice()})
			if !s.Interval {
				continue
			}
			if end, ok := endOf(p); ok {
				els = append(els, nftables.SetElement{Key: end, IntervalEnd: true})
			}
		}
	default:
		ports := portss[f-setSport]
		if len(ports) == 0 {
			return nil, nil
		}
		s.Name = setName(r.ID, f, nil, ports)
		s.KeyType = nftables.TypeInetService
		for _, p := range ports {
			els = append(els, nftables.SetElement{Key: be16(p)})
		}
	}
	return s, els
}

// setLookups returns the expressions that match r's sets: for each, the
// field loaded into register 1 and a lookup in the set queueSets made.
func setLookups(r model.Rule) []expr.Any {
	var ex []expr.Any
	for f := setSaddr; f < numSetFields; f++ {
		s, _ := nftSet(r, f)
		if s == nil {
			continue
		}
		var p *expr.Payload
		switch {
		case f == setSport || f == setDport:
			p = &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: uint32(2 * (f - setSport)), Len: 2}
		case s.KeyType == nftables.TypeIPAddr:
			p = &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: uint32(12 + 4*f), Len: 4}
		default:
			p = &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: uint32(8 + 16*f), Len: 16}
		}
		ex = append(ex, p, &expr.Lookup{SourceRegister: 1, SetName: s.Name,
			Invert: rules.Negated(r.Negate, []string{"src", "dst", "sport", "dport"}[f])})
	}
	return ex
}

// queueSets queues r's sets (a set of that name that exists has the same
// elements: adding it again changes nothing).
func queueSets(c *nftables.Conn, r model.Rule) error {
	for f := setSaddr; f < numSetFields; f++ {
		s, els := nftSet(r, f)
		if s == nil {
			continue
		}
		if err := c.AddSet(s, nil); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
		for len(els) > 0 { // messages of at most 64 KiB
			n := min(len(els), 2000)
			if err := c.SetAddElements(s, els[:n]); err != nil {
				return fmt.Errorf("set %s: %w", s.Name, err)
			}
			els = els[n:]
		}
	}
	return nil
}

// prefixesOf turns the elements of a set back into prefixes: the keys of a
// hash set, or the [start, end) ranges of an interval set, each the range
// of one prefix (as nftSet made them).
func prefixesOf(s *nftables.Set, els []nftables.SetElement) ([]netip.Prefix, error) {
	var out []netip.Prefix
	if !s.Interval {
		for _, e := range els {
			a, ok := netip.AddrFromSlice(e.Key)
			if !ok {
				return nil, fmt.Errorf("set %s: element of %d bytes", s.Name, len(e.Key))
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
		return out, nil
	}
	// by key; at one key the end of a range comes before the start of the
	// next (adjacent prefixes)
	slices.SortStableFunc(els, func(a, b nftables.SetElement) int {
		if c := bytes.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		switch {
		case a.IntervalEnd == b.IntervalEnd:
			return 0
		case a.IntervalEnd:
			return -1
		}
		return 1
	})
	for i := 0; i < len(els); i++ {
		e := els[i]
		if e.IntervalEnd {
			continue // the end of the space's start (nft's own), or one we passed
		}
		a, ok := netip.AddrFromSlice(e.Key)
		if !ok {
			return nil, fmt.Errorf("set %s: element of %d bytes", s.Name, len(e.Key))
		}
		size := new(big.Int).Lsh(big.NewInt(1), uint(a.BitLen())) // to the end
		if i+1 < len(els) && els[i+1].IntervalEnd {
			size.Sub(new(big.Int).SetBytes(els[i+1].Key), new(big.Int).SetBytes(e.Key))
			i++
		} else {
			size.Sub(size, new(big.Int).SetBytes(e.Key))
		}
		bits := a.BitLen() - (size.BitLen() - 1)
		p := netip.PrefixFrom(a, bits)
		if size.Cmp(new(big.Int).Lsh(big.NewInt(1), uint(a.BitLen()-bits))) != 0 || p.Masked() != p {
			return nil, fmt.Errorf("set %s: range at %s is not a prefix", s.Name, a)
		}
		out = append(out, p)
	}
	return out, nil
}

// resolveSets fills in the sets a copy looks up, read from the kernel.
func resolveSets(c *nftables.Conn, r *model.Rule, refs setRefs) error {
	for f, name := range refs {
		if name == "" {
			continue
		}
		s, err := c.GetSetByName(table, name)
		if err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
		els, err := c.GetSetElements(s)
		if err != nil {
			return fmt.Errorf("set %s elements: %w", name, err)
		}
		switch setField(f) {
		case setSaddr, setDaddr:
			pfx, err := prefixesOf(s, els)
			if err != nil {
				return err
			}
			pfx = rules.NormalizePrefixSet(pfx)
			if setField(f) == setSaddr {
				r.SrcSet = pfx
			} else {
				r.DstSet = pfx
			}
		default:
			var ports []uint16
			for _, e := range els {
				if len(e.Key) != 2 {
					return fmt.Errorf("set %s: element of %d bytes", name, len(e.Key))
				}
				ports = append(ports, binary.BigEndian.Uint16(e.Key))
			}
			ports = rules.NormalizePortSet(ports)
			if setField(f) == setSport {
				r.SrcPortSet = ports
			} else {
				r.DstPortSet = ports
			}
		}
	}
	return nil
}

// gcSets deletes the netlens sets of the table that no rule looks up any
// more (those of a deleted rule, or the old elements of a changed one).
func gcSets(c *nftables.Conn, copies []copyRule) error {
	sets, err := c.GetSets(table)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, cp := range copies {
		for _, n := range cp.sets {
			used[n] = true
		}
	}
	n := 0
	for _, s := range sets {
		if strings.HasPrefix(s.Name, "nl") && !used[s.Name] {
			c.DelSet(s)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return c.Flush()
}
