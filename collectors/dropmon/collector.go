package dropmon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// Name is the name the collector reports under.
const Name = model.CollectorDropMon

// Mode selects how the kernel reports drops.
type Mode int

// Modes.
const (
	ModeAuto    Mode = iota // packet, falling back to summary
	ModePacket              // one alert per packet, with its drop reason (5.4+, reasons 5.18+)
	ModeSummary             // counts per location about once a second, no reasons
)

// String returns "packet", "summary" or "auto".
func (m Mode) String() string {
	switch m {
	case ModePacket:
		return "packet"
	case ModeSummary:
		return "summary"
	}
	return "auto"
}

// Defaults.
const (
	DefaultReadBuffer = 4 << 20 // events socket receive buffer
	DefaultQueueLen   = 1000    // kernel's per-CPU queue of packet alerts (its default)
)

// Errors for what the kernel or privileges lack.
var (
	errNoFamily = fmt.Errorf("kernel has no drop monitor (CONFIG_NET_DROP_MONITOR): %w", collectors.ErrNotSupported)
	errNoPerm   = fmt.Errorf("needs CAP_NET_ADMIN: %w", collectors.ErrPermission)
)

// Options configure a Collector.
type Options struct {
	Mode Mode
	// ReadBuffer is the events socket's receive buffer in bytes
	// (DefaultReadBuffer when 0).
	ReadBuffer int
	// QueueLen is NET_DM_ATTR_QUEUE_LEN, the packets the kernel queues
	// per CPU before it drops alerts (DefaultQueueLen when 0).
	QueueLen uint32
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// conn is the part of *genetlink.Conn the collector uses.
type conn interface {
	GetFamily(name string) (genetlink.Family, error)
	Execute(m genetlink.Message, family uint16, flags netlink.HeaderFlags) ([]genetlink.Message, error)
	JoinGroup(group uint32) error
	Receive() ([]genetlink.Message, []netlink.Message, error)
	SetReadBuffer(bytes int) error
	SetOption(option netlink.ConnOption, enable bool) error
	SetReadDeadline(t time.Time) error
	Close() error
}

// Collector is the "dropmon" collector. The first Collect starts the
// monitor and a listener goroutine; every Collect publishes the drops
// counted since the previous one. Collect must not be called concurrently
// with itself (the Runner never does); Close stops the monitor (if this
// Collector started it), closes both sockets and waits for the listener.
type Collector struct {
	opts Options
	// dial opens a generic netlink socket; tests replace it.
	dial func() (conn, error)
	// kallsyms is the symbol file for summary mode ("/proc/kallsyms").
	kallsyms string
	syms     *symtab // read from kallsyms when summary mode starts
	// tap, when set (by tests), sees every message the kernel sends.
	tap atomic.Pointer[func(genetlink.Message)]

	agg *aggregator

	mu       sync.Mutex
	ctrl     conn
	events   conn
	family   genetlink.Family
	started  bool // this Collector sent NET_DM_CMD_START
	mode     Mode // the mode in effect
	running  bool
	closed   bool
	failed   error // why the listener stopped, reported by the next Collect
	wg       sync.WaitGroup
	decodeEr uint64
	// kernelDropped is the last NET_DM_ATTR_STATS_DROPPED read.
	kernelDropped uint64
}

// New returns a drop monitor collector. Nothing is opened until the
// first Collect.
func New(opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReadBuffer <= 0 {
		opts.ReadBuffer = DefaultReadBuffer
	}
	if opts.QueueLen == 0 {
		opts.QueueLen = DefaultQueueLen
	}
	return &Collector{
		opts:     opts,
		dial:     func() (conn, error) { return genetlink.Dial(nil) },
		kallsyms: "/proc/kallsyms",
		agg:      newAggregator(model.DropMonitorMaxEntries),
	}
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Source implements collectors.Sourcer: "NET_DM packet mode", "NET_DM
// summary mode", or "NET_DM" before it has started.
func (c *Collector) Source() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return "NET_DM"
	}
	return "NET_DM " + c.mode.String() + " mode"
}

