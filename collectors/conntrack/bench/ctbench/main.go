// Command ctbench drives the conntrack benchmark (see ../run.sh). Run it
// inside the benchmark's network namespace (ip netns exec):
//
//	ctbench fill -n 100000            insert n UDP entries over ctnetlink
//	ctbench dump -runs 5 [-max N]     time netlens's collection of the table
//	ctbench once [-max N]             one collection in a fresh process
//	ctbench listen -for 7s [-buf B]   run the event listener, report counts
//	ctbench gen -rate 20000 -for 5s   create+delete entries at rate events/s
//
// Each prints one line of key=value results.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ct "github.com/ti-mo/conntrack"

	"netlens/collectors/conntrack"
	"netlens/model"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ctbench fill|dump|listen|gen [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	n := fs.Int("n", 100000, "fill: entries to insert")
	runs := fs.Int("runs", 5, "dump: timed runs")
	maxFlows := fs.Int("max", 0, "dump: MaxFlows (0: the default)")
	dur := fs.Duration("for", 5*time.Second, "listen/gen: how long")
	rate := fs.Int("rate", 20000, "gen: events per second (half NEW, half DESTROY)")
	base := fs.Int("base", 0, "gen: first source port block, to keep runs apart")
	buf := fs.Int("buf", 0, "listen: event socket buffer in bytes (0: the default)")
	prof := fs.String("cpuprofile", "", "write a CPU profile here")
	fs.Parse(os.Args[2:])
	if *prof != "" {
		f, err := os.Create(*prof)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	var err error
	switch os.Args[1] {
	case "fill":
		err = fill(*n)
	case "dump":
		err = dump(*runs, *maxFlows)
	case "once":
		err = once(*maxFlows)
	case "listen":
		err = listen(*dur, *buf)
	case "gen":
		err = gen(*rate, *dur, *base)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "ctbench:", err)
		os.Exit(1)
	}
}

// flowN returns the n-th distinct UDP flow: 10.200.x.y:port -> 10.201.0.1:53.
func flowN(n int, timeout uint32) ct.Flow {
	src := netip.AddrFrom4([4]byte{10, 200, byte(n >> 16), byte(n >> 8)})
	sport := uint16(1024 + n&0xff)
	return ct.NewFlow(17, 0, src, netip.MustParseAddr("10.201.0.1"), sport, 53, timeout, 0)
}

// fill inserts n entries with 4 workers, each on its own socket.
func fill(n int) error {
	const workers = 4
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ct.Dial(nil)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := w; i < n; i += workers {
				if err := c.Create(flowN(i, 3600)); err != nil {
					errs <- fmt.Errorf("create %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("filled=%d seconds=%.2f\n", n, time.Since(start).Seconds())
	return nil
}

type sink struct {
	flows int
	stats model.ConntrackStats
}

func (s *sink) Publish(u model.Update) {
	switch u := u.(type) {
	case model.FlowsUpdate:
		s.flows = len(u.Flows)
	case model.ConntrackStatsUpdate:
		s.stats = u.Stats
	}
}

// dump times a full collection (dump, decode, top-N, sort, publish) by a
// fresh collector, runs times, and prints the median and minimum.
func dump(runs, maxFlows int) error {
	var times []time.Duration
	var s sink
	for range runs {
		c := conntrack.New(conntrack.Config{NoEvents: true, MaxFlows: maxFlows})
		start := time.Now()
		err := c.Collect(context.Background(), &s)
		times = append(times, time.Since(start))
		c.Close()
		if err != nil {
			return err
		}
	}
	slices.Sort(times)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("entries=%d held=%d truncated=%v median_ms=%.1f min_ms=%.1f maxrss_mb=%.1f\n", s.stats.Count, s.flows, s.stats.FlowsTruncated,
		ms(times[len(times)/2]), ms(times[0]), float64(ru.Maxrss)/1024)
	return nil
}

// once is `netlens flows` without the printing: one dump in a fresh
// process, to time against `conntrack -L > /dev/null` process for process.
func once(maxFlows int) error {
	flows, _, err := conntrack.DumpOnce(context.Background(), conntrack.Config{MaxFlows: maxFlows})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "flows=%d\n", len(flows))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// listen runs a collector with its event listener for d and prints what
// it received, lost and spent.
func listen(d time.Duration, buf int) error {
	c := conntrack.New(conntrack.Config{Refresh: time.Hour, EventBuffer: buf})
	defer c.Close()
	var s sink
	if err := c.Collect(context.Background(), &s); err != nil {
		return err
	}
	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	time.Sleep(d)
	if err := c.Collect(context.Background(), &s); err != nil {
		return err
	}
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	st := s.stats
	fmt.Printf("seen_new=%d seen_update=%d seen_destroy=%d lost=%d overruns=%d resyncs=%d buffer=%d cpu_s=%.2f\n",
		st.EventsNew, st.EventsUpdate, st.EventsDestroy, st.EventsLost, st.Overruns, st.Resyncs, st.EventBuffer, cpu.Seconds())
	return nil
}

// gen creates and deletes entries so that the kernel emits rate events
// per second (a NEW per create, a DESTROY per delete), paced in 10 ms
// steps, for d.
func gen(rate int, d time.Duration, base int) error {
	const workers = 2
	perStep := max(1, rate/2/100/workers) // creates per worker per 10 ms
	var created, deleted atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ct.Dial(nil)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			next := time.Now()
			i := base + w
			for time.Since(start) < d {
				for range perStep {
					f := flowN(i, 60)
					i += workers
					if err := c.Create(f); err != nil {
						errs <- fmt.Errorf("create: %w", err)
						return
					}
					created.Add(1)
					if err := c.Delete(f); err != nil {
						errs <- fmt.Errorf("delete: %w", err)
						return
					}
					deleted.Add(1)
				}
				next = next.Add(10 * time.Millisecond)
				time.Sleep(time.Until(next))
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	fmt.Printf("created=%d deleted=%d seconds=%.2f events_per_s=%.0f\n", created.Load(), deleted.Load(), el, float64(created.Load()+deleted.Load())/el)
	return nil
}
