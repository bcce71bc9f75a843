package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"netlens/collectors/sockets"
	"netlens/model"
)

// topOptions are the flags of `netlens top`.
type topOptions struct {
	json     bool
	interval time.Duration
	count    int
	by       string
	limit    int
	noOwners bool
}

func topCmd(o *options) *cobra.Command {
	var to topOptions
	cmd := &cobra.Command{
		Use:   "top [--json] [--interval D] [--count N] [--by process|socket]",
		Short: "Print the busiest processes or TCP sockets every interval, from the kernel's tcp_info (for scripts)",
		Long: `top reads every TCP socket's byte and retransmit counters (tcp_info, over
sock_diag) each interval and prints the busiest processes (or sockets) by
bytes received plus bytes acknowledged per second, with retransmitted
segments per second: the nethogs view, without capturing a packet.

The first figures come one interval after the start: a rate needs two
readings. UDP and raw sockets have no byte counters in the kernel and are
not shown. A process in a container is named with its container (from
/proc/PID/cgroup, as 'netlens netns' reads it): the same program on the
host and in a container are two rows. With --json each interval is one JSON object on its own line;
its "processes" (or, --by socket, "sockets") array is [] when none qualify.

Exit status: 0 after --count intervals or when interrupted; 1 when the
sockets cannot be read; 2 for invalid flags or arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to.interval < 100*time.Millisecond {
				return UsageError{fmt.Errorf("--interval %s is too short (minimum 100ms)\n%s", to.interval, cmd.UsageString())}
			}
			if to.by != "process" && to.by != "socket" {
				return UsageError{fmt.Errorf("--by %q: want process or socket\n%s", to.by, cmd.UsageString())}
			}
			if to.count < 0 || to.limit < 0 {
				return UsageError{fmt.Errorf("--count and --limit cannot be negative\n%s", cmd.UsageString())}
			}
			c := sockets.New(sockets.Options{NoOwners: to.noOwners, NetNS: o.nsFD()})
			defer c.Close()
			return runTop(cmd.Context(), c, to, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&to.json, "json", false, "print one JSON object per interval")
	f.DurationVar(&to.interval, "interval", time.Second, "time between two readings")
	f.IntVar(&to.count, "count", 0, "stop after N intervals (0: until interrupted)")
	f.StringVar(&to.by, "by", "process", "group by process or list sockets: process or socket")
	f.IntVar(&to.limit, "limit", 20, "print at most N rows per interval (0: all)")
	f.BoolVar(&to.noOwners, "no-owners", false, "do not map sockets to processes (cheaper on hosts with many sockets)")
	return cmd
}

// socketSource is what runTop reads: a sockets.Collector.
type socketSource interface {
	Sockets(ctx context.Context) ([]model.Socket, sockets.Stats, error)
}

// topInterval is one interval of `netlens top --json`.
type topInterval struct {
	At       time.Time `json:"at"`
	Interval float64   `json:"interval_sec"`
	// Source is the socket source; rates need "sock_diag".
	Source string `json:"source"`
	// Processes (--by process) or Sockets (--by socket): the one asked
	// for is always there, [] when nothing qualifies (never nil); the
	// other is nil, and left out.
	Processes []model.ProcessRate `json:"processes,omitzero"`
	Sockets   []topSocket         `json:"sockets,omitzero"`
}

// topSocket is a socket of `netlens top --by socket --json`.
type topSocket struct {
	Local   string           `json:"local"`
	Remote  string           `json:"remote"`
	State   model.SockState  `json:"state"`
	Procs   []model.Proc     `json:"procs,omitempty"`
	Rate    model.SocketRate `json:"rate"`
	RTT     uint32           `json:"rtt_us"`
	Cwnd    uint32           `json:"snd_cwnd"`
	Retrans uint32           `json:"total_retrans"`
	Cong    string           `json:"congestion,omitempty"`
}

// runTop reads src, waits an interval, and prints each interval's rates
// until count intervals are printed (0: until ctx ends).
func runTop(ctx context.Context, src socketSource, o topOptions, out, errw io.Writer) error {
	if _, _, err := src.Sockets(ctx); err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	warned, ownersWarned := false, false
	for n := 0; o.count == 0 || n < o.count; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		socks, st, err := src.Sockets(ctx)
		if err != nil {
			return err
		}
		if st.Source == sockets.SourceProcNet && !warned {
			fmt.Fprintf(errw, "netlens top: no rates: sockets come from /proc/net, which has no tcp_info (%s)\n", st.FallbackReason)
			warned = true
		}
		if n := st.Owners.Unreadable; n > 0 && !ownersWarned {
			fmt.Fprintf(errw, "netlens top: owners of %d of %d processes unreadable (needs root or CAP_SYS_PTRACE): their sockets are (unknown)\n", n, st.Owners.Procs)
			ownersWarned = true
		}
		iv := topInterval{At: time.Now().UTC(), Interval: o.interval.Seconds(), Source: st.Source}
		if o.by == "process" {
			iv.Processes = []model.ProcessRate{}
			for _, p := range model.ProcessRates(socks, nil) {
				if p.Conns > 0 {
					iv.Processes = append(iv.Processes, p)
				}
			}
			iv.Processes = iv.Processes[:limitRows(len(iv.Processes), o.limit)]
		} else {
			iv.Sockets = []topSocket{}
			for _, i := range model.TopSockets(socks, o.limit) {
				s := socks[i]
				var ti model.TCPInfo // TopSockets gives sockets with a rate, hence a tcp_info
				if s.TCP != nil {
					ti = *s.TCP
				}
				iv.Sockets = append(iv.Sockets, topSocket{Local: s.Local.String(), Remote: s.Remote.String(), State: s.State, Procs: s.Procs,
					Rate: *s.Rate, RTT: ti.RTT, Cwnd: ti.SndCwnd, Retrans: ti.TotalRetrans, Cong: ti.Congestion})
			}
		}
		if o.json {
			if err := enc.Encode(iv); err != nil {
				return err
			}
			continue
		}
		if err := printTop(out, iv, o.by, n == 0); err != nil {
			return err
		}
	}
	return nil
}

func limitRows(n, limit int) int {
	if limit > 0 && n > limit {
		return limit
	}
	return n
}

// printTop prints an interval as a table of processes or sockets (by),
// after a blank line unless it is the first.
func printTop(w io.Writer, iv topInterval, by string, first bool) error {
	if !first {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%s  %s\n", iv.At.Local().Format("15:04:05"), iv.Source)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rate := func(r model.SocketRate, v float64) string {
		if !r.Known {
			return "-"
		}
		return fmtBps(v)
	}
	if by == "process" {
		fmt.Fprintln(tw, "PROCESS\tCONTAINER\tPIDS\tCONNS\tRX/s\tTX/s\tRETRANS/s\t")
		for _, p := range iv.Processes {
			comm := p.Comm
			if comm == "" {
				comm = "(unknown)"
			}
			rx, tx, re := "-", "-", "-"
			if p.Rated > 0 {
				rx, tx, re = fmtBps(p.RxBps), fmtBps(p.TxBps), strconv.FormatFloat(p.RetransPerSec, 'f', 1, 64)
			}
			ctr := p.Container
			if ctr == "" {
				ctr = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t\n", comm, ctr, fmtPIDs(p.PIDs), p.Conns, rx, tx, re)
		}
		return tw.Flush()
	}
	fmt.Fprintln(tw, "LOCAL\tREMOTE\tSTATE\tPROCESS\tRX/s\tTX/s\tRETRANS/s\tRTT\tCWND\t")
	for _, s := range iv.Sockets {
		proc := ""
		if len(s.Procs) > 0 {
			proc = s.Procs[0].Comm + "/" + strconv.Itoa(s.Procs[0].PID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.2fms\t%d\t\n", s.Local, s.Remote, s.State, proc,
			rate(s.Rate, s.Rate.RxBps), rate(s.Rate, s.Rate.TxBps), s.Rate.RetransPerSec, float64(s.RTT)/1000, s.Cwnd)
	}
	return tw.Flush()
}

// fmtPIDs lists PIDs, "11,12,+3" past three.
func fmtPIDs(pids []int) string {
	var b strings.Builder
	for i, p := range pids {
		if i == 3 {
			b.WriteString(",+" + strconv.Itoa(len(pids)-3))
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(p))
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// fmtBps formats bytes per second with a binary-free SI unit: "0 B/s",
// "512 B/s", "2.0 MB/s".
func fmtBps(v float64) string {
	units := []string{"B/s", "kB/s", "MB/s", "GB/s", "TB/s"}
	i := 0
	for v >= 999.95 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(v, 'f', 0, 64) + " " + units[0]
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
}
