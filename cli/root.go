// Package cli is every netlens command: the TUI (this file, with the
// flags the commands share) and one file per subcommand, each registered
// in NewRoot. Errors in how netlens was called are UsageErrors (exit 2).
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"netlens/collectors"
	"netlens/collectors/all"
	"netlens/collectors/capture"
	"netlens/collectors/conntrack"
	"netlens/collectors/droptrace"
	filtercol "netlens/collectors/filter"
	"netlens/collectors/netns"
	"netlens/collectors/sockets"
	ctlcapture "netlens/control/capture"
	"netlens/control/filter"
	"netlens/export"
	"netlens/internal/atomicfile"
	"netlens/model"
	"netlens/model/rules"
	"netlens/recorder"
	"netlens/ui"
)

// options are the flags shared by the TUI and the commands that collect.
type options struct {
	refresh     time.Duration
	snapshotDir string
	noOwners    bool
	noTCPInfo   bool
	// once is set by commands that run the collectors once (snapshot).
	once          bool
	noMouse       bool
	filterBackend string
	pcap          string
	captureIface  string
	captureFilter string
	cpuProfile    string
	memProfile    string
	revert        time.Duration
	ascii         bool
	version       string
	dropSource    string
	dropTraceAll  bool
	dropSample    uint32
	// open and diffWith are --open FILE and --diff FILE (offline TUI).
	open, diffWith string
	// record configures the TUI's flight recorder (R).
	record   recorder.Options
	netns    string              // --netns selector
	debugLog string              // --debug-log: the TUI logs each namespace switch
	owners   *sockets.OwnerCache // kept across the TUI's namespace switches
	allNS    bool                // the TUI's all-namespaces view
	// tcpCounters reads TCP sockets without their tcp_info, counters
	// aside (the TUI: sockets.Options.TCPCountersOnly).
	tcpCounters bool
	// flowCounters says whether the TUI shows or records the flows'
	// counters (conntrack.Config.Demand); nil outside the TUI.
	flowCounters *conntrack.Demand
	ns           *netns.Handle // the namespace --netns opened (nil: our own)
}

// config returns the collectors' configuration, opening the filter
// backend: a bad --filter-backend is a usage error (rules.InvalidError,
// exit 2); a backend asked for by name that is unavailable is an error
// (exit 1) with the reason and how to load it.
func (o options) config() (all.Config, error) {
	cfg := all.Config{Refresh: o.refresh, Owners: !o.noOwners, NoTCPInfo: o.noTCPInfo, TCPCountersOnly: o.tcpCounters, Once: o.once, NetNS: o.nsFD(), SocketOwners: o.owners, AllNamespaces: o.allNS, DropTraceAll: o.dropTraceAll, DropTraceSample: o.dropSample, FlowCounters: o.flowCounters}
	drop, err := o.dropChoice()
	if err != nil {
		return cfg, err
	}
	cfg.Drops = drop
	b, err := filter.Open(filter.Options{Backend: o.filterBackend, NetNS: o.nsFD()})
	if err != nil {
		return cfg, err
	}
	cfg.Filters = b
	cfg.Capture, err = o.captureOptions()
	return cfg, err
}

// captureOptions are the capture collector's options from --pcap,
// --capture and --capture-filter (nil: no capture at start).
func (o options) captureOptions() (*capture.Options, error) {
	switch {
	case o.pcap != "" && o.captureIface != "":
		return nil, UsageError{errors.New("--pcap and --capture exclude each other")}
	case o.pcap != "":
		// A file that is missing or not a capture is said now, not in
		// the Capture tab, retried every refresh.
		if err := capture.CheckFile(o.pcap); err != nil {
			return nil, err
		}
		return &capture.Options{File: o.pcap, Filter: o.captureFilter}, nil
	case o.captureIface != "":
		return &capture.Options{Interface: o.captureIface, Filter: o.captureFilter}, nil
	case o.captureFilter != "":
		return nil, UsageError{errors.New("--capture-filter needs --capture IFACE or --pcap FILE")}
	}
	return nil, nil
}

func (o options) runner(store *model.Store) (*collectors.Runner, error) {
	r, _, _, err := o.runnerSpecs(store)
	return r, err
}

