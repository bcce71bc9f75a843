// Command netlens is a terminal UI network inspector for Linux: sockets,
// conntrack flows, filter rules and per-layer drop counters, live, with JSON
// snapshots for the record. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"netlens/collectors"
	"netlens/collectors/all"
	"netlens/collectors/capture"
	"netlens/collectors/conntrack"
	"netlens/collectors/drops"
	"netlens/collectors/filter"
	"netlens/model"
	"netlens/ui"
	"netlens/ui/export"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usageError marks errors in how netlens was called; they exit 2.
type usageError struct{ error }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "netlens:", err)
		if isUsage(err) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func isUsage(err error) bool {
	var ue usageError
	var fe filter.UsageError
	return errors.As(err, &ue) || errors.As(err, &fe) || errors.Is(err, capture.ErrUsage) || errors.Is(err, capture.ErrFilter)
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	return newRootCmd().ExecuteContext(ctx)
}

// options are the flags shared by the TUI and the commands that collect.
type options struct {
	refresh       time.Duration
	snapshotDir   string
	noOwners      bool
	noMouse       bool
	filterBackend string
	pcap          string
	captureIface  string
	captureFilter string
	cpuProfile    string
	revert        time.Duration
	ascii         bool
}

// config returns the collectors' configuration, opening the filter
// backend (never an error but for a bad --filter-backend).
func (o options) config() (all.Config, error) {
	cfg := all.Config{Refresh: o.refresh, Owners: !o.noOwners}
	b, err := filter.Open(filter.Options{Backend: o.filterBackend})
	if err != nil {
		return cfg, err
	}
	cfg.Filters = b
	switch {
	case o.pcap != "" && o.captureIface != "":
		return cfg, usageError{errors.New("--pcap and --capture exclude each other")}
	case o.pcap != "":
		cfg.Capture = &capture.Options{File: o.pcap, Filter: o.captureFilter}
	case o.captureIface != "":
		cfg.Capture = &capture.Options{Interface: o.captureIface, Filter: o.captureFilter}
	case o.captureFilter != "":
		return cfg, usageError{errors.New("--capture-filter needs --capture IFACE or --pcap FILE")}
	}
	return cfg, nil
}

func (o options) runner(store *model.Store) (*collectors.Runner, error) {
	r, _, err := o.runnerSpecs(store)
	return r, err
}

// runnerSpecs is runner that also returns the collectors it runs.
func (o options) runnerSpecs(store *model.Store) (*collectors.Runner, []collectors.Spec, error) {
	cfg, err := o.config()
	if err != nil {
		return nil, nil, err
	}
	specs, err := all.Specs(cfg)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return collectors.NewRunner(store, specs...), specs, nil
}

// tuiFilters is the Filters tab's control: a filter.Manager over the
// filters collector's backend, guarded by the SSH session and the
// snapshot's sockets and flows; after a change it has the collector
// publish at once. Nil when the filters collector does not run.
func glyphs(ascii bool) ui.Glyphs {
	if ascii {
		return ui.GlyphsASCII
	}
	return ui.GlyphsAuto
}

func tuiFilters(store *model.Store, specs []collectors.Spec, revert time.Duration) ui.FilterControl {
	c := filtersCollector(specs)
	if c == nil {
		return nil
	}
	m := &filter.Manager{Backend: c.Backend(), Revert: revert, Guard: func() filter.GuardInput { return filter.GuardFromSnapshot(store.Snapshot()) }}
	return filterControl{m, c}
}

// filtersCollector returns the filters collector among specs, or nil.
func filtersCollector(specs []collectors.Spec) *filter.Collector {
	for _, s := range specs {
		if c, ok := s.Collector.(*filter.Collector); ok {
			return c
		}
	}
	return nil
}

// filterControl is a filter.Manager whose changes the collector
// publishes at once.
type filterControl struct {
	*filter.Manager
	col *filter.Collector
}

func (f filterControl) Apply(p filter.Plan) (filter.Result, error) {
	res, err := f.Manager.Apply(p)
	_ = f.col.Refresh()
	return res, err
}

func (f filterControl) Confirm(txn uint32) error {
	err := f.Manager.Confirm(txn)
	_ = f.col.Refresh()
	return err
}

