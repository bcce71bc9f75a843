package conntrack

import (
	"context"

	"netlens/model"
)

// DumpOnce reads the conntrack table and its statistics once, for
// `netlens flows`: no event listener, at most cfg.MaxFlows flows (the
// ones with the most bytes; stats.FlowsTruncated says so), most bytes
// first. It keeps no table: the flows are decoded into one slab that is
// sorted in place and returned. Errors wrap collectors.ErrPermission
// ("needs CAP_NET_ADMIN") or collectors.ErrNotSupported as Collect's do.
func DumpOnce(ctx context.Context, cfg Config) ([]model.Flow, model.ConntrackStats, error) {
	cfg.NoEvents = true
	c := New(cfg)
	defer c.Close()
	start := c.cfg.Now()
	st, err := c.baseStats(start)
	if err != nil {
		return nil, st, err
	}
	var d *topN
	bad, err := dumpFast(ctx, c.query, start, func() { d = newTopN(c.cfg.MaxFlows, int(st.Count+st.Count/8)) }, func(f *model.Flow) { d.add(*f) })
	end := c.cfg.Now()
	if err != nil {
		return nil, st, err
	}
	sortFlows(d.flows)
	st.FlowsHeld, st.FlowsTruncated = len(d.flows), d.seen > len(d.flows)
	st.Dumps, st.LastDump, st.DumpDuration, st.DecodeErrors = 1, end, end.Sub(start), bad
	return d.flows, st, nil
}

// DumpEach reads the conntrack table once and calls fn with each flow as
// it is decoded, in the kernel's order (as `conntrack -L` lists them),
// holding no table: memory stays flat however many entries there are.
// The flow passed to fn is only valid during the call; an error from fn
// stops the dump and is returned. An interrupted dump (NLM_F_DUMP_INTR)
// is not restarted, since what fn was given cannot be taken back: it runs
// to its end and interrupted is set: entries may then be missing or
// repeated, as with conntrack -L. Errors wrap
// collectors.ErrPermission or collectors.ErrNotSupported as Collect's do.
func DumpEach(ctx context.Context, cfg Config, fn func(*model.Flow) error) (st model.ConntrackStats, interrupted bool, err error) {
	cfg.NoEvents = true
	c := New(cfg)
	defer c.Close()
	start := c.cfg.Now()
	st, err = c.baseStats(start)
	if err != nil {
		return st, false, err
	}
	n := 0
	bad, intr, err := dumpEach(ctx, c.query, start, func() {}, func(f *model.Flow) error {
		n++
		return fn(f)
	}, true)
	end := c.cfg.Now()
	st.FlowsHeld, st.FlowsLimit, st.FlowsTruncated = n, 0, false
	st.Dumps, st.LastDump, st.DumpDuration, st.DecodeErrors = 1, end, end.Sub(start), bad
	return st, intr, err
}

type recorder struct {
	flows []model.Flow
	stats model.ConntrackStats
}

func (r *recorder) Publish(u model.Update) {
	switch u := u.(type) {
	case model.FlowsUpdate:
		r.flows = u.Flows
	case model.ConntrackStatsUpdate:
		r.stats = u.Stats
	}
}
