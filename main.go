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
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"netlens/collectors"
	"netlens/collectors/all"
	"netlens/collectors/drops"
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
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	root := newRootCmd()
	return root.ExecuteContext(ctx)
}

// options are the flags shared by the TUI and the snapshot command.
type options struct {
	refresh     time.Duration
	snapshotDir string
	noOwners    bool
	noMouse     bool
	cpuProfile  string
}

func (o options) config() all.Config {
	return all.Config{Refresh: o.refresh, Owners: !o.noOwners}
}

func newRootCmd() *cobra.Command {
	var o options
	root := &cobra.Command{
		Use:   "netlens",
		Short: "Terminal UI network inspector: sockets, counters, drops, sysctls",
		Long: `netlens shows, live and in one place, the sockets on this host, the
kernel's network counters by layer, and the network sysctls; 's' writes a
JSON snapshot of it all.

Run as root, or give the binary the capabilities it needs:
  setcap cap_net_admin,cap_net_raw,cap_sys_ptrace,cap_dac_read_search+ep netlens
Without them netlens still runs and says, in each pane, what it cannot see.`,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.refresh < 100*time.Millisecond {
				return usageError{fmt.Errorf("--refresh %s is too short (minimum 100ms)\n%s", o.refresh, cmd.UsageString())}
			}
			return runTUI(cmd.Context(), o)
		},
	}
	root.Flags().DurationVar(&o.refresh, "refresh", time.Second, "how often the screen and the collectors refresh")
	root.Flags().BoolVar(&o.noMouse, "no-mouse", false, "leave the mouse to the terminal (text selection) instead of scrolling with the wheel")
	root.Flags().StringVar(&o.snapshotDir, "snapshot-dir", ".", "directory where 's' writes snapshots")
	root.PersistentFlags().StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile to this file (for performance work)")
	root.PersistentFlags().MarkHidden("cpuprofile")
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
	root.PersistentFlags().BoolVar(&o.noOwners, "no-owners", false, "do not map sockets to processes (cheaper on hosts with many sockets)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\n%s", err, cmd.UsageString())}
	})

	var out string
	var timeout time.Duration
	snap := &cobra.Command{
		Use:           "snapshot",
		Short:         "Collect everything once and write a JSON snapshot (stdout by default)",
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSnapshot(cmd.Context(), o, out, timeout)
		},
	}
	snap.Flags().StringVarP(&out, "output", "o", "-", "write the snapshot to this file (atomically); - for stdout")
	snap.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "give up on a collector after this long")
	root.AddCommand(snap)

	var dropsJSON bool
	var dropsInterval time.Duration
	var dropsCount int
	dropsCmd := &cobra.Command{
		Use:   "drops",
		Short: "Print the drop counters that move, by layer, every interval (for scripts)",
		Long: `drops samples the drop-like counters of every layer (NIC, softnet,
qdisc, IP, transport, socket, IPsec, and the kernel's drop monitor where it
exists) and prints, after each interval, those that moved: the delta, the
rate and the total since it started.`,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dropsInterval < 100*time.Millisecond {
				return usageError{fmt.Errorf("--interval %s is too short (minimum 100ms)\n%s", dropsInterval, cmd.UsageString())}
			}
			store := newStore()
			cfg := o.config()
			cfg.Only = all.DropsDeps
			r := collectors.NewRunner(store, all.Specs(cfg)...)
			defer r.Wait()
			return drops.Watch(cmd.Context(), cmd.OutOrStdout(), r, store, dropsInterval, dropsCount, dropsJSON)
		},
	}
	dropsCmd.Flags().BoolVar(&dropsJSON, "json", false, "print one JSON object per sample")
	dropsCmd.Flags().DurationVar(&dropsInterval, "interval", time.Second, "time between samples")
	dropsCmd.Flags().IntVar(&dropsCount, "count", 1, "samples to print (0: until interrupted)")
	root.AddCommand(dropsCmd)

	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the netlens version",
		Args:  noArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "netlens %s\n", version)
		},
	})
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(root.FlagErrorFunc())
	}
	return root
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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := collectors.NewRunner(store, all.Specs(o.config())...)
	r.Run(ctx)
	defer r.Wait()
	defer cancel()
	return ui.Run(ctx, store, ui.Options{
		Refresh: o.refresh,
		Version: version,
		NoMouse: o.noMouse,
		Deps:    ui.Deps{Drops: all.DropsDeps},
		SaveSnapshot: func(s model.Snapshot) (string, error) {
			return export.Save(o.snapshotDir, s)
		},
	})
}

func runSnapshot(ctx context.Context, o options, out string, timeout time.Duration) error {
	store := newStore()
	r := collectors.NewRunner(store, all.Specs(o.config())...)
	// One sample: counters carry raw values; their deltas and rates are
	// zero, since there is no earlier sample to compare with.
	r.Once(ctx, timeout)
	r.Wait()
	snap := store.Snapshot()
	if out == "-" || out == "" {
		return export.Write(os.Stdout, snap)
	}
	return export.WriteFile(out, snap)
}