func newRootCmd() *cobra.Command {
	var o options
	root := &cobra.Command{
		Use:   "netlens",
		Short: "Terminal UI network inspector: sockets, flows, filter rules, drops, sysctls",
		Long: `netlens shows, live and in one place, the sockets and conntrack flows of
this host, the filter rules, the kernel's network counters by layer (where
packets are lost), and the network sysctls; 's' writes a JSON snapshot of
it all.

Run as root, or give the binary the capabilities it needs:
  setcap cap_net_admin,cap_net_raw,cap_sys_ptrace,cap_dac_read_search+ep netlens
Without them netlens still runs and says, in each pane, what it cannot see.

Exit status: 0 when quit; 1 when it cannot start (no terminal, a filter
backend asked for by name is unavailable); 2 for invalid flags or
arguments. Each subcommand's --help gives its own.`,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.refresh < 100*time.Millisecond {
				return usageError{fmt.Errorf("--refresh %s is too short (minimum 100ms)\n%s", o.refresh, cmd.UsageString())}
			}
			if err := filter.CheckRevert(o.revert); err != nil {
				return usageError{fmt.Errorf("%w\n%s", err, cmd.UsageString())}
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
	f.StringVar(&o.captureFilter, "capture-filter", "", "capture filter in tcpdump syntax (host, net, port, portrange, tcp, udp, icmp, vlan, and/or/not, ...)")
	collectFlags(f, &o)
	pf := root.PersistentFlags()
	pf.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile to this file (for performance work)")
	pf.MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
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

	root.AddCommand(snapshotCmd(&o), flowsCmd(), dropsCmd(&o), captureCmd(),
		filter.NewRulesCmd(filter.CLIConfig{}),
		&cobra.Command{
			Use:   "version",
			Short: "Print the netlens version",
			Args:  noArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintf(cmd.OutOrStdout(), "netlens %s\n", version)
			},
		})
	flagErr := func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\n%s", err, cmd.UsageString())}
	}
	root.SetFlagErrorFunc(flagErr)
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
// (the TUI and snapshot); the others do not accept them.
func collectFlags(f *pflag.FlagSet, o *options) {
	f.BoolVar(&o.noOwners, "no-owners", false, "do not map sockets to processes (cheaper on hosts with many sockets)")
	f.StringVar(&o.filterBackend, "filter-backend", filter.BackendAuto, "filter rules backend: auto (kmod, else nft, else read-only), kmod or nft (an error when unavailable), none")
}

func snapshotCmd(o *options) *cobra.Command {
	var out string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Collect everything once and write a JSON snapshot (stdout by default)",
		Long: `snapshot runs every collector once and writes one JSON document
(docs/snapshot.md) to standard output or -o FILE.

Exit status: 0 when at least one collector succeeded (the others say why
in their status); 1 when none did (the snapshot is still written, every
status filled) or the file could not be written; 2 for invalid flags or
arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return usageError{fmt.Errorf("--timeout %s: must be positive\n%s", timeout, cmd.UsageString())}
			}
			return runSnapshot(cmd.Context(), *o, out, timeout)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "-", "write the snapshot to this file (atomically if a regular file; devices, FIFOs and /dev/fd/N directly; - for stdout)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "give up on a collector after this long")
	collectFlags(cmd.Flags(), o)
	return cmd
}

func flowsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "flows",
		Short: "Print the conntrack table once, with NAT, state and counters (for scripts)",
		Long: `flows prints the conntrack table once, with NAT, state and counters.

Exit status: 0 on success; 1 when the table cannot be read (no
CAP_NET_ADMIN, no conntrack); 2 for invalid flags or arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flows, st, err := conntrack.DumpOnce(cmd.Context(), conntrack.Config{})
			if err != nil {
				return err
			}
			if note := conntrack.FlowsNote(st); note != "" && !asJSON {
				fmt.Fprintln(cmd.ErrOrStderr(), note)
			}
			return conntrack.PrintFlows(cmd.OutOrStdout(), flows, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (the snapshot's flow objects)")
	return cmd
}

func dropsCmd(o *options) *cobra.Command {
	var asJSON bool
	var interval time.Duration
	var count int
	cmd := &cobra.Command{
		Use:   "drops",
		Short: "Print the drop counters that move, by layer, every interval (for scripts)",
		Long: `drops samples the drop-like counters of every layer (NIC, softnet,
qdisc, IP, netfilter, transport, socket, IPsec, and the kernel's drop
monitor where it exists) and prints, after each interval, those that moved:
the delta, the rate and the total since it started.

Exit status: 0 on success, and on Ctrl-C (before the first sample too);
1 when it fails; 2 for invalid flags or arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 100*time.Millisecond {
				return usageError{fmt.Errorf("--interval %s is too short (minimum 100ms)\n%s", interval, cmd.UsageString())}
			}
			store := newStore()
			specs, err := all.Specs(all.Config{Refresh: interval, Only: all.DropsDeps})
			if err != nil {
				return err
			}
			r := collectors.NewRunner(store, specs...)
			defer r.Wait()
			return drops.Watch(cmd.Context(), cmd.OutOrStdout(), r, store, interval, count, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per sample")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between samples")
	cmd.Flags().IntVar(&count, "count", 1, "samples to print (0: until interrupted)")
	return cmd
}

func captureCmd() *cobra.Command {
	var opts capture.CLIOptions
	cmd := &cobra.Command{
		Use:   "capture (-i IFACE --count N | --pcap FILE) [--filter EXPR] [--json]",
		Short: "Capture (or read a pcap) once and print statistics and top flows (for scripts)",
		Long: `capture captures on an interface (until --count packets or --duration)
or reads a pcap/pcapng file, then prints the statistics, top flows and
hosts; -w also writes the packets as pcapng.

Exit status: 0 on success, and on Ctrl-C (the statistics of what was
captured are printed); 1 when it fails (no such interface, no
CAP_NET_RAW, a file that cannot be read or written); 2 for invalid flags
or arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := capture.RunCLI(cmd.Context(), cmd.OutOrStdout(), opts)
			if errors.Is(err, capture.ErrUsage) {
				return usageError{fmt.Errorf("%w\n%s", err, cmd.UsageString())}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Interface, "interface", "i", "", "interface to capture on (\"any\" for all)")
	f.StringVar(&opts.File, "pcap", "", "read this pcap or pcapng file instead of capturing")
	f.StringVar(&opts.Filter, "filter", "", "capture filter in tcpdump syntax")
	f.IntVar(&opts.Count, "count", 0, "stop after this many packets")
	f.DurationVar(&opts.Duration, "duration", 0, "stop a live capture after this long")
	f.BoolVar(&opts.JSON, "json", false, "print the statistics as JSON (the snapshot's capture object)")
	f.StringVarP(&opts.Write, "write", "w", "", "also write the last packets to this pcapng file (new files 0600; - for stdout, statistics then on stderr)")
	return cmd
}

// noArgs refuses positional arguments (and so unknown subcommands) as a
// usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if !cmd.HasParent() {
		return usageError{fmt.Errorf("unknown command %q\n%s", args[0], cmd.UsageString())}
	}
	return usageError{fmt.Errorf("%s takes no arguments, got %q\n%s", cmd.CommandPath(), args, cmd.UsageString())}
}

func newStore() *model.Store {
	host, _ := os.Hostname()
	return model.NewStore(host, all.KernelRelease(), time.Now())
}

func runTUI(ctx context.Context, o options) error {
	store := newStore()
	r, specs, err := o.runnerSpecs(store)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.Run(ctx)
	defer r.Wait()
	defer cancel()
	// The TUI holds the filter control: it reverts an overdue change whose
	// revert helper died (the read path only reports it).
	if c := filtersCollector(specs); c != nil {
		done := make(chan struct{})
		go func() {
			defer close(done)
			filter.RecoverLoop(ctx, c.Backend(), o.refresh, func() { _ = c.Refresh() })
		}()
		defer func() { <-done }()
		defer cancel()
	}
	return ui.Run(ctx, store, ui.Options{
		Refresh: o.refresh,
		Version: version,
		NoMouse: o.noMouse,
		Deps:    ui.Deps{Drops: all.DropsDeps},
		SaveSnapshot: func(s model.Snapshot) (string, error) {
			return export.Save(o.snapshotDir, s)
		},
		Filters:    tuiFilters(store, specs, o.revert),
		Glyphs:     glyphs(o.ascii),
		CaptureDir: o.snapshotDir,
	})
}

func runSnapshot(ctx context.Context, o options, out string, timeout time.Duration) error {
	store := newStore()
	r, err := o.runner(store)
	if err != nil {
		return err
	}
	// One sample: counters carry raw values; their deltas and rates are
	// zero, since there is no earlier sample to compare with.
	r.Once(ctx, timeout)
	if err := r.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, "netlens snapshot:", err)
	}
	snap := store.Snapshot()
	// A snapshot holds no control: an overdue change is reported loudly
	// (here and in the filters status) and left as it is.
	if note := filter.OverdueNote(filter.Overdue(snap.Rules, time.Now())); note != "" {
		fmt.Fprintln(os.Stderr, "netlens snapshot: filters:", note)
	}
	if out == "-" || out == "" {
		err = export.Write(os.Stdout, snap)
	} else {
		err = export.WriteFile(out, snap)
	}
	if err != nil {
		return err
	}
	return anyCollectorOK(snap)
}

// anyCollectorOK fails when no collector of snap succeeded: a snapshot
// with nothing in it must not look like a success.
func anyCollectorOK(snap model.Snapshot) error {
	var why []string
	for _, c := range snap.Collectors {
		if c.State == model.StateOK {
			return nil
		}
		why = append(why, c.Name+": "+c.Reason)
	}
	return fmt.Errorf("no collector succeeded (%s)", strings.Join(why, "; "))
}
