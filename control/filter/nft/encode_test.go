package nft

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables/expr"

	"netlens/model"
	"netlens/model/rules"
)

var cmpPrefix = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func TestEncodeDecodeRoundTrip(t *testing.T) {
	tests := []model.Rule{
		{Family: model.RuleFamilyBoth, Action: model.ActionCount},
		{Family: model.FamilyIPv4, Proto: "tcp", DstPorts: model.PortRange{Min: 22, Max: 22}, Action: model.ActionDrop, Packets: 5, Bytes: 300},
		{Family: model.FamilyIPv4, Proto: "udp", Src: netip.MustParsePrefix("10.0.0.0/8"), Dst: netip.MustParsePrefix("192.0.2.1/32"),
			SrcPorts: model.PortRange{Min: 1024, Max: 65535}, DstPorts: model.PortRange{Min: 53, Max: 54}, InIface: "eth0", Action: model.ActionAccept},
		{Family: model.FamilyIPv6, Proto: "icmpv6", Src: netip.MustParsePrefix("2001:db8::/33"), Dst: netip.MustParsePrefix("fd00::1/128"),
			OutIface: "wg0", Action: model.ActionDrop},
		{Family: model.FamilyIPv6, Proto: "47", Action: model.ActionCount},
		{Family: model.RuleFamilyBoth, Proto: "sctp", SrcPorts: model.PortRange{Min: 9, Max: 9}, Action: model.ActionAccept},
		{Family: model.FamilyIPv4, Proto: "tcp", DstPorts: model.PortRange{Min: 25, Max: 25}, Action: model.ActionReject},
		{Family: model.RuleFamilyBoth, Proto: "udp", Action: model.ActionReject},
		{Family: model.RuleFamilyBoth, Proto: "tcp", DstPorts: model.PortRange{Min: 8080, Max: 8080}, CTState: []string{"new"}, Action: model.ActionDrop},
		{Family: model.RuleFamilyBoth, CTState: []string{"established", "related"}, Negate: []string{"ct_state"}, Action: model.ActionDrop},
		{Family: model.RuleFamilyBoth, Proto: "icmp", ICMP: "echo-request", Action: model.ActionDrop},
		{Family: model.FamilyIPv6, Proto: "icmpv6", ICMP: "destination-unreachable/4", Negate: []string{"icmp"}, Action: model.ActionDrop},
		{Family: model.RuleFamilyBoth, Proto: "tcp", TCPFlags: "syn/syn,ack", Action: model.ActionDrop},
		{Family: model.RuleFamilyBoth, Proto: "tcp", TCPFlags: "fin,syn,rst,psh,ack,urg,ecn,cwr", Negate: []string{"tcp_flags"}, Action: model.ActionDrop},
		{Family: model.FamilyIPv4, Proto: "tcp", Src: netip.MustParsePrefix("10.0.0.0/8"), SrcPorts: model.PortRange{Min: 1, Max: 1023},
			DstPorts: model.PortRange{Min: 22, Max: 22}, InIface: "eth0", Negate: []string{"src", "sport", "dport", "iif"}, Action: model.ActionDrop},
	}
	for _, r := range tests {
		ex, err := encodeRule(r, r.Packets, r.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := decodeRule(ex)
		if err != nil {
			t.Fatalf("decode %+v: %v", r, err)
		}
		if diff := cmp.Diff(r, got, cmpPrefix); diff != "" {
			t.Errorf("round trip (-want +got)\n%s", diff)
		}
	}
	// family both with an address becomes that address's family
	ex, _ := encodeRule(model.Rule{Family: model.RuleFamilyBoth, Dst: netip.MustParsePrefix("10.0.0.0/24"), Action: model.ActionDrop}, 0, 0)
	if got, _, _ := decodeRule(ex); got.Family != model.FamilyIPv4 {
		t.Errorf("family %s, want ipv4", got.Family)
	}
}

func TestDecodeForeign(t *testing.T) {
	for name, ex := range map[string][]expr.Any{
		"no counter":            {&expr.Verdict{Kind: expr.VerdictDrop}},
		"jump":                  {&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictJump, Chain: "x"}},
		"meta mark":             {&expr.Meta{Key: expr.MetaKeyMARK, Register: 1}, &expr.Cmp{Register: 1, Data: []byte{1, 0, 0, 0}}, &expr.Counter{}},
		"after verdict":         {&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept}, &expr.Counter{}},
		"log":                   {&expr.Log{}, &expr.Counter{}},
		"dangling meta":         {&expr.Counter{}, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}},
		"payload ttl":           {&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 1}, &expr.Cmp{Register: 1, Data: []byte{1}}, &expr.Counter{}},
		"two counters":          {&expr.Counter{}, &expr.Counter{}},
		"l4proto neq":           {&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{6}}, &expr.Counter{}},
		"ct status":             {&expr.Ct{Key: expr.CtKeySTATUS, Register: 1}, &expr.Bitwise{Len: 4, Mask: []byte{1, 0, 0, 0}, Xor: make([]byte, 4)}, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)}, &expr.Counter{}},
		"ct state lt":           {&expr.Ct{Key: expr.CtKeySTATE, Register: 1}, &expr.Bitwise{Len: 4, Mask: []byte{8, 0, 0, 0}, Xor: make([]byte, 4)}, &expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: make([]byte, 4)}, &expr.Counter{}},
		"tcp flags without tcp": {&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1}, &expr.Cmp{Register: 1, Data: []byte{2}}, &expr.Counter{}},
		"port, bad width":       {&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 4}, &expr.Cmp{Register: 1, Data: []byte{0, 0, 0, 1}}, &expr.Counter{}},
	} {
		if _, _, err := decodeRule(ex); !errors.Is(err, errForeign) {
			t.Errorf("%s: err %v, want errForeign", name, err)
		}
	}
}

