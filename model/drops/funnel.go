package drops

import (
	"cmp"
	"slices"

	"netlens/model"
)

// FunnelCounter is a counter of the funnel with its explanation.
type FunnelCounter struct {
	model.Counter
	// Entry explains the counter; never nil, shared, not to be modified.
	Entry *Entry
}

// Funnel returns the drop-like counters among cs, in the order a received
// packet meets them: by layer (model.Layers), then in the knowledge
// file's order, then by instance. Counters the knowledge does not list
// are left out, except the drop monitor's (every reason and location it
// reports is a drop). A /proc/net/dev sum is left out for an interface
// whose unsummed statistics (sysfs or rtnetlink) are present, and sysfs
// statistics for an interface rtnetlink reports.
func (k *Knowledge) Funnel(cs []model.Counter) []FunnelCounter {
	// Interfaces with unsummed statistics, and those with them from
	// rtnetlink (which then win over sysfs: the same values, and from the
	// right network namespace).
	fine, rtnl := map[string]bool{}, map[string]bool{}
	for _, c := range cs {
		if c.Group == "statistics" && (c.Source == "/sys/class/net" || c.Source == "rtnetlink") {
			fine[c.Instance] = true
			rtnl[c.Instance] = rtnl[c.Instance] || c.Source == "rtnetlink"
		}
	}
	type ranked struct {
		layer, rank int
		i           int32
		e           *Entry
	}
	rs := make([]ranked, 0, 256)
	for i := range cs {
		c := &cs[i]
		e := k.lookup(c.Source, c.Group, c.Name)
		if e == nil {
			if c.Source != dropMonitorSource {
				continue
			}
			e = &Entry{Layer: c.Layer, In: dropMonitorSource, Name: c.Name, Title: "Drops at " + c.Name,
				Increments: "The kernel's drop monitor, for packets freed as dropped at this location (no drop reason: summary mode or a kernel before 5.18).",
				Rank:       1 << 20}
		}
		if e.Fallback && fine[c.Instance] || c.Source == "/sys/class/net" && rtnl[c.Instance] {
			continue
		}
		rs = append(rs, ranked{c.Layer.Rank(), e.Rank, int32(i), e})
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		x, y := &cs[a.i], &cs[b.i]
		return cmp.Or(cmp.Compare(a.layer, b.layer), cmp.Compare(a.rank, b.rank), cmp.Compare(x.Name, y.Name),
			cmp.Compare(x.Instance, y.Instance), cmp.Compare(x.Source, y.Source), cmp.Compare(x.Group, y.Group))
	})
	out := make([]FunnelCounter, len(rs))
	for j, r := range rs {
		out[j] = FunnelCounter{Counter: cs[r.i], Entry: r.e}
	}
	return out
}

// Funnel is Default().Funnel.
func Funnel(cs []model.Counter) []FunnelCounter { return Default().Funnel(cs) }

// Moved returns the counters of fc that moved in the last interval
// (Delta > 0; for gauges, a non-zero Value).
func Moved(fc []FunnelCounter) []FunnelCounter {
	var out []FunnelCounter
	for _, c := range fc {
		if c.Delta > 0 || (c.Kind == model.KindGauge && c.Value > 0) {
			out = append(out, c)
		}
	}
	return out
}

// TopSockets returns at most n sockets with the most drops (sk_drops),
// most first; sockets whose drops are unknown or zero are left out. Ties
// are broken by protocol, local and remote address, so the order is
// stable from one refresh to the next. socks is not modified.
func TopSockets(socks []model.Socket, n int) []model.Socket {
	var out []model.Socket
	for _, s := range socks {
		if s.HasDrops && s.Drops > 0 {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b model.Socket) int {
		return cmp.Or(
			cmp.Compare(b.Drops, a.Drops),
			cmp.Compare(a.Proto, b.Proto),
			a.Local.Compare(b.Local),
			a.Remote.Compare(b.Remote),
			cmp.Compare(a.Inode, b.Inode),
		)
	})
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
