package capture

import (
	"context"
	"sync"
	"time"

	"github.com/gopacket/gopacket/afpacket"

	"netlens/collectors"
	"netlens/model"
)

// Name is the collector's name in statuses.
const Name = model.CollectorCapture

// DefaultInterval is how often the Runner should call Collect: the
// interval the rates are computed over.
const DefaultInterval = time.Second

// Collector captures packets on a goroutine of its own (started by the
// first Collect) and publishes a model.CaptureUpdate on every Collect, and
// for a live capture the ring's drops as counters (layer socket, source
// "capture", group PACKET_STATISTICS: tp_drops, tp_freeze_q_cnt).
// FlowPackets and WritePcapng reach the stored packets (the UI's
// CaptureControl).
//
// Collect must not be called concurrently with itself (the Runner never
// does); Close stops the capture goroutine and waits for it, and is safe
// for concurrent use.
type Collector struct {
	opts Options

	mu       sync.Mutex
	eng      *engine
	started  bool
	startErr error
	cancel   context.CancelFunc
	done     chan struct{}
	now      func() time.Time
}

// New returns a Collector for opts: a live capture on opts.Interface, or
// the replay of opts.File. The filter is compiled here: an unsupported one
// is an error wrapping ErrFilter.
func New(opts Options) (*Collector, error) {
	e, err := newEngine(opts)
	if err != nil {
		return nil, err
	}
	return &Collector{opts: e.opts, eng: e, now: time.Now}, nil
}

// FlowPackets returns the last n stored packets of the flow, oldest
// first, decoded layer by layer. It is quick and safe for concurrent use.
func (c *Collector) FlowPackets(flow model.CaptureFlowKey, n int) []model.CapturedPacket {
	return c.eng.FlowPackets(flow, n)
}

// WritePcapng writes the stored packets (only the flow's when flow is not
// nil) to path atomically and returns how many it wrote. It is safe for
// concurrent use.
func (c *Collector) WritePcapng(path string, flow *model.CaptureFlowKey) (int, error) {
	return c.eng.WritePcapng(path, flow)
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Source implements collectors.Sourcer.
func (c *Collector) Source() string {
	if c.opts.File != "" {
		return "file " + c.opts.File
	}
	return "AF_PACKET TPACKET_V3 on " + c.opts.Interface
}

// Collect starts the capture the first time and publishes its statistics.
// It returns an error wrapping collectors.ErrPermission without
// CAP_NET_RAW (retried by the Runner), or the error that stopped the
// capture.
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	if err := c.start(); err != nil {
		return err
	}
	cs := c.eng.snapshot(c.now())
	pub.Publish(model.CaptureUpdate{Stats: cs})
	if cs.Source == "live" {
		// The ring's drops are kernel drops too: published as counters
		// they take part in the drops funnel (deltas, rates, history).
		pub.Publish(model.CountersUpdate{Collector: Name, At: cs.At, Counters: []model.RawCounter{
			{Layer: model.LayerSocket, Source: "capture", Group: "PACKET_STATISTICS", Instance: cs.Interface, Name: "tp_drops", Kind: model.KindCounter, Value: cs.RingDrops},
			{Layer: model.LayerSocket, Source: "capture", Group: "PACKET_STATISTICS", Instance: cs.Interface, Name: "tp_freeze_q_cnt", Kind: model.KindCounter, Value: cs.RingFreezes},
		}})
	}
	c.eng.mu.Lock()
	defer c.eng.mu.Unlock()
	return c.eng.err
}

func (c *Collector) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return nil
	}
	var src packetSource
	var live *afpacket.TPacket
	var attached time.Time
	var closeSrc func()
	if c.opts.File != "" {
		f, err := openFile(c.opts.File)
		if err != nil {
			return err
		}
		if err := c.eng.setLink(f.link); err != nil {
			f.Close()
			return err
		}
		src, closeSrc = f, func() { f.Close() }
	} else {
		tp, at, err := c.eng.openLive()
		if err != nil {
			return err
		}
		src, live, attached, closeSrc = tp, tp, at, tp.Close
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done, c.started = cancel, make(chan struct{}), true
	go func() {
		defer close(c.done)
		defer closeSrc()
		c.eng.run(ctx, src, live, attached)
	}()
	return nil
}

// Done returns a channel closed when the capture has ended by itself (a
// file read to its end, Options.Count packets, an error) or by Close;
// nil before the first Collect started it. It is safe for concurrent use.
func (c *Collector) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// Close stops the capture and waits for its goroutine.
func (c *Collector) Close() error {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}
