package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"netlens/collectors"
	capcol "netlens/collectors/capture"
	"netlens/model"
)

// MaxDuration is the longest time limit Start accepts.
const MaxDuration = 24 * time.Hour

// MaxCount is the largest packet-count limit Start accepts.
const MaxCount = 100_000_000

// Errors of Start and Stop.
var (
	// ErrRunning: Start while a capture runs.
	ErrRunning = errors.New("a capture runs already (c stops it)")
	// ErrNotRunning: Stop while none runs.
	ErrNotRunning = errors.New("no capture runs")
	// ErrLimit: a request without a limit, or one out of range.
	ErrLimit = errors.New("capture limit")
	// ErrClosed: Close was called while Start was opening the capture
	// (a namespace switch, netlens quitting): it is not started, as it
	// would read the namespace being left.
	ErrClosed = errors.New("the capture was stopped while it started (the namespace changed): start it again")
)

// Control starts and stops one capture at a time and publishes its
// statistics every Interval while it runs (model.CaptureUpdate, and the
// ring's drops as counters, as the capture collector does). It is safe
// for concurrent use; Start, Stop and Interfaces may block briefly (they
// open or close a socket) and belong in a tea.Cmd; CheckFilter and
// Running are quick.
type Control struct {
	pub      collectors.Publisher
	netns    func() (int, func())
	interval time.Duration
	// closes counts the calls to Close: Start gives up when one came
	// between its asking netns and its taking mu.
	closes atomic.Uint64

	mu   sync.Mutex
	cur  *capcol.Collector // the last capture started (running or not)
	stop chan struct{}     // closed to stop the running capture's loop
	done chan struct{}     // closed when that loop has ended
}

// New returns a Control publishing to pub every interval (1 s when 0).
// netns returns the open namespace file the capture opens its socket in
// (0: netlens's own) and a release, called once the file is no longer
// used: the caller keeps the file open until then. It is asked at each
// Start and Interfaces, so a capture follows the namespace the TUI shows.
// A nil netns is netlens's own namespace.
func New(pub collectors.Publisher, netns func() (int, func()), interval time.Duration) *Control {
	if interval <= 0 {
		interval = capcol.DefaultInterval
	}
	if netns == nil {
		netns = func() (int, func()) { return 0, func() {} }
	}
	return &Control{pub: pub, netns: netns, interval: interval}
}

// CheckFilter compiles expr with the capture-filter compiler and returns
// its error (wrapping capture.ErrFilter), nil for a valid or empty
// expression. It is pure and quick: the TUI calls it on every key.
func CheckFilter(expr string) error {
	if strings.TrimSpace(expr) == "" {
		return nil
	}
	_, err := capcol.Compile(expr)
	return err
}

// CheckFilter is the package's CheckFilter (the ui's control interface).
func (c *Control) CheckFilter(expr string) error { return CheckFilter(expr) }

// CheckRequest validates a request's limits: a count or a duration (or
// both), within MaxCount and MaxDuration; the interface is not empty.
func CheckRequest(req model.CaptureRequest) error {
	switch {
	case strings.TrimSpace(req.Interface) == "":
		return fmt.Errorf("%w: no interface (a link name or \"any\")", ErrLimit)
	case req.Count < 0 || req.Count > MaxCount:
		return fmt.Errorf("%w: packets %d out of range 0..%d", ErrLimit, req.Count, MaxCount)
	case req.Duration < 0 || req.Duration > MaxDuration:
		return fmt.Errorf("%w: duration %s out of range 0..%s", ErrLimit, req.Duration, MaxDuration)
	case req.Count == 0 && req.Duration == 0:
		return fmt.Errorf("%w: give a packet count or a duration (a capture from the TUI always ends by itself)", ErrLimit)
	}
	return CheckFilter(req.Filter)
}