// runnerSpecs is runner that also returns the configuration and the
// collectors it runs.
func (o options) runnerSpecs(store *model.Store) (*collectors.Runner, all.Config, []collectors.Spec, error) {
	cfg, err := o.config()
	if err != nil {
		return nil, cfg, nil, err
	}
	specs, err := all.Specs(cfg)
	if err != nil {
		return nil, cfg, nil, UsageError{err}
	}
	return collectors.NewRunner(store, specs...), cfg, specs, nil
}

func glyphs(ascii bool) ui.Glyphs {
	if ascii {
		return ui.GlyphsASCII
	}
	return ui.GlyphsAuto
}

// tuiFilters is the Filters tab's control: a filter.Manager over the
// filters collector's backend, guarded by the SSH session and the
// snapshot's sockets and flows, in the namespace shown (guardInNetNS); after a change the collector publishes at
// once. Nil when the filters collector does not run.
func tuiFilters(store *model.Store, cfg all.Config, specs []collectors.Spec, revert time.Duration) ui.FilterControl {
	b, c := filtersBackend(cfg, specs)
	if c == nil {
		return nil
	}
	m := &filter.Manager{Backend: b, Revert: revert, Guard: func() filter.GuardInput {
		return guardInNetNS(filter.GuardFromSnapshot(store.Snapshot()), cfg.NetNS)
	}}
	return filter.Control{Manager: m, Published: c.Refresh}
}

// filtersBackend returns the filter backend and the filters collector
// that reads it, or a nil collector when it does not run.
func filtersBackend(cfg all.Config, specs []collectors.Spec) (filter.Backend, *filtercol.Collector) {
	b, ok := cfg.Filters.(filter.Backend)
	if !ok {
		return nil, nil
	}
	for _, s := range specs {
		if c, ok := s.Collector.(*filtercol.Collector); ok {
			return b, c
		}
	}
	return nil, nil
}

// recoverLoop runs, until ctx is done, the safety net of the process
// that holds the filter control (the TUI): an overdue change whose revert
// helper died is reverted (the revert log says so) and the collector
// publishes at once; the collector itself only reports it. The returned
// function waits for the loop to end (after ctx is done).
func recoverLoop(ctx context.Context, cfg all.Config, specs []collectors.Spec, every time.Duration) (wait func()) {
	b, c := filtersBackend(cfg, specs)
	if c == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		filter.RecoverLoop(ctx, b, every, func() { _ = c.Refresh() })
	}()
	return func() { <-done }
}

// tuiCapture is the Capture tab's control: the capture collector itself
// (its stored packets). Nil when no capture runs.
func tuiCapture(specs []collectors.Spec) ui.CaptureControl {
	for _, s := range specs {
		if c, ok := s.Collector.(*capture.Collector); ok {
			return c
		}
	}
	return nil
}

// tuiCaptureRun is the Capture tab's start/stop control (c) and the
// packets control that goes with it: without --capture or --pcap, a
// control/capture.Control that captures in the namespace the collectors
// read (a namespace switch stops it); with them, the collector's capture
// and no start/stop.
func tuiCaptureRun(o options, store *model.Store, sw *nsSwitcher) (ui.CaptureControl, ui.CaptureRunControl) {
	if o.captureIface != "" || o.pcap != "" {
		return sw.captureControl(), nil
	}
	c := ctlcapture.New(store, sw.holdNS, 0)
	sw.setBeforeSwitch(func() { _ = c.Close() })
	return c, c
}

