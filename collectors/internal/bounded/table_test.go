package bounded

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func hashU32(k uint32) uint64 { return Mix(0, uint64(k)) }

// badHash sends every key to a few buckets, to exercise long probe runs
// and the backward shift across the wrap of the index.
func badHash(k uint32) uint64 { return uint64(k%3) + 0xfffffffffffffff0 }

// op is one step of a random stream: a Get adding n to the key's count,
// or a Delete.
type op struct {
	key uint32
	n   uint64
	del bool
}

// check runs ops against a Table and a reference map and returns the
// number of evictions it saw. The reference holds each key's count since
// its latest insertion; keys the table no longer holds (evicted) are
// dropped from it, and each drop must be counted by Evicted.
func check(t *testing.T, capacity int, hash func(uint32) uint64, ops []op) uint64 {
	t.Helper()
	tb := New[uint32, uint64](capacity, hash)
	ref := map[uint32]uint64{}
	var evictions uint64
	for i, o := range ops {
		if o.del {
			_, want := ref[o.key]
			if got := tb.Delete(o.key); got != want {
				t.Fatalf("op %d: Delete(%d) = %v, want %v", i, o.key, got, want)
			}
			delete(ref, o.key)
		} else {
			_, held := ref[o.key]
			v, fresh := tb.Get(o.key)
			if fresh == held {
				t.Fatalf("op %d: Get(%d) fresh = %v, reference holds it: %v", i, o.key, fresh, held)
			}
			if fresh && *v != 0 {
				t.Fatalf("op %d: Get(%d) fresh with value %d", i, o.key, *v)
			}
			*v += o.n
			ref[o.key] += o.n
		}
		// Drop what the table evicted from the reference.
		if tb.Len() < len(ref) {
			for k := range ref {
				if _, ok := tb.Lookup(k); !ok {
					delete(ref, k)
					evictions++
				}
			}
		}
		if tb.Len() > capacity {
			t.Fatalf("op %d: Len %d > capacity %d", i, tb.Len(), capacity)
		}
	}
	got := map[uint32]uint64{}
	for k, v := range tb.All() {
		got[k] = *v
	}
	if diff := cmp.Diff(ref, got); diff != "" {
		t.Fatalf("held counts (-want +got):\n%s", diff)
	}
	if tb.Evicted() != evictions {
		t.Fatalf("Evicted() = %d, reference saw %d evictions", tb.Evicted(), evictions)
	}
	return evictions
}

func randomOps(r *rand.Rand, n int, universe uint32, delPct int) []op {
	ops := make([]op, n)
	for i := range ops {
		ops[i] = op{key: r.Uint32N(universe), n: 1 + r.Uint64N(1500), del: r.IntN(100) < delPct}
	}
	return ops
}

func TestTableUnderCapacityIsExact(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		universe uint32
		delPct   int
		hash     func(uint32) uint64
	}{
		{"gets only", 1000, 1000, 0, hashU32},
		{"gets and deletes", 1000, 1000, 10, hashU32},
		{"colliding hash", 64, 64, 20, badHash},
		{"capacity one", 1, 1, 30, hashU32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tt.capacity)))
			if ev := check(t, tt.capacity, tt.hash, randomOps(r, 50000, tt.universe, tt.delPct)); ev != 0 {
				t.Errorf("%d evictions with at most %d distinct keys in a table of %d", ev, tt.universe, tt.capacity)
			}
		})
	}
}

func TestTableOverCapacity(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		universe uint32
		delPct   int
		hash     func(uint32) uint64
	}{
		{"churn 2x", 500, 1000, 0, hashU32},
		{"churn 100x with deletes", 100, 10000, 5, hashU32},
		{"colliding hash", 32, 200, 10, badHash},
		{"capacity one", 1, 50, 0, hashU32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(2, uint64(tt.capacity)))
			if ev := check(t, tt.capacity, tt.hash, randomOps(r, 30000, tt.universe, tt.delPct)); ev == 0 {
				t.Errorf("no eviction with %d distinct keys in a table of %d", tt.universe, tt.capacity)
			}
		})
	}
}

