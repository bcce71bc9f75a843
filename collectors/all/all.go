// Package all lists the collectors netlens runs and their intervals. It is
// the one place cli learns what there is to collect.
package all

import (
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/capture"
	"netlens/collectors/conntrack"
	"netlens/collectors/dropmon"
	"netlens/collectors/droptrace"
	"netlens/collectors/filter"
	"netlens/collectors/links"
	"netlens/collectors/netns"
	"netlens/collectors/procnet"
	"netlens/collectors/qdisc"
	"netlens/collectors/ruleset"
	"netlens/collectors/sockets"
	"netlens/collectors/sysctl"
	"netlens/collectors/xfrm"
)

// Config selects and tunes the collectors.
type Config struct {
	// Refresh is the base interval; fast-moving sources run at it.
	Refresh time.Duration
	// Owners maps sockets to the processes holding them (costs a walk of
	// /proc/*/fd, cached).
	Owners bool
	// NoTCPInfo leaves tcp_info out of the socket dumps (no rates):
	// sockets.Options.NoTCPInfo.
	NoTCPInfo bool
	// TCPCountersOnly reads TCP sockets without their tcp_info, the
	// counters rates need aside: sockets.Options.TCPCountersOnly.
	TCPCountersOnly bool
	// Once is for collectors run once (Runner.Once: netlens snapshot):
	// nothing is kept for a next collection (sockets.Options.Once).
	Once bool
	// Only, when not empty, keeps just the collectors of these names.
	Only []string
	// Filters is the filter-rule backend the "filters" collector reads;
	// nil leaves the collector out.
	Filters filter.Source
	// Capture, when set, captures packets (opt-in: it costs CPU): live on
	// an interface, or replaying a pcap/pcapng file.
	Capture *capture.Options
	// NetNS, when not 0, is an open network namespace file (from
	// netns.Open): every collector reads that namespace. The socket,
	// link, conntrack and capture collectors open their sockets inside
	// it; the counters and sysctl collectors read /proc/thread-self/net
	// and /proc/sys/net on a thread that entered it
	// (collectors.InNamespace). The eBPF drop tracer traces that namespace
	// (unless DropTraceAll); the drop monitor is the kernel's, for the
	// whole host. Filters take the namespace in filter.Options.NetNS.
	NetNS int
	// SocketOwners, when set, is the socket-owner cache the sockets
	// collector uses, kept warm across namespace switches.
	SocketOwners *sockets.OwnerCache
	// AllNamespaces replaces the sockets collector with the
	// all-namespaces one (netns.AllSockets): the sockets of every
	// namespace netlens can enter, each tagged with its namespace. The
	// other collectors read NetNS as usual.
	AllNamespaces bool
	// Drops says where drop reasons come from (--drop-source): the eBPF
	// tracer, the kernel's drop monitor, or neither (counters only). The
	// zero value selects automatically (DropChoice).
	Drops droptrace.Choice
	// DropTraceAll makes the eBPF tracer trace every network namespace,
	// not only netlens's own.
	DropTraceAll bool
	// DropTraceSample turns on the eBPF tracer's sampled stream: one
	// drop in DropTraceSample per CPU, with its headers (0: off).
	DropTraceSample uint32
	// FlowCounters, when set, says whether the flows' byte and packet
	// counts are wanted (conntrack.Config.Demand): the TUI's, shared by
	// the conntrack collectors of every namespace it visits.
	FlowCounters *conntrack.Demand
}

// Collector names, for Config.Only and the UI's tab dependencies.
const (
	Sockets   = sockets.Name
	Counters  = procnet.Name
	Sysctl    = sysctl.Name
	Qdisc     = qdisc.Name
	Links     = links.Name
	DropMon   = dropmon.Name
	Conntrack = conntrack.Name
	Filters   = filter.Name
	Capture   = capture.Name
	DropTrace = droptrace.Name
	IPsec     = xfrm.Name
	NFTables  = ruleset.Name
)

// DropsDeps are the collectors behind the Drops tab and `netlens drops`.
var DropsDeps = []string{Counters, Qdisc, DropMon, DropTrace, Conntrack}

