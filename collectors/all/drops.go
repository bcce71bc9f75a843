package all

import (
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/dropmon"
	"netlens/collectors/droptrace"
)

// DropChoice returns the drop source cfg asks for: cfg.Drops when it is
// set, else the automatic choice (droptrace.Select: eBPF where permitted,
// else NET_DM, else counters only). Callers show its Why in the header.
func DropChoice(cfg Config) droptrace.Choice {
	if cfg.Drops.Source != "" && cfg.Drops.Source != droptrace.SourceAuto {
		if cfg.Drops.Why == "" {
			// Explicit: Select only names it ("NET_DM: --drop-source netdm").
			return droptrace.Select(cfg.Drops.Source, droptrace.DefaultProbes)
		}
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
			return droptrace.New(droptrace.Options{AllNetns: cfg.DropTraceAll, Netns: traceNetns(cfg.NetNS), SampleEvery: cfg.DropTraceSample})
		}, cfg.Refresh)
	case droptrace.SourceNetDM:
		add(DropMon, func() collectors.Collector { return dropmon.New(dropmon.Options{}) }, cfg.Refresh)
	}
}

// traceNetns returns the inode of the namespace open as fd (Config.NetNS)
// for the tracer, or 0 (netlens's own) when fd is 0 or cannot be read.
func traceNetns(fd int) uint32 {
	if fd == 0 {
		return 0
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0
	}
	return uint32(st.Ino)
}
