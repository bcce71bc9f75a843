package ruleset

import (
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// fuzzBytes hands out a fuzz input a piece at a time, zeros once it is spent.
type fuzzBytes struct{ b []byte }

func (r *fuzzBytes) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// reg keeps registers mostly in the range rules use, so loads and reads meet.
func (r *fuzzBytes) reg() uint32 { return uint32(r.byte() % 24) }

func (r *fuzzBytes) u32() uint32 { return uint32(r.byte())<<8 | uint32(r.byte()) }

func (r *fuzzBytes) data() []byte {
	n := int(r.byte() % 20)
	if n > len(r.b) {
		n = len(r.b)
	}
	d := r.b[:n]
	r.b = r.b[n:]
	return d
}

// exprs builds up to 32 expressions of the kinds Text renders, fields from
// the input, plus nils and a type it does not know.
func (r *fuzzBytes) exprs() []expr.Any {
	var out []expr.Any
	for len(r.b) > 0 && len(out) < 32 {
		var e expr.Any
		switch r.byte() % 25 {
		case 0:
			e = &expr.Meta{Key: expr.MetaKey(r.byte() % 30), Register: r.reg(), SourceRegister: r.byte()%4 == 0}
		case 1:
			e = &expr.Payload{DestRegister: r.reg(), SourceRegister: r.reg(), Base: expr.PayloadBase(r.byte() % 4),
				Offset: uint32(r.byte() % 48), Len: uint32(r.byte() % 20), OperationType: expr.PayloadOperationType(r.byte() % 2)}
		case 2:
			e = &expr.Cmp{Op: expr.CmpOp(r.byte() % 7), Register: r.reg(), Data: r.data()}
		case 3:
			e = &expr.Bitwise{SourceRegister: r.reg(), DestRegister: r.reg(), Mask: r.data(), Xor: r.data()}
		case 4:
			e = &expr.Ct{Key: expr.CtKey(r.byte() % 24), Register: r.reg(), Direction: uint32(r.byte() % 3)}
		case 5:
			e = &expr.Lookup{SourceRegister: r.reg(), DestRegister: r.reg(), IsDestRegSet: r.byte()%2 == 0,
				SetName: string(r.data()), Invert: r.byte()%2 == 0}
		case 6:
			e = &expr.Range{Op: expr.CmpOp(r.byte() % 7), Register: r.reg(), FromData: r.data(), ToData: r.data()}
		case 7:
			e = &expr.Immediate{Register: r.reg(), Data: r.data()}
		case 8:
			e = &expr.Verdict{Kind: expr.VerdictKind(int8(r.byte())), Chain: string(r.data())}
		case 9:
			e = &expr.NAT{Type: expr.NATType(r.byte() % 3), Family: uint32(r.byte() % 12), RegAddrMin: r.reg(),
				RegAddrMax: r.reg(), RegProtoMin: r.reg(), RegProtoMax: r.reg(), Random: r.byte()%2 == 0}
		case 10:
			e = &expr.Masq{ToPorts: r.byte()%2 == 0, RegProtoMin: r.reg(), RegProtoMax: r.reg()}
		case 11:
			e = &expr.Redir{RegisterProtoMin: r.reg(), RegisterProtoMax: r.reg(), Flags: r.u32()}
		case 12:
			e = &expr.Log{Key: r.u32(), Level: expr.LogLevel(r.byte() % 12), Flags: expr.LogFlags(r.byte()), Data: r.data()}
		case 13:
			e = &expr.Limit{Type: expr.LimitType(r.byte() % 3), Rate: uint64(r.u32()), Unit: expr.LimitTime(r.u32()),
				Burst: r.u32(), Over: r.byte()%2 == 0}
		case 14:
			e = &expr.Reject{Type: uint32(r.byte() % 4), Code: r.byte()}
		case 15:
			e = &expr.Fib{Register: r.reg(), ResultOIF: r.byte()%2 == 0, ResultADDRTYPE: r.byte()%2 == 0,
				FlagSADDR: r.byte()%2 == 0, FlagPRESENT: r.byte()%2 == 0}
		case 16:
			e = &expr.Queue{Num: uint16(r.u32()), Total: uint16(r.u32()), Flag: expr.QueueFlag(r.byte())}
		case 17:
			e = &expr.Dynset{SrcRegKey: r.reg(), SetName: string(r.data()), Operation: uint32(r.byte() % 4),
				Timeout: time.Duration(r.u32()) * time.Millisecond}
		case 18:
			e = &expr.Byteorder{SourceRegister: r.reg(), DestRegister: r.reg(), Len: uint32(r.byte())}
		case 19:
			e = &expr.Match{Name: string(r.data())}
		case 20:
			e = &expr.Counter{}
		case 21:
			// Ops 0-3 are IPv6 extension headers, tcp options, ip options
			// and sctp chunks, 4 none; offsets up to a SACK's last block.
			e = &expr.Exthdr{Op: expr.ExthdrOp(r.byte() % 5), Type: r.byte(), Offset: uint32(r.byte() % 36), Len: uint32(r.byte() % 6),
				Flags: uint32(r.byte() % 2), DestRegister: r.reg(), SourceRegister: r.reg()}
		case 23:
			e = &expr.Numgen{Register: r.reg(), Type: uint32(r.byte() % 3), Modulus: r.u32(), Offset: r.u32()}
		case 22:
			e = (*expr.Cmp)(nil)
		default:
			e = nil
		}
		out = append(out, e)
	}
	return out
}

// FuzzText: no input, however far from what nft writes, makes Text or
// Verdict panic.
func FuzzText(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 4, 1, 2, 2, 1, 1, 6})                            // meta l4proto tcp
	f.Add([]byte{4, 0, 1, 0, 3, 1, 1, 4, 6, 0, 0, 0, 2, 1, 1, 4, 0}) // ct state, bitwise, cmp
	f.Add([]byte{7, 1, 4, 1, 2, 3, 4, 9, 1, 2, 1, 1, 0, 0, 0})       // immediate, nat
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &fuzzBytes{b: in}
		fam := nftables.TableFamily(r.byte() % 12)
		exprs := r.exprs()
		_ = Text(fam, exprs)
		_ = Verdict(exprs)
	})
}

