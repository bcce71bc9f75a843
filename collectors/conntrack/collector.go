package conntrack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	ct "github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// Name is the collector's name in statuses.
const Name = model.CollectorConntrack

// Defaults.
const (
	// DefaultInterval is how often the Runner should call Collect.
	DefaultInterval = 2 * time.Second
	// DefaultEventBuffer is the event socket's receive buffer: about
	// 20,000 events at the ~800 bytes of kernel memory each takes.
	DefaultEventBuffer = 16 << 20
	// DefaultRefresh is how often a full dump refreshes the byte and
	// packet counts, which conntrack events do not carry.
	DefaultRefresh = 10 * time.Second
)

// Config tunes a Collector. The zero value is the default.
type Config struct {
	// MaxFlows bounds the flows held (DefaultMaxFlows).
	MaxFlows int
	// EventBuffer is the event socket's receive buffer in bytes
	// (DefaultEventBuffer); set with SO_RCVBUFFORCE when privileged, else
	// SO_RCVBUF, capped by net.core.rmem_max.
	EventBuffer int
	// Refresh is how often a full dump refreshes the counters
	// (DefaultRefresh). Dumps are never closer than 20 times the last
	// dump's duration, so that a huge table does not keep a core busy.
	Refresh time.Duration
	// NoEvents turns the event listener off: the table is then only as
	// fresh as the last dump.
	NoEvents bool
	// Demand, when set, says whether anyone looks at the flows' byte and
	// packet counts (the TUI: while its Flows or Joined view is on screen
	// or its recorder runs). While it says no, and events keep the table
	// current, the periodic dump of every Refresh is not made: at 100,000
	// entries it is a third of the TUI's CPU. The first dump, RequestDump
	// and the re-dump after lost events are made all the same. nil: the
	// counters are always wanted.
	Demand *Demand
	// NetNS is an open network namespace file to work in (0: the
	// caller's).
	NetNS int
	// SysctlDir overrides SysctlDir (tests).
	SysctlDir string
	// Now returns the current time (tests).
	Now func() time.Time
}

// receiver is what the event listener reads from: a *netlink.Conn, or a
// fake in tests.
type receiver interface {
	Receive() ([]netlink.Message, error)
}

// Collector reads the conntrack table over ctnetlink: a full dump on the
// first Collect, on RequestDump, every Refresh, and after lost events;
// between dumps, NEW/UPDATE/DESTROY events from a separate socket keep
// the table current. It publishes model.FlowsUpdate,
// model.ConntrackStatsUpdate and model.CountersUpdate.
//
// The event listener goroutine belongs to the Collector; Close stops it
// and waits for it. Collect must not be called concurrently with itself
// (the Runner never does); RequestDump and Close are safe for concurrent
// use.
type Collector struct {
	cfg Config

	query    *netlink.Conn  // statistics; used by Collect only
	dumpConn *netlink.Conn  // dumps; used by the dump goroutine only
	wg       sync.WaitGroup // the dump goroutine
	lwg      sync.WaitGroup // the event listener
	bgCtx    context.Context
	bgCancel context.CancelFunc
	dumping  chan struct{} // closed when the running dump ends; Collect only
	dumpErr  error         // guarded by mu

	requested atomic.Bool
	closing   atomic.Bool
	// emptySkips counts dumps not made because the namespace had no
	// entry (see dump).
	emptySkips atomic.Uint64
	evMu       sync.Mutex // serialises starting and restarting the listener

	mu          sync.Mutex // guards everything below
	events      *netlink.Conn
	tab         *table
	resyncing   bool     // a dump is running: events go to pending
	pending     []event  // events received during the dump, applied after it
	needResync  bool     // events were lost: the table needs a dump
	dropsAtDump uint64   // the event socket's drop count when the last dump began
	lostBase    uint64   // events lost on event sockets since replaced
	cur         receiver // what the running listener reads (events, or a fake)
	listening   bool
	evErr       error
	evBuf       int
	st          model.ConntrackStats // event and dump counters

	onEvent  func(event) // tests: called for every event received, under mu
	fakeDump dumpFunc    // tests: replaces the ctnetlink dump
}

