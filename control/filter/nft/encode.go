package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"netlens/internal/proto"
	"netlens/model"
	"netlens/model/rules"
)

// errForeign is returned by decodeRule for a rule netlens did not write.
var errForeign = errors.New("not a netlens rule")

// User data TLV types (libnftnl's NFTNL_UDATA_RULE_* numbering: 0 is the
// comment nft(8) shows; nft ignores types it does not know).
const (
	udataComment = 0    // NFTNL_UDATA_RULE_COMMENT
	udataNetlens = 0x4e // netlens: version, id, priority, hooks, flags
	udataVersion = 1

	// metaLogCopy (in meta.Flags): the copy is a rule's packet log
	// companion (log.go), not the rule.
	metaLogCopy = 1 << 0
)

// meta is what a netlens rule keeps in its user data.
type meta struct {
	ID       uint32
	Priority uint32
	Hooks    uint8 // bit n: hook NF_INET_* n
	Flags    uint8 // metaLogCopy
	Label    string
}

func encodeUserData(m meta) []byte {
	v := []byte{udataVersion}
	v = binary.BigEndian.AppendUint32(v, m.ID)
	v = binary.BigEndian.AppendUint32(v, m.Priority)
	v = append(v, m.Hooks)
	if m.Flags != 0 {
		v = append(v, m.Flags)
	}
	var ud []byte
	if m.Label != "" {
		// a TLV length is one byte; labels are at most 64 bytes anyway
		c := append([]byte(m.Label[:min(len(m.Label), 200)]), 0)
		ud = append(ud, udataComment, byte(len(c)))
		ud = append(ud, c...)
	}
	ud = append(ud, udataNetlens, byte(len(v)))
	return append(ud, v...)
}

// decodeUserData parses user data written by encodeUserData. ok is false
// when there is no netlens TLV. It never trusts lengths.
func decodeUserData(ud []byte) (m meta, ok bool) {
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			break
		}
		v := ud[2 : 2+n]
		switch typ {
		case udataComment:
			if n > 0 && v[n-1] == 0 {
				v = v[:n-1]
			}
			m.Label = string(v)
		case udataNetlens:
			if n >= 10 && v[0] == udataVersion {
				m.ID = binary.BigEndian.Uint32(v[1:])
				m.Priority = binary.BigEndian.Uint32(v[5:])
				m.Hooks = v[9]
				m.Flags = 0
				if n >= 11 {
					m.Flags = v[10]
				}
				ok = true
			}
		}
		ud = ud[2+n:]
	}
	return m, ok && m.ID != 0
}

// ctStateBits are the kernel's NF_CT_STATE_*_BIT of each state (nft's
// ct_state type), in a 32-bit register in host byte order.
var ctStateBits = map[string]uint32{
	"invalid":     1 << 0, // NF_CT_STATE_INVALID_BIT
	"established": 1 << 1, // NF_CT_STATE_BIT(IP_CT_ESTABLISHED)
	"related":     1 << 2, // NF_CT_STATE_BIT(IP_CT_RELATED)
	"new":         1 << 3, // NF_CT_STATE_BIT(IP_CT_NEW)
	"untracked":   1 << 6, // NF_CT_STATE_UNTRACKED_BIT
}

// tcpFlagsOffset is the offset of the flags byte in the TCP header.
const tcpFlagsOffset = 13

func ifname(s string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, s)
	return b
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// encodeRule returns the expressions of one nftables copy of r: its
// matches, a counter starting at the given values, and its verdict.
func encodeRule(r model.Rule, packets, bytes uint64) ([]expr.Any, error) {
	ex, err := encodeMatches(r)
	if err != nil {
		return nil, err
	}
	ex = append(ex, &expr.Counter{Packets: packets, Bytes: bytes})
	switch r.Action {
	case model.ActionAccept:
		ex = append(ex, &expr.Verdict{Kind: expr.VerdictAccept})
	case model.ActionDrop:
		ex = append(ex, &expr.Verdict{Kind: expr.VerdictDrop})
	case model.ActionReject:
		// as the kmod backend: a TCP reset for tcp, else port unreachable
		// (icmpx: ICMP or ICMPv6 by the packet's family)
		if r.Proto == "tcp" || r.Proto == "6" {
			ex = append(ex, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
		} else {
			ex = append(ex, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})
		}
	case model.ActionCount:
	default:
		return nil, fmt.Errorf("unknown action %q", r.Action)
	}
	return ex, nil
}