// NewRoot returns the netlens command: the TUI, and its subcommands. A
// new subcommand is a file cli/<name>.go with a function returning its
// *cobra.Command, added to the list below.
func NewRoot(version string) *cobra.Command {
	// Every pre-run hook from the root down runs, not only the nearest:
	// the root's opens --netns, and a subcommand with a hook of its own
	// (rules checks --revert) must not skip it.
	cobra.EnableTraverseRunHooks = true
	o := options{version: version}
	root := &cobra.Command{
		Use:   "netlens",
		Short: "Terminal UI network inspector: sockets, flows, filter rules, drops, sysctls",
		Long: `netlens shows, live and in one place, the sockets and conntrack flows of
this host, the filter rules, the kernel's network counters by layer (where
packets are lost), and the network sysctls; 's' writes a JSON snapshot of
it all.

Run as root, or give the binary the capabilities it needs:
  setcap cap_net_admin,cap_net_raw,cap_sys_ptrace,cap_dac_read_search,cap_bpf,cap_perfmon,cap_syslog+ep netlens
(CAP_BPF and CAP_PERFMON for the eBPF drop tracer, CAP_SYSLOG to name the
kernel functions where packets are dropped.)
Without them netlens still runs and says, in each pane, what it cannot see.

Exit status: 0 when quit; 1 when it cannot start (no terminal, a filter
backend asked for by name is unavailable); 2 for invalid flags or
arguments. Each subcommand's --help gives its own.`,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.refresh < 100*time.Millisecond {
				return UsageError{fmt.Errorf("--refresh %s is too short (minimum 100ms)\n%s", o.refresh, cmd.UsageString())}
			}
			if err := filter.CheckRevert(o.revert); err != nil {
				return UsageError{fmt.Errorf("%w\n%s", err, cmd.UsageString())}
			}
			if err := checkRecord(o.record, "record-"); err != nil {
				return UsageError{fmt.Errorf("%w\n%s", err, cmd.UsageString())}
			}
			if o.open != "" {
				return runOpen(cmd.Context(), o, o.open, o.diffWith)
			}
			if o.diffWith != "" {
				return UsageError{fmt.Errorf("--diff needs --open\n%s", cmd.UsageString())}
			}
			return runTUI(cmd.Context(), o)
		},
	}
	f := root.Flags()
	f.DurationVar(&o.refresh, "refresh", time.Second, "how often the screen and the collectors refresh")
	f.StringVar(&o.snapshotDir, "snapshot-dir", ".", "directory where 's' writes snapshots")
	f.BoolVar(&o.noMouse, "no-mouse", false, "leave the mouse to the terminal (text selection) instead of scrolling with the wheel")
	f.DurationVar(&o.revert, "revert", filter.DefaultRevert, "revert deadline of a filter change that can drop traffic: unless confirmed with c, it is undone")
	f.BoolVar(&o.ascii, "ascii", false, "draw only ASCII (sparklines too), for fonts without block elements")
	f.StringVar(&o.pcap, "pcap", "", "replay a pcap or pcapng `FILE` into the capture statistics (offline study)")
	f.StringVar(&o.captureIface, "capture", "", "capture packets live on `IFACE` (\"any\" for all; costs CPU, needs CAP_NET_RAW)")
	f.StringVar(&o.open, "open", "", "show the snapshot `FILE` (JSON, gzip or zstd) offline instead of this host: no privileges needed")
	f.StringVar(&o.diffWith, "diff", "", "with --open, a second snapshot `FILE`: show the newer one with what moved since the older")
	f.StringVar(&o.record.Dir, "record-dir", "", "directory of the flight recorder (R; default: --snapshot-dir)")
	f.DurationVar(&o.record.Interval, "record-interval", recorder.DefaultInterval, "time between the flight recorder's snapshots")
	f.IntVar(&o.record.Keep, "record-keep", recorder.DefaultKeep, "snapshots the flight recorder keeps")
	f.Int64Var(&o.record.MaxBytes, "record-max-bytes", 0, "bytes the flight recorder's files may take (0: no limit)")
	f.StringVar(&o.captureFilter, "capture-filter", "", "capture filter in tcpdump syntax (host, net, port, portrange, tcp, udp, icmp, vlan, and/or/not, ...)")
	collectFlags(f, &o)
	pf := root.PersistentFlags()
	pf.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile to this file (for performance work)")
	pf.MarkHidden("cpuprofile")
	pf.StringVar(&o.memProfile, "memprofile", "", "write a Go heap profile to this file on exit (for performance work)")
	pf.MarkHidden("memprofile")
	pf.StringVar(&o.netns, "netns", "", "read (and change) the network namespace `NS`: NAME (ip netns), PATH, pid:PID or inode:N (netlens netns lists them); serve also takes all")
	f.StringVar(&o.debugLog, "debug-log", "", "append a line per namespace switch (goroutines, open files) to this file (for tests)")
	f.MarkHidden("debug-log")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if o.memProfile != "" {
			cobra.OnFinalize(func() {
				if f, err := os.Create(o.memProfile); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			})
		}
		if o.open != "" && o.netns != "" {
			return UsageError{fmt.Errorf("--open shows a file: --netns does not apply\n%s", cmd.UsageString())}
		}
		// diff reads files; failing to open a namespace would exit 1,
		// which diff means as "different".
		if cmd.Name() == "diff" && o.netns != "" {
			return UsageError{fmt.Errorf("diff compares files: --netns does not apply\n%s", cmd.UsageString())}
		}
		// serve --netns all exports every namespace (cli/serve_netns.go).
		if cmd.Name() != "serve" || o.netns != netnsAll {
			if err := o.openNetNS(); err != nil {
				return err
			}
		}
		if o.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		cobra.OnFinalize(func() { pprof.StopCPUProfile(); f.Close() })
		return pprof.StartCPUProfile(f)
	}

	// A command that printed to a stdout that took nothing (a full disk,
	// /dev/full) fails as ls or cat do, instead of exiting 0 with its
	// output lost: the first write error is kept and returned once the
	// command has run.
	out := &stickyWriter{w: os.Stdout}
	root.SetOut(out)
	root.PersistentPostRunE = func(*cobra.Command, []string) error {
		if err := out.Err(); err != nil {
			return fmt.Errorf("write standard output: %w", err)
		}
		return nil
	}
	root.AddCommand(
		snapshotCmd(&o),
		flowsCmd(&o),
		dropsCmd(&o),
		captureCmd(&o),
		topCmd(&o),
		serveCmd(&o),
		diffCmd(),
		recordCmd(&o),
		netnsCmd(),
		sysctlCmd(&o),
		RulesCmd(RulesConfig{Open: func(opt filter.Options) (filter.Backend, error) {
			opt.NetNS = o.nsFD()
			return filter.Open(opt)
		}, NetNS: func() int { return o.nsFD() }}),
		versionCmd(version),
	)
	flagErr := func(cmd *cobra.Command, err error) error {
		return UsageError{fmt.Errorf("%w\n%s", err, cmd.UsageString())}
	}
	root.SetFlagErrorFunc(flagErr)
	// `help TOPIC` and `completion SHELL` with a topic or shell that does
	// not exist are usage errors (exit 2), as an unknown command is,
	// not help and exit 0 as cobra's own commands have it.
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 || (cmd == root && len(args) > 0) {
				return UsageError{fmt.Errorf("unknown help topic %q\n%s", strings.Join(args, " "), root.UsageString())}
			}
			return cmd.Help()
		},
	})
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = noArgs
			c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.SetFlagErrorFunc(flagErr)
		c.SilenceUsage, c.SilenceErrors = true, true
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}

