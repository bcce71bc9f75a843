package cli

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"netlens/collectors"
	"netlens/collectors/all"
	"netlens/collectors/droptrace"
	"netlens/model"
	"netlens/model/drops"
)

// dropsSample is one sample of `netlens drops --json`: the funnel counters
// that moved in the interval that ended at TakenAt, the drop monitor's
// reasons that moved, and the sockets with the most drops.
type dropsSample struct {
	TakenAt  time.Time `json:"taken_at"`
	Interval float64   `json:"interval_s"`
	// Counters are the snapshot's counters (docs/snapshot.md, counter)
	// that moved, in funnel order, but for the drop reasons' (Reasons).
	Counters []model.Counter `json:"counters"`
	// Reasons are the drop reasons with a non-zero delta: the drop
	// monitor's aggregates or the eBPF tracer's, whichever --drop-source
	// chose.
	Reasons []model.DropReason `json:"reasons"`
	// DropMonitor says whether the source of drop reasons (the drop
	// monitor or the eBPF tracer) runs ("" when it does) or why not.
	DropMonitor string `json:"drop_monitor,omitempty"`
	// Lost and QueueDropped are the drop monitor's notifications lost so
	// far (docs/snapshot.md, drop monitor): its reasons undercount.
	Lost         uint64 `json:"drop_monitor_lost,omitempty"`
	QueueDropped uint64 `json:"drop_monitor_queue_dropped,omitempty"`
	// TopSockets are up to 10 sockets with the most drops since they
	// were created.
	TopSockets []model.Socket `json:"top_sockets"`
}

// topDropSockets is how many sockets printMoved lists.
const topDropSockets = 10

// newDropsSample builds the dropsSample of snap. The interval is snap's counters'
// sample spacing, taken from prev (zero for the first sample).
func newDropsSample(prev, snap model.Snapshot) dropsSample {
	s := dropsSample{TakenAt: snap.TakenAt, Counters: []model.Counter{}, Reasons: []model.DropReason{}}
	if !prev.TakenAt.IsZero() {
		s.Interval = snap.TakenAt.Sub(prev.TakenAt).Seconds()
	}
	for _, c := range drops.Moved(drops.Funnel(snap.Counters)) {
		// The drop monitor's and the tracer's reasons are in Reasons,
		// with the interval's own delta (the tracer's counter of a
		// reason first seen starts a refresh late): not twice.
		if !drops.IsReasonSource(c.Source) {
			s.Counters = append(s.Counters, c.Counter)
		}
	}
	for _, d := range snap.DropMonitor.Drops {
		if d.Delta > 0 {
			s.Reasons = append(s.Reasons, d)
		}
	}
	// The eBPF tracer's reasons (kfree_skb: drops in the stack), when it
	// is the drop source.
	for _, d := range snap.DropTrace.Reasons {
		if d.Delta > 0 {
			s.Reasons = append(s.Reasons, model.DropReason{Reason: d.Reason, Layer: d.Layer, Location: d.Location, Origin: "sw", Delta: d.Delta, Total: d.Packets, LastSeen: d.LastSeen})
		}
	}
	s.Lost, s.QueueDropped = snap.DropMonitor.Lost, snap.DropMonitor.QueueDropped
	if !snap.DropMonitor.Supported {
		s.DropMonitor = snap.DropMonitor.Reason
		if st, ok := snap.Status(model.CollectorDropMon); ok && s.DropMonitor == "" {
			s.DropMonitor = st.Reason
		}
	}
	if st, ok := snap.Status(model.CollectorDropTrace); ok && !snap.DropTrace.Supported && s.DropMonitor == "" {
		s.DropMonitor = cmp.Or(snap.DropTrace.Reason, st.Reason)
	}
	s.TopSockets = drops.TopSockets(snap.Sockets, topDropSockets)
	if s.TopSockets == nil {
		s.TopSockets = []model.Socket{}
	}
	return s
}

