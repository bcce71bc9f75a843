package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/droptrace"
	"netlens/collectors/netns"
	"netlens/collectors/sockets"
	"netlens/model"
	"netlens/model/rules"
	"netlens/ui"
)

// nsSwitcher runs the TUI's collectors and moves them to another network
// namespace on request (ui.NetNSControl): it cancels the running
// collectors, empties what the Store holds of the old namespace, and
// starts them again inside the new one at once, without waiting for the
// old ones' calls in flight (up to 0.7 s on a loaded machine,
// docs/performance.md). The old collectors are closed (their sockets,
// their goroutines, then the namespace file they used) in the background
// once those calls have returned, and whatever they publish after the
// switch is dropped (their Runner publishes through a
// model.ScopedPublisher of the namespace they were started in). It also
// watches the selected namespace and says in the Store when it has
// disappeared. It is safe for concurrent use.
type nsSwitcher struct {
	parent context.Context
	store  *model.Store
	debug  *os.File // --debug-log: one line per switch (goroutines, fds)

	mu       sync.Mutex
	o        options // o.ns is the namespace the collectors run in (nil: our own)
	cancel   context.CancelFunc
	runner   *collectors.Staged
	filters  switchingFilters
	capture  switchingCapture
	sample   switchingSample
	switches int
	// recoverWait waits for the runner's recoverLoop to end.
	recoverWait func()
	// retired is closed once the collectors of every namespace left so
	// far are closed (nil: no switch yet). Retirements end in the order
	// of the switches.
	retired chan struct{}
	// dropWhy is why the drop source was chosen (the header shows it),
	// from the first start: every namespace gets the same choice.
	dropWhy string

	// own is netlens's own namespace as the header names it, when it is
	// not the host's (ip netns exec, a container); nil until ownNetNS
	// has looked, and for the host's.
	own *model.NetNS

	// users counts, for each namespace file opened by a switch, the
	// calls outside the collectors using it now (holdNS): a switch closes
	// the file it leaves only once they are done, so that a lookup or a
	// sysctl change in flight does not enter a closed file, or another
	// file given its number since.
	users map[*netns.Handle]*sync.WaitGroup

	watchDone chan struct{}
	// beforeSwitch runs before the collectors move (the TUI's own
	// capture stops: it reads the namespace being left).
	beforeSwitch func()
}

func (s *nsSwitcher) setBeforeSwitch(f func()) {
	s.mu.Lock()
	s.beforeSwitch = f
	s.mu.Unlock()
}

// nsFD is the open file of the namespace the collectors read (0: our
// own). It is for the collectors only, which a switch waits for before it
// closes the file; anything else uses holdNS.
func (s *nsSwitcher) nsFD() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.o.nsFD()
}

// holdNS returns the open file of the namespace the collectors read (0:
// our own) and a release the caller must call when it no longer uses the
// file: until then a switch to another namespace does not close it. The
// TUI's lookups, snapshots, sysctl changes and captures run beside the
// collectors, on their own goroutines, and may outlast a switch.
func (s *nsSwitcher) holdNS() (fd int, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holdNSLocked()
}

// holdFilters returns the filter control of the namespace the TUI shows
// and a release of that namespace's file (holdNS), both taken under the
// switcher's lock: the control and the file are the same namespace's.
func (s *nsSwitcher) holdFilters() (ui.FilterControl, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.filters.get()
	if err != nil {
		return nil, nil, err
	}
	_, release := s.holdNSLocked()
	return c, release, nil
}

func (s *nsSwitcher) holdNSLocked() (fd int, release func()) {
	h := s.o.ns
	if h == nil {
		return s.o.nsFD(), func() {}
	}
	if s.users == nil {
		s.users = map[*netns.Handle]*sync.WaitGroup{}
	}
	wg := s.users[h]
	if wg == nil {
		wg = new(sync.WaitGroup)
		s.users[h] = wg
	}
	wg.Add(1)
	return s.o.nsFD(), sync.OnceFunc(wg.Done)
}

