package snapshot

import (
	"time"

	"netlens/model"
)

// DiffStore returns a Store that holds b, except that its counters'
// deltas and rates, and the deltas of its drop reasons (drop monitor and
// eBPF tracer, per reason and per traced flow), are from a to b (over
// b.TakenAt - a.TakenAt): what `netlens --open A --diff B` shows, so
// that what moved between the two is what is shown as moving. Every
// other section is B's.
func DiffStore(a, b model.Snapshot) *model.Store {
	s := model.NewStore(b.Host, b.Kernel, a.TakenAt)
	s.Publish(model.CountersUpdate{Collector: "snapshot", At: a.TakenAt, Counters: raw(a.Counters)})
	s.Publish(model.CountersUpdate{Collector: "snapshot", At: b.TakenAt, Counters: raw(b.Counters)})
	s.Publish(model.SocketsUpdate{At: b.TakenAt, Sockets: b.Sockets})
	s.Publish(model.SysctlsUpdate{At: b.TakenAt, Sysctls: b.Sysctls})
	s.Publish(model.FlowsUpdate{At: b.TakenAt, Flows: b.Flows})
	if !b.Conntrack.At.IsZero() {
		s.Publish(model.ConntrackStatsUpdate{Stats: b.Conntrack})
	}
	if !b.DropMonitor.At.IsZero() {
		s.Publish(model.DropsUpdate{Monitor: dropMonitorSince(a.DropMonitor, b.DropMonitor)})
	}
	if !b.DropTrace.At.IsZero() {
		s.Publish(model.DropTraceUpdate{Trace: dropTraceSince(a.DropTrace, b.DropTrace)})
	}
	if b.NetNS != nil {
		s.Publish(model.NetNSUpdate{NetNS: b.NetNS})
	}
	if !b.Capture.At.IsZero() {
		s.Publish(model.CaptureUpdate{Stats: b.Capture})
	}
	if b.Rules != nil {
		s.Publish(model.RulesUpdate{State: *b.Rules})
	}
	if b.SysctlChanges != nil {
		s.Publish(model.SysctlChangesUpdate{Changes: b.SysctlChanges})
	}
	if b.Interfaces != nil {
		s.Publish(model.InterfacesUpdate{At: b.TakenAt, Interfaces: b.Interfaces})
	}
	if !b.IPsec.At.IsZero() {
		s.Publish(model.IPsecUpdate{IPsec: b.IPsec})
	}
	if !b.NFTables.At.IsZero() {
		s.Publish(model.NFTablesUpdate{NFTables: b.NFTables})
	}
	for _, c := range b.Collectors {
		s.Publish(model.StatusUpdate{Status: c})
	}
	return s
}

func raw(cs []model.Counter) []model.RawCounter {
	out := make([]model.RawCounter, len(cs))
	for i, c := range cs {
		out[i] = c.RawCounter
	}
	return out
}

// since is what a count went up by from a to b: all of b when it went
// down (the process that counted restarted between the two).
func since(a uint64, seen bool, b uint64) uint64 {
	if !seen || b < a {
		return b
	}
	return b - a
}

// dropMonitorSince is b with each reason's Delta counted from a.
func dropMonitorSince(a, b model.DropMonitor) model.DropMonitor {
	type key struct{ reason, location, origin string }
	prev := make(map[key]uint64, len(a.Drops))
	for _, d := range a.Drops {
		prev[key{d.Reason, d.Location, d.Origin}] = d.Total
	}
	b.Drops = append([]model.DropReason(nil), b.Drops...)
	for i := range b.Drops {
		d := &b.Drops[i]
		n, ok := prev[key{d.Reason, d.Location, d.Origin}]
		d.Delta = since(n, ok, d.Total)
	}
	return b
}

// dropTraceSince is b with the Delta of each reason and traced flow
// counted from a.
func dropTraceSince(a, b model.DropTrace) model.DropTrace {
	type key struct{ reason, location string }
	prev := make(map[key]uint64, len(a.Reasons))
	for _, r := range a.Reasons {
		prev[key{r.Reason, r.Location}] = r.Packets
	}
	b.Reasons = append([]model.DropTraceReason(nil), b.Reasons...)
	for i := range b.Reasons {
		r := &b.Reasons[i]
		n, ok := prev[key{r.Reason, r.Location}]
		r.Delta = since(n, ok, r.Packets)
	}
	flowKey := func(f model.DropTraceFlow) model.DropTraceFlow {
		f.Packets, f.Bytes, f.Delta, f.LastSeen = 0, 0, 0, time.Time{}
		return f
	}
	flows := make(map[model.DropTraceFlow]uint64, len(a.Flows))
	for _, f := range a.Flows {
		flows[flowKey(f)] = f.Packets
	}
	b.Flows = append([]model.DropTraceFlow(nil), b.Flows...)
	for i := range b.Flows {
		f := &b.Flows[i]
		n, ok := flows[flowKey(*f)]
		f.Delta = since(n, ok, f.Packets)
	}
	return b
}