// Collect implements collectors.Collector. When the kernel has no drop
// monitor or netlens may not use it, it publishes a DropMonitor saying
// so (Supported false, Reason) and returns the error.
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	now := c.opts.Now()
	if err := c.start(); err != nil {
		pub.Publish(model.DropsUpdate{Monitor: model.DropMonitor{At: now, Reason: reasonOf(err)}})
		return err
	}
	m, counters := c.agg.snapshot(now)
	c.mu.Lock()
	m.Supported = true
	m.Mode = c.mode.String()
	failed := c.failed
	if c.mode == ModePacket && c.ctrl != nil {
		// The kernel's own losses: alerts its queue could not hold.
		if n, err := c.queueDropped(); err == nil {
			c.kernelDropped = n
		}
	}
	m.QueueDropped = c.kernelDropped
	c.mu.Unlock()
	pub.Publish(model.DropsUpdate{Monitor: m})
	pub.Publish(model.CountersUpdate{Collector: Name, At: now, Counters: counters})
	return failed
}

// reasonOf returns the words the UI shows for err.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, errNoFamily):
		return "kernel has no drop monitor (CONFIG_NET_DROP_MONITOR)"
	case errors.Is(err, collectors.ErrPermission):
		return "needs CAP_NET_ADMIN"
	}
	return err.Error()
}

// start opens the sockets, configures and starts the monitor and the
// listener, once. After a failure the next call tries again.
func (c *Collector) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("dropmon: collector closed")
	}
	if c.running {
		return nil
	}
	c.closeLocked()
	c.failed = nil
	ctrl, err := c.dial()
	if err != nil {
		return fmt.Errorf("dropmon: open generic netlink: %w", err)
	}
	c.ctrl = ctrl
	_ = ctrl.SetOption(netlink.ExtendedAcknowledge, true)
	f, err := ctrl.GetFamily(familyName)
	if err != nil {
		c.closeLocked()
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("dropmon: %w", errNoFamily) // no NET_DM generic netlink family
		}
		return fmt.Errorf("dropmon: get family %s: %w", familyName, err)
	}
	c.family = f
	var group uint32
	for _, g := range f.Groups {
		if g.Name == eventsGroup {
			group = g.ID
		}
	}
	if group == 0 {
		c.closeLocked()
		return fmt.Errorf("dropmon: family %s has no %q multicast group: %w", familyName, eventsGroup, collectors.ErrNotSupported)
	}

	// The events socket joins before the monitor starts, so that no
	// alert is sent before anyone listens.
	ev, err := c.dial()
	if err != nil {
		c.closeLocked()
		return fmt.Errorf("dropmon: open events socket: %w", err)
	}
	c.events = ev
	_ = ev.SetReadBuffer(c.opts.ReadBuffer)
	if err := ev.JoinGroup(group); err != nil {
		c.closeLocked()
		return wrapErr("join the events group", err)
	}

	mode, err := c.configure()
	if err != nil {
		c.closeLocked()
		return err
	}
	c.mode = mode
	_, err = c.execute(cmdStart, func(ae *netlink.AttributeEncoder) { ae.Flag(uint16(attrSWDrops), true) })
	switch {
	case err == nil:
		c.started = true
	case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EEXIST):
		// Another tool runs the monitor: listen to what it asked for.
	default:
		c.closeLocked()
		return wrapErr("start", err)
	}
	c.agg.mu.Lock()
	c.agg.summary = mode == ModeSummary
	c.agg.mu.Unlock()
	if mode == ModeSummary && c.syms == nil {
		// Summary alerts carry bare addresses; without symbols (no
		// CAP_SYSLOG, kptr_restrict) they stay in hex.
		c.syms, _ = readKallsyms(c.kallsyms)
	}
	c.running = true
	c.wg.Add(1)
	go c.listen(ev)
	return nil
}

// configure sets the alert mode; in ModeAuto it falls back to summary
// mode when the kernel refuses packet mode (before 5.4). A monitor that
// is already running (EBUSY) keeps its configuration: netlens then
// decodes whichever alerts arrive.
func (c *Collector) configure() (Mode, error) {
	modes := []Mode{ModePacket, ModeSummary}
	switch c.opts.Mode {
	case ModePacket:
		modes = modes[:1]
	case ModeSummary:
		modes = modes[1:]
	}
	var err error
	for _, m := range modes {
		_, err = c.execute(cmdConfig, func(ae *netlink.AttributeEncoder) {
			if m == ModePacket {
				ae.Uint8(uint16(attrAlertMode), uint8(alertModePacket))
				ae.Uint32(uint16(attrTruncLen), 1) // netlens does not read payloads
				ae.Uint32(uint16(attrQueueLen), c.opts.QueueLen)
			} else {
				ae.Uint8(uint16(attrAlertMode), uint8(alertModeSummary))
			}
		})
		if err == nil || errors.Is(err, unix.EBUSY) {
			return m, nil
		}
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			break
		}
	}
	return 0, wrapErr("configure", err)
}

