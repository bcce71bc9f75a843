// Command hold runs the droptrace collector on a namespace, reading the
// kernel's map every -interval, until it gets SIGINT/SIGTERM or
// -duration passes, then prints its accounting, its CPU and its memory
// as JSON. It is the tracer side of the drop tracer's benchmark
// (collectors/droptrace/bench/run.sh): a whole process, as netlens is.
// With -source netdm it runs the drop monitor's collector (NET_DM)
// instead, for the benchmark in the VM (vmtest/bench.sh); -sample N
// turns on the tracer's sampled stream.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/dropmon"
	"netlens/collectors/droptrace"
	"netlens/model"
)

type pub struct {
	last model.DropTrace
	mon  model.DropMonitor
}

func (p *pub) Publish(u model.Update) {
	switch d := u.(type) {
	case model.DropTraceUpdate:
		p.last = d.Trace
	case model.DropsUpdate:
		p.mon = d.Monitor
	}
}

func main() {
	ns := flag.String("netns", "/proc/self/ns/net", "namespace file to trace")
	interval := flag.Duration("interval", time.Second, "map read interval")
	dur := flag.Duration("duration", time.Minute, "stop after")
	maxFlows := flag.Int("max-flows", droptrace.DefaultMaxFlows, "flows map size")
	sample := flag.Uint("sample", 0, "sample one drop in N (0: off)")
	source := flag.String("source", "ebpf", "ebpf (the tracer) or netdm (the drop monitor)")
	runStats := flag.Bool("stats", true, "turn on the kernel's BPF run-time statistics (they cost two clock reads per run: off for throughput)")
	flag.Parse()
	// The kernel times BPF programs while this descriptor is open: the
	// tracer's cost per drop (run_time_ns / run_cnt). The timing itself
	// costs (two sched_clock reads per run, about 90 ns each in this VM),
	// so the throughput runs turn it off.
	if *runStats {
		if stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME); err == nil {
			defer stats.Close()
		}
	}
	ino, err := droptrace.NetnsInode(*ns)
	if err != nil {
		fail(err)
	}
	var c collectors.Collector
	var tracer *droptrace.Collector
	switch *source {
	case "ebpf":
		tracer = droptrace.New(droptrace.Options{Netns: ino, MaxFlows: *maxFlows, SampleEvery: uint32(*sample)})
		c = tracer
	case "netdm":
		c = dropmon.New(dropmon.Options{})
	default:
		fail(fmt.Errorf("-source %q: want ebpf or netdm", *source))
	}
	defer c.(interface{ Close() error }).Close()
	p := &pub{}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := c.Collect(ctx, p); err != nil {
		fail(err)
	}
	fmt.Println("ready")
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	t := time.NewTicker(*interval)
	defer t.Stop()
	var maxRead time.Duration
loop:
	for time.Since(start) < *dur {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
		}
		t0 := time.Now()
		if err := c.Collect(ctx, p); err != nil {
			fail(err)
		}
		maxRead = max(maxRead, time.Since(t0))
	}
	if err := c.Collect(context.Background(), p); err != nil {
		fail(err)
	}
	var runs uint64
	var runtime time.Duration
	var program string
	if tracer != nil {
		runs, runtime, _ = tracer.RunStats()
		program = tracer.Program()
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	secs := time.Since(start).Seconds()
	cpu := tv(ru.Utime) + tv(ru.Stime) - tv(ru0.Utime) - tv(ru0.Stime)
	d := p.last
	var noSocket uint64
	for _, r := range d.Reasons {
		if r.Reason == "NO_SOCKET" {
			noSocket += r.Packets
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"seconds": secs, "cpu_s": cpu, "cpu_pct": 100 * cpu / secs, "max_read_ms": float64(maxRead.Microseconds()) / 1000,
		"rss_kb": status("VmRSS"), "hwm_kb": status("VmHWM"),
		"seen": d.Seen, "no_socket": noSocket, "attributed": d.Attributed, "unattributed": d.Unattributed, "not_aggregated": d.NotAggregated,
		"map_entries": d.MapEntries, "map_max": d.MapMax, "flows": len(d.Flows), "attach": d.Attach, "program": program,
		"sampled": d.Sampling.Sampled, "emitted": d.Sampling.Emitted, "lost": d.Sampling.Lost, "read": d.Sampling.Read,
		"prog_runs": runs, "prog_ns_per_run": float64(runtime.Nanoseconds()) / float64(max(runs, 1)),
		"netdm_total": p.mon.Total, "netdm_lost": p.mon.Lost, "netdm_queue_dropped": p.mon.QueueDropped,
	})
}

// status returns a kB field of /proc/self/status.
func status(field string) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return -1
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "hold:", err)
	os.Exit(1)
}