func TestUserData(t *testing.T) {
	m := meta{ID: 7, Priority: 300, Hooks: 0b10010, Label: "keep ssh"}
	got, ok := decodeUserData(encodeUserData(m))
	if !ok || got != m {
		t.Errorf("round trip: %+v %v", got, ok)
	}
	// nft(8) writes a comment only: not a netlens rule, label kept
	got, ok = decodeUserData([]byte{0, 4, 'a', 'b', 'c', 0})
	if ok || got.Label != "abc" {
		t.Errorf("comment only: %+v %v", got, ok)
	}
	for _, bad := range [][]byte{nil, {0x4e}, {0x4e, 200, 1}, {0x4e, 3, 1, 0, 0}, {0x4e, 10, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0}} {
		if _, ok := decodeUserData(bad); ok {
			t.Errorf("decodeUserData(%v) accepted", bad)
		}
	}
}

func FuzzDecodeUserData(f *testing.F) {
	f.Add(encodeUserData(meta{ID: 7, Priority: 300, Hooks: 3, Label: "x"}))
	f.Add([]byte{0, 4, 'a', 'b', 'c', 0})
	f.Add([]byte{0x4e, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := decodeUserData(b)
		if !ok {
			return
		}
		if len(m.Label) > 253 {
			t.Fatalf("label of %d bytes from %d bytes of user data", len(m.Label), len(b))
		}
		if m2, ok2 := decodeUserData(encodeUserData(m)); ok2 && len(m.Label) < 200 && m2 != m {
			t.Fatalf("re-encode: %+v != %+v", m2, m)
		}
	})
}

// TestSetElementsRoundTrip: the elements nftSet makes for a set of
// prefixes (an interval set, adjacent and overlapping prefixes, the last
// address of the space) read back as the same prefixes, as the kernel
// lists them (in any order).
func TestSetElementsRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name     string
		set, out []string
	}{
		{"hosts", []string{"192.0.2.1/32", "192.0.2.2/32"}, nil},
		{"adjacent and the end", []string{"10.0.0.0/31", "10.0.0.2/32", "255.255.255.255/32", "0.0.0.0/8"}, nil},
		{"covered", []string{"10.0.0.0/8", "10.1.0.0/16"}, []string{"10.0.0.0/8"}},
		{"ipv6", []string{"2001:db8::/32", "::1/128", "ffff::/16"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var set []netip.Prefix
			for _, s := range tt.set {
				set = append(set, netip.MustParsePrefix(s))
			}
			want := rules.NormalizePrefixSet(set)
			if tt.out != nil {
				want = nil
				for _, s := range tt.out {
					want = append(want, netip.MustParsePrefix(s))
				}
			}
			s, els := nftSet(model.Rule{ID: 1, SrcSet: set}, setSaddr)
			slices.Reverse(els)
			got, err := prefixesOf(s, els)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, rules.NormalizePrefixSet(got), cmpPrefix); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// exprsFrom builds a list of expressions from fuzz bytes: each expression
// is an opcode byte and its parameters (a small vocabulary of what
// netlens writes and what it must refuse).
func exprsFrom(b []byte) []expr.Any {
	var out []expr.Any
	next := func() byte {
		if len(b) == 0 {
			return 0
		}
		c := b[0]
		b = b[1:]
		return c
	}
	data := func() []byte {
		n := int(next() % 17)
		d := make([]byte, n)
		for i := range d {
			d[i] = next()
		}
		return d
	}
	for len(b) > 0 && len(out) < 32 {
		switch next() % 10 {
		case 0:
			keys := []expr.MetaKey{expr.MetaKeyNFPROTO, expr.MetaKeyL4PROTO, expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME, expr.MetaKeyMARK}
			out = append(out, &expr.Meta{Key: keys[int(next())%len(keys)], Register: 1})
		case 1:
			out = append(out, &expr.Cmp{Op: expr.CmpOp(next() % 6), Register: 1, Data: data()})
		case 2:
			out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBase(next() % 3), Offset: uint32(next() % 32), Len: uint32(next() % 17)})
		case 3:
			out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(next() % 17), Mask: data(), Xor: data()})
		case 4:
			out = append(out, &expr.Ct{Key: expr.CtKey(next() % 2), Register: 1})
		case 5:
			out = append(out, &expr.Range{Op: expr.CmpOp(next() % 2), Register: 1, FromData: data(), ToData: data()})
		case 6:
			out = append(out, &expr.Lookup{SourceRegister: 1, SetName: "nl1_" + string(rune('a'+next()%4)), Invert: next()%2 == 1})
		case 7:
			out = append(out, &expr.Counter{Packets: uint64(next()), Bytes: uint64(next())})
		case 8:
			out = append(out, &expr.Verdict{Kind: expr.VerdictKind(int8(next()%4) - 2)})
		case 9:
			out = append(out, &expr.Reject{Type: uint32(next() % 3), Code: next() % 4})
		}
	}
	return out
}