// printMoved writes, for every snapshot after the first (the first only
// sets the baseline: its deltas are zero), the drop counters that moved
// since the one before. As JSON it writes one dropsSample object per line
// (JSON Lines); as text, one block per sample:
//
//	# 2026-11-21T05:50:01Z  interval 1.00s
//	layer      counter                                  instance               delta      rate/s     total
//	transport  /proc/net/snmp Udp RcvbufErrors                                   120       120.0       340
//	socket     drop reason SOCKET_RCVBUFF               udp_queue_rcv_one_skb+0x1a0  ...
//
// followed by the top sockets by drops and, when the drop monitor is not
// running, why. The snapshots must come from one Store, in order.
func printMoved(w io.Writer, snaps []model.Snapshot, asJSON bool) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := 1; i < len(snaps); i++ {
		s := newDropsSample(snaps[i-1], snaps[i])
		if asJSON {
			if err := enc.Encode(s); err != nil {
				return err
			}
			continue
		}
		writeDropsText(bw, s)
	}
	return bw.Flush()
}

func writeDropsText(w *bufio.Writer, s dropsSample) {
	fmt.Fprintf(w, "# %s  interval %.2fs\n", s.TakenAt.UTC().Format(time.RFC3339), s.Interval)
	if len(s.Counters) == 0 && len(s.Reasons) == 0 {
		w.WriteString("no drop counter moved\n")
	} else {
		fmt.Fprintf(w, "%-10s %-44s %-22s %10s %11s %12s\n", "layer", "counter", "instance", "delta", "rate/s", "total")
		for _, c := range s.Counters {
			name := strings.TrimSpace(c.Source + " " + c.Group + " " + c.Name)
			fmt.Fprintf(w, "%-10s %-44s %-22s %10d %11s %12d\n", c.Layer, name, c.Instance, c.Delta, rateText(c.Rate), c.Total)
		}
		for _, d := range s.Reasons {
			name := "drop reason " + d.Reason
			if d.Reason == "" {
				name = "drop location"
			}
			fmt.Fprintf(w, "%-10s %-44s %-22s %10d %11s %12d\n", d.Layer, name, d.Location, d.Delta, rateText(float64(d.Delta)/max(s.Interval, 1)), d.Total)
		}
	}
	if len(s.TopSockets) > 0 {
		w.WriteString("top sockets by drops:\n")
		for _, k := range s.TopSockets {
			fmt.Fprintf(w, "  %-7s %-28s %-28s %10d", k.Proto, addrText(k.Local), addrText(k.Remote), k.Drops)
			for _, p := range k.Procs {
				fmt.Fprintf(w, " %s[%d]", p.Comm, p.PID)
			}
			w.WriteByte('\n')
		}
	}
	if s.DropMonitor != "" {
		fmt.Fprintf(w, "drop reasons: %s\n", s.DropMonitor)
	}
	if s.Lost > 0 || s.QueueDropped > 0 {
		fmt.Fprintf(w, "drop reasons undercount: %d notification overruns (ENOBUFS), %d alerts the kernel's queue discarded\n", s.Lost, s.QueueDropped)
	}
	w.WriteByte('\n')
}

func rateText(r float64) string { return strconv.FormatFloat(r, 'f', 1, 64) }

func addrText(a netip.AddrPort) string {
	if !a.IsValid() {
		return "*"
	}
	return a.String()
}

