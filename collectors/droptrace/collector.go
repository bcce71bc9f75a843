package droptrace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/capture"
	"netlens/collectors/dropmon"
	"netlens/model"
	"netlens/model/drops"
)

// Name is the name the collector reports under.
const Name = model.CollectorDropTrace

// Options configure a Collector.
type Options struct {
	// AllNetns traces every network namespace; by default only the one
	// netlens runs in (or Netns).
	AllNetns bool
	// Netns is the inode of the namespace to trace; 0 means netlens's own
	// (/proc/self/ns/net).
	Netns uint32
	// MaxFlows is the size of the kernel's flows map (DefaultMaxFlows
	// when 0).
	MaxFlows int
	// Attach forces AttachBTF or AttachRaw.
	Attach string
	// SampleEvery turns on the sampled stream (one drop in SampleEvery
	// per CPU, with its headers: TracerOptions); 0, the default, is off.
	// SampleMax caps it per CPU per second (DefaultSampleMax when 0).
	SampleEvery, SampleMax uint32
	// SampleRing is the samples ring's size in bytes (DefaultSampleRing
	// when 0).
	SampleRing int
	// Kallsyms is the symbol file ("/proc/kallsyms" when empty).
	Kallsyms string
	// program forces one program of the object (TracerOptions.program).
	program string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Collector is the "droptrace" collector. The first Collect loads and
// attaches the tracer; every Collect reads the kernel's map and
// publishes a model.DropTrace. Collect must not be called concurrently
// with itself (the Runner never does); Close detaches the tracer.
type Collector struct {
	opts Options

	mu     sync.Mutex
	tracer *Tracer
	agg    *aggregator
	closed bool
	// published are the (reason, location) counters published so far.
	published map[traceCounterKey]bool
	// samples are the most recent samples, oldest first (at most
	// maxSamples); samplesRead counts every sample read.
	samples     []model.DropTraceSample
	samplesRead uint64
}

// maxSamples is how many samples the collector keeps; samplesPerRead
// bounds the samples one Collect reads (the ring holds fewer).
const (
	maxSamples     = 512
	samplesPerRead = 8192
)

// traceCounterKey is a published counter: reason and location.
type traceCounterKey struct{ reason, location string }

// New returns a drop tracer collector. Nothing is loaded until the first
// Collect.
func New(opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Kallsyms == "" {
		opts.Kallsyms = "/proc/kallsyms"
	}
	return &Collector{opts: opts, published: map[traceCounterKey]bool{}}
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Source implements collectors.Sourcer: "eBPF tp_btf/kfree_skb".
func (c *Collector) Source() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tracer == nil {
		return "eBPF"
	}
	return "eBPF " + c.tracer.Attach()
}

// Program returns the name of the program the tracer loaded
// (kfree_skb_btf_direct, kfree_skb_btf or kfree_skb_raw), "" before the
// first Collect.
func (c *Collector) Program() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tracer == nil {
		return ""
	}
	return c.tracer.Program()
}

// NetnsInode returns the inode of a network namespace file
// ("/proc/self/ns/net", "/run/netns/NAME"), which is what the tracer
// compares with the kernel's ns.inum.
func NetnsInode(path string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return uint32(st.Ino), nil
}

// Collect implements collectors.Collector. When the tracer cannot run it
// publishes a DropTrace saying why (Supported false, Reason) and returns
// the error.
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	if err := c.startLocked(); err != nil {
		pub.Publish(model.DropTraceUpdate{Trace: model.DropTrace{At: now, Reason: ReasonOf(err)}})
		return err
	}
	t, err := c.readLocked(now)
	if err != nil {
		return err
	}
	pub.Publish(model.DropTraceUpdate{Trace: t})
	// The per-(reason, location) totals as counters too, so that they
	// take part in the funnel and get deltas, rates and histories. The
	// Store takes a counter's first value as its baseline; these count
	// from the tracer's start, so a (reason, location) first seen now is
	// published as 0 now and its count from the next read on: its first
	// drops then show as that read's delta, one refresh late.
	cs := make([]model.RawCounter, 0, len(t.Reasons))
	for _, r := range t.Reasons {
		v := r.Packets
		k := traceCounterKey{r.Reason, r.Location}
		if !c.published[k] {
			c.published[k], v = true, 0
		}
		cs = append(cs, model.RawCounter{Layer: r.Layer, Source: drops.DropTraceSource, Group: "reason", Instance: r.Location,
			Name: r.Reason, Kind: model.KindCounter, Value: v})
	}
	pub.Publish(model.CountersUpdate{Collector: Name, At: now, Counters: cs})
	return nil
}

// startLocked opens the tracer once; after a failure the next call tries
// again.
func (c *Collector) startLocked() error {
	if c.closed {
		return errors.New("droptrace: collector closed")
	}
	if c.tracer != nil {
		return nil
	}
	ns := c.opts.Netns
	if ns == 0 && !c.opts.AllNetns {
		var err error
		if ns, err = NetnsInode("/proc/self/ns/net"); err != nil {
			return fmt.Errorf("droptrace: own namespace: %w", err)
		}
	}
	if c.opts.AllNetns {
		ns = 0
	}
	t, err := OpenTracer(TracerOptions{Netns: ns, MaxFlows: c.opts.MaxFlows, Attach: c.opts.Attach,
		SampleEvery: c.opts.SampleEvery, SampleMax: c.opts.SampleMax, SampleRing: c.opts.SampleRing, program: c.opts.program})
	if err != nil {
		return err
	}
	c.tracer = t
	c.agg = newAggregator(t.Reasons(), t.MaxFlows(), func() *dropmon.Symbols { return kallsyms(c.opts.Kallsyms) })
	return nil
}

