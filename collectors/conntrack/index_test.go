package conntrack

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"netlens/model"
)

// TestPosIndexMatchesAMap runs random inserts, deletes (a flow's last
// taking its place, as table.remove does), lookups and moves against a
// reference map of keys to positions, with a weak hash so that probes
// collide, wrap around the slots and shift back on deletion.
func TestPosIndexMatchesAMap(t *testing.T) {
	for _, tt := range []struct {
		name string
		hash func(flowKey) uint64
	}{
		{"flow hash", hashFlowKey},
		{"7 hashes", func(k flowKey) uint64 { return uint64(k.src.Port() % 7) }},
		{"high slots", func(k flowKey) uint64 { return uint64(k.src.Port()%5) + 250 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 19))
			x := newPosIndex()
			var flows []model.Flow
			ref := map[flowKey]int32{}
			check := func(step int) {
				t.Helper()
				if x.len() != len(ref) {
					t.Fatalf("step %d: index holds %d, want %d", step, x.len(), len(ref))
				}
				for k, want := range ref {
					s, ok := x.find(flows, k, tt.hash(k))
					if !ok || x.pos(s) != want {
						t.Fatalf("step %d: key %v at %d (found %v), want %d", step, k.src, x.pos(s), ok, want)
					}
				}
			}
			for step := range 4000 {
				f := model.Flow{ProtoNum: 6, Orig: model.FlowTuple{
					Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1}), uint16(1+rng.IntN(600))),
					Dst: netip.MustParseAddrPort("10.0.0.2:80"),
				}}
				k := keyOf(&f)
				h := tt.hash(k)
				s, ok := x.find(flows, k, h)
				if _, want := ref[k]; ok != want {
					t.Fatalf("step %d: find %v, want %v", step, ok, want)
				}
				switch {
				case !ok && rng.IntN(3) > 0:
					flows = append(flows, f)
					x.insert(h, int32(len(flows)-1))
					ref[k] = int32(len(flows) - 1)
				case ok:
					i := x.pos(s)
					x.delete(s)
					delete(ref, k)
					last := int32(len(flows) - 1)
					if i != last {
						lk := keyOf(&flows[last])
						ls, _ := x.find(flows, lk, tt.hash(lk))
						x.set(ls, i)
						ref[lk] = i
						flows[i] = flows[last]
					}
					flows = flows[:last]
				}
				if step%500 == 0 { // reverse the list: every position moves
					to := make([]int32, len(flows))
					for i := range flows {
						to[i] = int32(len(flows) - 1 - i)
					}
					for i, j := 0, len(flows)-1; i < j; i, j = i+1, j-1 {
						flows[i], flows[j] = flows[j], flows[i]
					}
					x.remap(to)
					for k, p := range ref {
						ref[k] = to[p]
					}
				}
				if step%50 == 0 {
					check(step)
				}
			}
			check(-1)
			if len(x.slots) < 2*x.len() {
				t.Errorf("%d slots for %d positions: more than half full", len(x.slots), x.len())
			}
			x.reset()
			flows = flows[:0]
			clear(ref)
			check(-2)
		})
	}
}
