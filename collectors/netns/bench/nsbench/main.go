// Command nsbench measures, in-process, the namespace switch and the
// all-namespaces view (docs/performance.md; run by ../run.sh as root).
//
//	nsbench switch -conns 5000 -runs 9   a namespace with 2*conns sockets: time from the
//	                                     switch to the first full frame of the TUI
//	                                     (WAIT=1: wait for the old collectors first, as
//	                                     before; STAGED=0: every collector at once)
//	nsbench all -ns 500 -conns 10 -ticks 15
//	                                     ns namespaces of 2*conns sockets each: the
//	                                     all-namespaces sockets collector at a 1 s tick:
//	                                     time per refresh and CPU share of one core
//
// It makes its namespaces (ip netns add nsbench-N) and removes them.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
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
	if os.Args[1] != "hold" {
		removeLeftovers()
	}
	switch os.Args[1] {
	case "hold":
		err = hold(os.Args[2:])
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

// dialIn connects to port on the loopback of the named namespace.
func dialIn(name string, port int) (net.Conn, error) {
	fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var c net.Conn
	var derr error
	if err := collectors.InNetNS(fd, func() { c, derr = dialer.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, fmt.Errorf("dial in %s: %w", name, derr)
	}
	return c, nil
}

// startHolder starts "nsbench hold": a process that listens on port in
// each named namespace, holds conns connections to it there, accepts
// every later one, dials more on request, and exits when its stdin
// closes (holder.stop).
func startHolder(conns, port int, names []string) (h *holder, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{"hold", "-conns", fmt.Sprint(conns), "-port", fmt.Sprint(port)}, names...)...)
	cmd.Env = append(os.Environ(), "NSBENCH_CPUPROFILE=", "NSBENCH_TICKPROFILE=", "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	h = &holder{in: in, out: bufio.NewReader(out), stop: stop}
	ready := make(chan error, 1)
	go func() {
		line, err := h.out.ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("holder said %q", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-time.After(60 * time.Second):
		err = errors.New("holder not ready after 60 s")
	}
	if err != nil {
		stop()
		return nil, err
	}
	return h, nil
}

// holder is a running "nsbench hold".
type holder struct {
	in   io.WriteCloser
	out  *bufio.Reader
	stop func()
}

// dial has the holder make one more connection in the named namespace
// and returns its local port.
func (h *holder) dial(name string) (int, error) {
	if _, err := fmt.Fprintf(h.in, "dial %s\n", name); err != nil {
		return 0, err
	}
	line, err := h.out.ReadString('\n')
	if err != nil {
		return 0, err
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || port == 0 {
		return 0, fmt.Errorf("holder could not dial in %s (%q)", name, line)
	}
	return port, nil
}

// hold is the holder process (see startHolder).
func hold(args []string) error {
	fs := flag.NewFlagSet("hold", flag.ExitOnError)
	conns := fs.Int("conns", 10, "connections per namespace")
	port := fs.Int("port", 19000, "port")
	fs.Parse(args)
	var held []net.Conn
	for _, name := range fs.Args() {
		fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		var ln net.Listener
		var lerr error
		err = collectors.InNetNS(fd, func() { ln, lerr = listenConns(*port, *conns, &held) })
		unix.Close(fd)
		if err != nil {
			return err
		}
		if lerr != nil {
			return lerr
		}
		go func() { // as a server does: accept, and hold
			var mine []net.Conn
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mine = append(mine, c)
			}
		}()
	}
	os.Stdout.WriteString("ready\n")
	// "dial NAME": a new connection in that namespace, held; answered
	// with its local port. Until the parent closes stdin (or dies).
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		name, ok := strings.CutPrefix(sc.Text(), "dial ")
		if !ok {
			continue
		}
		c, err := dialIn(name, *port)
		if err != nil {
			fmt.Println(0)
			fmt.Fprintln(os.Stderr, "nsbench hold:", err)
			continue
		}
		held = append(held, c)
		fmt.Println(c.LocalAddr().(*net.TCPAddr).Port)
	}
	runtime.KeepAlive(held)
	return nil
}

// listenConns listens on 127.0.0.1:port in the calling thread's
// namespace and makes conns connections to it, both ends appended to
// held.
func listenConns(port, conns int, held *[]net.Conn) (net.Listener, error) {
	ln, err := listenCfg.Listen(context.Background(), "tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, err
	}
	for range conns {
		c, err := dialer.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return ln, err
		}
		s, err := ln.Accept()
		if err != nil {
			c.Close()
			return ln, err
		}
		*held = append(*held, c, s)
	}
	return ln, nil
}

// removeLeftovers deletes the namespaces of an earlier run that was
// killed before its cleanup.
func removeLeftovers() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "nsbench-") {
			exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
}

