package all

import (
	"time"

	"netlens/collectors"
	"netlens/collectors/dropmon"
	"netlens/collectors/droptrace"
)

// DropChoice returns the drop source cfg asks for: cfg.Drops when it is
// set, else the automatic choice (droptrace.Select: eBPF where permitted,
// else NET_DM, else counters only). Callers show its Why in the header.
func DropChoice(cfg Config) droptrace.Choice {
	if cfg.Drops.Source != "" && cfg.Drops.Source != droptrace.SourceAuto {
		return cfg.Drops
	}
	return droptrace.Select(droptrace.SourceAuto, droptrace.DefaultProbes)
}

// addDropSource adds the collector of the chosen drop source: the eBPF
// tracer or the drop monitor, never both (they count the same drops).
func addDropSource(cfg Config, add func(string, func() collectors.Collector, time.Duration)) {
	switch DropChoice(cfg).Source {
	case droptrace.SourceEBPF:
		add(DropTrace, func() collectors.Collector {
			return droptrace.New(droptrace.Options{AllNetns: cfg.DropTraceAll})
		}, cfg.Refresh)
	case droptrace.SourceNetDM:
		add(DropMon, func() collectors.Collector { return dropmon.New(dropmon.Options{}) }, cfg.Refresh)
	}
}
