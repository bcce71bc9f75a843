package model

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Update is a change a collector publishes into a Store. The concrete types
// are defined in this package (SocketsUpdate, CountersUpdate, ...); a Store
// takes ownership of the slices in an Update it is given.
type Update interface {
	apply(s *Store, snap *Snapshot)
}

// SocketsUpdate replaces the socket table. Gen, when set, is the list's
// lifetime (see SocketsGen) with a reference taken for this update
// (Gen.Ref): the Store releases it once it no longer shows the list, or
// at once if it drops the update (ScopedPublisher).
type SocketsUpdate struct {
	At      time.Time
	Sockets []Socket
	Gen     *SocketsGen
}

// CountersUpdate replaces every counter previously published by Collector
// with Counters, sampled at At. The Store computes deltas, totals and rates.
type CountersUpdate struct {
	Collector string
	At        time.Time
	Counters  []RawCounter
}

// SysctlsUpdate replaces the sysctl table.
type SysctlsUpdate struct {
	At      time.Time
	Sysctls []Sysctl
}

// FlowsUpdate replaces the conntrack flow table. Gen, when set, is the
// list's lifetime with a reference taken for this update, as in
// SocketsUpdate.
type FlowsUpdate struct {
	At    time.Time
	Flows []Flow
	Gen   *SocketsGen
}

// ConntrackStatsUpdate replaces the conntrack table's statistics.
type ConntrackStatsUpdate struct {
	Stats ConntrackStats
}

// StatusUpdate records the status of one collector.
type StatusUpdate struct {
	Status CollectorStatus
}

type counterState struct {
	prev       uint64
	prevAt     time.Time
	total      uint64
	lastChange time.Time
	// hist is the history's backing array: History is its last
	// HistoryLen elements. Appends write past every published view, and
	// a full array is copied to a new one, so a published History never
	// changes.
	hist []uint64
	// gen is the Store's counterGen when the counter was last published;
	// a counter its collector stops publishing is forgotten.
	gen uint64
}

// push appends v to the history and returns the published view.
func (st *counterState) push(v uint64) []uint64 {
	if len(st.hist) == cap(st.hist) {
		keep := st.hist[max(0, len(st.hist)-(HistoryLen-1)):]
		next := make([]uint64, len(keep), 2*HistoryLen)
		copy(next, keep)
		st.hist = next
	}
	st.hist = append(st.hist, v)
	return st.hist[max(0, len(st.hist)-HistoryLen):len(st.hist):len(st.hist)]
}

// Store holds the current Snapshot. Collectors publish Updates into it;
// readers take Snapshots and subscribe to be told of changes.
// A Store is safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	cur      Snapshot
	counters map[CounterKey]*counterState
	// counterGen counts CountersUpdates, to find counters that vanished.
	counterGen uint64
	// bySet is each collector's last set, sorted. Its lists are the
	// Store's alone: no snapshot refers to one (cur.Counters is a new
	// list their counters are copied into), so an update with the keys
	// of the one before is written over its collector's list.
	bySet map[string][]Counter
	// countersStale says cur.Counters is not the merge of bySet: a
	// CountersUpdate or a namespace switch changed bySet since. The
	// merge is made when a reader next takes the snapshot (current),
	// not for every update: the collectors publish several updates a
	// refresh, each a new list of every counter that nobody read.
	countersStale bool
	// statuses is the collectors' statuses, by name, as StatusUpdates
	// left them: the Store's alone, written in place.
	// cur.Collectors is a copy, made by current when statusesStale.
	statuses      []CollectorStatus
	statusesStale bool
	// orders remembers, per collector, the order its last update came in
	// and the permutation that sorted it: collectors publish the same
	// counters in the same order from one update to the next.
	orders map[string]*setOrder
	subs   map[chan struct{}]struct{}
	// nsGen is the namespace generation: a NetNSUpdate with Switch
	// starts a new one, and a ScopedPublisher of an older one publishes
	// nothing.
	nsGen uint64
	// sockGen is the lifetime of cur.Sockets (nil when its publisher
	// gave none); the Store holds one reference to it. flowGen is that
	// of cur.Flows.
	sockGen, flowGen *SocketsGen
}

