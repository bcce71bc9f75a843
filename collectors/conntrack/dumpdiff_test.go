package conntrack

import (
	"cmp"
	"container/heap"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"netlens/model"
)

// The table's dump path as it was at commit 5ab627d, before its heap
// carried the bytes and its sort kept its memory: the reference
// TestReplaceSameAsBefore compares the table with.

// refTopN is topN on container/heap, whose sift makes the same swaps
// as topN's on the same bytes: it keeps the same flows, ties included.
type refTopN struct {
	limit int
	flows []model.Flow
	heap  refHeap
	seen  int
}

// refHeap is a min-heap of indexes into flows on their bytes.
type refHeap struct {
	flows *[]model.Flow
	x     []int32
}

func (h refHeap) Len() int           { return len(h.x) }
func (h refHeap) Less(i, j int) bool { return (*h.flows)[h.x[i]].Bytes() < (*h.flows)[h.x[j]].Bytes() }
func (h refHeap) Swap(i, j int)      { h.x[i], h.x[j] = h.x[j], h.x[i] }
func (h *refHeap) Push(any)          { panic("unused") }
func (h *refHeap) Pop() any          { panic("unused") }

func (t *refTopN) add(f model.Flow) {
	t.seen++
	if len(t.flows) < t.limit {
		t.flows = append(t.flows, f)
		return
	}
	if t.heap.x == nil {
		t.heap = refHeap{flows: &t.flows, x: make([]int32, len(t.flows))}
		for i := range t.heap.x {
			t.heap.x[i] = int32(i)
		}
		heap.Init(&t.heap)
	}
	if len(t.heap.x) == 0 || f.Bytes() <= t.flows[t.heap.x[0]].Bytes() {
		return
	}
	t.flows[t.heap.x[0]] = f
	heap.Fix(&t.heap, 0)
}

// refReplace is the held list after a dump of the flows d kept, held
// the list prev before.
func refReplace(prev []model.Flow, d *refTopN) []model.Flow {
	held := map[flowKey]model.Flow{}
	for _, f := range prev {
		held[keyOf(&f)] = f
	}
	fl := slices.Clone(d.flows)
	for i := range fl {
		f := &fl[i]
		if h, ok := held[keyOf(f)]; ok && h.ID == f.ID && h.FirstSeen.Before(f.FirstSeen) {
			f.FirstSeen = h.FirstSeen
		}
	}
	at := map[flowKey]int{}
	out := []model.Flow{}
	for _, f := range fl {
		k := keyOf(&f)
		if p, ok := at[k]; ok {
			out[p] = f
			continue
		}
		at[k] = len(out)
		out = append(out, f)
	}
	refSortFlows(out)
	return out
}

type refSortKey struct {
	bytes uint64
	id    uint32
	i     int32
	f     *model.Flow
}

func refSortFlows(flows []model.Flow) {
	keys := make([]refSortKey, len(flows))
	for i := range flows {
		keys[i] = refSortKey{bytes: flows[i].Bytes(), id: flows[i].ID, f: &flows[i], i: int32(i)}
	}
	slices.SortFunc(keys, func(a, b refSortKey) int {
		if c := cmp.Compare(b.bytes, a.bytes); c != 0 {
			return c
		}
		if c := cmp.Compare(a.id, b.id); c != 0 {
			return c
		}
		return compareTuples(a.f, b.f)
	})
	sorted := make([]model.Flow, len(flows))
	for i, k := range keys {
		sorted[i] = *k.f
	}
	copy(flows, sorted)
}