func (c *Collector) execute(cmd command, enc func(*netlink.AttributeEncoder)) ([]genetlink.Message, error) {
	ae := netlink.NewAttributeEncoder()
	if enc != nil {
		enc(ae)
	}
	b, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	return c.ctrl.Execute(genetlink.Message{Header: genetlink.Header{Command: uint8(cmd), Version: familyVer}, Data: b},
		c.family.ID, netlink.Request|netlink.Acknowledge)
}

// queueDropped asks the kernel how many packet alerts it discarded for
// a full queue (NET_DM_CMD_STATS_GET; NET_DM_ATTR_STATS /
// NET_DM_ATTR_STATS_DROPPED). c.mu must be held.
func (c *Collector) queueDropped() (uint64, error) {
	msgs, err := c.ctrl.Execute(genetlink.Message{Header: genetlink.Header{Command: uint8(cmdStatsGet), Version: familyVer}},
		c.family.ID, netlink.Request)
	if err != nil {
		return 0, wrapErr("get stats", err)
	}
	for _, m := range msgs {
		if tap := c.tap.Load(); tap != nil {
			(*tap)(m)
		}
		if n, ok := parseStats(m.Data); ok {
			return n, nil
		}
	}
	return 0, fmt.Errorf("dropmon stats: no NET_DM_ATTR_STATS: %w", ErrMalformed)
}

// wrapErr gives a request error its context and its kernel message;
// EPERM wraps ErrPermission.
func wrapErr(op string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("dropmon %s: %w: %w", op, errNoPerm, err)
	}
	var oe *netlink.OpError
	if errors.As(err, &oe) && oe.Message != "" {
		return fmt.Errorf("dropmon %s: %s: %w", op, oe.Message, err)
	}
	return fmt.Errorf("dropmon %s: %w", op, err)
}

// listen reads alerts until the socket fails or is closed. ENOBUFS (the
// kernel discarded alerts for a full buffer) is counted and reading goes
// on.
func (c *Collector) listen(ev conn) {
	defer c.wg.Done()
	var buf []alert
	for {
		msgs, _, err := ev.Receive()
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				c.agg.addLost()
				continue
			}
			c.mu.Lock()
			if !c.closed {
				c.failed = fmt.Errorf("dropmon: events socket: %w", err)
			}
			c.running = false
			c.mu.Unlock()
			return
		}
		now := c.opts.Now()
		for _, m := range msgs {
			if tap := c.tap.Load(); tap != nil {
				(*tap)(m)
			}
			buf = buf[:0]
			var err error
			switch command(m.Header.Command) {
			case cmdPacketAlert:
				var al alert
				al, err = parsePacketAlert(m.Data)
				if err == nil {
					buf = append(buf, al)
				}
			case cmdAlert:
				buf, err = parseSummaryAlert(m.Data, buf)
			default:
				continue
			}
			if err != nil {
				c.mu.Lock()
				c.decodeEr++
				c.mu.Unlock()
			}
			for _, al := range buf {
				if strings.HasPrefix(al.Location, "0x") {
					if pc, err := strconv.ParseUint(al.Location[2:], 16, 64); err == nil {
						if sym := c.syms.resolve(pc); sym != "" {
							al.Location = sym
						}
					}
				}
				c.agg.add(al, now)
			}
		}
	}
}

// DecodeErrors returns how many alerts could not be decoded.
func (c *Collector) DecodeErrors() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.decodeEr
}

// Close stops the monitor if this Collector started it, closes the
// sockets and waits for the listener. It is safe to call more than once.
func (c *Collector) Close() error {
	c.mu.Lock()
	c.closed = true
	var err error
	if c.started && c.ctrl != nil {
		if _, e := c.execute(cmdStop, func(ae *netlink.AttributeEncoder) { ae.Flag(uint16(attrSWDrops), true) }); e != nil {
			err = wrapErr("stop", e)
		}
		c.started = false
	}
	c.closeLocked()
	c.mu.Unlock()
	c.wg.Wait()
	return err
}

// closeLocked closes the sockets; the listener sees its socket fail and
// returns.
func (c *Collector) closeLocked() {
	if c.events != nil {
		_ = c.events.SetReadDeadline(time.Now())
		_ = c.events.Close()
		c.events = nil
	}
	if c.ctrl != nil {
		_ = c.ctrl.Close()
		c.ctrl = nil
	}
	c.running = false
}