// usersLocked takes h's users out of s.users, for the closer of h to
// wait for: once h is no longer s.o.ns nobody new holds it (nil: no
// users, or h nil).
func (s *nsSwitcher) usersLocked(h *netns.Handle) *sync.WaitGroup {
	if h == nil {
		return nil
	}
	wg := s.users[h]
	delete(s.users, h)
	return wg
}

func newNSSwitcher(ctx context.Context, o options, store *model.Store) (*nsSwitcher, error) {
	o.owners = sockets.NewOwnerCache("")
	s := &nsSwitcher{parent: ctx, o: o, store: store, watchDone: make(chan struct{})}
	s.filters.hold = s.holdFilters
	s.sample.init(o.dropSample)
	if o.debugLog != "" {
		f, err := os.OpenFile(o.debugLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		s.debug = f
	}
	if err := s.startLocked(); err != nil {
		return nil, err
	}
	go s.watch(ctx)
	if o.ns == nil && !o.allNS {
		go s.nameOwn()
	}
	return s, nil
}

// nameOwn looks up netlens's own namespace once (a walk of /proc, off
// the start's path) and, when it is not the host's, has the header name
// it while the collectors read it: run under ip netns exec or in a
// container, netlens would otherwise show another namespace's tables
// under a header that looks like the host's.
func (s *nsSwitcher) nameOwn() {
	m := ownNetNS()
	if m == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.own = m
	if s.o.ns == nil && !s.o.allNS {
		s.store.Publish(model.NetNSUpdate{NetNS: m})
	}
}

// ownNetNS returns what the header shows of netlens's own network
// namespace, or nil when it is the host's or cannot be told (neither
// PID 1's nor the kernel threads' namespace readable: then every
// namespace would look like another).
func ownNetNS() *model.NetNS {
	res, err := netns.Discover(netns.Options{})
	if err != nil {
		return nil
	}
	var own *netns.Namespace
	host := false
	for i := range res.Namespaces {
		n := &res.Namespaces[i]
		host = host || n.Host
		if n.Current {
			own = n
		}
	}
	if own == nil || own.Host || !host {
		return nil
	}
	m := own.Model()
	if m.Name == "" && len(own.Mounts) > 0 {
		m.Name = own.Mounts[0]
	}
	return m
}

// startLocked builds the collectors for s.o and runs them. The sockets
// collector starts alone and the others when its first run has ended,
// or after a second (collectors.RunStaged): they would share the CPU
// with the first dump the Connections tab waits for.
func (s *nsSwitcher) startLocked() error {
	_, cfg, specs, err := s.o.runnerSpecs(s.store)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(s.parent)
	s.cancel = cancel
	if s.dropWhy == "" {
		s.dropWhy = cfg.Drops.Why
	}
	s.filters.set(tuiFilters(s.store, cfg, specs, s.o.revert))
	s.capture.set(tuiCapture(specs))
	s.sample.set(tuiDropTrace(specs))
	// At start too: at 100,000 sockets and flows the conntrack dump
	// doubled the time to the first frame (docs/performance.md, "The
	// TUI at 100k").
	s.runner = collectors.RunStaged(ctx, s.store, specs, sockets.Name, time.Second)
	// The TUI holds the filter control: it reverts an overdue change
	// whose revert helper died (the read path only reports it), in the
	// namespace the collectors run in.
	s.recoverWait = recoverLoop(ctx, cfg, specs, s.o.refresh)
	return nil
}

// detachLocked cancels the running collectors and returns a function
// that waits for them and closes them (nil when none run).
func (s *nsSwitcher) detachLocked() (wait func() error) {
	if s.runner == nil {
		return nil
	}
	s.cancel()
	runner, recoverWait := s.runner, s.recoverWait
	s.runner = nil
	return func() error {
		recoverWait()
		return runner.Wait()
	}
}

// stopLocked stops the collectors, waits for them (closing them) and for
// those of the namespaces left before.
func (s *nsSwitcher) stopLocked() {
	if wait := s.detachLocked(); wait != nil {
		if err := wait(); err != nil && s.debug != nil {
			fmt.Fprintln(s.debug, "wait:", err)
		}
	}
	if s.retired != nil {
		<-s.retired
	}
}

// Stop stops the collectors and closes the namespace; the watcher ends
// with the context given to newNSSwitcher.
func (s *nsSwitcher) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	if s.o.ns != nil {
		if wg := s.usersLocked(s.o.ns); wg != nil {
			wg.Wait()
		}
		s.o.ns.Close()
		s.o.ns = nil
	}
	if s.debug != nil {
		s.debug.Close()
	}
}

