package conntrack

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	ct "github.com/ti-mo/conntrack"

	"netlens/model"
)

// BenchmarkDecodeFlow decodes one dump entry with the dump path's decoder.
func BenchmarkDecodeFlow(b *testing.B) {
	m := flowMsg(b, evUpdate, tcpFlow(1, 40000, 1000))
	var f model.Flow
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeFlow(m.Data[nfgenmsgLen:], t0, &f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFlowTiMo decodes the same entry with ti-mo/conntrack and
// converts it, as the event path does.
func BenchmarkDecodeFlowTiMo(b *testing.B) {
	m := flowMsg(b, evUpdate, tcpFlow(1, 40000, 1000))
	b.ReportAllocs()
	for b.Loop() {
		var ev ct.Event
		if err := ev.Unmarshal(m); err != nil {
			b.Fatal(err)
		}
		_ = toModel(ev.Flow, t0)
	}
}

// BenchmarkTableFlows changes one flow of a full default-sized table and
// takes a snapshot, as a refresh after an event does: the copy on write
// of the list, its sort and the index's update.
func BenchmarkTableFlows(b *testing.B) {
	tab := newTable(DefaultMaxFlows)
	for i := range DefaultMaxFlows {
		tab.apply(event{evNew, tcpFlow(uint32(i), uint16(i), uint64(i%1000))})
	}
	u := tcpFlow(7, 7, 7)
	u.TCPState = model.TCPEstablished
	b.ReportAllocs()
	for b.Loop() {
		tab.apply(event{evUpdate, u})
		_ = tab.snapshot()
	}
}

// BenchmarkApplyEvents applies a NEW, an UPDATE and a DESTROY.
func BenchmarkApplyEvents(b *testing.B) {
	tab := newTable(DefaultMaxFlows)
	f := tcpFlow(1, 1000, 0)
	u := f
	u.TCPState = model.TCPEstablished
	b.ReportAllocs()
	for b.Loop() {
		tab.apply(event{evNew, f})
		tab.apply(event{evUpdate, u})
		tab.apply(event{evDestroy, u})
	}
}

// dumpBenchFlows is how many entries BenchmarkPeriodicDump's kernel
// holds: more than DefaultMaxFlows, so that the top by bytes is kept.
const dumpBenchFlows = 100_000

// benchKernel returns the flows of a conntrack table of n entries as
// rounds successive dumps see them, in the kernel's order (random,
// the same every dump): TCP, UDP and ICMP, IPv4 and IPv6, a third of
// them NATed, bytes spread over five orders of magnitude. Between
// rounds every flow's counters grow (so the top by bytes churns near
// its edge) and about 1% of the entries are replaced by new ones.
func benchKernel(n, rounds int, seed uint64) [][]model.Flow {
	r := rand.New(rand.NewPCG(seed, 1))
	cur := make([]model.Flow, n)
	next := uint32(1)
	mk := func() model.Flow {
		id := next
		next++
		var src, dst, nat netip.Addr
		v6 := r.IntN(5) == 0
		if v6 {
			src = netip.AddrFrom16([16]byte{0xfd, 1, 14: byte(r.IntN(256)), 15: byte(r.IntN(256))})
			dst = netip.AddrFrom16([16]byte{0xfd, 2, 13: byte(r.IntN(256)), 14: byte(r.IntN(256)), 15: byte(r.IntN(256))})
			nat = netip.AddrFrom16([16]byte{0xfd, 3, 15: 1})
		} else {
			src = netip.AddrFrom4([4]byte{10, 1, byte(r.IntN(256)), byte(r.IntN(256))})
			dst = netip.AddrFrom4([4]byte{10, 2, byte(r.IntN(256)), byte(r.IntN(256))})
			nat = netip.AddrFrom4([4]byte{192, 0, 2, 1})
		}
		sport, dport := uint16(1024+r.IntN(60000)), []uint16{443, 80, 53, 22, 8080}[r.IntN(5)]
		f := model.Flow{ID: id, Family: model.FamilyIPv4, Status: model.StatusConfirmed | model.StatusSeenReply | model.StatusAssured,
			Timeout: time.Duration(r.IntN(432000)) * time.Second, FirstSeen: t0, Updated: t0}
		if v6 {
			f.Family = model.FamilyIPv6
		}
		switch p := r.IntN(20); {
		case p < 13:
			f.ProtoNum, f.Proto, f.TCPState = 6, model.ProtoTCP, model.TCPEstablished
		case p < 19:
			f.ProtoNum, f.Proto = 17, model.ProtoUDP
		default:
			f.ProtoNum, f.Proto = 1, model.ProtoICMP
			if v6 {
				f.ProtoNum, f.Proto = 58, model.ProtoICMPv6
			}
		}
		if f.ProtoNum == 1 || f.ProtoNum == 58 {
			id := uint16(r.IntN(65536))
			f.Orig = model.FlowTuple{Src: netip.AddrPortFrom(src, 0), Dst: netip.AddrPortFrom(dst, 0), ICMP: &model.ICMPKey{Type: 8, ID: id}}
			f.Reply = model.FlowTuple{Src: netip.AddrPortFrom(dst, 0), Dst: netip.AddrPortFrom(src, 0), ICMP: &model.ICMPKey{ID: id}}
		} else {
			f.Orig = model.FlowTuple{Src: netip.AddrPortFrom(src, sport), Dst: netip.AddrPortFrom(dst, dport)}
			f.Reply = model.FlowTuple{Src: netip.AddrPortFrom(dst, dport), Dst: netip.AddrPortFrom(src, sport)}
			if r.IntN(3) == 0 { // masquerade
				f.Reply.Dst = netip.AddrPortFrom(nat, sport)
			}
		}
		b := uint64(60 * (1 << r.IntN(17)) * (1 + r.IntN(10)))
		f.OrigPackets, f.OrigBytes, f.ReplyPackets, f.ReplyBytes, f.CountersKnown = 1+b/1000, b/3, 1+b/500, b-b/3, true
		f.SetNAT()
		return f
	}
	for i := range cur {
		cur[i] = mk()
	}
	out := make([][]model.Flow, rounds)
	for k := range out {
		for i := range cur {
			if r.IntN(100) == 0 {
				cur[i] = mk()
				continue
			}
			f := &cur[i]
			g := uint64(r.IntN(1 << r.IntN(16)))
			f.OrigBytes, f.ReplyBytes, f.OrigPackets, f.ReplyPackets = f.OrigBytes+g/3, f.ReplyBytes+g-g/3, f.OrigPackets+g/1000, f.ReplyPackets+g/500
		}
		out[k] = slices.Clone(cur)
	}
	return out
}

// benchDumps encodes benchKernel's rounds as the ctnetlink payloads a
// dump receives (after the nfgenmsg header).
func benchDumps(b *testing.B, n, rounds int) [][][]byte {
	var out [][][]byte
	for _, fl := range benchKernel(n, rounds, 1) {
		msgs := make([][]byte, len(fl))
		for i, f := range fl {
			msgs[i] = flowMsg(b, evUpdate, f).Data[nfgenmsgLen:]
		}
		out = append(out, msgs)
	}
	return out
}

// BenchmarkPeriodicDump is one periodic dump of a 100,000-entry table
// by a Collector that holds the top DefaultMaxFlows of the previous
// one, as Collect makes it: the entries decoded from their ctnetlink
// bytes, the top by bytes kept, the table replaced, and the new list
// sorted and published to a Store (which lets the one before go).
// The kernel's own work (recvmsg) is not in it.
func BenchmarkPeriodicDump(b *testing.B) {
	dumps := benchDumps(b, dumpBenchFlows, 3)
	now := t0
	c := New(Config{Now: func() time.Time { return now }})
	round := 0
	c.fakeDump = func(ctx context.Context, now time.Time, start func(), fn func(*model.Flow)) (uint64, error) {
		start()
		var f model.Flow
		for _, m := range dumps[round%len(dumps)] {
			if err := decodeFlow(m, now, &f); err != nil {
				return 0, err
			}
			fn(&f)
		}
		return 0, nil
	}
	store := model.NewStore("h", "k", t0)
	step := func() {
		now = now.Add(10 * time.Second)
		round++
		if err := c.dump(context.Background(), dumpBenchFlows+dumpBenchFlows/8); err != nil {
			b.Fatal(err)
		}
		c.mu.Lock()
		flows := c.tab.snapshot()
		gen := c.tab.life.Ref()
		c.tab.dirty = false
		c.mu.Unlock()
		store.Publish(model.FlowsUpdate{At: now, Flows: flows, Gen: gen})
	}
	step() // the first dump
	step()
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
	if c.tab.len() != DefaultMaxFlows {
		b.Fatalf("held %d flows", c.tab.len())
	}
}
