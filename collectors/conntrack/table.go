package conntrack

import (
	"cmp"
	"slices"

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
// flows it points to are its own: snapshots get copies (flows).
// It is not safe for concurrent use; the Collector guards it.
type table struct {
	limit int
	m     map[flowKey]*model.Flow
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
	return &table{limit: limit, m: make(map[flowKey]*model.Flow), dirty: true}
}

// apply applies one event. A NEW or UPDATE for a flow that is not held
// is added while there is room; past the limit it is left out and the
// table marked truncated (the next dump picks the top flows again).
func (t *table) apply(ev event) {
	k := keyOf(&ev.flow)
	old, held := t.m[k]
	switch ev.kind {
	case evDestroy:
		// A DESTROY for another entry with the same tuple (one the kernel
		// replaced, its event late) leaves the held one alone.
		if held && (old.ID == ev.flow.ID || ev.flow.ID == 0 || old.ID == 0) {
			delete(t.m, k)
			t.dirty = true
		}
		return
	case evUpdate:
		if held {
			if old.ID != ev.flow.ID && ev.flow.ID != 0 {
				*old = ev.flow // a new entry under the same tuple
			} else {
				*old = merge(*old, ev.flow)
			}
			t.dirty = true
			return
		}
	case evNew:
		if held {
			// The old entry's DESTROY was lost or is still to come for a
			// different id: the kernel has one entry per tuple, the new one.
			*old = ev.flow
			t.dirty = true
			return
		}
	default:
		return
	}
	if len(t.m) >= t.limit {
		t.truncated = true
		return
	}
	f := ev.flow
	t.m[k] = &f
	t.dirty = true
}

// flows returns copies of the held flows in a new slice, sorted as
// sortFlows does. It sorts small keys, not the flows, to keep a sort of
// 100,000 flows cheap.
func (t *table) flows() []model.Flow {
	keys := make([]sortKey, 0, len(t.m))
	for _, f := range t.m {
		keys = append(keys, sortKey{bytes: f.Bytes(), id: f.ID, f: f})
	}
	slices.SortFunc(keys, compareKeys)
	out := make([]model.Flow, len(keys))
	for i, k := range keys {
		out[i] = *k.f
	}
	return out
}

// sortFlows sorts flows in place: most bytes first, ties by id, then
// original tuple and zone. Each flow moves once.
func sortFlows(flows []model.Flow) {
	keys := make([]sortKey, len(flows))
	for i := range flows {
		keys[i] = sortKey{bytes: flows[i].Bytes(), id: flows[i].ID, f: &flows[i], i: int32(i)}
	}
	slices.SortFunc(keys, compareKeys)
	// Position i takes the flow at keys[i].i: follow each cycle.
	done := make([]bool, len(flows))
	for i := range flows {
		if done[i] || int(keys[i].i) == i {
			continue
		}
		tmp := flows[i]
		j := i
		for {
			done[j] = true
			src := int(keys[j].i)
			if src == i {
				flows[j] = tmp
				break
			}
			flows[j] = flows[src]
			j = src
		}
	}
}

func compareKeys(a, b sortKey) int {
	// Not cmp.Or: it would compare the tuples of every pair.
	if c := cmp.Compare(b.bytes, a.bytes); c != 0 {
		return c
	}
	if c := cmp.Compare(a.id, b.id); c != 0 {
		return c
	}
	return compareTuples(a.f, b.f)
}

type sortKey struct {
	bytes uint64
	id    uint32
	i     int32 // index of the flow (sortFlows)
	f     *model.Flow
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
// finds the one to replace.
type topN struct {
	limit int
	flows []model.Flow
	heap  []int32 // indexes into flows; built when flows is full
	seen  int
}

// newTopN returns a topN for limit flows expecting about hint of them.
func newTopN(limit, hint int) *topN {
	return &topN{limit: limit, flows: make([]model.Flow, 0, min(limit, max(hint, 1024)))}
}

func (t *topN) add(f model.Flow) {
	t.seen++
	if len(t.flows) < t.limit {
		t.flows = append(t.flows, f)
		return
	}
	if t.heap == nil {
		t.heap = make([]int32, len(t.flows))
		for i := range t.heap {
			t.heap[i] = int32(i)
		}
		for i := len(t.heap)/2 - 1; i >= 0; i-- {
			t.down(i)
		}
	}
	if len(t.heap) == 0 || f.Bytes() <= t.flows[t.heap[0]].Bytes() {
		return
	}
	t.flows[t.heap[0]] = f
	t.down(0)
}

func (t *topN) bytes(i int) uint64 { return t.flows[t.heap[i]].Bytes() }

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

// replace makes the table hold the flows of a finished dump (taking
// ownership of d's flows). Flows it already held keep their FirstSeen.
func (t *table) replace(d *topN) {
	m := make(map[flowKey]*model.Flow, len(d.flows))
	for i := range d.flows {
		f := &d.flows[i]
		k := keyOf(f)
		if old, ok := t.m[k]; ok && old.ID == f.ID && old.FirstSeen.Before(f.FirstSeen) {
			f.FirstSeen = old.FirstSeen
		}
		m[k] = f
	}
	t.m = m
	t.truncated = d.seen > len(d.flows)
	t.dirty = true
}