// readLocked reads the counters, then drains the map and reads the
// samples. The program counts a drop as seen before it adds it to the
// map, so a drop between the two reads may be in the map but not in the
// counters read: Seen is then raised to Attributed, and the next read
// counts it. (Read the other way round, such drops would show as
// unattributed for one refresh.)
func (c *Collector) readLocked(now time.Time) (model.DropTrace, error) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	clk := clock{wall: now, mono: uint64(ts.Nano())}
	// Samples before the counters: the program counts a sample emitted
	// before it can be read, so Read <= Emitted.
	var got []sample
	if _, err := c.tracer.ReadSamples(samplesPerRead, func(s sample) { got = append(got, s) }); err != nil {
		return model.DropTrace{}, err
	}
	cnt, err := c.tracer.Counts()
	if err != nil {
		return model.DropTrace{}, err
	}
	a := c.agg
	a.begin()
	n, err := c.tracer.DrainFlows(func(k flowKey, v flowVal) { a.add(k, v, clk) })
	a.end()
	if err != nil {
		return model.DropTrace{}, err
	}
	c.samplesRead += uint64(len(got))
	c.addSamples(got, clk)
	every, maxPerSec := c.tracer.Sampling()
	t := model.DropTrace{
		At: now, Supported: true, Attach: c.tracer.Attach(), Netns: c.tracer.Netns(),
		Seen: cnt.Seen, Attributed: a.attributed, NotAggregated: cnt.NotAggregated,
		NotParsed: cnt.NotParsed, OtherNetns: cnt.OtherNetns, Missed: cnt.Missed,
		MapEntries: n, MapMax: c.tracer.MaxFlows(),
		Reasons: a.reasonRows(), Flows: a.flowRows(clk),
		Sampling: model.DropTraceSampling{Every: every, MaxPerSecond: maxPerSec,
			Sampled: cnt.Sampled, Emitted: cnt.Emitted, Lost: cnt.Lost, LostLimit: cnt.LostLimit, Read: c.samplesRead},
	}
	if every > 0 {
		t.Sampling.Samples = make([]model.DropTraceSample, len(c.samples))
		for i, s := range c.samples {
			t.Sampling.Samples[len(c.samples)-1-i] = s
		}
	}
	t.Seen = max(t.Seen, t.Attributed)
	t.Unattributed = t.Seen - t.Attributed
	return t, nil
}

// addSamples keeps the samples read, decoded, oldest first, and
// forgets the oldest beyond maxSamples (only those kept are decoded).
func (c *Collector) addSamples(got []sample, clk clock) {
	if len(got) > maxSamples {
		got = got[len(got)-maxSamples:]
	}
	for _, s := range got {
		f := c.agg.keyFlow(s.Key)
		f.Packets, f.Bytes, f.LastSeen = 1, uint64(s.Len), clk.at(s.Ns)
		p := capture.DescribeIP(s.Data, f.LastSeen, int(s.Len))
		c.samples = append(c.samples, model.DropTraceSample{Flow: f, Packet: p})
	}
	if over := len(c.samples) - maxSamples; over > 0 {
		c.samples = slices.Delete(c.samples, 0, over)
	}
}

var (
	symsMu    sync.Mutex
	symsCache = map[string]*dropmon.Symbols{}
)

// kallsyms reads the symbol file once per process (about 50 ms for
// /proc/kallsyms' 121,000 lines, 36 ms of it the kernel's formatting of
// them): symbols of modules loaded later
// resolve to hex. Without CAP_SYSLOG (or with kptr_restrict) it is nil
// and every location stays in hex.
func kallsyms(path string) *dropmon.Symbols {
	symsMu.Lock()
	defer symsMu.Unlock()
	s, ok := symsCache[path]
	if !ok {
		s, _ = dropmon.ReadKallsyms(path)
		symsCache[path] = s
	}
	return s
}

// SetSampling switches the sampled stream (Options.SampleEvery) while the
// collector runs: one drop in every per CPU, 0 off; before the first
// Collect it sets what the tracer starts with. It is safe to call
// concurrently with Collect (it waits for a Collect in progress).
func (c *Collector) SetSampling(every uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tracer != nil {
		if err := c.tracer.SetSampleEvery(every); err != nil {
			return err
		}
	}
	c.opts.SampleEvery = every
	return nil
}

// RunStats is Tracer.RunStats of the tracer the collector runs.
func (c *Collector) RunStats() (runs uint64, runtime time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tracer == nil {
		return 0, 0, errClosed
	}
	return c.tracer.RunStats()
}

// Close detaches the tracer. It is safe to call more than once.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.tracer == nil {
		return nil
	}
	err := c.tracer.Close()
	c.tracer = nil
	return err
}

// ReasonOf returns the words the UI shows for an error of the tracer.
func ReasonOf(err error) string {
	switch {
	case errors.Is(err, collectors.ErrPermission):
		return "needs CAP_BPF and CAP_PERFMON (or root)"
	case errors.Is(err, errNoBTF):
		return "kernel has no BTF (CONFIG_DEBUG_INFO_BTF)"
	case errors.Is(err, collectors.ErrNotSupported), errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOENT):
		return "kernel cannot run the drop tracer: " + err.Error()
	}
	return err.Error()
}