// TestTableKeepsHotKeys: under a churn of keys seen once, a key seen
// again at least once every capacity/4 insertions is never evicted: only
// entries not referenced since the hand last passed them go, and the
// hand, which clears few bits here, cannot turn once in that time.
func TestTableKeepsHotKeys(t *testing.T) {
	const capacity = 256
	tb := New[uint32, uint64](capacity, hashU32)
	hot := []uint32{1, 2, 3, 4}
	next := uint32(1000)
	for round := range 10000 {
		for _, h := range hot {
			v, fresh := tb.Get(h)
			if fresh && round > 0 {
				t.Fatalf("round %d: hot key %d was evicted", round, h)
			}
			*v++
		}
		for range capacity / 4 {
			tb.Get(next)
			next++
		}
	}
	for _, h := range hot {
		if v, ok := tb.Lookup(h); !ok || *v != 10000 {
			t.Errorf("hot key %d: %v %v, want 10000", h, ok, v)
		}
	}
	if tb.Evicted() == 0 {
		t.Error("no eviction")
	}
}

// TestTableGrows: the slab starts small and doubles up to the capacity;
// entries survive each doubling, and nothing is evicted before the
// capacity is reached.
func TestTableGrows(t *testing.T) {
	const capacity = 5000 // not a power of two: the last step is partial
	tb := New[uint32, uint64](capacity, hashU32)
	if got := len(tb.keys); got != initialSlots {
		t.Fatalf("initial slab %d slots, want %d", got, initialSlots)
	}
	for k := range uint32(capacity) {
		v, fresh := tb.Get(k)
		if !fresh {
			t.Fatalf("key %d not fresh", k)
		}
		*v = uint64(k) * 3
	}
	if len(tb.keys) != capacity || tb.Evicted() != 0 || tb.Len() != capacity {
		t.Fatalf("slab %d, len %d, evicted %d; want %d, %d, 0", len(tb.keys), tb.Len(), tb.Evicted(), capacity, capacity)
	}
	for k := range uint32(capacity) {
		if v, ok := tb.Lookup(k); !ok || *v != uint64(k)*3 {
			t.Fatalf("key %d: %v %v after growing", k, ok, v)
		}
	}
	tb.Get(capacity) // full: evicts
	if tb.Evicted() != 1 || len(tb.keys) != capacity {
		t.Fatalf("evicted %d, slab %d", tb.Evicted(), len(tb.keys))
	}
}

func TestTableReset(t *testing.T) {
	tb := New[uint32, uint64](4, hashU32)
	for k := range uint32(10) {
		tb.Get(k)
	}
	tb.Reset()
	if tb.Len() != 0 || tb.Evicted() != 0 {
		t.Fatalf("after Reset: Len %d Evicted %d", tb.Len(), tb.Evicted())
	}
	check(t, 4, hashU32, []op{{key: 1, n: 1}, {key: 2, n: 1}})
}

func TestTableNoAllocs(t *testing.T) {
	tb := New[netip.AddrPort, [4]uint64](1024, func(a netip.AddrPort) uint64 { return HashAddrPort(0, a) })
	keys := make([]netip.AddrPort, 5000)
	for i := range keys {
		keys[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(i))
	}
	for _, k := range keys[:1024] { // the slab grows to its capacity
		tb.Get(k)
	}
	i := 0
	allocs := testing.AllocsPerRun(20000, func() {
		v, _ := tb.Get(keys[i%len(keys)])
		v[0]++
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Get under churn, want 0", allocs)
	}
}

func FuzzTable(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 0x81, 2, 3}, uint8(4), false)
	f.Add([]byte{9, 9, 9, 1, 2, 0x82, 1, 7, 7}, uint8(1), true)
	f.Fuzz(func(t *testing.T, data []byte, capacity uint8, collide bool) {
		hash := hashU32
		if collide {
			hash = badHash
		}
		ops := make([]op, len(data))
		for i, b := range data {
			ops[i] = op{key: uint32(b & 0x3f), n: uint64(b), del: b&0x80 != 0 && b&0x40 != 0}
		}
		check(t, int(capacity%70)+1, hash, ops)
	})
}

func BenchmarkTableChurn(b *testing.B) {
	tb := New[netip.AddrPort, [4]uint64](4096, func(a netip.AddrPort) uint64 { return HashAddrPort(0, a) })
	keys := make([]netip.AddrPort, 1<<16)
	for i := range keys {
		keys[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(i))
	}
	r := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v, _ := tb.Get(keys[r.IntN(len(keys))])
		v[0]++
	}
}

// BenchmarkHashAddr hashes IPv4 and IPv6 addresses, as the capture's
// host table does for every packet.
func BenchmarkHashAddr(b *testing.B) {
	addrs := []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.168.0.1"), netip.MustParseAddr("10.9.8.7")}
	var h uint64
	i := 0
	for b.Loop() {
		h ^= HashAddr(h, addrs[i&3])
		i++
	}
	sink = h
}

var sink uint64
