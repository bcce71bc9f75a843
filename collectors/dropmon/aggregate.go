package dropmon

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"netlens/model"
)

// Counter source and groups of the per-reason counters.
const (
	CounterSource = "drop_monitor"
	GroupReason   = "reason"   // packet mode: Name is the drop reason
	GroupLocation = "location" // summary mode (no reasons): Name is the location
)

// maxCounters bounds the per-reason (or, in summary mode, per-location)
// counters; drops past it are counted under overflowName.
const maxCounters = 512

const overflowName = "other"

type aggKey struct{ reason, location, origin string }

type aggEntry struct {
	d    model.DropReason
	prev uint64 // Total at the previous snapshot
}

// aggregator sums alerts per (reason, location, origin) and per reason.
// It is safe for concurrent use: the listener adds, Collect snapshots.
type aggregator struct {
	mu       sync.Mutex
	max      int
	entries  map[aggKey]*aggEntry
	counters map[string]uint64 // per reason, or per location without reasons
	layers   map[string]model.Layer
	total    uint64
	lost     uint64
	evicted  uint64
	summary  bool // the kernel sends no reasons
}

func newAggregator(max int) *aggregator {
	return &aggregator{max: max, entries: map[aggKey]*aggEntry{}, counters: map[string]uint64{}, layers: map[string]model.Layer{}}
}

// add counts one alert seen at now.
func (a *aggregator) add(al alert, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := aggKey{al.Reason, al.Location, al.Origin}
	e := a.entries[k]
	if e == nil {
		if len(a.entries) >= a.max {
			a.evictLocked()
		}
		layer := LayerOf(al.Reason)
		e = &aggEntry{d: model.DropReason{Reason: al.Reason, Layer: layer, Location: al.Location, Origin: al.Origin}}
		a.entries[k] = e
	}
	e.d.Total += al.Count
	e.d.LastSeen = now
	a.total += al.Count

	name, layer := al.Reason, e.d.Layer
	if name == "" {
		name = al.Location
	}
	if _, ok := a.counters[name]; !ok && len(a.counters) >= maxCounters {
		name, layer = overflowName, model.LayerOther
	}
	a.counters[name] += al.Count
	a.layers[name] = layer
}

// evictLocked removes the least recently seen entry.
func (a *aggregator) evictLocked() {
	var oldest aggKey
	var at time.Time
	first := true
	for k, e := range a.entries {
		if first || e.d.LastSeen.Before(at) {
			oldest, at, first = k, e.d.LastSeen, false
		}
	}
	delete(a.entries, oldest)
	a.evicted++
}

func (a *aggregator) addLost() {
	a.mu.Lock()
	a.lost++
	a.mu.Unlock()
}

// snapshot returns the aggregates, most recently seen first, with Delta
// the count since the previous snapshot, and the per-reason counters.
func (a *aggregator) snapshot(now time.Time) (model.DropMonitor, []model.RawCounter) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := model.DropMonitor{At: now, Total: a.total, Lost: a.lost, Evicted: a.evicted, Drops: make([]model.DropReason, 0, len(a.entries))}
	for _, e := range a.entries {
		d := e.d
		d.Delta = d.Total - e.prev
		e.prev = d.Total
		m.Drops = append(m.Drops, d)
	}
	slices.SortFunc(m.Drops, func(x, y model.DropReason) int {
		return cmp.Or(y.LastSeen.Compare(x.LastSeen), cmp.Compare(y.Total, x.Total),
			cmp.Compare(x.Reason, y.Reason), cmp.Compare(x.Location, y.Location), cmp.Compare(x.Origin, y.Origin))
	})
	group := GroupReason
	if a.summary {
		group = GroupLocation
	}
	cs := make([]model.RawCounter, 0, len(a.counters))
	for name, v := range a.counters {
		cs = append(cs, model.RawCounter{Layer: a.layers[name], Source: CounterSource, Group: group, Name: name, Kind: model.KindCounter, Value: v})
	}
	slices.SortFunc(cs, func(x, y model.RawCounter) int { return cmp.Compare(x.Name, y.Name) })
	return m, cs
}