// encodeMatches returns the match expressions of r.
func encodeMatches(r model.Rule) ([]expr.Any, error) {
	var ex []expr.Any
	cmpEq := func(data []byte) expr.Any { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }
	// cmpOf compares for equality, or for inequality when field is negated
	// (nft's "!=")
	cmpOf := func(field string, data []byte) expr.Any {
		if rules.Negated(r.Negate, field) {
			return &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: data}
		}
		return cmpEq(data)
	}
	if len(r.CTState) > 0 {
		// as nft's "ct state new,established": the state's bit is one of
		// them (negated: none of them)
		var bits uint32
		for _, st := range r.CTState {
			b, ok := ctStateBits[st]
			if !ok {
				return nil, fmt.Errorf("unknown conntrack state %q", st)
			}
			bits |= b
		}
		op := expr.CmpOpNeq
		if rules.Negated(r.Negate, "ct_state") {
			op = expr.CmpOpEq
		}
		ex = append(ex, &expr.Ct{Key: expr.CtKeySTATE, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binary.NativeEndian.AppendUint32(nil, bits), Xor: make([]byte, 4)},
			&expr.Cmp{Op: op, Register: 1, Data: make([]byte, 4)})
	}
	fam := r.Family
	if fam == "" || fam == model.RuleFamilyBoth {
		for _, set := range [][]netip.Prefix{r.SrcSet, r.DstSet} {
			if len(set) > 0 {
				fam = model.FamilyIPv4
				if set[0].Addr().Is6() {
					fam = model.FamilyIPv6
				}
			}
		}
		for _, p := range []netip.Prefix{r.Src, r.Dst} {
			if p.IsValid() {
				fam = model.FamilyIPv4
				if p.Addr().Is6() {
					fam = model.FamilyIPv6
				}
			}
		}
	}
	switch fam {
	case model.FamilyIPv4:
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, cmpEq([]byte{unix.NFPROTO_IPV4}))
	case model.FamilyIPv6:
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, cmpEq([]byte{unix.NFPROTO_IPV6}))
	}
	pn, err := proto.Num(r.Proto)
	if err != nil {
		return nil, err
	}
	if pn != 0 {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, cmpEq([]byte{pn}))
	}
	for i, p := range []netip.Prefix{r.Src, r.Dst} {
		if !p.IsValid() {
			continue
		}
		a := p.Addr().AsSlice()
		off := uint32(12 + 4*i) // saddr, daddr of struct iphdr
		if len(a) == 16 {
			off = uint32(8 + 16*i) // of struct ipv6hdr
		}
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(len(a))})
		if p.Bits() < len(a)*8 {
			mask := make([]byte, len(a))
			for b := 0; b < p.Bits(); b++ {
				mask[b/8] |= 0x80 >> (b % 8)
			}
			ex = append(ex, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(a)), Mask: mask, Xor: make([]byte, len(a))})
		}
		ex = append(ex, cmpOf([]string{"src", "dst"}[i], a))
	}
	for i, pr := range []model.PortRange{r.SrcPorts, r.DstPorts} {
		if pr.Any() {
			continue
		}
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: uint32(2 * i), Len: 2})
		field := []string{"sport", "dport"}[i]
		if pr.Min == pr.Max {
			ex = append(ex, cmpOf(field, be16(pr.Min)))
		} else {
			op := expr.CmpOpEq
			if rules.Negated(r.Negate, field) {
				op = expr.CmpOpNeq
			}
			ex = append(ex, &expr.Range{Op: op, Register: 1, FromData: be16(pr.Min), ToData: be16(pr.Max)})
		}
	}
	ex = append(ex, setLookups(r)...)
	if r.ICMP != "" {
		// "icmp type echo-request" (1 byte at the start of the ICMP
		// header); with a code, as nft: type and code in one 2-byte load
		m, err := rules.ParseICMP(r.ICMP, pn)
		if err != nil {
			return nil, err
		}
		if m.HasCode {
			ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
				cmpOf("icmp", []byte{m.Type, m.Code}))
		} else {
			ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
				cmpOf("icmp", []byte{m.Type}))
		}
	}
	if r.TCPFlags != "" {
		// "tcp flags syn / syn,ack": the flags byte at offset 13, masked
		v, m, err := rules.ParseTCPFlags(r.TCPFlags)
		if err != nil {
			return nil, err
		}
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: tcpFlagsOffset, Len: 1})
		if m != 0xff {
			ex = append(ex, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{m}, Xor: []byte{0}})
		}
		ex = append(ex, cmpOf("tcp_flags", []byte{v}))
	}
	if r.InIface != "" {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, cmpOf("iif", ifname(r.InIface)))
	}
	if r.OutIface != "" {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, cmpOf("oif", ifname(r.OutIface)))
	}
	return ex, nil
}