// List implements ui.NetNSControl.
func (s *nsSwitcher) List() ([]ui.NetNSChoice, error) {
	res, err := netns.Discover(netns.Options{Details: true})
	if err != nil {
		return nil, err
	}
	out := make([]ui.NetNSChoice, 0, len(res.Namespaces)+1)
	out = append(out, ui.NetNSChoice{Inode: ui.AllNamespaces, All: true, Procs: -1, Sockets: -1, Enterable: true,
		Command: fmt.Sprintf("the sockets of all %d namespaces, with a Namespace column", len(res.Namespaces))})
	for i := range res.Namespaces {
		n := &res.Namespaces[i]
		m := n.Model()
		c := ui.NetNSChoice{Inode: n.Inode, Name: m.Name, Container: m.Container, Pod: m.Pod, PID: n.PID,
			Command: n.Cmdline, Procs: n.NProcs, Sockets: -1, Own: n.Current, Host: n.Host, Enterable: n.Enterable || n.Current, Reason: n.Reason}
		if c.Name == "" && len(n.Mounts) > 0 {
			c.Name = n.Mounts[0]
		}
		if c.Command == "" && n.Comm != "" {
			c.Command = "[" + n.Comm + "]"
		}
		if n.Sockets != nil {
			c.Sockets = n.Sockets.Total()
		}
		out = append(out, c)
	}
	return out, nil
}

// Switch implements ui.NetNSControl: inode 0 is netlens's own
// namespace, ui.AllNamespaces the all-namespaces view (the sockets of
// every namespace; the other collectors read our own).
func (s *nsSwitcher) Switch(inode uint64) error {
	var h *netns.Handle
	all := inode == ui.AllNamespaces
	if inode != 0 && !all {
		var err error
		if h, err = netns.Open(netns.Selector{Kind: netns.ByInode, Inode: inode}, netns.Options{}); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.beforeSwitch != nil {
		s.beforeSwitch()
	}
	wait := s.detachLocked()
	old := s.o.ns
	s.o.ns, s.o.allNS = h, all
	var m *model.NetNS
	switch {
	case all:
		// Inode: netlens's own, where the other sections are read (the
		// joined view matches only its sockets with the flows).
		m = &model.NetNS{All: true, Name: "all namespaces"}
		var st unix.Stat_t
		if unix.Stat("/proc/self/ns/net", &st) == nil {
			m.Inode = st.Ino
		}
	case h != nil:
		m = h.Namespace.Model()
	default:
		m = s.own // netlens's own: named when it is not the host's
	}
	// From here on the old collectors' updates are dropped (a new
	// namespace generation): the new ones start at once.
	s.store.Publish(model.NetNSUpdate{NetNS: m, Switch: true})
	err := s.startLocked()
	s.switches++
	var started <-chan struct{}
	if s.runner != nil {
		started = s.runner.Started()
	}
	s.retireLocked(wait, old, s.usersLocked(old), s.switches, inode, started)
	return err
}

// retireLocked waits in the background for the collectors wait stands
// for (nil: none) and closes them, then closes old, the namespace they
// read, after the collectors and after users, the other holders of old
// (holdNS; nil: none). The debug log's line for
// switch n is written then, after the earlier switches' lines and once
// the new collectors have all started (started; at most a second): its
// goroutine and open-file counts are taken at the same point of every
// switch, the collectors of the namespace left closed and those of the
// new one running (the least of a few samples: calls in flight come and
// go).
func (s *nsSwitcher) retireLocked(wait func() error, old *netns.Handle, users *sync.WaitGroup, n int, inode uint64, started <-chan struct{}) {
	prev, done := s.retired, make(chan struct{})
	s.retired = done
	debug := s.debug
	go func() {
		defer close(done)
		var err error
		if wait != nil {
			err = wait()
		}
		if users != nil {
			users.Wait()
		}
		if old != nil {
			old.Close()
		}
		if prev != nil {
			<-prev
		}
		if started != nil {
			<-started
		}
		if debug == nil {
			return
		}
		if err != nil {
			fmt.Fprintln(debug, "wait:", err)
		}
		fmt.Fprintf(debug, "switch %d inode %d goroutines %d fds %d\n", n, inode, leastGoroutines(), countFDs())
	}()
}

// watch checks every 2 s that the selected namespace still exists (a
// process in it, or a bind mount of it); when it has gone, the Store
// says so (the header shows it) and the collectors go on reading the
// empty namespace, which the open file keeps alive, until the user
// picks another.
func (s *nsSwitcher) watch(ctx context.Context) {
	defer close(s.watchDone)
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		h := s.o.ns
		var ino uint64
		var pid int
		var path string
		if h != nil {
			ino, pid, path = h.Namespace.Inode, h.Namespace.PID, h.Namespace.EnterPath
		}
		s.mu.Unlock()
		if h == nil {
			continue
		}
		snap, lease := s.store.Hold()
		lease.Release() // the namespace only
		if snap.NetNS == nil || snap.NetNS.Inode != ino || snap.NetNS.Gone || alive(ino, pid, path) {
			continue
		}
		n := *snap.NetNS
		n.Gone = true
		s.mu.Lock()
		if s.o.ns == h { // not switched meanwhile
			s.store.Publish(model.NetNSUpdate{NetNS: &n})
		}
		s.mu.Unlock()
	}
}

