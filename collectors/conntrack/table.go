package conntrack

import (
	"cmp"
	"slices"

	"netlens/collectors/internal/bounded"
	"netlens/model"
)

// DefaultMaxFlows is how many flows a Collector holds unless configured
// otherwise. A model.Flow takes about 350 bytes plus map overhead, so
// this bounds the table near 32 MiB; past it, netlens keeps the flows
// with the most bytes and the kernel's total count.
const DefaultMaxFlows = 65536

// eventKind is a conntrack event type.
type eventKind uint8

const (
	evNew     eventKind = iota + 1 // IPCTNL_MSG_CT_NEW with NLM_F_CREATE|NLM_F_EXCL
	evUpdate                       // IPCTNL_MSG_CT_NEW without them
	evDestroy                      // IPCTNL_MSG_CT_DELETE
)

func (k eventKind) String() string {
	switch k {
	case evNew:
		return "NEW"
	case evUpdate:
		return "UPDATE"
	case evDestroy:
		return "DESTROY"
	}
	return "UNKNOWN"
}

type event struct {
	kind eventKind
	flow model.Flow
}

// table is the in-memory conntrack table, bounded to limit flows. The
// flows live in one slice, flows, which is also what a snapshot
// publishes: snapshot sorts it in place and hands it out, and from then
// on it is shared and never written again; the first change after that
// copies it (copy on write). An index of positions (posIndex) finds a
// flow by its key. A list published is filled again, by a later copy or
// dump, once nobody reads it (its life, a model.SocketsGen, is free):
// the table keeps maxSpareLists of them (spare) instead of allocating 27
// MB at 65,536 flows for every dump (docs/performance.md, "The TUI at
// 100k", round 4). So the table costs one list of flows, two once a dump
// or a change after a snapshot has needed a second, a small index, and
// the scratch of its dumps and sorts (heap, sort).
// Past the limit a new flow is not held (truncated is set) rather than
// evicting one: the kernel is the source of truth, and the next dump
// picks the flows with the most bytes again (topN).
// It is not safe for concurrent use; the Collector guards it.
type table struct {
	limit int
	// x finds a held flow's position in flows by its key.
	x     *posIndex
	flows []model.Flow
	// life is flows' lifetime once published (a snapshot hands it out).
	life *model.SocketsGen
	// spare are lists published before, their memory (length 0) and
	// lifetime, oldest first: filled again once free (takeList).
	spare []flowList
	// made and reused count the lists takeList allocated and those it
	// filled again (tests read them).
	made, reused uint64
	// heap is the memory of the last dump's topN heap and sort the
	// scratch of sortFlows, used again by the next dump and sort: 2.3 MB
	// at 65,536 flows, kept, where every dump allocated 2.1 MB. Neither
	// is ever published; heap is the running dump's while it runs.
	heap []topEntry
	sort sortScratch
	// shared is set while flows is the slice the last snapshot got.
	shared bool
	// truncated is set when the kernel had more entries than limit at the
	// last dump, or when an event brought a flow that did not fit since.
	truncated bool
	// dirty is set when the table changed since the last snapshot.
	dirty bool
}

func newTable(limit int) *table {
	if limit <= 0 {
		limit = DefaultMaxFlows
	}
	return &table{limit: limit, x: newPosIndex(), flows: []model.Flow{}, life: new(model.SocketsGen), dirty: true}
}

// maxSpareLists bounds the published lists a table keeps to fill again:
// the one the Store (and the screen) had before the current one. A
// table whose lists are held longer (a paused screen, a reader that
// pins them with Store.Snapshot) allocates new ones, as it always did.
const maxSpareLists = 1

// flowList is the memory of a list of flows a table filled, and its
// lifetime once published.
type flowList struct {
	mem  []model.Flow // length 0, its capacity the list's
	life *model.SocketsGen
}

// takeList returns the memory of a spare list nobody reads any more
// (length 0) and its lifetime, or else a new list of capacity hint and a
// new lifetime. The list is no longer spare.
func (t *table) takeList(hint int) ([]model.Flow, *model.SocketsGen) {
	for i, l := range t.spare {
		if l.life.Free() {
			t.spare = append(t.spare[:i], t.spare[i+1:]...)
			t.reused++
			return l.mem, l.life
		}
	}
	t.made++
	return make([]model.Flow, 0, hint), new(model.SocketsGen)
}

// keepList keeps the memory of flows, of lifetime life, to fill again
// once free; past maxSpareLists the oldest is let go (to the garbage
// collector, once its readers are done). A list never published is free
// at once.
func (t *table) keepList(flows []model.Flow, life *model.SocketsGen) {
	if cap(flows) == 0 {
		return
	}
	t.spare = append(t.spare, flowList{flows[:0], life})
	if len(t.spare) > maxSpareLists {
		t.spare = append(t.spare[:0], t.spare[1:]...)
	}
}

func hashFlowKey(k flowKey) uint64 {
	h := uint64(k.zone)<<8 | uint64(k.proto)
	h = bounded.Mix(h, uint64(k.icmp.Type)<<24|uint64(k.icmp.Code)<<16|uint64(k.icmp.ID))
	return bounded.HashAddrPort(bounded.HashAddrPort(h, k.src), k.dst)
}

