package main

import (
	"context"
	"io"
	"time"

	"netlens/collectors"
	"netlens/collectors/all"
	"netlens/collectors/droptrace"
)

// dropSourceUsage is the --drop-source help.
const dropSourceUsage = "where drop reasons come from: ebpf (the eBPF drop tracer: needs CAP_BPF and CAP_PERFMON), netdm (the kernel's drop monitor: CAP_NET_ADMIN), counters (none) or auto (ebpf where permitted, else netdm, else counters)"

// dropChoice parses --drop-source and decides the drop source; auto
// probes this machine once.
func (o options) dropChoice() (droptrace.Choice, error) {
	src, err := droptrace.ParseSource(o.dropSource)
	if err != nil {
		return droptrace.Choice{}, usageError{err}
	}
	return all.DropChoice(all.Config{Drops: droptrace.Choice{Source: src}}), nil
}

// watchDropTrace is `netlens drops --trace`: the sockets (for owners) and
// the eBPF tracer, sampled every interval; each sample prints the flows
// that dropped, with reason, location and owner.
func watchDropTrace(ctx context.Context, w io.Writer, o options, interval time.Duration, count int, asJSON bool) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	cfg.Refresh = interval
	cfg.Only = []string{all.Sockets, all.DropTrace}
	cfg.Drops = droptrace.Choice{Source: droptrace.SourceEBPF}
	cfg.Filters = nil
	specs, err := all.Specs(cfg)
	if err != nil {
		return usageError{err}
	}
	store := newStore()
	r := collectors.NewRunner(store, specs...)
	defer r.Wait()
	return droptrace.Watch(ctx, w, r, interval, count, asJSON)
}
