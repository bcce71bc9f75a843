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

// aggregator turns successive drains of the kernel's flows map into
// per-flow totals and per-(reason, location) totals, and keeps the
// accounting. It is not safe for concurrent use (the Collector holds it
// under its lock).
//
// Each drain returns every flow's drops since the previous drain and
// empties the map (Tracer.DrainFlows), so each drop is read once: the
// sum of what the drains returned is Attributed, and Seen - Attributed
// is exactly what the map refused (NotAggregated), once the drops in
// flight during a read have landed (collector.go, readLocked). The flows
// live on here, with their totals since netlens first saw them; at most
// maxFlows of them, the least recently dropped forgotten first (their
// drops stay attributed and in their reason's total).
type aggregator struct {
	reasons *Reasons
	syms    *dropmon.Symbols
	// loadSyms reads the symbols the first time a location is resolved.
	loadSyms func() *dropmon.Symbols
	know     *drops.Knowledge
	maxFlows int

	flows      map[flowKey]*flowState
	byReason   map[reasonKey]*model.DropTraceReason
	locations  map[uint64]string
	attributed uint64

	// gen counts the changes to the flow and reason rows (a drop added,
	// a delta cleared, a flow forgotten); flowRows and reasonRows return
	// the slices they made at the same gen again, so that the UI, which
	// joins the flows to every socket, can tell that nothing moved
	// (after a flood thousands of flows stay).
	gen                 uint64
	flowRws             []model.DropTraceFlow
	reasRows            []model.DropTraceReason
	flowsGen, reasonGen uint64
}

// flowState is one flow's totals since netlens first saw it.
type flowState struct {
	packets, bytes, delta uint64
	firstNs, lastNs       uint64
}

type reasonKey struct {
	code     uint32
	location uint64
}

// maxReasons bounds the (reason, location) pairs kept: the kernel has a
// few hundred drop sites, so this is never reached in practice.
const maxReasons = 4096

func newAggregator(reasons *Reasons, maxFlows int, loadSyms func() *dropmon.Symbols) *aggregator {
	return &aggregator{
		reasons: reasons, loadSyms: loadSyms, know: drops.Default(), maxFlows: maxFlows,
		flows:    map[flowKey]*flowState{},
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

// add takes one flow of the current drain: its drops since the last one.
func (a *aggregator) add(k flowKey, v flowVal, c clock) {
	if v.Packets == 0 {
		return
	}
	a.attributed += v.Packets
	a.gen++
	st := a.flows[k]
	if st == nil {
		st = &flowState{firstNs: v.FirstNs}
		a.flows[k] = st
	}
	st.packets += v.Packets
	st.bytes += v.Bytes
	st.delta += v.Packets
	st.lastNs = max(st.lastNs, v.LastNs)

	rk := reasonKey{k.Reason, k.Location}
	r := a.byReason[rk]
	if r == nil && len(a.byReason) < maxReasons {
		name := a.reasons.Name(k.Reason)
		loc := a.location(k.Location)
		fn, _, _ := strings.Cut(loc, "+")
		r = &model.DropTraceReason{Reason: name, Code: k.Reason, Location: loc, Function: fn, Layer: a.layer(name)}
		a.byReason[rk] = r
	}
	if r != nil {
		r.Packets += v.Packets
		r.Bytes += v.Bytes
		r.Delta += v.Packets
		if last := c.at(v.LastNs); last.After(r.LastSeen) {
			r.LastSeen = last
		}
	}
}

// flow returns a flow as a model value.
func (a *aggregator) flow(k flowKey, st *flowState, c clock) model.DropTraceFlow {
	f := a.keyFlow(k)
	f.Packets, f.Bytes, f.Delta, f.LastSeen = st.packets, st.bytes, st.delta, c.at(st.lastNs)
	return f
}

// keyFlow returns what a flow key says as a model value, without counts.
func (a *aggregator) keyFlow(k flowKey) model.DropTraceFlow {
	name := a.reasons.Name(k.Reason)
	loc := a.location(k.Location)
	fn, _, _ := strings.Cut(loc, "+")
	parsed := k.Flags&flagParsed != 0
	f := model.DropTraceFlow{
		Reason: name, Code: k.Reason, Location: loc, Function: fn, Layer: a.layer(name),
		Netns: k.Netns, Ifindex: k.Ifindex, L3: l3Name(k.L3), Proto: l4Name(k.L4, parsed),
		Src: k.Src, Dst: k.Dst, Fragment: k.Flags&flagFragment != 0, Parsed: parsed, Cookie: k.Cookie,
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
		if r.Delta != 0 {
			r.Delta = 0
			a.gen++
		}
	}
	for _, st := range a.flows {
		if st.delta != 0 {
			st.delta = 0
			a.gen++
		}
	}
}

// end finishes a read: beyond maxFlows, the least recently dropped
// flows are forgotten.
func (a *aggregator) end() {
	if a.maxFlows <= 0 || len(a.flows) <= a.maxFlows {
		return
	}
	type kv struct {
		k    flowKey
		last uint64
	}
	all := make([]kv, 0, len(a.flows))
	for k, st := range a.flows {
		all = append(all, kv{k, st.lastNs})
	}
	slices.SortFunc(all, func(x, y kv) int { return cmp.Compare(x.last, y.last) })
	for _, x := range all[:len(all)-a.maxFlows] {
		delete(a.flows, x.k)
	}
	a.gen++
}

// flowRows returns the flows kept, most recently dropped first: the
// same slice as the last call while nothing changed (the caller must not
// modify it).
func (a *aggregator) flowRows(c clock) []model.DropTraceFlow {
	if a.flowRws != nil && a.flowsGen == a.gen {
		return a.flowRws
	}
	out := make([]model.DropTraceFlow, 0, len(a.flows))
	for k, st := range a.flows {
		out = append(out, a.flow(k, st, c))
	}
	slices.SortFunc(out, func(x, y model.DropTraceFlow) int {
		if c := y.LastSeen.Compare(x.LastSeen); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Packets, x.Packets); c != 0 {
			return c
		}
		return cmp.Compare(x.DstPort, y.DstPort)
	})
	a.flowRws, a.flowsGen = out, a.gen
	return out
}

// reasonRows returns the per-(reason, location) totals, most drops
// first: the same slice as the last call while nothing changed.
func (a *aggregator) reasonRows() []model.DropTraceReason {
	if a.reasRows != nil && a.reasonGen == a.gen {
		return a.reasRows
	}
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
	a.reasRows, a.reasonGen = out, a.gen
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