// len returns how many flows the table holds.
func (t *table) len() int { return len(t.flows) }

// own makes flows the table's own to write: a copy of it if a snapshot
// has it.
func (t *table) own() {
	if !t.shared {
		return
	}
	n := len(t.flows)
	mem, life := t.takeList(min(t.limit, n+n/8+16))
	old, oldLife := t.flows, t.life
	t.flows, t.life = append(mem, old...), life
	t.keepList(old, oldLife) // free once the snapshots that have it are let go
	t.shared = false
}

// apply applies one event. A NEW or UPDATE for a flow that is not held
// is added while there is room; past the limit it is left out and the
// table marked truncated (the next dump picks the top flows again).
func (t *table) apply(ev event) {
	k := keyOf(&ev.flow)
	h := hashFlowKey(k)
	slot, ok := t.x.find(t.flows, k, h)
	var old *model.Flow
	if ok {
		old = &t.flows[t.x.pos(slot)]
	}
	switch ev.kind {
	case evDestroy:
		// A DESTROY for another entry with the same tuple (one the kernel
		// replaced, its event late) leaves the held one alone.
		if ok && (old.ID == ev.flow.ID || ev.flow.ID == 0 || old.ID == 0) {
			t.remove(slot)
		}
		return
	case evUpdate:
		if ok {
			t.own()
			old = &t.flows[t.x.pos(slot)]
			if old.ID != ev.flow.ID && ev.flow.ID != 0 {
				*old = ev.flow // a new entry under the same tuple
			} else {
				*old = merge(*old, ev.flow)
			}
			t.dirty = true
			return
		}
	case evNew:
		if ok {
			// The old entry's DESTROY was lost or is still to come for a
			// different id: the kernel has one entry per tuple, the new one.
			t.own()
			t.flows[t.x.pos(slot)] = ev.flow
			t.dirty = true
			return
		}
	default:
		return
	}
	if len(t.flows) >= t.limit {
		t.truncated = true
		return
	}
	t.own()
	t.flows = append(t.flows, ev.flow)
	t.x.insert(h, int32(len(t.flows)-1))
	t.dirty = true
}

// remove deletes the flow whose position index slot holds: the last
// flow takes its place.
func (t *table) remove(slot int) {
	t.own()
	i := int(t.x.pos(slot))
	t.x.delete(slot)
	last := len(t.flows) - 1
	if i != last {
		k := keyOf(&t.flows[last])
		s, _ := t.x.find(t.flows, k, hashFlowKey(k))
		t.x.set(s, int32(i))
		t.flows[i] = t.flows[last]
	}
	t.flows[last] = model.Flow{}
	t.flows = t.flows[:last]
	t.dirty = true
}

// snapshot returns the held flows, sorted as sortFlows does. The slice is
// shared with the table until its next change and must not be written. A
// reader that publishes it takes a reference to t.life (Ref) before the
// table changes again: the table fills its memory again once life is
// free.
func (t *table) snapshot() []model.Flow {
	if !t.shared {
		to := t.sort.sortFlows(t.flows)
		// Every flow moved from position i to to[i]: one pass over the
		// index, no lookup.
		t.x.remap(to)
		t.shared = true
	}
	return t.flows[:len(t.flows):len(t.flows)]
}

// sortFlows sorts flows in place: most bytes first, ties by id, then
// original tuple and zone. Each flow moves once. It returns where each
// went: the flow at position i before is at to[i] after.
func sortFlows(flows []model.Flow) (to []int32) {
	var s sortScratch
	return s.sortFlows(flows)
}

// sortScratch is the memory sortFlows works in, kept to sort again
// without allocating. Its keys hold no pointer: kept between sorts,
// they keep no list of flows alive.
type sortScratch struct {
	keys []sortKey
	to   []int32
}

// sortFlows is sortFlows in s's memory; to is s's, good until the next
// sort.
func (s *sortScratch) sortFlows(flows []model.Flow) (to []int32) {
	n := len(flows)
	if cap(s.keys) < n {
		s.keys, s.to = make([]sortKey, n), make([]int32, n)
	}
	keys, to := s.keys[:n], s.to[:n]
	for i := range flows {
		keys[i] = sortKey{bytes: flows[i].Bytes(), id: flows[i].ID, i: int32(i)}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		// Not cmp.Or: it would compare the tuples of every pair.
		if c := cmp.Compare(b.bytes, a.bytes); c != 0 {
			return c
		}
		if c := cmp.Compare(a.id, b.id); c != 0 {
			return c
		}
		return compareTuples(&flows[a.i], &flows[b.i])
	})
	for i, k := range keys {
		to[k.i] = int32(i)
	}
	// Position i takes the flow at keys[i].i: follow each cycle. A
	// position filled is marked done by making its key point at itself.
	for i := range flows {
		if int(keys[i].i) == i {
			continue
		}
		tmp := flows[i]
		j := i
		for {
			src := int(keys[j].i)
			keys[j].i = int32(j)
			if src == i {
				flows[j] = tmp
				break
			}
			flows[j] = flows[src]
			j = src
		}
	}
	return to
}