// dumpFunc dumps the table: start before each try, fn for each flow.
type dumpFunc func(ctx context.Context, now time.Time, start func(), fn func(*model.Flow)) (badMsgs uint64, err error)

// New returns a conntrack collector. Run it every
// DefaultInterval; it holds sockets and a goroutine until Close.
func New(cfg Config) *Collector {
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = DefaultEventBuffer
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.SysctlDir == "" {
		cfg.SysctlDir = SysctlDir
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Collector{cfg: cfg, tab: newTable(cfg.MaxFlows), bgCtx: ctx, bgCancel: cancel}
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Source implements collectors.Sourcer.
func (c *Collector) Source() string { return "ctnetlink" }

// RequestDump makes the next Collect dump the whole table.
func (c *Collector) RequestDump() { c.requested.Store(true) }

// Collect implements collectors.Collector.
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	now := c.cfg.Now()
	st, err := c.baseStats(now)
	if err != nil {
		if st.Max != 0 {
			// What /proc allows is still worth showing: count and max.
			c.publishStats(pub, st)
		}
		return err
	}
	c.checkDrops()

	// A dump runs on its own goroutine, so that a table too big to dump
	// within ctx still gets dumped: Collect waits for it while ctx lasts,
	// and a later Collect publishes what it found.
	if c.dumping == nil && c.dumpDue(now, st.Events) {
		done := make(chan struct{})
		c.dumping = done
		hint := int(st.Count + st.Count/8)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer close(done)
			err := c.dump(c.bgCtx, hint)
			c.mu.Lock()
			c.dumpErr = err
			c.mu.Unlock()
		}()
	}
	if c.dumping != nil {
		select {
		case <-c.dumping:
			c.dumping = nil
			c.mu.Lock()
			err := c.dumpErr
			c.dumpErr = nil
			c.mu.Unlock()
			if err != nil {
				c.publishStats(pub, st)
				return err
			}
			c.checkDrops() // events dropped while dumping are not in the queue
		case <-ctx.Done():
		}
	}

	c.mu.Lock()
	var flows []model.Flow
	var gen *model.SocketsGen
	if c.tab.dirty {
		flows = c.tab.snapshot()
		gen = c.tab.life.Ref() // before the table may change again: see table.takeList
		c.tab.dirty = false
	}
	c.mu.Unlock()
	if flows != nil {
		pub.Publish(model.FlowsUpdate{At: now, Flows: flows, Gen: gen})
	}
	st = c.publishStats(pub, st)
	pub.Publish(model.CountersUpdate{Collector: Name, At: now, Counters: counters(st)})
	return nil
}

// baseStats reads the sysctls, opens the sockets (once) and reads the
// kernel's statistics. On error st holds what could be read.
func (c *Collector) baseStats(now time.Time) (model.ConntrackStats, error) {
	var sys sysctls
	if err := inNetNS(c.cfg.NetNS, func() (err error) { sys, err = netfilterSysctls(c.cfg.SysctlDir); return err }); err != nil {
		return model.ConntrackStats{}, err
	}
	st := model.ConntrackStats{At: now, Count: sys.count, Max: sys.max, Buckets: sys.buckets,
		Accounting: sys.acct, Timestamps: sys.timestamp, Events: sys.eventsOn, FlowsLimit: c.cfg.MaxFlows, PerCPU: []model.ConntrackCPU{}}
	if err := c.open(); err != nil {
		return st, err
	}
	cpus, err := cpuStats(c.query)
	if err != nil {
		return st, err
	}
	st.PerCPU = cpus
	for _, s := range cpus {
		st.Total.Add(s)
	}
	if n, m, err := globalStats(c.query); err == nil {
		st.Count = n
		if m != 0 {
			st.Max = m
		}
	}
	return st, nil
}