// NewStore returns an empty Store for the given host and kernel release,
// started at now.
func NewStore(host, kernel string, now time.Time) *Store {
	return &Store{
		cur: Snapshot{
			SchemaVersion: SchemaVersion,
			Host:          host,
			Kernel:        kernel,
			StartedAt:     now,
			TakenAt:       now,
			Sockets:       []Socket{},
			Counters:      []Counter{},
			Sysctls:       []Sysctl{},
			Collectors:    []CollectorStatus{},
			Flows:         []Flow{},
		},
		counters: make(map[CounterKey]*counterState),
		bySet:    make(map[string][]Counter),
		orders:   make(map[string]*setOrder),
		subs:     make(map[chan struct{}]struct{}),
	}
}

// NewStoreFrom returns a Store holding snap as it is (its counters'
// deltas, rates and histories included): a snapshot read from a file,
// for the TUI to show offline. Updates published into it later compute
// deltas from their own first sample.
func NewStoreFrom(snap Snapshot) *Store {
	s := NewStore(snap.Host, snap.Kernel, snap.StartedAt)
	s.cur = snap
	s.statuses = slices.Clone(snap.Collectors)
	return s
}

// Snapshot returns the current snapshot. It is safe to keep and read from
// any goroutine; it never changes. Its socket and flow lists are never
// filled again (see SocketsGen): a reader that takes a snapshot every
// refresh should use Hold.
func (s *Store) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sockGen.pin()
	s.flowGen.pin()
	return s.current()
}

// Hold returns the current snapshot, as Snapshot does, and a Lease on its
// socket and flow lists: the snapshot never changes until the Lease is
// released; after that its Sockets (and their TCP and Rate) and Flows
// must not be read, since the collectors may fill the lists again. The
// rest of the snapshot stays valid.
func (s *Store) Hold() (Snapshot, *Lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current(), &Lease{g: s.sockGen.Ref(), f: s.flowGen.Ref()}
}

// current returns s.cur, its Counters and Collectors first brought up to
// date if stale; s.mu is held. Every snapshot the Store hands out comes
// from it. The lists it makes are new, and never written once made.
func (s *Store) current() Snapshot {
	if s.countersStale {
		s.cur.Counters = s.mergeSets()
		s.countersStale = false
	}
	if s.statusesStale {
		s.cur.Collectors = slices.Clone(s.statuses)
		s.statusesStale = false
	}
	return s.cur
}

// mergeSets returns a new list of every collector's counters (bySet),
// sorted; s.mu is held.
func (s *Store) mergeSets() []Counter {
	names := make([]string, 0, len(s.bySet))
	for name := range s.bySet {
		names = append(names, name)
	}
	slices.Sort(names)
	sets := make([][]Counter, len(names))
	for i, name := range names {
		sets[i] = s.bySet[name]
	}
	return mergeCounters(sets)
}

// SocketsSeq returns the current snapshot's SocketsSeq: whether a
// reader's socket list is the latest, without taking the snapshot.
func (s *Store) SocketsSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.SocketsSeq
}

// Status returns the status of the named collector in the current
// snapshot, if known (Snapshot.Status, without taking the snapshot).
func (s *Store) Status(name string) (CollectorStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.statuses {
		if c.Name == name {
			return c, true
		}
	}
	return CollectorStatus{}, false
}

// setSockets makes socks, of lifetime g (nil: unknown), the current
// socket list, releasing the Store's reference to the one it replaces.
func (s *Store) setSockets(snap *Snapshot, socks []Socket, g *SocketsGen) {
	s.sockGen.release()
	s.sockGen = g
	snap.Sockets = socks
	snap.SocketsSeq = snap.Seq + 1 // the Seq this update gets
}

// setFlows is setSockets for the flow list.
func (s *Store) setFlows(snap *Snapshot, flows []Flow, g *SocketsGen) {
	s.flowGen.release()
	s.flowGen = g
	snap.Flows = flows
	snap.FlowsSeq = snap.Seq + 1
}

// Publish applies u and wakes every subscriber.
func (s *Store) Publish(u Update) {
	s.mu.Lock()
	s.applyLocked(u)
	s.mu.Unlock()
}

// ScopedPublisher publishes into its Store only while the Store is in
// the namespace generation the publisher was made in: once a
// NetNSUpdate with Switch has been applied, every update it is given is
// dropped (not applied, no subscriber woken). It is what a namespace's
// collectors publish through, so that those of the namespace left
// behind, still ending their calls after the switch, cannot put
// anything under the new namespace's header. The check and the apply
// are one step under the Store's lock: an update is either applied
// before the switch (which then empties it) or not at all. It is safe
// for concurrent use.
type ScopedPublisher struct {
	s   *Store
	gen uint64
}

