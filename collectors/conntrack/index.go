package conntrack

import "netlens/model"

// posIndex finds a flow's position in a list of flows by its key. It
// holds positions only, not keys: a probe compares the key of the flow
// at a position, so the index costs 8 bytes a slot (1 MB at 65,536
// flows) where a map of keys to positions cost 100 bytes a flow (6.6 MB,
// and keys full of pointers for the GC to scan). Every method that reads
// flows must be given the list the positions point into. Open
// addressing with linear probing, at most half full, backward-shift
// deletion (no tombstones). Not safe for concurrent use.
type posIndex struct {
	// slots hold, each, the low 32 bits of a key's hash (high half) and
	// its flow's position + 1 (low half); 0 is empty.
	slots []uint64
	mask  uint64
	n     int
}

// posIndexMin is the fewest slots an index has: a table that holds few
// flows costs little.
const posIndexMin = 256

func newPosIndex() *posIndex {
	return &posIndex{slots: make([]uint64, posIndexMin), mask: posIndexMin - 1}
}

func slotPos(s uint64) int32   { return int32(uint32(s)) - 1 }
func slotHash(s uint64) uint32 { return uint32(s >> 32) }

// len returns how many positions the index holds.
func (x *posIndex) len() int { return x.n }

// find returns the slot holding the position of the flow of key k
// (hash h) in flows, and whether there is one.
func (x *posIndex) find(flows []model.Flow, k flowKey, h uint64) (int, bool) {
	tag := uint32(h)
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		s := x.slots[i]
		if s == 0 {
			return int(i), false
		}
		if slotHash(s) == tag && keyOf(&flows[slotPos(s)]) == k {
			return int(i), true
		}
	}
}

// pos returns the position slot i holds.
func (x *posIndex) pos(i int) int32 { return slotPos(x.slots[i]) }

// set makes slot i, which holds a position, hold pos instead.
func (x *posIndex) set(i int, pos int32) {
	x.slots[i] = x.slots[i]&^0xffffffff | uint64(uint32(pos+1))
}

// insert adds the position of a flow whose key is not in the index and
// hashes to h.
func (x *posIndex) insert(h uint64, pos int32) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	x.put(uint64(uint32(h))<<32 | uint64(uint32(pos+1)))
	x.n++
}

// put stores slot value s at the first empty slot from its hash's.
func (x *posIndex) put(s uint64) {
	i := uint64(slotHash(s)) & x.mask
	for x.slots[i] != 0 {
		i = (i + 1) & x.mask
	}
	x.slots[i] = s
}

// grow doubles the slots. The hash kept in a slot is 32 bits: past 2^32
// slots (never: the table holds its limit of flows) it would repeat.
func (x *posIndex) grow() {
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	x.mask = uint64(len(x.slots) - 1)
	for _, s := range old {
		if s != 0 {
			x.put(s)
		}
	}
}

// delete empties slot i, shifting back the entries after it that
// probed past it, so that every entry stays reachable from its home.
func (x *posIndex) delete(i int) {
	j := uint64(i)
	for {
		x.slots[j] = 0
		k := j
		for {
			k = (k + 1) & x.mask
			s := x.slots[k]
			if s == 0 {
				x.n--
				return
			}
			home := uint64(slotHash(s)) & x.mask
			// The entry at k may move to j if its home is not in (j, k]
			// (cyclically).
			if (k-home)&x.mask >= (k-j)&x.mask {
				x.slots[j] = s
				j = k
				break
			}
		}
	}
}

// reset empties the index; it keeps its slots.
func (x *posIndex) reset() {
	clear(x.slots)
	x.n = 0
}

// remap makes every position p held be to[p] (the flows moved).
func (x *posIndex) remap(to []int32) {
	for i, s := range x.slots {
		if s != 0 {
			x.set(i, to[slotPos(s)])
		}
	}
}