// alive says whether the namespace ino is still held by something other
// than netlens: its main process (cheap, the usual case), else anything
// Discover finds.
func alive(ino uint64, pid int, path string) bool {
	var st os.FileInfo
	var err error
	if pid > 0 {
		st, err = os.Stat("/proc/" + strconv.Itoa(pid) + "/ns/net")
	} else if path != "" {
		st, err = os.Stat(path)
	}
	if err == nil && st != nil && statIno(st) == ino {
		return true
	}
	res, err := netns.Discover(netns.Options{})
	if err != nil {
		return true // cannot tell: say nothing
	}
	return res.Find(ino) != nil
}

// leastGoroutines is the least goroutine count of ten samples 20 ms
// apart: the collectors' calls in flight come and go, what stays is
// what a leak would grow.
func leastGoroutines() int {
	least := runtime.NumGoroutine()
	for range 9 {
		time.Sleep(20 * time.Millisecond)
		least = min(least, runtime.NumGoroutine())
	}
	return least
}

// countFDs is the number of open files of this process (/proc/self/fd).
func countFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// switchingFilters is the Filters tab's control across switches: it
// passes calls to the filter control of the collectors running now.
type switchingFilters struct {
	mu  sync.Mutex
	cur ui.FilterControl
	// hold, when set, returns cur with its namespace's file held
	// (nsSwitcher.holdFilters): a rule change in flight during a switch
	// must not enter a file closed, or reused, under it.
	hold func() (ui.FilterControl, func(), error)
}

func (f *switchingFilters) set(c ui.FilterControl) {
	f.mu.Lock()
	f.cur = c
	f.mu.Unlock()
}

func (f *switchingFilters) get() (ui.FilterControl, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur == nil {
		return nil, fmt.Errorf("no filter backend in this namespace")
	}
	return f.cur, nil
}

func statIno(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino
	}
	return 0
}

// held returns the control running now and the release of its
// namespace's file.
func (f *switchingFilters) held() (ui.FilterControl, func(), error) {
	if f.hold != nil {
		return f.hold()
	}
	c, err := f.get()
	return c, func() {}, err
}

func (f *switchingFilters) Plan(op rules.Op) (rules.Plan, error) {
	c, release, err := f.held()
	if err != nil {
		return rules.Plan{}, err
	}
	defer release()
	return c.Plan(op)
}