// publishStats fills st with the collector's own counters and publishes it.
func (c *Collector) publishStats(pub collectors.Publisher, st model.ConntrackStats) model.ConntrackStats {
	c.mu.Lock()
	if c.events != nil {
		if d, q, err := sockMem(c.events); err == nil {
			c.st.EventsLost, c.st.EventQueued = c.lostBase+d, q
		}
	}
	own := c.st
	st.FlowsHeld = c.tab.len()
	st.FlowsTruncated = c.tab.truncated
	st.Listening = c.listening
	st.ResyncPending = c.needResync
	st.EventBuffer = c.evBuf
	if c.evErr != nil {
		st.EventsError = c.evErr.Error()
	}
	c.mu.Unlock()
	st.Dumps, st.Resyncs, st.LastDump, st.DumpDuration = own.Dumps, own.Resyncs, own.LastDump, own.DumpDuration
	st.EventsNew, st.EventsUpdate, st.EventsDestroy = own.EventsNew, own.EventsUpdate, own.EventsDestroy
	st.EventsLost, st.Overruns, st.DecodeErrors, st.EventQueued = own.EventsLost, own.Overruns, own.DecodeErrors, own.EventQueued
	pub.Publish(model.ConntrackStatsUpdate{Stats: st})
	return st
}

// open dials the query socket and starts the event listener, once.
func (c *Collector) open() error {
	if c.query == nil {
		q, err := dial(c.cfg.NetNS)
		if err != nil {
			return err
		}
		c.query = q
	}
	if c.cfg.NoEvents {
		return nil
	}
	c.evMu.Lock()
	defer c.evMu.Unlock()
	c.mu.Lock()
	start := !c.listening && !c.closing.Load()
	c.mu.Unlock()
	if start {
		if err := c.startEvents(); err != nil {
			var perm error
			if errors.Is(err, collectors.ErrPermission) {
				perm = err
			}
			c.mu.Lock()
			c.evErr = err
			c.mu.Unlock()
			return perm // without events the table is refreshed by dumps
		}
	}
	return nil
}

// startEvents opens the event socket, subscribed to NEW, UPDATE and
// DESTROY, with an enlarged receive buffer, and starts the listener. The
// table is marked for a dump: events before now were not seen.
func (c *Collector) startEvents() error {
	conn, err := dial(c.cfg.NetNS)
	if err != nil {
		return err
	}
	for _, g := range []netfilter.NetlinkGroup{netfilter.GroupCTNew, netfilter.GroupCTUpdate, netfilter.GroupCTDestroy} {
		if err := conn.JoinGroup(uint32(g)); err != nil {
			conn.Close()
			return permError("subscribe to events", err)
		}
	}
	buf, err := setRcvBuf(conn, c.cfg.EventBuffer)
	if err != nil {
		conn.Close()
		return fmt.Errorf("conntrack event socket buffer: %w", err)
	}
	rr, err := newRawReceiver(conn)
	if err != nil {
		conn.Close()
		return fmt.Errorf("conntrack event socket: %w", err)
	}
	c.mu.Lock()
	c.events, c.cur, c.evBuf, c.listening, c.evErr, c.needResync, c.dropsAtDump = conn, rr, buf, true, nil, true, 0
	c.mu.Unlock()
	c.lwg.Add(1)
	go func() {
		defer c.lwg.Done()
		c.listen(rr)
	}()
	return nil
}

