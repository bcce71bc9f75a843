package bounded

import (
	"iter"
	"math/bits"
)

// slot states.
const (
	slotFree uint8 = iota
	slotLive       // held, referenced bit clear
	slotRef        // held, referenced bit set
)

// Table is a bounded map from K to V (see the package doc for its
// eviction and bound). Values live in the table's slab: a *V returned by
// Get or Lookup stays valid until that key is deleted or evicted.
// It is not safe for concurrent use.
type Table[K comparable, V any] struct {
	hash func(K) uint64
	// capacity bounds the slab; keys, vals, hashes and state are the
	// slab's columns, len(keys) slots so far.
	capacity int
	keys     []K
	vals     []V
	hashes   []uint64
	state    []uint8
	free     []int32 // slots freed by Delete, reused first
	used     int     // slots [0, used) have been handed out at least once
	n        int     // live entries
	index    []int32 // slot+1; 0 is empty
	mask     uint64
	hand     int
	evicted  uint64
}

// initialSlots is the slab a Table starts with (or its capacity, if
// smaller): a table that never fills costs memory for what it holds.
const initialSlots = 256

// New returns a Table of at most capacity entries (at least 1) hashed by
// hash. Its slab starts small and doubles as it fills, up to capacity:
// an insertion allocates only at a doubling (log2(capacity) times in the
// table's life), never per entry.
func New[K comparable, V any](capacity int, hash func(K) uint64) *Table[K, V] {
	t := &Table[K, V]{hash: hash, capacity: max(capacity, 1)}
	t.resize(min(t.capacity, initialSlots))
	return t
}

// resize makes the slab n slots (n >= t.used) and rebuilds the index.
func (t *Table[K, V]) resize(n int) {
	t.keys = regrow(t.keys, n)
	t.vals = regrow(t.vals, n)
	t.hashes = regrow(t.hashes, n)
	t.state = regrow(t.state, n)
	size := 1 << bits.Len(uint(2*n-1)) // >= 2n: load at most 1/2
	t.index = make([]int32, size)
	t.mask = uint64(size - 1)
	for s := range t.used {
		if t.state[s] == slotFree {
			continue
		}
		i := t.hashes[s] & t.mask
		for t.index[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.index[i] = int32(s) + 1
	}
}

// regrow returns s copied into a new slice of length n.
func regrow[T any](s []T, n int) []T { return append(make([]T, 0, n), s...)[:n] }

// Capacity returns how many entries the table holds at most.
func (t *Table[K, V]) Capacity() int { return t.capacity }

// Len returns how many entries the table holds.
func (t *Table[K, V]) Len() int { return t.n }

// Evicted returns how many entries have been evicted to make room since
// New or the last Reset.
func (t *Table[K, V]) Evicted() uint64 { return t.evicted }

// find returns the index position of k (and true), or the empty
// position where it would go.
func (t *Table[K, V]) find(k K, h uint64) (uint64, bool) {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.index[i]
		if s == 0 {
			return i, false
		}
		if t.hashes[s-1] == h && t.keys[s-1] == k {
			return i, true
		}
	}
}

// Lookup returns the value held for k, marking it referenced.
func (t *Table[K, V]) Lookup(k K) (*V, bool) {
	pos, ok := t.find(k, t.hash(k))
	if !ok {
		return nil, false
	}
	s := t.index[pos] - 1
	t.state[s] = slotRef
	return &t.vals[s], true
}

// Get returns the value held for k, marking it referenced; if k is not
// held, it inserts k with V's zero value (evicting an entry if the table
// is full) and reports fresh.
func (t *Table[K, V]) Get(k K) (v *V, fresh bool) {
	h := t.hash(k)
	pos, ok := t.find(k, h)
	if ok {
		s := t.index[pos] - 1
		t.state[s] = slotRef
		return &t.vals[s], false
	}
	var s int32
	switch {
	case len(t.free) > 0:
		s = t.free[len(t.free)-1]
		t.free = t.free[:len(t.free)-1]
	case t.used < t.capacity:
		if t.used == len(t.keys) {
			t.resize(min(2*len(t.keys), t.capacity))
			pos, _ = t.find(k, h) // the index was rebuilt
		}
		s = int32(t.used)
		t.used++
	default:
		s = t.victim()
		t.unindex(t.keys[s], t.hashes[s])
		t.evicted++
		t.n--
		// The victim's removal may have shifted k's empty position.
		pos, _ = t.find(k, h)
	}
	t.keys[s], t.hashes[s], t.state[s] = k, h, slotLive
	var zero V
	t.vals[s] = zero
	t.index[pos] = s + 1
	t.n++
	return &t.vals[s], true
}

// victim advances the hand to the first live entry without its
// referenced bit, clearing the bits it passes, and returns its slot. The
// table is full, so it ends within two turns.
func (t *Table[K, V]) victim() int32 {
	for {
		s := t.hand
		t.hand++
		if t.hand == len(t.keys) {
			t.hand = 0
		}
		switch t.state[s] {
		case slotRef:
			t.state[s] = slotLive
		case slotLive:
			return int32(s)
		}
	}
}

// unindex removes k from the index with backward-shift deletion.
func (t *Table[K, V]) unindex(k K, h uint64) {
	i, ok := t.find(k, h)
	if !ok {
		return
	}
	for j := (i + 1) & t.mask; ; j = (j + 1) & t.mask {
		s := t.index[j]
		if s == 0 {
			break
		}
		home := t.hashes[s-1] & t.mask
		// The entry at j may move to i unless its home lies cyclically
		// in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.index[i] = s
			i = j
		}
	}
	t.index[i] = 0
}

// Delete removes k, reporting whether it was held.
func (t *Table[K, V]) Delete(k K) bool {
	h := t.hash(k)
	pos, ok := t.find(k, h)
	if !ok {
		return false
	}
	s := t.index[pos] - 1
	t.unindex(k, h)
	var zk K
	var zv V
	t.keys[s], t.vals[s], t.state[s] = zk, zv, slotFree
	t.free = append(t.free, s)
	t.n--
	return true
}

// All yields the held entries in slab order (not sorted). The table must
// not be changed during the iteration but through the *V yielded.
func (t *Table[K, V]) All() iter.Seq2[K, *V] {
	return func(yield func(K, *V) bool) {
		for s := range t.used {
			if t.state[s] != slotFree && !yield(t.keys[s], &t.vals[s]) {
				return
			}
		}
	}
}

// Reset empties the table and its eviction count, keeping its memory.
func (t *Table[K, V]) Reset() {
	clear(t.keys)
	clear(t.vals)
	clear(t.state)
	clear(t.index)
	t.free = t.free[:0]
	t.used, t.n, t.hand, t.evicted = 0, 0, 0, 0
}