// collectFlags are the flags of the commands that run every collector
// (the TUI, snapshot, serve and record); the others do not accept them.
func collectFlags(f *pflag.FlagSet, o *options) {
	f.BoolVar(&o.noOwners, "no-owners", false, "do not map sockets to processes (cheaper on hosts with many sockets)")
	f.BoolVar(&o.noTCPInfo, "no-tcp-info", false, "do not ask the kernel for TCP sockets' tcp_info: no rates, RTT or retransmits (cheaper on hosts with 100k sockets)")
	f.StringVar(&o.filterBackend, "filter-backend", rules.BackendAuto, "filter rules backend: auto (kmod, else nft, else read-only), kmod or nft (an error when unavailable), none")
	dropFlags(f, o)
}

// dropFlags are the flags of the commands that read drop reasons (those
// of collectFlags, and drops).
func dropFlags(f *pflag.FlagSet, o *options) {
	f.StringVar(&o.dropSource, "drop-source", string(droptrace.SourceAuto), dropSourceUsage)
	f.Uint32Var(&o.dropSample, "drop-trace-sample", 0, dropSampleUsage)
	f.BoolVar(&o.dropTraceAll, "drop-trace-all-netns", false, "the eBPF drop tracer traces every network namespace, not only the one netlens reads (--netns, else its own)")
}

// noArgs refuses positional arguments (and so unknown subcommands) as a
// usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if !cmd.HasParent() {
		return UsageError{fmt.Errorf("unknown command %q\n%s", args[0], cmd.UsageString())}
	}
	if cmd.HasAvailableSubCommands() {
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		cmd.SuggestionsMinimumDistance = 2
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return UsageError{fmt.Errorf("%s\n%s", msg, cmd.UsageString())}
	}
	return UsageError{fmt.Errorf("%s takes no arguments, got %q\n%s", cmd.CommandPath(), args, cmd.UsageString())}
}

