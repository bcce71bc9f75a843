// Command nsbench measures, in-process, the namespace switch and the
// all-namespaces view (docs/performance.md; run by ../run.sh as root).
//
//	nsbench switch -conns 5000 -runs 7   a namespace with 2*conns sockets: time from the
//	                                     switch to the first full frame of the TUI
//	nsbench all -ns 500 -conns 10 -ticks 15
//	                                     ns namespaces of 2*conns sockets each: the
//	                                     all-namespaces sockets collector at a 1 s tick:
//	                                     time per refresh and CPU share of one core
//
// It makes its namespaces (ip netns add nsbench-N) and removes them.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/all"
	"netlens/collectors/netns"
	"netlens/collectors/sockets"
	"netlens/model"
	"netlens/ui"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nsbench switch|all [flags]")
		os.Exit(2)
	}
	if p := os.Getenv("NSBENCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	var err error
	switch os.Args[1] {
	case "switch":
		err = benchSwitch(os.Args[2:])
	case "all":
		err = benchAll(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// makeNS creates a named namespace with loopback up and conns loopback
// TCP connections held by this process (2*conns sockets, plus the
// listener), and returns its open file.
func makeNS(name string, conns int, port int) (int, func(), error) {
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return 0, nil, fmt.Errorf("ip netns add %s: %v: %s", name, err, out)
	}
	exec.Command("ip", "-n", name, "link", "set", "lo", "up").Run()
	fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, nil, err
	}
	var held []net.Conn
	var ln net.Listener
	var lerr error
	if err := collectors.InNetNS(fd, func() {
		if ln, lerr = net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port)); lerr != nil {
			return
		}
		for range conns {
			c, err := net.Dial("tcp4", ln.Addr().String())
			if err != nil {
				lerr = err
				return
			}
			s, err := ln.Accept()
			if err != nil {
				lerr = err
				return
			}
			held = append(held, c, s)
		}
	}); err != nil {
		return 0, nil, err
	}
	cleanup := func() {
		for _, c := range held {
			c.Close()
		}
		if ln != nil {
			ln.Close()
		}
		unix.Close(fd)
		exec.Command("ip", "netns", "del", name).Run()
	}
	if lerr != nil {
		cleanup()
		return 0, nil, lerr
	}
	return fd, cleanup, nil
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// benchSwitch: from the host namespace to one with 2*conns sockets, as
// the TUI's switcher does it (stop the collectors, empty the Store, start
// them in the namespace), until the sockets are in the Store and a new
// frame of the Connections tab is drawn.
func benchSwitch(args []string) error {
	fs := flag.NewFlagSet("switch", flag.ExitOnError)
	conns := fs.Int("conns", 5000, "connections in the namespace (2 sockets each)")
	runs := fs.Int("runs", 7, "switches timed")
	fs.Parse(args)
	fd, cleanup, err := makeNS("nsbench-switch", *conns, 18000)
	if err != nil {
		return err
	}
	defer cleanup()
	store := model.NewStore("bench", "bench", time.Now())
	owners := sockets.NewOwnerCache("")
	var cancel context.CancelFunc = func() {}
	var runner *collectors.Runner
	start := func(netnsFD int) error {
		specs, err := all.Specs(all.Config{Refresh: time.Second, Owners: os.Getenv("NOOWNERS") == "", NetNS: netnsFD, SocketOwners: owners})
		if err != nil {
			return err
		}
		var ctx context.Context
		ctx, cancel = context.WithCancel(context.Background())
		runner = collectors.NewRunner(store, specs...)
		runner.Run(ctx)
		return nil
	}
	stop := func() { cancel(); runner.Wait() }
	var ino uint64
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	ino = st.Ino
	if err := start(0); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // the host's collectors warm (and the owner cache)
	var times, storeTimes, stopTimes []time.Duration
	for i := 0; i < *runs; i++ {
		t0 := time.Now()
		stop()
		stopTimes = append(stopTimes, time.Since(t0))
		store.Publish(model.NetNSUpdate{NetNS: &model.NetNS{Inode: ino, Name: "nsbench-switch", Path: "/run/netns/nsbench-switch"}, Switch: true})
		if err := start(fd); err != nil {
			return err
		}
		sub, unsub := store.Subscribe()
		deadline := time.After(10 * time.Second)
		for len(store.Snapshot().Sockets) < 2**conns {
			select {
			case <-sub:
			case <-deadline:
				unsub()
				return fmt.Errorf("sockets of the namespace not in the Store after 10 s (%d)", len(store.Snapshot().Sockets))
			}
		}
		unsub()
		inStore := time.Since(t0)
		app := ui.New(store, ui.Options{})
		app.Update(tea.WindowSizeMsg{Width: 160, Height: 50})
		frame := app.View().Content
		d := time.Since(t0)
		app.Close()
		if !strings.Contains(frame, "127.0.0.1:18000") {
			return fmt.Errorf("the frame does not show the namespace's listener")
		}
		times, storeTimes = append(times, d), append(storeTimes, inStore)
		// back to the host for the next run
		stop()
		store.Publish(model.NetNSUpdate{Switch: true})
		if err := start(0); err != nil {
			return err
		}
		time.Sleep(1500 * time.Millisecond)
	}
	stop()
	fmt.Printf("switch to a namespace with %d sockets (in-process, %d runs): first full frame median %v (min %v, max %v); sockets in the Store median %v; of which stopping the old collectors median %v\n",
		2**conns+1, *runs, median(times).Round(time.Millisecond), slices.Min(times).Round(time.Millisecond), slices.Max(times).Round(time.Millisecond), median(storeTimes).Round(time.Millisecond), median(stopTimes).Round(time.Millisecond))
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchAll: n namespaces of 2*conns sockets; the all-namespaces sockets
// collector (with owners) runs at a 1 s tick, as in the TUI.
func benchAll(args []string) error {
	fs := flag.NewFlagSet("all", flag.ExitOnError)
	n := fs.Int("ns", 500, "namespaces")
	conns := fs.Int("conns", 10, "connections per namespace (2 sockets each)")
	ticks := fs.Int("ticks", 15, "ticks measured")
	budget := fs.Duration("budget", 0, "AllSockets.Budget (0: its default)")
	fs.Parse(args)
	var cleanups []func()
	defer func() {
		for _, c := range cleanups {
			c()
		}
	}()
	for i := 0; i < *n; i++ {
		_, c, err := makeNS(fmt.Sprintf("nsbench-all-%d", i), *conns, 19000)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, c)
	}
	col := netns.NewAllSockets(netns.Options{}, nil, false)
	defer col.Close()
	if *budget > 0 {
		col.Budget = *budget
	}
	store := model.NewStore("bench", "bench", time.Now())
	ctx := context.Background()
	f0, fc0 := time.Now(), cpuTime()
	if err := col.Collect(ctx, store); err != nil { // first: opens and dumps every namespace, warms the owners
		return err
	}
	fmt.Printf("first refresh (every namespace dumped, owners found): %v wall, %v CPU\n", time.Since(f0).Round(time.Millisecond), (cpuTime() - fc0).Round(time.Millisecond))
	var walls []time.Duration
	var collectCPU time.Duration
	cpu0, t0 := cpuTime(), time.Now()
	next := t0
	for i := 0; i < *ticks; i++ {
		next = next.Add(time.Second)
		time.Sleep(time.Until(next))
		w0, c0 := time.Now(), cpuTime()
		if err := col.Collect(ctx, store); err != nil {
			return err
		}
		collectCPU += cpuTime() - c0
		// A frame of the new snapshot (a new App takes it at once: more
		// than the running TUI does per tick).
		app := ui.New(store, ui.Options{})
		app.Update(tea.WindowSizeMsg{Width: 160, Height: 50})
		_ = app.View()
		app.Close()
		walls = append(walls, time.Since(w0))
	}
	cpu, elapsed := cpuTime()-cpu0, time.Since(t0)
	fmt.Printf("last refresh: %s\n", col.Note())
	socks := len(store.Snapshot().Sockets)
	fmt.Printf("all namespaces, %d namespaces x %d sockets (%d sockets in all, owners on; in-process, %d ticks of 1 s): refresh median %v (max %v); CPU %.2f%% of one core, of which the collector %.2f%% (the rest: a new TUI frame each tick)\n",
		*n, 2**conns+1, socks, *ticks, median(walls).Round(time.Millisecond), slices.Max(walls).Round(time.Millisecond), 100*cpu.Seconds()/elapsed.Seconds(), 100*collectCPU.Seconds()/elapsed.Seconds())
	return nil
}
