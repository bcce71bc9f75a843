package cli

import (
	"context"
	"time"

	"netlens/collectors/conntrack"
	"netlens/model"
)

// The TUI dumps the conntrack table for its counters only while a view
// shows them or the recorder runs (conntrack.Demand); events keep the
// flows and their states current between dumps. A snapshot saved with s
// from another view would carry counters as old as the last dump:
// withFreshFlows dumps the table again for it.

// withFreshFlows returns snap with its flows dumped now in namespace fd
// when their counters are older than the collector's refresh; snap as it
// was, and why, when the table cannot be read. The event statistics stay
// the collector's; the dump's own (held, truncated, when and how long)
// are the new dump's.
func withFreshFlows(ctx context.Context, fd int, snap model.Snapshot, now time.Time) (model.Snapshot, error) {
	st := &snap.Conntrack
	if st.Dumps == 0 || now.Sub(st.LastDump) <= conntrack.DefaultRefresh {
		return snap, nil
	}
	ctx, cancel := context.WithTimeout(ctx, fillTimeout)
	defer cancel()
	flows, fresh, err := conntrack.DumpOnce(ctx, conntrack.Config{NetNS: fd, MaxFlows: st.FlowsLimit})
	if err != nil {
		return snap, err
	}
	snap.Flows = flows
	st.Dumps++
	st.FlowsHeld, st.FlowsTruncated = fresh.FlowsHeld, fresh.FlowsTruncated
	st.LastDump, st.DumpDuration = fresh.LastDump, fresh.DumpDuration
	return snap, nil
}