// decodeRule reads the matches, counter and verdict of an nftables rule
// netlens wrote, and the names of the sets it looks up (resolveSets reads
// their elements); it returns errForeign for any other expression.
func decodeRule(ex []expr.Any) (r model.Rule, refs setRefs, err error) {
	r.Action = model.ActionCount
	r.Family = model.RuleFamilyBoth
	foreign := func(what string) (model.Rule, setRefs, error) {
		return model.Rule{}, setRefs{}, fmt.Errorf("%s: %w", what, errForeign)
	}
	seenCounter, seenVerdict := false, false
	var negate []string
	// isEq reads a comparison's operator: equality, or inequality of a
	// negated field
	isEq := func(op expr.CmpOp, field string) bool {
		switch op {
		case expr.CmpOpEq:
			return true
		case expr.CmpOpNeq:
			negate = append(negate, field)
			return true
		}
		return false
	}
	for i := 0; i < len(ex); i++ {
		if seenVerdict {
			return foreign("expression after the verdict")
		}
		next := func() expr.Any {
			if i+1 < len(ex) {
				i++
				return ex[i]
			}
			return nil
		}
		switch e := ex[i].(type) {
		case *expr.Ct:
			bw, ok1 := next().(*expr.Bitwise)
			c, ok2 := next().(*expr.Cmp)
			if e.Key != expr.CtKeySTATE || e.SourceRegister || !ok1 || !ok2 || len(bw.Mask) != 4 ||
				!slices.Equal(bw.Xor, make([]byte, 4)) || !slices.Equal(c.Data, make([]byte, 4)) {
				return foreign("ct match")
			}
			bits := binary.NativeEndian.Uint32(bw.Mask)
			for _, st := range rules.CTStates {
				if bits&ctStateBits[st] != 0 {
					r.CTState = append(r.CTState, st)
					bits &^= ctStateBits[st]
				}
			}
			switch {
			case bits != 0 || len(r.CTState) == 0:
				return foreign("ct state bits")
			case c.Op == expr.CmpOpEq:
				negate = append(negate, "ct_state")
			case c.Op != expr.CmpOpNeq:
				return foreign("ct state comparison")
			}
		case *expr.Meta:
			c, ok := next().(*expr.Cmp)
			if !ok || e.SourceRegister || c.Register != e.Register {
				return foreign("meta without a comparison")
			}
			if c.Op != expr.CmpOpEq && !(c.Op == expr.CmpOpNeq && (e.Key == expr.MetaKeyIIFNAME || e.Key == expr.MetaKeyOIFNAME)) {
				return foreign("meta without an equality")
			}
			switch e.Key {
			case expr.MetaKeyNFPROTO:
				switch {
				case slices.Equal(c.Data, []byte{unix.NFPROTO_IPV4}):
					r.Family = model.FamilyIPv4
				case slices.Equal(c.Data, []byte{unix.NFPROTO_IPV6}):
					r.Family = model.FamilyIPv6
				default:
					return foreign("nfproto")
				}
			case expr.MetaKeyL4PROTO:
				if len(c.Data) != 1 {
					return foreign("l4proto")
				}
				r.Proto = proto.Name(c.Data[0])
			case expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME:
				n := string(trimNUL(c.Data))
				if e.Key == expr.MetaKeyIIFNAME {
					r.InIface = n
					isEq(c.Op, "iif")
				} else {
					r.OutIface = n
					isEq(c.Op, "oif")
				}
			default:
				return foreign("meta key")
			}
		case *expr.Payload:
			if e.OperationType != expr.PayloadLoad {
				return foreign("payload write")
			}
			n := next()
			if lk, ok := n.(*expr.Lookup); ok {
				f, ok := lookupField(e)
				if !ok || lk.IsDestRegSet || lk.SourceRegister != e.DestRegister ||
					!strings.HasPrefix(lk.SetName, "nl") {
					return foreign("set lookup")
				}
				refs[f] = lk.SetName
				if lk.Invert {
					negate = append(negate, []string{"src", "dst", "sport", "dport"}[f])
				}
				continue
			}
			var mask []byte
			if bw, ok := n.(*expr.Bitwise); ok {
				mask = bw.Mask
				n = next()
			}
			switch e.Base {
			case expr.PayloadBaseNetworkHeader:
				c, ok := n.(*expr.Cmp)
				if !ok || len(c.Data) != int(e.Len) {
					return foreign("address match")
				}
				op := c.Op
				a, ok := netip.AddrFromSlice(c.Data)
				if !ok {
					return foreign("address")
				}
				plen := a.BitLen()
				if mask != nil {
					plen = 0
					for _, b := range mask {
						plen += bits.OnesCount8(b)
					}
				}
				p := netip.PrefixFrom(a, plen)
				switch {
				case e.Len == 4 && e.Offset == 12, e.Len == 16 && e.Offset == 8:
					r.Src = p
					ok = isEq(op, "src")
				case e.Len == 4 && e.Offset == 16, e.Len == 16 && e.Offset == 24:
					r.Dst = p
					ok = isEq(op, "dst")
				default:
					return foreign("network header field")
				}
				if !ok {
					return foreign("address comparison")
				}
			case expr.PayloadBaseTransportHeader:
				icmp := r.Proto == "icmp" || r.Proto == "icmpv6"
				switch {
				case e.Len == 1 && e.Offset == tcpFlagsOffset && r.Proto == "tcp":
					c, ok := n.(*expr.Cmp)
					m := byte(0xff)
					if mask != nil {
						if len(mask) != 1 {
							return foreign("tcp flags mask")
						}
						m = mask[0]
					}
					if !ok || len(c.Data) != 1 || m == 0 || c.Data[0]&^m != 0 || !isEq(c.Op, "tcp_flags") {
						return foreign("tcp flags match")
					}
					r.TCPFlags = rules.FormatTCPFlags(c.Data[0], m)
					continue
				case icmp && e.Offset == 0 && (e.Len == 1 || e.Len == 2):
					c, ok := n.(*expr.Cmp)
					if !ok || mask != nil || len(c.Data) != int(e.Len) || !isEq(c.Op, "icmp") {
						return foreign("icmp match")
					}
					m := rules.ICMPMatch{Type: c.Data[0]}
					if e.Len == 2 {
						m.Code, m.HasCode = c.Data[1], true
					}
					pn, _ := proto.Num(r.Proto)
					r.ICMP = rules.FormatICMP(m, pn)
					continue
				case e.Len != 2 || (e.Offset != 0 && e.Offset != 2) || mask != nil:
					return foreign("transport header field")
				}
				field := []string{"sport", "dport"}[e.Offset/2]
				var pr model.PortRange
				switch c := n.(type) {
				case *expr.Cmp:
					if len(c.Data) != 2 || !isEq(c.Op, field) {
						return foreign("port match")
					}
					pr.Min = binary.BigEndian.Uint16(c.Data)
					pr.Max = pr.Min
				case *expr.Range:
					if len(c.FromData) != 2 || len(c.ToData) != 2 || !isEq(c.Op, field) {
						return foreign("port range")
					}
					pr.Min, pr.Max = binary.BigEndian.Uint16(c.FromData), binary.BigEndian.Uint16(c.ToData)
				default:
					return foreign("port match")
				}
				if e.Offset == 0 {
					r.SrcPorts = pr
				} else {
					r.DstPorts = pr
				}
			default:
				return foreign("payload base")
			}
		case *expr.Counter:
			if seenCounter {
				return foreign("two counters")
			}
			seenCounter = true
			r.Packets, r.Bytes = e.Packets, e.Bytes
		case *expr.Verdict:
			switch e.Kind {
			case expr.VerdictAccept:
				r.Action = model.ActionAccept
			case expr.VerdictDrop:
				r.Action = model.ActionDrop
			default:
				return foreign("verdict")
			}
			seenVerdict = true
		case *expr.Reject:
			if e.Type != unix.NFT_REJECT_TCP_RST &&
				(e.Type != unix.NFT_REJECT_ICMPX_UNREACH || e.Code != unix.NFT_REJECT_ICMPX_PORT_UNREACH) {
				return foreign("reject type")
			}
			r.Action = model.ActionReject
			seenVerdict = true
		default:
			return foreign(fmt.Sprintf("expression %T", e))
		}
	}
	if !seenCounter {
		return foreign("no counter")
	}
	r.Negate = rules.NormalizeNegate(negate)
	return r, refs, nil
}

// lookupField is the set field a payload load feeds to a lookup.
func lookupField(p *expr.Payload) (setField, bool) {
	switch {
	case p.Base == expr.PayloadBaseTransportHeader && p.Len == 2 && p.Offset == 0:
		return setSport, true
	case p.Base == expr.PayloadBaseTransportHeader && p.Len == 2 && p.Offset == 2:
		return setDport, true
	case p.Base != expr.PayloadBaseNetworkHeader:
		return 0, false
	case p.Len == 4 && p.Offset == 12, p.Len == 16 && p.Offset == 8:
		return setSaddr, true
	case p.Len == 4 && p.Offset == 16, p.Len == 16 && p.Offset == 24:
		return setDaddr, true
	}
	return 0, false
}

func trimNUL(b []byte) []byte {
	if i := slices.Index(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}