// randomFlow is a flow from a small space of keys, ids and byte counts,
// so that dumps repeat keys and tie on bytes, ids and sort tuples (TCP
// and UDP flows share addresses and ports, ICMP ones have none).
func randomFlow(r *rand.Rand, now time.Time) model.Flow {
	f := tcpFlow(uint32(r.IntN(40)), uint16(1000+r.IntN(30)), uint64(r.IntN(8))*100)
	switch r.IntN(4) {
	case 0:
		f.ProtoNum, f.Proto, f.TCPState = 17, model.ProtoUDP, model.TCPNone
	case 1:
		f.ProtoNum, f.Proto, f.TCPState = 1, model.ProtoICMP, model.TCPNone
		a := netip.AddrPortFrom(f.Orig.Src.Addr(), 0)
		f.Orig = model.FlowTuple{Src: a, Dst: netip.AddrPortFrom(f.Orig.Dst.Addr(), 0), ICMP: &model.ICMPKey{Type: 8, ID: uint16(r.IntN(3))}}
	}
	f.Zone = uint16(r.IntN(2))
	f.FirstSeen, f.Updated = now, now
	f.SetNAT()
	return f
}

// TestReplaceSameAsBefore: over random dumps, with events between them
// and lists published and let go as the Store does, the table holds
// after every dump exactly the list (order, FirstSeen, truncation) the
// dump path before gave, and its index finds every flow.
func TestReplaceSameAsBefore(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	store := model.NewStore("h", "k", t0)
	for _, limit := range []int{1, 7, 32, 200} {
		tab := newTable(limit)
		now := t0
		for round := range 300 {
			now = now.Add(time.Second)
			for range r.IntN(5) {
				tab.apply(event{eventKind(1 + r.IntN(3)), randomFlow(r, now)})
			}
			prev := slices.Clone(tab.snapshot())
			d, ref := tab.newTopN(r.IntN(100)), &refTopN{limit: limit}
			if r.IntN(10) == 0 { // a dump tried again
				d.add(randomFlow(r, now))
				d.reset()
			}
			for range r.IntN(3 * limit) {
				f := randomFlow(r, now)
				d.add(f)
				ref.add(f)
			}
			want, wantTrunc := refReplace(prev, ref), ref.seen > len(ref.flows)
			tab.replace(d)
			got := tab.snapshot()
			store.Publish(model.FlowsUpdate{At: now, Flows: got, Gen: tab.life.Ref()})
			if diff := gocmp.Diff(want, got, addrOpts); diff != "" {
				t.Fatalf("limit %d round %d: (-before +now)\n%s", limit, round, diff)
			}
			if tab.truncated != wantTrunc {
				t.Fatalf("limit %d round %d: truncated %v, before %v", limit, round, tab.truncated, wantTrunc)
			}
			if tab.x.len() != len(got) {
				t.Fatalf("limit %d round %d: index holds %d of %d", limit, round, tab.x.len(), len(got))
			}
			for i := range got {
				k := keyOf(&got[i])
				if s, ok := tab.x.find(got, k, hashFlowKey(k)); !ok || tab.x.pos(s) != int32(i) {
					t.Fatalf("limit %d round %d: the index does not find flow %d where it is", limit, round, i)
				}
			}
		}
	}
}

// TestDumpAllocatesNothing: once a table has dumped and sorted, another
// dump, past its limit, and its sort allocate nothing but the small
// topN: its heap and the sort's memory are the last dump's, the list
// one let go.
func TestDumpAllocatesNothing(t *testing.T) {
	tab := newTable(64)
	flows := make([]model.Flow, 100)
	for i := range flows {
		flows[i] = tcpFlow(uint32(i), uint16(1000+i), uint64(i*37%100))
	}
	dump := func() {
		d := tab.newTopN(len(flows))
		for i := range flows {
			flows[i].OrigBytes += uint64(i % 3) // the top churns
			d.add(flows[i])
		}
		tab.replace(d)
		tab.snapshot() // not published: its list is free at once
	}
	dump()
	dump()
	if n := testing.AllocsPerRun(20, dump); n > 1 {
		t.Errorf("a dump allocated %v times", n)
	}
	if tab.len() != 64 || !tab.truncated {
		t.Errorf("held %d, truncated %v", tab.len(), tab.truncated)
	}
}