// Specs returns the collectors to run for cfg. A capture that cannot be
// set up (a bad filter expression, an unreadable file) is an error.
func Specs(cfg Config) ([]collectors.Spec, error) {
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Second
	}
	var specs []collectors.Spec
	add := func(name string, c func() collectors.Collector, interval time.Duration) {
		if len(cfg.Only) == 0 || slices.Contains(cfg.Only, name) {
			specs = append(specs, collectors.Spec{Collector: c(), Interval: interval})
		}
	}
	add(Sockets, func() collectors.Collector {
		if cfg.AllNamespaces {
			return netns.NewAllSockets(netns.Options{}, cfg.SocketOwners, !cfg.Owners)
		}
		return sockets.New(sockets.Options{NoOwners: !cfg.Owners, NetNS: cfg.NetNS, Owners: cfg.SocketOwners, NoTCPInfo: cfg.NoTCPInfo, TCPCountersOnly: cfg.TCPCountersOnly, Once: cfg.Once})
	}, cfg.Refresh)
	// /proc/net counters; the per-interface device counters come from
	// rtnetlink in the qdisc collector (the namespace's own, and a tenth
	// of the cost of /sys/class/net/*/statistics).
	add(Counters, func() collectors.Collector { return counters(cfg.NetNS) }, cfg.Refresh)
	add(Qdisc, func() collectors.Collector { return qdisc.New(qdisc.Options{Links: true, NetNS: cfg.NetNS}) }, cfg.Refresh)
	// Every link with its addresses, drivers' statistics and tc tree
	// (the Interfaces tab); rates need the refresh.
	add(Links, func() collectors.Collector { return links.New(links.Options{NetNS: cfg.NetNS}) }, cfg.Refresh)
	// Drop reasons from one source (collectors/all/drops.go); the drop
	// monitor and the tracer aggregate per Collect: keep them at the
	// refresh.
	addDropSource(cfg, add)
	// Conntrack: a dump at start and every 10 s (while the counters are
	// wanted), live events between.
	add(Conntrack, func() collectors.Collector {
		return conntrack.New(conntrack.Config{NetNS: cfg.NetNS, Demand: cfg.FlowCounters})
	}, max(conntrack.DefaultInterval, cfg.Refresh))
	// IPsec SAs and policies: two dumps, a few hundred bytes per entry.
	add(IPsec, func() collectors.Collector { return xfrm.New(xfrm.Options{NetNS: cfg.NetNS}) }, cfg.Refresh)
	// The nftables ruleset outside netlens's table (read only): a few
	// dumps, one per chain; rates need the refresh.
	add(NFTables, func() collectors.Collector { return ruleset.New(ruleset.Options{NetNS: cfg.NetNS}) }, cfg.Refresh)
	// Sysctls change rarely and a full walk reads ~1,000 files.
	add(Sysctl, func() collectors.Collector {
		c := sysctl.New("/proc/sys")
		c.StateDir = sysctl.DefaultStateDir
		return collectors.InNamespace(cfg.NetNS, c)
	}, max(10*time.Second, cfg.Refresh))
	if cfg.Filters != nil {
		add(Filters, func() collectors.Collector { return filter.New(cfg.Filters) }, cfg.Refresh)
	}
	if cfg.Capture != nil {
		opts := *cfg.Capture
		opts.NetNS = cfg.NetNS
		c, err := capture.New(opts)
		if err != nil {
			return nil, err
		}
		add(Capture, func() collectors.Collector { return c }, capture.DefaultInterval)
	}
	return specs, nil
}

// counters returns the counters collector for the network namespace
// netns (0: the caller's). /proc/net is the main thread's view, so a
// namespace is read through /proc/thread-self/net on a thread inside it.
func counters(netns int) collectors.Collector {
	if netns == 0 {
		return procnet.New("/proc")
	}
	return collectors.InNamespace(netns, procnet.New("/proc/thread-self"))
}

// KernelRelease returns uname -r, or "unknown".
func KernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
