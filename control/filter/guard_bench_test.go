package filter

import (
	"fmt"
	"net/netip"
	"testing"

	"netlens/model"
)

// benchInput is a busy host: n established sockets to port 443 from
// distinct clients, and the SSH session.
func benchInput(n int) GuardInput {
	socks := make([]model.Socket, n)
	for i := range socks {
		socks[i] = model.Socket{Proto: model.ProtoTCP, Family: model.FamilyIPv4, State: model.StateEstablished,
			Local:  netip.MustParseAddrPort("10.0.0.1:443"),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))}
	}
	return GuardInput{SSH: session("192.0.2.7 50022 10.0.0.1 22"), Sockets: socks}
}

// benchRules are n enabled rules that match none of benchInput.
func benchRules(n int) []model.Rule {
	rs := make([]model.Rule, n)
	for i := range rs {
		rs[i] = model.Rule{ID: uint32(i + 1), Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "udp",
			DstPorts: ports(uint16(2000 + i)), Action: model.ActionDrop, Label: fmt.Sprint(i)}
	}
	return rs
}

// BenchmarkAssess plans the add of one DROP rule on a host with 50,000
// sockets and 0, 100 or 10,000 rules.
func BenchmarkAssess(b *testing.B) {
	in := benchInput(50000)
	for _, n := range []int{0, 100, 10000} {
		before := benchRules(n)
		after := append(before[:n:n], model.Rule{ID: uint32(n + 1), Enabled: true, Hooks: []string{model.HookInput}, Proto: "tcp",
			DstPorts: ports(443), Action: model.ActionDrop, Priority: 100})
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			for b.Loop() {
				im := Assess(before, after, in)
				if im.Sockets != 50000 {
					b.Fatalf("cut %d sockets", im.Sockets)
				}
			}
		})
	}
}

func BenchmarkDropCapable(b *testing.B) {
	before := benchRules(10000)
	after := append(before[:10000:10000], model.Rule{ID: 10001, Enabled: true, Action: model.ActionDrop})
	for b.Loop() {
		if !DropCapable(before, after) {
			b.Fatal("not drop-capable")
		}
	}
}