func newStore() *model.Store {
	host, _ := os.Hostname()
	return model.NewStore(host, all.KernelRelease(), time.Now())
}

// newStore is newStore that records the --netns namespace.
func (o options) newStore() *model.Store {
	s := newStore()
	if o.ns != nil {
		s.Publish(model.NetNSUpdate{NetNS: o.ns.Namespace.Model()})
	}
	return s
}

func runTUI(ctx context.Context, o options) error {
	store := o.newStore()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tuneMemory(ctx, memoryFloor)
	// The table's sockets without tcp_info: the detail pane asks for the
	// selected one's, a saved snapshot is filled (cli/tcpinfo.go).
	o.tcpCounters = true
	// The flows' counters are dumped while a view shows them or the
	// recorder runs (the UI says which: Controls.FlowCounters).
	o.flowCounters = new(conntrack.Demand)
	sw, err := newNSSwitcher(ctx, o, store)
	if err != nil {
		return err
	}
	defer sw.Stop()
	defer cancel()
	// After the flags and the backends were checked (bad input says so
	// first), before the controls start.
	if err := needTerminal(); err != nil {
		return err
	}
	capCtl, capRun := tuiCaptureRun(o, store, sw)
	sysctls := &sysctlTUI{store: store, holdNS: sw.holdNS, revert: o.revert}
	sysDone := make(chan struct{})
	go func() {
		defer close(sysDone)
		sysctls.loop(ctx, o.refresh)
	}()
	defer func() { cancel(); <-sysDone }()
	if c, ok := capRun.(*ctlcapture.Control); ok {
		defer c.Close()
	}
	return ui.Run(ctx, store, ui.Options{
		DropSource: sw.dropWhy,
		Refresh:    o.refresh,
		Version:    o.version,
		NoMouse:    o.noMouse,
		Deps:       ui.Deps{Drops: all.DropsDeps},
		SaveSnapshot: func(s model.Snapshot) (string, error) {
			if err := atomicfile.CheckDir(o.snapshotDir); err != nil {
				return "", fmt.Errorf("--snapshot-dir %w", err)
			}
			// Every TCP socket's tcp_info; without it, and saying so,
			// when it cannot be read: the snapshot is not lost for it.
			var fillErr, flowErr error
			fd, release := sw.holdNS()
			if !o.noTCPInfo {
				s, fillErr = withTCPInfo(ctx, fd, s)
			}
			// The flows' counters as of now, not of the last dump (made
			// only while a view shows them); as they were, and saying so,
			// when the table cannot be read again.
			s, flowErr = withFreshFlows(ctx, fd, s, time.Now())
			release()
			path, err := export.Save(o.snapshotDir, s)
			if err == nil && fillErr != nil {
				path += " (without tcp_info: " + fillErr.Error() + ")"
			}
			if err == nil && flowErr != nil {
				path += " (flow counters as of " + s.Conntrack.LastDump.Format(time.TimeOnly) + ": " + flowErr.Error() + ")"
			}
			return path, err
		},
		Warning: outDirWarning(o),
		Controls: ui.Controls{
			Filters:    &sw.filters,
			PacketLog:  &sw.filters,
			Capture:    capCtl,
			CaptureRun: capRun,
			Sysctl:     sysctls,
			NetNS:      sw,
			Recorder:   tuiRecorder(ctx, recordSource(ctx, store, sw, o), o),
			TCPInfo:    tcpControl(sw, o),
			// The flows' counters are dumped while this says so.
			FlowCounters: o.flowCounters,
			// Always wired: without the tracer, S says it needs it.
			DropSample: &sw.sample,
		},
		Glyphs:     glyphs(o.ascii),
		CaptureDir: o.snapshotDir,
	})
}

// needTerminal returns an error when the TUI has no terminal to run in:
// standard input is not one and /dev/tty does not open (cron, a pipe,
// ssh without -t). It is checked before anything starts.
func needTerminal() error {
	if isTerminal(os.Stdin) {
		return nil
	}
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err == nil {
		return f.Close()
	}
	return fmt.Errorf("the TUI needs a terminal (%v); for scripts: netlens snapshot, flows, drops, top, capture, rules, sysctl, serve, record, diff", err)
}
