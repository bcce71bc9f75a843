package droptrace

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"netlens/collectors/dropmon"
	"netlens/model"
	"netlens/model/drops"
)

// aggregator turns successive reads of the kernel's flows map into
// per-flow deltas and per-(reason, location) totals, and keeps the
// accounting. It is not safe for concurrent use (the Collector holds it
// under its lock).
//
// The kernel's map is read, not drained: entries stay until the LRU
// evicts them, and each value counts from the entry's creation. Deleting
// entries from user space would race with the program, which adds to an
// entry through a pointer it looked up, so an increment could land on an
// entry already copied and freed (or reused for another key). Reading
// instead, the aggregator remembers each entry's packets and bytes at the
// last read together with its creation time (first_ns): the delta of an
// entry is its growth since then, or its whole value when its creation
// time changed (the entry was evicted and made again) or it is new.
// What eviction lost — drops added to an entry after its last read and
// before it was evicted — is then exactly Seen - Attributed, the
// per-CPU count of drops minus the sum of the deltas read (once the
// drops in flight during a read have landed: collector.go, readLocked).
type aggregator struct {
	reasons *Reasons
	syms    *dropmon.Symbols
	// loadSyms reads the symbols the first time a location is resolved.
	loadSyms func() *dropmon.Symbols
	know     *drops.Knowledge

	prev       map[flowKey]seenVal
	next       map[flowKey]seenVal
	byReason   map[reasonKey]*model.DropTraceReason
	locations  map[uint64]string
	attributed uint64
}

type seenVal struct{ firstNs, packets, bytes uint64 }

type reasonKey struct {
	code     uint32
	location uint64
}

// maxReasons bounds the (reason, location) pairs kept: the kernel has a
// few hundred drop sites, so this is never reached in practice.
const maxReasons = 4096

func newAggregator(reasons *Reasons, loadSyms func() *dropmon.Symbols) *aggregator {
	return &aggregator{
		reasons: reasons, loadSyms: loadSyms, know: drops.Default(),
		prev: map[flowKey]seenVal{}, next: map[flowKey]seenVal{},
		byReason: map[reasonKey]*model.DropTraceReason{}, locations: map[uint64]string{},
	}
}

// clock converts the program's bpf_ktime_get_ns (CLOCK_MONOTONIC) to
// wall time.
type clock struct {
	wall time.Time
	mono uint64
}

func (c clock) at(ns uint64) time.Time {
	return c.wall.Add(-time.Duration(int64(c.mono) - int64(ns)))
}

// add takes one flow of the current read and returns it as a model value.
func (a *aggregator) add(k flowKey, v flowVal, c clock) model.DropTraceFlow {
	dp, db := v.Packets, v.Bytes
	if p, ok := a.prev[k]; ok && p.firstNs == v.FirstNs && v.Packets >= p.packets {
		dp, db = v.Packets-p.packets, v.Bytes-p.bytes
	}
	a.next[k] = seenVal{v.FirstNs, v.Packets, v.Bytes}
	a.attributed += dp

	name := a.reasons.Name(k.Reason)
	loc := a.location(k.Location)
	fn, _, _ := strings.Cut(loc, "+")
	layer := a.layer(name)
	last := c.at(v.LastNs)

	rk := reasonKey{k.Reason, k.Location}
	r := a.byReason[rk]
	if r == nil && len(a.byReason) < maxReasons {
		r = &model.DropTraceReason{Reason: name, Code: k.Reason, Location: loc, Function: fn, Layer: layer}
		a.byReason[rk] = r
	}
	if r != nil {
		r.Packets += dp
		r.Bytes += db
		r.Delta += dp
		if last.After(r.LastSeen) {
			r.LastSeen = last
		}
	}

	parsed := k.Flags&flagParsed != 0
	f := model.DropTraceFlow{
		Reason: name, Code: k.Reason, Location: loc, Function: fn, Layer: layer,
		Netns: k.Netns, Ifindex: k.Ifindex, L3: l3Name(k.L3), Proto: l4Name(k.L4, parsed),
		Src: k.Src, Dst: k.Dst, Fragment: k.Flags&flagFragment != 0, Parsed: parsed, Cookie: k.Cookie,
		Packets: v.Packets, Bytes: v.Bytes, Delta: dp, LastSeen: last,
	}
	if k.Flags&flagL4 != 0 {
		if k.L4 == protoICMP || k.L4 == protoICMPv6 {
			f.ICMPType, f.ICMPCode = uint8(k.SPort), uint8(k.DPort)
		} else {
			f.SrcPort, f.DstPort = k.SPort, k.DPort
		}
	}
	return f
}

// begin starts a read: deltas of the previous one are cleared.
func (a *aggregator) begin() {
	for _, r := range a.byReason {
		r.Delta = 0
	}
}

// end finishes a read: the entries not seen in it were evicted, and are
// forgotten.
func (a *aggregator) end() {
	a.prev, a.next = a.next, a.prev
	clear(a.next)
}

// reasonRows returns the per-(reason, location) totals, most drops first.
func (a *aggregator) reasonRows() []model.DropTraceReason {
	out := make([]model.DropTraceReason, 0, len(a.byReason))
	for _, r := range a.byReason {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y model.DropTraceReason) int {
		if c := cmp.Compare(y.Packets, x.Packets); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Reason, y.Reason); c != 0 {
			return c
		}
		return cmp.Compare(x.Location, y.Location)
	})
	return out
}

// location resolves an address to function+offset, once.
func (a *aggregator) location(pc uint64) string {
	if s, ok := a.locations[pc]; ok {
		return s
	}
	if a.loadSyms != nil {
		a.syms, a.loadSyms = a.loadSyms(), nil
	}
	s := a.syms.Resolve(pc)
	if s == "" {
		s = "0x" + strconv.FormatUint(pc, 16)
	}
	if len(a.locations) < maxReasons {
		a.locations[pc] = s
	}
	return s
}

// layer returns the layer of a reason: the knowledge file's, else the
// one its name implies.
func (a *aggregator) layer(reason string) model.Layer {
	if r, ok := a.know.Reason(reason); ok {
		return r.Layer
	}
	return dropmon.LayerOf(reason)
}
