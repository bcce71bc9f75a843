package snapshot

import (
	"netlens/model"
)

// DiffStore returns a Store that holds b, except that its counters'
// deltas and rates are from a to b (over b.TakenAt - a.TakenAt): what
// `netlens --open A --diff B` shows, so that the counters that moved
// between the two are the ones that moved.
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
		s.Publish(model.DropsUpdate{Monitor: b.DropMonitor})
	}
	if !b.Capture.At.IsZero() {
		s.Publish(model.CaptureUpdate{Stats: b.Capture})
	}
	if b.Rules != nil {
		s.Publish(model.RulesUpdate{State: *b.Rules})
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