// Scoped returns a ScopedPublisher of the Store's current namespace
// generation.
func (s *Store) Scoped() *ScopedPublisher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &ScopedPublisher{s: s, gen: s.nsGen}
}

// Publish applies u as Store.Publish does, unless the Store has moved
// to a later namespace generation.
func (p *ScopedPublisher) Publish(u Update) {
	p.s.mu.Lock()
	if p.s.nsGen == p.gen {
		p.s.applyLocked(u)
	} else {
		switch u := u.(type) {
		case SocketsUpdate:
			u.Gen.release()
		case FlowsUpdate:
			u.Gen.release()
		}
	}
	p.s.mu.Unlock()
}

// CopiesCounters says that Publish copies a CountersUpdate's Counters
// and keeps no reference to the list (collectors.CountersCopier):
// CountersUpdate.apply copies each RawCounter into the Store's own list
// and each key into setOrder, under the lock, and a dropped update is
// not kept either.
func (p *ScopedPublisher) CopiesCounters() {}

// CopiesCounters is ScopedPublisher.CopiesCounters for the Store.
func (s *Store) CopiesCounters() {}

// Stale says whether the Store has moved to a later namespace
// generation: whether Publish now drops everything.
func (p *ScopedPublisher) Stale() bool {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.nsGen != p.gen
}

// applyLocked applies u and wakes every subscriber; s.mu is held.
func (s *Store) applyLocked(u Update) {
	// In place: the snapshots handed out are copies of s.cur, and an
	// update replaces the slices and pointers in it, never writes into
	// them. (A copy of s.cur to apply to escapes, through the Update
	// interface: 1.5 KB for every update.)
	u.apply(s, &s.cur)
	s.cur.Seq++
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default: // a notification is already pending; it covers this one
		}
	}
}

// Subscribe returns a channel that receives a value after every Publish.
// Notifications coalesce: a slow reader sees one pending notification and
// then reads the latest Snapshot, so it never blocks a publisher and never
// falls behind. cancel stops the subscription.
func (s *Store) Subscribe() (ch <-chan struct{}, cancel func()) {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[c] = struct{}{}
	s.mu.Unlock()
	return c, func() {
		s.mu.Lock()
		delete(s.subs, c)
		s.mu.Unlock()
	}
}

func (u SocketsUpdate) apply(s *Store, snap *Snapshot) {
	if u.Sockets == nil {
		u.Sockets = []Socket{}
	}
	s.setSockets(snap, u.Sockets, u.Gen)
	snap.TakenAt = later(snap.TakenAt, u.At)
}

func (u SysctlsUpdate) apply(s *Store, snap *Snapshot) {
	if u.Sysctls == nil {
		u.Sysctls = []Sysctl{}
	}
	snap.Sysctls = u.Sysctls
	snap.TakenAt = later(snap.TakenAt, u.At)
}

func (u FlowsUpdate) apply(s *Store, snap *Snapshot) {
	if u.Flows == nil {
		u.Flows = []Flow{}
	}
	s.setFlows(snap, u.Flows, u.Gen)
	snap.TakenAt = later(snap.TakenAt, u.At)
}

func (u ConntrackStatsUpdate) apply(s *Store, snap *Snapshot) {
	snap.Conntrack = u.Stats
	snap.TakenAt = later(snap.TakenAt, u.Stats.At)
}

// apply writes the status into s.statuses, which no snapshot refers to:
// the snapshots' lists are copies (current), made once a refresh rather
// than for each collector's run.
func (u StatusUpdate) apply(s *Store, snap *Snapshot) {
	i := slices.IndexFunc(s.statuses, func(c CollectorStatus) bool { return c.Name == u.Status.Name })
	if i >= 0 {
		s.statuses[i] = u.Status
	} else {
		s.statuses = append(s.statuses, u.Status)
		slices.SortFunc(s.statuses, func(a, b CollectorStatus) int { return cmp.Compare(a.Name, b.Name) })
	}
	s.statusesStale = true
	snap.Collectors = nil // until current copies s.statuses
}