// listen reads events until r fails. ENOBUFS means the kernel dropped
// events because the socket buffer was full: it is counted (the exact
// number lost is the socket's drop count, read at each Collect) and the
// table marked for a re-dump; the socket stays usable and reading goes on.
func (c *Collector) listen(r receiver) {
	for {
		msgs, err := r.Receive()
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				c.mu.Lock()
				c.st.Overruns++
				c.needResync = true
				c.mu.Unlock()
				continue
			}
			c.mu.Lock()
			if c.cur != r {
				c.mu.Unlock()
				return // replaced on purpose (restartEvents)
			}
			c.cur = nil
			c.listening = false
			if !c.closing.Load() && !errors.Is(err, os.ErrClosed) {
				c.evErr = fmt.Errorf("conntrack events: %w", err)
			}
			if c.events != nil {
				c.events.Close()
				c.events = nil
			}
			c.needResync = true
			c.mu.Unlock()
			return
		}
		now := c.cfg.Now()
		evs := make([]event, 0, len(msgs))
		bad := 0
		for _, m := range msgs {
			var ev ct.Event
			if err := ev.Unmarshal(m); err != nil || ev.Flow == nil {
				bad++
				continue
			}
			var k eventKind
			switch ev.Type {
			case ct.EventNew:
				k = evNew
			case ct.EventUpdate:
				k = evUpdate
			case ct.EventDestroy:
				k = evDestroy
			default:
				bad++
				continue
			}
			evs = append(evs, event{kind: k, flow: toModel(ev.Flow, now)})
		}
		c.mu.Lock()
		c.st.DecodeErrors += uint64(bad)
		c.applyLocked(evs)
		c.mu.Unlock()
	}
}

// applyLocked counts and applies events, or queues them while a dump
// runs. The queue is bounded (MaxFlows events, as much memory as the
// table): past it the events are dropped and the
// table marked for another dump. c.mu must be held.
func (c *Collector) applyLocked(evs []event) {
	for _, e := range evs {
		if c.onEvent != nil {
			c.onEvent(e)
		}
		switch e.kind {
		case evNew:
			c.st.EventsNew++
		case evUpdate:
			c.st.EventsUpdate++
		case evDestroy:
			c.st.EventsDestroy++
		}
		if c.resyncing {
			if len(c.pending) < c.cfg.MaxFlows {
				c.pending = append(c.pending, e)
			} else {
				c.needResync = true
			}
			continue
		}
		c.tab.apply(e)
	}
}

// checkDrops reads the event socket's drop count and marks the table for
// a re-dump when events were dropped since the last dump began. It does
// not depend on seeing ENOBUFS, which the kernel reports once per
// congestion episode.
func (c *Collector) checkDrops() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.events == nil {
		return
	}
	d, q, err := sockMem(c.events)
	if err != nil {
		return
	}
	c.st.EventsLost, c.st.EventQueued = c.lostBase+d, q
	if d > c.dropsAtDump {
		c.needResync = true
	}
}

// dumpDue says whether Collect should dump now.
func (c *Collector) dumpDue(now time.Time, eventsOn bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.Dumps == 0 || c.requested.Load() {
		return true
	}
	since := now.Sub(c.st.LastDump)
	if c.needResync {
		return since >= max(time.Second, 10*c.st.DumpDuration)
	}
	// Only the counters would be refreshed: events keep the flows and
	// their states current (the kernel sends them and the listener runs).
	if c.cfg.Demand != nil && !c.cfg.Demand.Wanted() && eventsOn && c.listening {
		return false
	}
	return since >= max(c.cfg.Refresh, 20*c.st.DumpDuration)
}

// Demand says whether the flows' byte and packet counts are wanted
// (Config.Demand): one value shared by the collectors of every namespace
// the TUI visits. The zero value wants them. Safe for concurrent use.
type Demand struct{ idle atomic.Bool }

// Want sets whether the counters are wanted. A collector whose counters
// are older than its Refresh dumps at its next Collect after Want(true).
func (d *Demand) Want(on bool) { d.idle.Store(!on) }

// Wanted reports whether the counters are wanted.
func (d *Demand) Wanted() bool { return !d.idle.Load() }