// Interfaces returns the links of the namespace a capture would open in,
// "any" first then by name.
func (c *Control) Interfaces() ([]string, error) {
	var ifs []net.Interface
	var err error
	list := func() { ifs, err = net.Interfaces() }
	ns, release := c.netns()
	defer release()
	if ns != 0 {
		if nerr := collectors.InNetNS(ns, list); nerr != nil {
			return nil, fmt.Errorf("list interfaces: %w", nerr)
		}
	} else {
		list()
	}
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	names := make([]string, 0, len(ifs))
	for _, ifi := range ifs {
		names = append(names, ifi.Name)
	}
	slices.Sort(names)
	return append([]string{"any"}, names...), nil
}

// Start validates req, opens the capture (an error wrapping
// collectors.ErrPermission names CAP_NET_RAW), publishes its first
// statistics and returns; the capture then runs until its limit or Stop.
func (c *Control) Start(req model.CaptureRequest) error {
	if err := CheckRequest(req); err != nil {
		return err
	}
	// Asked before taking the lock: a namespace switch holds its own lock
	// while it stops the capture (Close). Held until the ring is open. A
	// Close in between (a switch done meanwhile found nothing to stop)
	// means ns is the namespace left: no capture is opened in it.
	closes := c.closes.Load()
	ns, release := c.netns()
	defer release()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closes.Load() != closes {
		return ErrClosed
	}
	if c.runningLocked() {
		return ErrRunning
	}
	col, err := capcol.New(capcol.Options{Interface: req.Interface, Filter: strings.TrimSpace(req.Filter), Count: req.Count, NetNS: ns})
	if err != nil {
		return err
	}
	// The first Collect opens the ring and starts reading.
	if err := col.Collect(context.Background(), c.pub); err != nil {
		col.Close()
		return err
	}
	c.cur, c.stop, c.done = col, make(chan struct{}), make(chan struct{})
	go c.loop(col, req.Duration, c.stop, c.done)
	return nil
}

// loop publishes the capture's statistics every interval until it ends
// by itself, its duration is over, or stop is closed; then it closes the
// capture and publishes its last statistics (Running false).
func (c *Control) loop(col *capcol.Collector, d time.Duration, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	var limit <-chan time.Time
	if d > 0 {
		lt := time.NewTimer(d)
		defer lt.Stop()
		limit = lt.C
	}
	ended := col.Done()
	ctx := context.Background()
	for {
		select {
		case <-t.C:
			_ = col.Collect(ctx, c.pub)
			continue
		case <-stop:
		case <-limit:
		case <-ended:
		}
		break
	}
	col.Close()
	_ = col.Collect(ctx, c.pub)
}

// Stop stops the running capture and waits until its last statistics
// are published. Its packets stay readable (FlowPackets, WritePcapng).
func (c *Control) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.runningLocked() {
		return ErrNotRunning
	}
	close(c.stop)
	<-c.done
	return nil
}

// Running reports whether a capture runs.
func (c *Control) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runningLocked()
}

func (c *Control) runningLocked() bool {
	if c.done == nil {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Close stops a running capture (netlens quits, the TUI switches to
// another namespace), and a Start under way (ErrClosed). It is safe to
// call when none runs.
func (c *Control) Close() error {
	c.closes.Add(1)
	if err := c.Stop(); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	return nil
}

func (c *Control) last() *capcol.Collector {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// FlowPackets returns the last n stored packets of the flow from the
// last capture started, decoded (the ui's CaptureControl).
func (c *Control) FlowPackets(flow model.CaptureFlowKey, n int) []model.CapturedPacket {
	if col := c.last(); col != nil {
		return col.FlowPackets(flow, n)
	}
	return nil
}

// WritePcapng writes the last capture's stored packets (the flow's only
// when flow is not nil) to path atomically (the ui's CaptureControl).
func (c *Control) WritePcapng(path string, flow *model.CaptureFlowKey) (int, error) {
	col := c.last()
	if col == nil {
		return 0, errors.New("no capture was started: c starts one")
	}
	return col.WritePcapng(path, flow)
}
