package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"netlens/exporter"
	"netlens/model"
)

func serveCmd(o *options) *cobra.Command {
	var listen, webConfig string
	var maxInstances, maxNetNS int
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR] [--web.config.file FILE]",
		Short: "Serve the metrics to Prometheus (/metrics) and the JSON snapshot (/snapshot), without the TUI",
		Long: `serve runs the collectors and serves what they see to Prometheus at
/metrics (text and OpenMetrics formats) and as the JSON snapshot at
/snapshot; docs/metrics.md lists the metrics. A scrape reads the latest
snapshot: it never collects by itself.

It listens on ` + exporter.DefaultListen + ` (loopback) unless --listen says otherwise.
TLS and basic auth come from --web.config.file, in the format of the
Prometheus exporter-toolkit (as node_exporter's). It runs without
privileges and says, at start, which collectors cannot run and why.

--netns all exports every network namespace netlens can enter (at most
--max-netns), each series with netns and container labels: the drop
funnel's counters, conntrack, sockets by state and collector health of
each; namespaces that appear or go are followed (docs/metrics.md).

Exit status: 0 when interrupted (Ctrl-C, SIGTERM); 1 when it cannot
serve (the web configuration, a filter backend asked for by name); 2 for
invalid flags or arguments (--listen that cannot be bound included).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.refresh < 100*time.Millisecond {
				return UsageError{fmt.Errorf("--refresh %s is too short (minimum 100ms)\n%s", o.refresh, cmd.UsageString())}
			}
			if maxInstances < 1 {
				return UsageError{fmt.Errorf("--max-instances %d: want at least 1\n%s", maxInstances, cmd.UsageString())}
			}
			if maxNetNS < 1 {
				return UsageError{fmt.Errorf("--max-netns %d: want at least 1\n%s", maxNetNS, cmd.UsageString())}
			}
			return runServe(cmd.Context(), *o, cmd.ErrOrStderr(), listen, webConfig, maxInstances, maxNetNS)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", exporter.DefaultListen, "`ADDR`ESS:port to listen on (another address than loopback exposes the metrics: see --web.config.file)")
	f.StringVar(&webConfig, "web.config.file", "", "exporter-toolkit web configuration `FILE` (TLS, basic auth)")
	f.IntVar(&maxInstances, "max-instances", exporter.DefaultMaxInstances, "instances (interfaces, CPUs) kept per counter; the rest are summed into instance=\"other\"")
	f.IntVar(&maxNetNS, "max-netns", defaultMaxNetNS, "with --netns all, namespaces exported (netlens's own first, then in the order they appear); the rest are counted in netlens_netns_unexported")
	f.DurationVar(&o.refresh, "refresh", time.Second, "how often the collectors refresh")
	collectFlags(f, o)
	return cmd
}

func runServe(ctx context.Context, o options, stderr io.Writer, listen, webConfig string, maxInstances, maxNetNS int) error {
	if err := exporter.CheckWebConfig(webConfig); err != nil {
		return err
	}
	l, err := net.Listen(listenNetwork(listen), listen)
	if err != nil {
		return UsageError{fmt.Errorf("--listen %s: %w", listen, err)}
	}
	everyNS := o.netns == netnsAll
	o.allNS = o.allNS || everyNS
	store, ctx, stop, err := startCollectors(ctx, o)
	if err != nil {
		l.Close()
		return err
	}
	defer stop()
	var src exporter.Source = store
	if everyNS {
		fleet, err := newNSFleet(o, store, maxNetNS, stderr)
		if err != nil {
			l.Close()
			return err
		}
		fleet.run(ctx)
		defer fleet.stop()
		src = fleet
		v := fleet.Namespaces()
		noun := "namespaces"
		if len(v.Namespaces) == 1 {
			noun = "namespace"
		}
		fmt.Fprintf(stderr, "netlens serve: --netns all: exporting %d %s", len(v.Namespaces), noun)
		if n := v.Unexported[exporter.UnexportedNotEnterable]; n > 0 {
			fmt.Fprintf(stderr, "; %d cannot be entered (needs CAP_SYS_ADMIN)", n)
		}
		if n := v.Unexported[exporter.UnexportedOverCap]; n > 0 {
			fmt.Fprintf(stderr, "; %d past --max-netns %d", n, maxNetNS)
		}
		fmt.Fprintln(stderr)
	}
	firstRound(ctx, store, 5*time.Second)
	for _, line := range exporter.Unavailable(store.Snapshot()) {
		fmt.Fprintln(stderr, "netlens serve: cannot run", line)
	}
	scheme := "http"
	if webConfig != "" {
		scheme = "https or http as " + webConfig + " says,"
	}
	fmt.Fprintf(stderr, "netlens serve: listening on %s %s (/metrics, /snapshot)\n", scheme, l.Addr())
	if ta, ok := l.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() && webConfig == "" {
		fmt.Fprintf(stderr, "netlens serve: warning: %s is not loopback and there is no --web.config.file: anyone who reaches it reads the metrics and the snapshot (sockets, processes, rules)\n", l.Addr())
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h := exporter.Handler(src, exporter.Options{MaxInstances: maxInstances, Version: o.version})
	return exporter.Serve(ctx, l, h, webConfig, logger)
}

// startCollectors runs the collectors o selects into a new Store until
// stop is called (or ctx is done); stop waits for them to end. The
// returned context is done when stop is called.
func startCollectors(ctx context.Context, o options) (store *model.Store, cctx context.Context, stop func(), err error) {
	store = o.newStore()
	r, err := o.runner(store)
	if err != nil {
		return nil, nil, nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	r.Run(cctx)
	return store, cctx, func() { cancel(); r.Wait() }, nil
}

// firstRound waits until every collector has run once (none is pending)
// or timeout passes.
func firstRound(ctx context.Context, store *model.Store, timeout time.Duration) {
	ch, stop := store.Subscribe()
	defer stop()
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		pending := false
		for _, c := range store.Snapshot().Collectors {
			pending = pending || c.State == model.StatePending
		}
		if !pending {
			return
		}
		select {
		case <-ch:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// listenNetwork is the network for net.Listen of addr: "tcp4" when its
// host is an IPv4 address, so that --listen 0.0.0.0:P binds IPv4 alone
// (Go's "tcp" binds an IPv4 wildcard as a dual-stack [::], exposing the
// metrics over IPv6 too, which the user did not ask for); "tcp" for IPv6
// literals, host names and an empty host, as Go decides.
func listenNetwork(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "tcp"
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
		return "tcp4"
	}
	return "tcp"
}