func (f *switchingFilters) Apply(p rules.Plan) (rules.Result, error) {
	c, release, err := f.held()
	if err != nil {
		return rules.Result{}, err
	}
	defer release()
	return c.Apply(p)
}

func (f *switchingFilters) Confirm(txn uint32) error {
	c, release, err := f.held()
	if err != nil {
		return err
	}
	defer release()
	return c.Confirm(txn)
}

// PacketLog streams a packet log from the filter control running now.
func (f *switchingFilters) PacketLog(ctx context.Context, id uint32, fn func(model.LoggedPacket), lost func()) error {
	c, err := f.get()
	if err != nil {
		return err
	}
	pl, ok := c.(ui.PacketLogControl)
	if !ok {
		return fmt.Errorf("no packet log in this namespace")
	}
	return pl.PacketLog(ctx, id, fn, lost)
}

// switchingCapture is the Capture tab's control across switches: it
// passes calls to the capture collector running now.
type switchingCapture struct {
	mu  sync.Mutex
	cur ui.CaptureControl
}

func (c *switchingCapture) set(cur ui.CaptureControl) {
	c.mu.Lock()
	c.cur = cur
	c.mu.Unlock()
}

func (c *switchingCapture) get() ui.CaptureControl {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

func (c *switchingCapture) FlowPackets(flow model.CaptureFlowKey, n int) []model.CapturedPacket {
	if cur := c.get(); cur != nil {
		return cur.FlowPackets(flow, n)
	}
	return nil
}

func (c *switchingCapture) WritePcapng(path string, flow *model.CaptureFlowKey) (int, error) {
	cur := c.get()
	if cur == nil {
		return 0, fmt.Errorf("no capture runs in this namespace")
	}
	return cur.WritePcapng(path, flow)
}

// switchingSample is the Drops tab's sampled-stream control
// (ui.DropSampleControl) across switches: it switches the drop tracer
// running now and gives each new one the setting in force. Safe for
// concurrent use.
type switchingSample struct {
	mu sync.Mutex
	c  *droptrace.Collector // nil: the drop source is not the tracer
	// every is the setting in force: one drop in every (0: off); on is
	// what Toggle switches on (--drop-trace-sample, else
	// defaultToggleSample).
	every, on uint32
}

// defaultToggleSample is the rate S switches on without
// --drop-trace-sample: one drop in 100 per CPU, so that a flood samples
// a few a second at most per CPU.
const defaultToggleSample = 100

// init takes the --drop-trace-sample setting, once.
func (c *switchingSample) init(every uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.every, c.on = every, cmp.Or(every, defaultToggleSample)
}

// set takes the tracer of a new start (nil: none) before it runs.
func (c *switchingSample) set(t *droptrace.Collector) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c = t
	if t != nil {
		_ = t.SetSampling(c.every) // not started: it only sets the option
	}
}

// Toggle implements ui.DropSampleControl.
func (c *switchingSample) Toggle() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return "", errors.New("the sampled stream needs the eBPF drop tracer (--drop-source ebpf)")
	}
	every := c.on
	if c.every != 0 {
		every = 0
	}
	if err := c.c.SetSampling(every); err != nil {
		return "", err
	}
	c.every = every
	if every == 0 {
		return "drop samples off", nil
	}
	return fmt.Sprintf("drop samples on: one drop in %d per CPU, at most %d a second per CPU (reasons view: enter on a flow)", every, droptrace.DefaultSampleMax), nil
}

// tuiDropTrace is the drop tracer among the collectors, nil when the drop
// source is not the tracer.
func tuiDropTrace(specs []collectors.Spec) *droptrace.Collector {
	for _, s := range specs {
		if c, ok := s.Collector.(*droptrace.Collector); ok {
			return c
		}
	}
	return nil
}

// captureControl is the Capture tab's control: nil when no capture runs
// (the collectors run the same capture in every namespace).
func (s *nsSwitcher) captureControl() ui.CaptureControl {
	if s.capture.get() == nil {
		return nil
	}
	return &s.capture
}