func (u CountersUpdate) apply(s *Store, snap *Snapshot) {
	s.counterGen++
	gen := s.counterGen
	ord := s.orders[u.Collector]
	if ord == nil {
		ord = &setOrder{}
		s.orders[u.Collector] = ord
	}
	// Each collector's set is kept sorted, and the snapshot's list is
	// their merge (made by current, when read): O(n) rather than a sort
	// of every counter. The usual update has the keys of the one before
	// in the same order, and is written over its set's list, which no
	// snapshot refers to (see bySet).
	pos, same := ord.positions(u.Counters)
	prev := s.bySet[u.Collector]
	reused := same && len(prev) == len(u.Counters)
	out := prev
	if !reused {
		out = make([]Counter, len(u.Counters))
	}
	for i, raw := range u.Counters {
		c := Counter{RawCounter: raw}
		k := raw.Key()
		st, ok := s.counters[k]
		if !ok {
			st = &counterState{prev: raw.Value, prevAt: u.At}
			s.counters[k] = st
			if raw.Kind == KindGauge {
				c.History = st.push(raw.Value)
			}
		} else if raw.Kind != KindGauge {
			if raw.Value >= st.prev {
				c.Delta = raw.Value - st.prev
			} else {
				c.Delta = raw.Value
				c.Reset = true
			}
			st.total += c.Delta
			if dt := u.At.Sub(st.prevAt).Seconds(); dt > 0 {
				c.Rate = float64(c.Delta) / dt
			}
			if c.Delta > 0 {
				st.lastChange = u.At
			}
			c.History = st.push(c.Delta)
		} else {
			if raw.Value != st.prev {
				st.lastChange = u.At
			}
			c.History = st.push(raw.Value)
		}
		st.prev, st.prevAt, st.gen = raw.Value, u.At, gen
		c.Total = st.total
		c.LastChange = st.lastChange
		out[pos[i]] = c
	}
	// A per-object counter the collector no longer publishes (an
	// interface that went away, a qdisc replaced) is forgotten: if it
	// comes back it is a new object and starts again from its first
	// sample, rather than taking a delta against a value of the object it
	// replaced. A global counter (no Instance) missing from one update (a
	// file that failed to parse) is kept: its next delta spans the gap.
	// A reused list had the keys of this update: none to forget.
	for _, old := range prev {
		if reused {
			break
		}
		if old.Instance == "" {
			continue
		}
		k := old.Key()
		if st, ok := s.counters[k]; ok && st.gen != gen {
			delete(s.counters, k)
		}
	}
	s.bySet[u.Collector] = out
	s.countersStale = true
	snap.Counters = nil // until current merges bySet
	snap.TakenAt = later(snap.TakenAt, u.At)
}

// setOrder is the order of one collector's last update.
type setOrder struct {
	keys []CounterKey // as they came
	pos  []int32      // pos[i]: where keys[i] goes in sorted order
}

// positions returns, for each counter of cs, its index in cs sorted by
// compareRaw. When cs has the keys of the previous update in the
// same order (the usual case: collectors publish the same counters in
// the same order) it reuses the previous answer, and same is true. The
// result is valid until the next call.
func (o *setOrder) positions(cs []RawCounter) (pos []int32, same bool) {
	same = len(cs) == len(o.keys)
	for i := 0; same && i < len(cs); i++ {
		same = cs[i].Key() == o.keys[i]
	}
	if same {
		return o.pos, true
	}
	o.keys = o.keys[:0]
	perm := make([]int32, len(cs))
	for i := range cs {
		o.keys = append(o.keys, cs[i].Key())
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int { return compareRaw(&cs[a], &cs[b]) })
	o.pos = slices.Grow(o.pos[:0], len(cs))[:len(cs)]
	for rank, i := range perm {
		o.pos[i] = int32(rank)
	}
	return o.pos, false
}

// mergeCounters merges sorted lists into one new list; on equal keys the
// earlier list's counter comes first.
func mergeCounters(sets [][]Counter) []Counter {
	n := 0
	for _, cs := range sets {
		n += len(cs)
	}
	out := make([]Counter, 0, n)
	heads := make([]int, len(sets))
	for len(out) < n {
		best := -1
		for k, cs := range sets {
			if heads[k] == len(cs) {
				continue
			}
			if best < 0 || compareRaw(&cs[heads[k]].RawCounter, &sets[best][heads[best]].RawCounter) < 0 {
				best = k
			}
		}
		out = append(out, sets[best][heads[best]])
		heads[best]++
	}
	return out
}

func compareRaw(a, b *RawCounter) int {
	return cmp.Or(
		cmp.Compare(a.Layer.Rank(), b.Layer.Rank()),
		cmp.Compare(a.Source, b.Source),
		cmp.Compare(a.Group, b.Group),
		cmp.Compare(a.Instance, b.Instance),
		cmp.Compare(a.Name, b.Name),
	)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