// The benchmark's connections are idle, as most are: no TCP keepalive,
// the kernel's default (Go turns it on every 15 s unless told not to;
// KEEPALIVE=1 keeps Go's default).
var (
	dialer    = net.Dialer{KeepAlive: keepAlive()}
	listenCfg = net.ListenConfig{KeepAlive: keepAlive()}
)

func keepAlive() time.Duration {
	if os.Getenv("KEEPALIVE") != "" {
		return 0
	}
	return -1
}

// makeNS creates a named namespace with loopback up and conns loopback
// TCP connections held by this process (2*conns sockets, plus the
// listener), and returns its open file.
func makeNS(name string, conns int, port int) (int, net.Listener, func(), error) {
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return 0, nil, nil, fmt.Errorf("ip netns add %s: %v: %s", name, err, out)
	}
	exec.Command("ip", "-n", name, "link", "set", "lo", "up").Run()
	fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, nil, nil, err
	}
	var held []net.Conn
	var ln net.Listener
	var lerr error
	if err := collectors.InNetNS(fd, func() { ln, lerr = listenConns(port, conns, &held) }); err != nil {
		return 0, nil, nil, err
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
		return 0, nil, nil, lerr
	}
	return fd, ln, cleanup, nil
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// benchSwitch: from the host namespace to one with 2*conns sockets, as
// the TUI's switcher does it (cancel the collectors and close them in
// the background, empty the Store, start them in the namespace at once),
// until the sockets are in the Store and a new frame of the Connections
// tab is drawn.
func benchSwitch(args []string) error {
	fs := flag.NewFlagSet("switch", flag.ExitOnError)
	conns := fs.Int("conns", 5000, "connections in the namespace (2 sockets each)")
	runs := fs.Int("runs", 7, "switches timed")
	only := fs.String("only", "", "run only these collectors (comma-separated; all.Config.Only)")
	fs.Parse(args)
	fd, _, cleanup, err := makeNS("nsbench-switch", *conns, 18000)
	if err != nil {
		return err
	}
	defer cleanup()
	store := model.NewStore("bench", "bench", time.Now())
	owners := sockets.NewOwnerCache("")
	var cancel context.CancelFunc = func() {}
	var runner *collectors.Staged
	start := func(netnsFD int) error {
		cfg := all.Config{Refresh: time.Second, Owners: os.Getenv("NOOWNERS") == "", NetNS: netnsFD, SocketOwners: owners}
		if *only != "" {
			cfg.Only = strings.Split(*only, ",")
		}
		specs, err := all.Specs(cfg)
		if err != nil {
			return err
		}
		var ctx context.Context
		ctx, cancel = context.WithCancel(context.Background())
		// As the TUI's switcher does: the sockets collector first, the
		// others after its first run (STAGED=0: all at once).
		lead := sockets.Name
		if os.Getenv("STAGED") == "0" {
			lead = ""
		}
		runner = collectors.RunStaged(ctx, store, specs, lead, time.Second)
		return nil
	}
	// As the TUI's switcher does: the old collectors are cancelled and
	// closed in the background (Retire), the Store switched (their late
	// updates dropped) and the new ones started at once. WAIT=1: the
	// old way, waiting for the old collectors' calls in flight first.
	var retiring []<-chan time.Duration
	stop := func() {
		cancel()
		if os.Getenv("WAIT") == "1" {
			runner.Wait()
			return
		}
		ch, t0 := runner.Retire(), time.Now()
		took := make(chan time.Duration, 1)
		go func() {
			<-ch
			took <- time.Since(t0)
		}()
		retiring = append(retiring, took)
	}
	// retired waits for every retiring runner and returns the longest
	// time one took to close in the background.
	retired := func() time.Duration {
		var longest time.Duration
		for _, ch := range retiring {
			longest = max(longest, <-ch)
		}
		retiring = nil
		return longest
	}
	var ino uint64
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	ino = st.Ino
	if err := start(0); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // the host's collectors warm (and the owner cache)
	var times, storeTimes, stopTimes, retireTimes []time.Duration
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
		// The old (host) collectors closed in the background: how long
		// after the switch (none of their updates reached the Store).
		retireTimes = append(retireTimes, retired())
		// Every socket of the namespace is of a connection to :18000
		// (or its listener): one of the host's would be a late update
		// of the old collectors.
		for _, so := range store.Snapshot().Sockets {
			if so.Local.Port() != 18000 && so.Remote.Port() != 18000 {
				return fmt.Errorf("a socket not of the namespace in the Store after the switch: %v -> %v", so.Local, so.Remote)
			}
		}
		// back to the host for the next run
		stop()
		store.Publish(model.NetNSUpdate{Switch: true})
		if err := start(0); err != nil {
			return err
		}
		time.Sleep(1500 * time.Millisecond)
		retired()
	}
	stop()
	retired()
	fmt.Printf("switch to a namespace with %d sockets (in-process, %d runs): first full frame median %v (min %v, max %v); sockets in the Store median %v; of which stopping the old collectors median %v; old collectors closed in the background after median %v (max %v)\n",
		2**conns+1, *runs, median(times).Round(time.Millisecond), slices.Min(times).Round(time.Millisecond), slices.Max(times).Round(time.Millisecond), median(storeTimes).Round(time.Millisecond), median(stopTimes).Round(time.Millisecond),
		median(retireTimes).Round(time.Millisecond), slices.Max(retireTimes).Round(time.Millisecond))
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
	sweep := fs.Duration("sweep", -1, "AllSockets.Sweep (-1: its default)")
	withOwners := fs.Bool("owners", true, "find the sockets' processes")
	probe := fs.Bool("probe", true, "make a new connection before each refresh and check the refresh shows it")
	fs.Parse(args)
	var cleanups []func()
	defer func() {
		for _, c := range cleanups {
			c()
		}
	}()
	// The sockets are held by other processes, as a host's containers
	// hold theirs: holders of ten namespaces each.
	names := make([]string, *n)
	inos := make([]uint64, *n)
	for i := range names {
		names[i] = fmt.Sprintf("nsbench-all-%d", i)
		if out, err := exec.Command("ip", "netns", "add", names[i]).CombinedOutput(); err != nil {
			return fmt.Errorf("ip netns add %s: %v: %s", names[i], err, out)
		}
		name := names[i]
		cleanups = append(cleanups, func() { exec.Command("ip", "netns", "del", name).Run() })
		exec.Command("ip", "-n", names[i], "link", "set", "lo", "up").Run()
		var st unix.Stat_t
		if err := unix.Stat("/run/netns/"+names[i], &st); err != nil {
			return err
		}
		inos[i] = st.Ino
	}
	var holders []*holder
	for i := 0; i < *n; i += 10 {
		h, err := startHolder(*conns, 19000, names[i:min(i+10, *n)])
		if err != nil {
			return err
		}
		holders = append(holders, h)
		cleanups = append([]func(){h.stop}, cleanups...) // holders end before their namespaces go
	}
	col := netns.NewAllSockets(netns.Options{}, nil, !*withOwners)
	defer col.Close()
	if *budget > 0 {
		col.Budget = *budget
	}
	if *sweep >= 0 {
		col.Sweep = *sweep
	}
	store := model.NewStore("bench", "bench", time.Now())
	ctx := context.Background()
	f0, fc0 := time.Now(), cpuTime()
	if err := col.Collect(ctx, store); err != nil { // first: opens and dumps every namespace, warms the owners
		return err
	}
	fmt.Printf("first refresh (every namespace dumped, owners found): %v wall, %v CPU\n", time.Since(f0).Round(time.Millisecond), (cpuTime() - fc0).Round(time.Millisecond))
	// Three unmeasured ticks: the namespaces whose counts moved with the
	// collector's own sockets are dumped once more.
	for range 3 {
		time.Sleep(time.Second)
		if err := col.Collect(ctx, store); err != nil {
			return err
		}
	}
	fmt.Printf("after 3 more refreshes: %s\n", col.Note())
	var walls []time.Duration
	var collectCPU time.Duration
	if p := os.Getenv("NSBENCH_TICKPROFILE"); p != "" { // the ticks only, not the setup
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	cpu0, t0 := cpuTime(), time.Now()
	next := t0
	fresh := 0
	for i := 0; i < *ticks; i++ {
		next = next.Add(time.Second)
		time.Sleep(time.Until(next))
		// Before each refresh, a new connection in one namespace (a
		// different one each tick): the refresh must show it.
		k := (i * 97) % *n
		// The holder of the namespace dials: netlens's own process keeps
		// its fds, as in the TUI.
		port := 0
		if *probe {
			var err error
			if port, err = holders[k/10].dial(names[k]); err != nil {
				return err
			}
		}
		w0, c0 := time.Now(), cpuTime()
		if err := col.Collect(ctx, store); err != nil {
			return err
		}
		collectCPU += cpuTime() - c0
		for _, s := range store.Snapshot().Sockets {
			if *probe && s.NetNS == inos[k] && int(s.Local.Port()) == port {
				fresh++
				break
			}
		}
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
	if *probe {
		fmt.Printf("a connection made just before a refresh was in it: %d of %d ticks\n", fresh, *ticks)
	}
	socks := len(store.Snapshot().Sockets)
	fmt.Printf("all namespaces, %d namespaces x %d sockets (%d sockets in all, owners %v; in-process, %d ticks of 1 s): refresh median %v (max %v); CPU %.2f%% of one core, of which the collector %.2f%% (the rest: a new TUI frame each tick)\n",
		*n, 2**conns+1, socks, *withOwners, *ticks, median(walls).Round(time.Millisecond), slices.Max(walls).Round(time.Millisecond), 100*cpu.Seconds()/elapsed.Seconds(), 100*collectCPU.Seconds()/elapsed.Seconds())
	return nil
}