// decodeSeeds are exprsFrom encodings of rules netlens writes.
var decodeSeeds = []struct {
	b       []byte
	summary string
}{
	// ct state new tcp dport 8080 drop
	{[]byte{4, 0, 3, 4, 4, 8, 0, 0, 0, 4, 0, 0, 0, 0, 1, 1, 4, 0, 0, 0, 0, 0, 1, 1, 0, 1, 6, 2, 2, 2, 2, 1, 0, 2, 0x1f, 0x90, 7, 0, 0, 8, 2},
		"tcp * -> *:8080 ct new"},
	// meta nfproto ipv4 udp ip saddr != 10.0.0.0/8 drop
	{[]byte{0, 0, 1, 0, 1, 2, 0, 1, 1, 0, 1, 17, 2, 1, 12, 4, 3, 4, 4, 255, 0, 0, 0, 4, 0, 0, 0, 0, 1, 1, 4, 10, 0, 0, 0, 7, 0, 0, 8, 2},
		"ipv4 udp !10.0.0.0/8 -> *"},
	// icmp type != echo-request accept
	{[]byte{0, 1, 1, 0, 1, 1, 2, 2, 0, 1, 1, 1, 1, 8, 7, 0, 0, 8, 3}, "icmp * -> * type !echo-request"},
	// tcp flags syn / syn,ack drop
	{[]byte{0, 1, 1, 0, 1, 6, 2, 2, 13, 1, 3, 1, 1, 0x12, 1, 0, 1, 0, 1, 2, 7, 0, 0, 8, 2}, "tcp * -> * flags syn/syn,ack"},
	// the seed file: tcp dport != 22 iifname != "eth0" accept
	{[]byte("\x00\x01\x01\x00\x01\x06\x02\x02\x02\x02\x01\x01\x02\x00\x16\x00\x02\x01\x01\x10\x65\x74\x68\x30\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x08\x03"), "tcp * -> *:!22 iif !eth0"},
}

func TestDecodeSeeds(t *testing.T) {
	for _, s := range decodeSeeds {
		r, _, err := decodeRule(exprsFrom(s.b))
		if err != nil {
			t.Errorf("%s: %v", s.summary, err)
			continue
		}
		if got := rules.Summary(r); got != s.summary {
			t.Errorf("seed reads as %q, want %q", got, s.summary)
		}
	}
}

// FuzzDecodeRule: decodeRule never panics on expressions it did not
// write, and a rule it reads that validates encodes and reads back the
// same.
func FuzzDecodeRule(f *testing.F) {
	for _, seed := range decodeSeeds {
		f.Add(seed.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _, err := decodeRule(exprsFrom(b))
		if err != nil || len(r.SrcSet)+len(r.DstSet) > 0 || rules.Validate(r) != nil {
			return
		}
		ex, err := encodeRule(r, r.Packets, r.Bytes)
		if err != nil {
			t.Fatalf("a rule read back does not encode: %v\n%+v", err, r)
		}
		again, _, err := decodeRule(ex)
		if err != nil {
			t.Fatalf("re-encoded rule does not decode: %v\n%+v", err, r)
		}
		if !rules.SameMatch(r, again) {
			t.Fatalf("round trip:\n%+v\n%+v", r, again)
		}
	})
}