// elems builds up to 16 set elements from the input: keys, interval ends,
// concatenated ranges' ends and data of any length.
func (r *fuzzBytes) elems() []nftables.SetElement {
	var out []nftables.SetElement
	for n := int(r.byte() % 16); n > 0 && len(r.b) > 0; n-- {
		e := nftables.SetElement{Key: r.data(), IntervalEnd: r.byte()%3 == 0}
		if r.byte()%4 == 0 {
			e.KeyEnd = r.data()
		}
		if r.byte()%2 == 0 {
			e.Val = r.data()
		}
		out = append(out, e)
	}
	return out
}

// FuzzTextWithSets: no set, however its elements fit the rule's key, makes
// TextWithSets panic.
func FuzzTextWithSets(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 3, 0, 16, 1, 1, 2, 2, 2, 5, 1, 0, 0, 0, 0, 1, 0, 1, 2, 2, 0, 22, 1, 1, 1, 2, 0, 80, 1, 1}) // tcp dport { 22, 80 }
	f.Add([]byte{1, 1, 1, 12, 4, 5, 1, 0, 0, 0, 0, 1, 0, 2, 4, 10, 0, 0, 0, 1, 1, 1, 4, 11, 0, 0, 0, 0, 1, 1}) // ip saddr, interval
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &fuzzBytes{b: in}
		fam := nftables.TableFamily(r.byte() % 12)
		set := &nftables.Set{Anonymous: true, Interval: r.byte()%2 == 0, IsMap: r.byte()%2 == 0}
		exprs := r.exprs()
		elems := r.elems()
		_ = TextWithSets(fam, exprs, func(string) (*nftables.Set, []nftables.SetElement, bool) { return set, elems, true })
	})
}

// FuzzParseMessages: no table, set or link message, however malformed,
// makes its decoder panic.
func FuzzParseMessages(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 6, 0, 1, 0, 't', 0, 0, 0, 12, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{1, 0, 0, 0, 6, 0, 1, 0, 't', 0, 0, 0, 11, 0, 2, 0, '_', '_', 's', '0', 0, 0, 0, 0, 8, 0, 3, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _, _ = parseTable(in)
		_, _, _, _ = parseSet(in)
		_, _, _ = parseLink(in)
	})
}