// dump replaces the table with a fresh dump. Events that arrive during it
// are queued and applied after it, in order, so the table ends current.
func (c *Collector) dump(ctx context.Context, hint int) error {
	c.mu.Lock()
	resync := c.needResync && c.st.Dumps > 0
	c.mu.Unlock()
	if resync {
		if err := c.restartEvents(); err != nil {
			c.mu.Lock()
			c.evErr = err
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	c.needResync = false
	c.resyncing = true
	if c.events != nil {
		if d, _, err := sockMem(c.events); err == nil {
			c.dropsAtDump = d
		}
	}
	c.pending = c.pending[:0]
	c.mu.Unlock()
	c.requested.Store(false)

	start := c.cfg.Now()
	var d *topN
	do := c.fakeDump
	if do == nil {
		do = func(ctx context.Context, now time.Time, start func(), fn func(*model.Flow)) (uint64, error) {
			// The kernel walks every bucket of the host's table (all
			// namespaces share it) to dump this namespace's flows:
			// when the namespace has none, skip the walk. Its count is
			// read after the events started queueing, so a flow made
			// since is in the queue.
			if c.emptyNow() {
				c.emptySkips.Add(1)
				start()
				return 0, nil
			}
			if c.dumpConn == nil {
				conn, err := dial(c.cfg.NetNS)
				if err != nil {
					return 0, err
				}
				c.dumpConn = conn
			}
			return dumpFast(ctx, c.dumpConn, now, start, fn)
		}
	}
	bad, err := do(ctx, start, func() {
		if d != nil { // tried again
			d.reset()
			return
		}
		c.mu.Lock()
		d = c.tab.newTopN(hint)
		c.mu.Unlock()
	}, func(f *model.Flow) { d.add(*f) })
	end := c.cfg.Now()

	c.mu.Lock()
	defer c.mu.Unlock()
	c.resyncing = false
	c.st.DecodeErrors += bad
	if err != nil {
		c.needResync = true
		if d != nil {
			c.tab.keepList(d.flows, d.life) // never published: free
		}
		for _, e := range c.pending {
			c.tab.apply(e)
		}
		c.pending = c.pending[:0]
		return err
	}
	c.tab.replace(d)
	for _, e := range c.pending {
		c.tab.apply(e)
	}
	c.pending = c.pending[:0]
	c.st.Dumps++
	if resync {
		c.st.Resyncs++
	}
	c.st.LastDump, c.st.DumpDuration = end, end.Sub(start)
	return nil
}

// emptyNow reports whether the namespace has no conntrack entry at all
// (nf_conntrack_count counts them from allocation, so 0 means none is in
// the table).
func (c *Collector) emptyNow() bool {
	var n uint64
	err := inNetNS(c.cfg.NetNS, func() (err error) {
		n, err = readSysctlUint(filepath.Join(c.cfg.SysctlDir, "nf_conntrack_count"))
		return err
	})
	return err == nil && n == 0
}

// restartEvents replaces the event socket with a fresh one and discards
// what the old one still held. After a loss, those queued events are
// older than the dump about to run, with gaps: replayed after it they
// would take flows back to stale states. Events on the new socket all
// come after the subscription, which is before the dump, and replaying
// them in order ends at the kernel's state.
func (c *Collector) restartEvents() error {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	c.mu.Lock()
	old := c.events
	if old == nil {
		c.mu.Unlock()
		return nil
	}
	if d, _, err := sockMem(old); err == nil {
		c.lostBase += d
	}
	c.events, c.cur, c.listening = nil, nil, false
	c.mu.Unlock()
	old.Close()
	c.lwg.Wait()
	if c.closing.Load() {
		return nil
	}
	return c.startEvents()
}

// Close stops the event listener, waits for it, and closes the sockets.
func (c *Collector) Close() error {
	c.closing.Store(true)
	c.bgCancel()
	c.wg.Wait() // the dump: it may restart the listener
	c.mu.Lock()
	ev := c.events
	c.mu.Unlock()
	if ev != nil {
		ev.Close()
	}
	c.lwg.Wait()
	for _, conn := range []*netlink.Conn{c.query, c.dumpConn} {
		if conn != nil {
			conn.Close()
		}
	}
	c.query, c.dumpConn = nil, nil
	return nil
}

// inNetNS runs fn in the network namespace netns (an open file; 0 runs
// fn here; see collectors.InNetNS).
func inNetNS(netns int, fn func() error) error {
	if netns <= 0 {
		return fn()
	}
	var err error
	if nerr := collectors.InNetNS(netns, func() { err = fn() }); nerr != nil {
		return permError("enter network namespace", nerr)
	}
	return err
}
