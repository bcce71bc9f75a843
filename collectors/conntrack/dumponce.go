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