func dropsCmd(o *options) *cobra.Command {
	var asJSON, trace bool
	var interval time.Duration
	var count int
	cmd := &cobra.Command{
		Use:   "drops",
		Short: "Print the drop counters that move, by layer, every interval (for scripts)",
		Long: `drops samples the drop-like counters of every layer (NIC, softnet,
qdisc, IP, netfilter, transport, socket, IPsec, and the kernel's drop
monitor where it exists) and prints, after each interval, those that moved:
the delta, the rate and the total since it started.

With --trace it runs the eBPF drop tracer instead (CAP_BPF and CAP_PERFMON,
or root) and prints, after each interval, every flow that dropped packets:
the drops, the kernel's drop reason, the function that dropped them, the
tuple and the owning process (by socket cookie; ~ when joined by tuple),
with the share of drops the tracer could not attribute to a flow.

A --drop-source named explicitly (ebpf, netdm) that cannot run here is
an error, not a quiet fall back to the counters; auto picks what can.

Exit status: 0 on success, and on Ctrl-C (before the first sample too);
1 when it fails; 2 for invalid flags or arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 100*time.Millisecond {
				return UsageError{fmt.Errorf("--interval %s is too short (minimum 100ms)\n%s", interval, cmd.UsageString())}
			}
			if count < 0 {
				return UsageError{fmt.Errorf("--count %d: want a number of samples, or 0 until interrupted\n%s", count, cmd.UsageString())}
			}
			if trace {
				// --trace is the eBPF tracer: another source named (or
				// a bad name) is not ignored.
				if src, err := droptrace.ParseSource(o.dropSource); err != nil {
					return UsageError{fmt.Errorf("%w\n%s", err, cmd.UsageString())}
				} else if src != droptrace.SourceAuto && src != droptrace.SourceEBPF {
					return UsageError{fmt.Errorf("--trace prints the eBPF drop tracer's flows: --drop-source %s does not apply\n%s", src, cmd.UsageString())}
				}
				return watchDropTrace(cmd.Context(), cmd.OutOrStdout(), *o, interval, count, asJSON)
			}
			drop, err := o.dropChoice()
			if err != nil {
				return err
			}
			if err := requireDropSource(droptrace.Source(o.dropSource)); err != nil {
				return err
			}
			store := newStore()
			specs, err := all.Specs(all.Config{Refresh: interval, Only: all.DropsDeps, NetNS: o.nsFD(), Drops: drop, DropTraceAll: o.dropTraceAll, DropTraceSample: o.dropSample})
			if err != nil {
				return err
			}
			startReasons(cmd.Context(), specs, interval)
			r := collectors.NewRunner(store, specs...)
			defer r.Wait()
			return watchDrops(cmd.Context(), cmd.OutOrStdout(), r, interval, count, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per sample")
	cmd.Flags().BoolVar(&trace, "trace", false, "print the flows that dropped, from the eBPF drop tracer, with reason, function and owner")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between samples")
	cmd.Flags().IntVar(&count, "count", 1, "samples to print (0: until interrupted)")
	dropFlags(cmd.Flags(), o)
	return cmd
}

// startReasons runs the source of drop reasons among specs (the eBPF
// tracer, the drop monitor) once, into a store of its own: it counts
// from its first run, which attaches it (the tracer's load takes a
// while), and the counters count from their first read, done meanwhile;
// started first, both count from the baseline run after, and the first
// sample's reasons do not miss the drops during the load.
func startReasons(ctx context.Context, specs []collectors.Spec, interval time.Duration) {
	var src []collectors.Spec
	for _, s := range specs {
		if n := s.Collector.Name(); n == model.CollectorDropTrace || n == model.CollectorDropMon {
			src = append(src, s)
		}
	}
	if len(src) > 0 {
		collectors.NewRunner(newStore(), src...).Once(ctx, max(interval, 2*time.Second))
	}
}

// watchDrops is `netlens drops`: it runs every collector of r once to set the
// baseline, then count times (forever when count <= 0) waits interval,
// runs them again and prints the drop counters that moved (printMoved),
// until ctx is done. Each run is bounded by interval (at least 2s).
// ctx ending (Ctrl-C) is a normal end, before the first sample too:
// watchDrops then returns nil.
func watchDrops(ctx context.Context, w io.Writer, r *collectors.Runner, interval time.Duration, count int, asJSON bool) error {
	return r.Sample(ctx, interval, count, func(prev, cur model.Snapshot) error {
		return printMoved(w, []model.Snapshot{prev, cur}, asJSON)
	})
}