// sortKey is what sortFlows sorts a flow by, and its index.
type sortKey struct {
	bytes uint64
	id    uint32
	i     int32
}

func compareTuples(a, b *model.Flow) int {
	return cmp.Or(
		a.Orig.Src.Compare(b.Orig.Src),
		a.Orig.Dst.Compare(b.Orig.Dst),
		cmp.Compare(a.Zone, b.Zone),
	)
}

// topN keeps the limit flows with the most bytes of those it is given, so
// that a dump of any size holds at most limit flows. Flows stay where
// they were appended; once full, a min-heap of their indexes (on bytes)
// finds the one to replace. Each heap entry carries its flow's bytes: a
// sift compares entries without reading the flows, whose list (20 MB
// at 65,536 flows) the heap's random walk would miss the cache on at
// every step (about 40% of a 100,000-entry dump's time in Go went
// there: BenchmarkPeriodicDump).
type topN struct {
	limit int
	flows []model.Flow
	life  *model.SocketsGen // flows' lifetime, when a table's list
	heap  []topEntry        // built when flows is full
	seen  int
}

// topEntry is a topN heap entry: the index of a flow in flows and its
// bytes.
type topEntry struct {
	bytes uint64
	i     int32
}

// newTopN returns a topN for limit flows expecting about hint of them.
func newTopN(limit, hint int) *topN {
	return &topN{limit: limit, flows: make([]model.Flow, 0, topNCap(limit, hint)), life: new(model.SocketsGen)}
}

func topNCap(limit, hint int) int { return min(limit, max(hint, 1024)) }

// newTopN returns a topN for t's limit of flows, expecting about hint of
// them, in a list of t's (takeList) and the heap memory of its last
// dump; t.keepList takes the list back if the dump fails.
func (t *table) newTopN(hint int) *topN {
	mem, life := t.takeList(topNCap(t.limit, hint))
	h := t.heap
	t.heap = nil
	return &topN{limit: t.limit, flows: mem, life: life, heap: h[:0]}
}

// reset empties d for a dump tried again.
func (d *topN) reset() {
	d.flows, d.heap, d.seen = d.flows[:0], d.heap[:0], 0
}

func (t *topN) add(f model.Flow) {
	t.seen++
	if len(t.flows) < t.limit {
		t.flows = append(t.flows, f)
		return
	}
	if len(t.heap) == 0 { // flows just filled up (limit > 0)
		t.heap = slices.Grow(t.heap[:0], len(t.flows))
		for i := range t.flows {
			t.heap = append(t.heap, topEntry{t.flows[i].Bytes(), int32(i)})
		}
		for i := len(t.heap)/2 - 1; i >= 0; i-- {
			t.down(i)
		}
	}
	b := f.Bytes()
	if len(t.heap) == 0 || b <= t.heap[0].bytes {
		return
	}
	t.flows[t.heap[0].i] = f
	t.heap[0].bytes = b
	t.down(0)
}

func (t *topN) bytes(i int) uint64 { return t.heap[i].bytes }

func (t *topN) down(i int) {
	n := len(t.heap)
	for {
		l, s := 2*i+1, i
		if l < n && t.bytes(l) < t.bytes(s) {
			s = l
		}
		if r := l + 1; r < n && t.bytes(r) < t.bytes(s) {
			s = r
		}
		if s == i {
			return
		}
		t.heap[s], t.heap[i] = t.heap[i], t.heap[s]
		i = s
	}
}

// replace makes the table hold the flows of a finished dump: it takes
// d's slice as its own (d must not be used after). Flows it already held
// keep their FirstSeen. Of two entries the dump gave under one key (the
// kernel replaced one while the dump ran), the later is kept.
func (t *table) replace(d *topN) {
	for i := range d.flows {
		f := &d.flows[i]
		k := keyOf(f)
		if s, ok := t.x.find(t.flows, k, hashFlowKey(k)); ok {
			if h := &t.flows[t.x.pos(s)]; h.ID == f.ID && h.FirstSeen.Before(f.FirstSeen) {
				f.FirstSeen = h.FirstSeen
			}
		}
	}
	t.x.reset()
	fl := d.flows
	n := 0
	for i := range fl {
		// The index holds positions in fl[:n], the flows kept so far.
		k := keyOf(&fl[i])
		h := hashFlowKey(k)
		if s, ok := t.x.find(fl[:n], k, h); ok {
			fl[t.x.pos(s)] = fl[i]
			continue
		}
		fl[n] = fl[i]
		t.x.insert(h, int32(n))
		n++
	}
	clear(fl[n:])
	old, oldLife := t.flows, t.life
	t.flows, t.life, t.shared = fl[:n], d.life, false
	t.keepList(old, oldLife)
	t.heap = d.heap[:0]
	d.flows, d.heap = nil, nil
	t.truncated = d.seen > len(fl)
	t.dirty = true
}
