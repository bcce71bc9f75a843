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

// table is the in-memory conntrack table, bounded to limit flows.
// It is not safe for concurrent use; the Collector guards it.
type table struct {
	limit int
	m     map[flowKey]model.Flow
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
	return &table{limit: limit, m: make(map[flowKey]model.Flow), dirty: true}
}

// apply applies one event. A NEW or UPDATE for a flow that is not held
// is added while there is room; past the limit it is left out and the
// table marked truncated (the next dump picks the top flows again).
func (t *table) apply(ev event) {
	k := keyOf(&ev.flow)
	old, held := t.m[k]
	switch ev.kind {
	case evDestroy:
		if held {
			delete(t.m, k)
			t.dirty = true
		}
		return
	case evUpdate:
		if held {
			t.m[k] = merge(old, ev.flow)
			t.dirty = true
			return
		}
	case evNew:
		if held {
			// The old entry's DESTROY was lost or is still to come for a
			// different id: the kernel has one entry per tuple, the new one.
			t.m[k] = ev.flow
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
	t.m[k] = ev.flow
	t.dirty = true
}

// flows returns the held flows, most bytes first (ties by id, then
// original tuple), as a new slice.
func (t *table) flows() []model.Flow {
	out := make([]model.Flow, 0, len(t.m))
	for _, f := range t.m {
		out = append(out, f)
	}
	slices.SortFunc(out, compareFlows)
	return out
}

func compareFlows(a, b model.Flow) int {
	return cmp.Or(
		cmp.Compare(b.Bytes(), a.Bytes()),
		cmp.Compare(a.ID, b.ID),
		a.Orig.Src.Compare(b.Orig.Src),
		a.Orig.Dst.Compare(b.Orig.Dst),
		cmp.Compare(a.Zone, b.Zone),
	)
}

// topN keeps the limit flows with the most bytes of those it is given, in
// a min-heap on bytes, so that a dump of any size holds at most limit
// flows.
type topN struct {
	limit int
	h     []model.Flow
	seen  int
}

func (t *topN) add(f model.Flow) {
	t.seen++
	if len(t.h) < t.limit {
		t.h = append(t.h, f)
		t.up(len(t.h) - 1)
		return
	}
	if f.Bytes() <= t.h[0].Bytes() {
		return
	}
	t.h[0] = f
	t.down(0)
}

func (t *topN) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if t.h[p].Bytes() <= t.h[i].Bytes() {
			return
		}
		t.h[p], t.h[i] = t.h[i], t.h[p]
		i = p
	}
}

func (t *topN) down(i int) {
	n := len(t.h)
	for {
		l, s := 2*i+1, i
		if l < n && t.h[l].Bytes() < t.h[s].Bytes() {
			s = l
		}
		if r := l + 1; r < n && t.h[r].Bytes() < t.h[s].Bytes() {
			s = r
		}
		if s == i {
			return
		}
		t.h[s], t.h[i] = t.h[i], t.h[s]
		i = s
	}
}

// replace makes the table hold the flows of a finished dump. Flows it
// already held keep their FirstSeen.
func (t *table) replace(d *topN) {
	m := make(map[flowKey]model.Flow, len(d.h))
	for _, f := range d.h {
		k := keyOf(&f)
		if old, ok := t.m[k]; ok && old.ID == f.ID && old.FirstSeen.Before(f.FirstSeen) {
			f.FirstSeen = old.FirstSeen
		}
		m[k] = f
	}
	t.m = m
	t.truncated = d.seen > len(d.h)
	t.dirty = true
}
