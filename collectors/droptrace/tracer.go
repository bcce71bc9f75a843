package droptrace

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"netlens/collectors"
)

// DefaultMaxFlows is the default size of the kernel's flows hashes:
// 16384 keys of 72 bytes and values of 32, preallocated, twice (one in
// use, one being drained): about 3.4 MB of kernel memory
// (docs/performance.md).
const DefaultMaxFlows = 16384

// Sampling defaults (--drop-trace-sample).
const (
	// DefaultSampleMax caps the samples a second per CPU.
	DefaultSampleMax = 1000
	// DefaultSampleRing is the samples ring's size in bytes (a power of
	// two, a multiple of the page size): about 1,200 samples.
	DefaultSampleRing = 256 << 10
)

// Attach points.
const (
	AttachBTF = "tp_btf/kfree_skb"
	AttachRaw = "raw_tp/kfree_skb"
)

// Errors for what the kernel or privileges lack.
var (
	errPerm  = fmt.Errorf("needs CAP_BPF and CAP_PERFMON (or root): %w", collectors.ErrPermission)
	errNoBTF = fmt.Errorf("kernel has no BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF): %w", collectors.ErrNotSupported)
)

// TracerOptions configure a Tracer.
type TracerOptions struct {
	// Netns is the inode of the network namespace to trace; 0 traces
	// every namespace.
	Netns uint32
	// MaxFlows is the size of the flows map (DefaultMaxFlows when 0).
	MaxFlows int
	// Attach forces AttachBTF or AttachRaw; "" tries AttachBTF first.
	Attach string
	// SampleEvery turns on the sampled stream: one drop in SampleEvery
	// (counted per CPU) is written with its headers to the samples ring.
	// 0 turns it off (the default: no per-packet work beyond counting);
	// SetSampleEvery changes it while the program runs.
	SampleEvery uint32
	// SampleMax caps the samples a second per CPU (DefaultSampleMax when
	// 0); samples over the cap are counted as lost.
	SampleMax uint32
	// SampleRing is the ring's size in bytes (DefaultSampleRing when 0).
	SampleRing int
	// program, when set, is the only program tried (tests: each of
	// programs in turn).
	program string
}

// Tracer is the loaded and attached BPF program with its maps. Its
// methods are safe for concurrent use; Close detaches it.
type Tracer struct {
	opts    TracerOptions
	attach  string
	program string // its name in the object (programs)
	reasons *Reasons

	mu       sync.Mutex
	coll     *ebpf.Collection
	lnk      link.Link
	flows    *ebpf.Map    // the array of maps holding the hash in use
	inner    [2]*ebpf.Map // the two hashes; inner[active] is in use
	active   int
	counters *ebpf.Map
	ring     *ringbuf.Reader
	// Buffers for batch reads, reused.
	keys []rawKey
	vals []rawVal
	rec  ringbuf.Record
}

// Counts are the tracer's per-CPU counters summed (enum counter in
// bpf/droptrace.c).
type Counts struct {
	Seen, NotAggregated, NotParsed, OtherNetns uint64
	// Sampled = Emitted + Lost; LostLimit is the part of Lost over the
	// per-second cap (the rest found the ring full).
	Sampled, Emitted, Lost, LostLimit uint64
	// Missed counts the times the kernel did not run the program for a
	// drop because it was already running on that CPU (a drop in an
	// interrupt of it): the program's recursion misses (5.12+), in
	// every namespace.
	Missed uint64
}

// Counter indexes (enum counter in bpf/droptrace.c).
const (
	ctrSeen          = iota // CTR_SEEN
	ctrNotAggregated        // CTR_NOT_AGGREGATED
	ctrNotParsed            // CTR_NOT_PARSED
	ctrOtherNetns           // CTR_OTHER_NETNS
	ctrSampled              // CTR_SAMPLED
	ctrEmitted              // CTR_EMITTED
	ctrLost                 // CTR_LOST
	ctrLostLimit            // CTR_LOST_LIMIT
	ctrMax                  // CTR_MAX
)

// Program names in the object.
const (
	progBTFDirect = "kfree_skb_btf_direct"
	progBTF       = "kfree_skb_btf"
	progRaw       = "kfree_skb_raw"
)

// programs are the object's programs for each attach point, in the order
// the loader tries them: on tp_btf, first the one that loads the packet's
// headers directly (recent kernels, 6.18 here, let a tp_btf program read
// skb->head as untrusted memory; older ones, 6.1 in the VM, refuse it), then
// the one that copies them with bpf_probe_read_kernel.
var programs = []struct{ attach, name string }{
	{AttachBTF, progBTFDirect},
	{AttachBTF, progBTF},
	{AttachRaw, progRaw},
}

// OpenTracer loads the program for this kernel and attaches it. The
// error wraps collectors.ErrPermission without CAP_BPF and CAP_PERFMON,
// and collectors.ErrNotSupported on a kernel without BTF or without the
// tracepoint's reason (before 5.17).
func OpenTracer(opts TracerOptions) (*Tracer, error) {
	if opts.MaxFlows <= 0 {
		opts.MaxFlows = DefaultMaxFlows
	}
	if opts.SampleMax == 0 {
		opts.SampleMax = DefaultSampleMax
	}
	if opts.SampleRing <= 0 {
		opts.SampleRing = DefaultSampleRing
	}
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("droptrace: read kernel BTF: %w", errPerm)
		}
		return nil, fmt.Errorf("droptrace: %w: %w", errNoBTF, err)
	}
	reasons, err := reasonsFromBTF(kspec)
	if err != nil {
		return nil, fmt.Errorf("droptrace: %w: %w", collectors.ErrNotSupported, err)
	}
	rxSk, err := hasRxSk(kspec)
	if err != nil {
		return nil, fmt.Errorf("droptrace: %w: %w", collectors.ErrNotSupported, err)
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
	_ = rlimit.RemoveMemlock()

	var errs []error
	for _, p := range programs {
		if (opts.Attach != "" && p.attach != opts.Attach) || (opts.program != "" && p.name != opts.program) {
			continue
		}
		t, err := load(opts, p.attach, p.name, reasons, rxSk, kspec)
		if err == nil {
			return t, nil
		}
		if errors.Is(err, collectors.ErrPermission) {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// load loads the program named keep and attaches it to attach.
func load(opts TracerOptions, attach, keep string, reasons *Reasons, rxSk bool, kspec *btf.Spec) (*Tracer, error) {
	spec, err := loadDroptrace()
	if err != nil {
		return nil, fmt.Errorf("droptrace: parse embedded object: %w", err)
	}
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	if spec.Programs[keep] == nil {
		return nil, fmt.Errorf("droptrace %s: the embedded object has no program %s", attach, keep)
	}
	for name := range spec.Programs {
		if name != keep {
			delete(spec.Programs, name)
		}
	}
	innerSpec := spec.Maps["flows"].InnerMap.Copy()
	innerSpec.Name, innerSpec.MaxEntries = innerName, uint32(opts.MaxFlows)
	spec.Maps["flows"].InnerMap.MaxEntries = uint32(opts.MaxFlows)
	// The ring has its full size even with sampling off: SetSampleEvery
	// may switch it on at any time.
	spec.Maps["samples"].MaxEntries = uint32(max(os.Getpagesize(), opts.SampleRing))
	for name, v := range map[string]any{
		"target_netns":  opts.Netns,
		"skip_reason_a": reasons.notDropped,
		"skip_reason_b": reasons.consumed,
		"has_rx_sk":     rxSk,
		"sample_every":  opts.SampleEvery,
		"sample_max":    opts.SampleMax,
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("droptrace: set %s: %w", name, err)
		}
	}
	// CO-RE relocates against the kernel BTF already read.
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: kspec}})
	if err != nil {
		return nil, wrapLoadErr(attach+" "+keep, err)
	}
	prog := coll.Programs[keep]
	var lnk link.Link
	t := &Tracer{
		opts: opts, attach: attach, program: keep, reasons: reasons,
		coll: coll, flows: coll.Maps["flows"], counters: coll.Maps["counters"],
	}
	for i := range t.inner {
		if t.inner[i], err = ebpf.NewMap(innerSpec); err != nil {
			t.Close()
			return nil, wrapLoadErr(attach, err)
		}
	}
	// The hash in use before the program runs.
	if err := t.flows.Put(uint32(0), t.inner[0]); err != nil {
		t.Close()
		return nil, fmt.Errorf("droptrace: set the flows hash: %w", err)
	}
	if attach == AttachBTF {
		lnk, err = link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
	} else {
		lnk, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: "kfree_skb", Program: prog})
	}
	if err != nil {
		t.Close()
		return nil, wrapLoadErr(attach, err)
	}
	t.lnk = lnk
	if t.ring, err = ringbuf.NewReader(coll.Maps["samples"]); err != nil {
		t.Close()
		return nil, fmt.Errorf("droptrace: samples ring: %w", err)
	}
	return t, nil
}

// innerName names the two flows hashes (bpftool map list).
const innerName = "flows_inner"

// checkSpec checks that the object's maps are the types and sizes
// key.go and sample.go decode.
func checkSpec(spec *ebpf.CollectionSpec) error {
	m := spec.Maps["flows"]
	if m == nil || m.Type != ebpf.ArrayOfMaps || m.InnerMap == nil {
		return errors.New("droptrace: embedded object's flows map is not an array of maps")
	}
	if in := m.InnerMap; in.Type != ebpf.Hash || in.KeySize != keySize || in.ValueSize != valSize {
		return fmt.Errorf("droptrace: embedded object's flows hash is not %d/%d bytes", keySize, valSize)
	}
	if r := spec.Maps["samples"]; r == nil || r.Type != ebpf.RingBuf {
		return errors.New("droptrace: embedded object has no samples ring")
	}
	return nil
}

// wrapLoadErr gives a load or attach error its context; EPERM wraps
// errPerm.
func wrapLoadErr(attach string, err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Errorf("droptrace %s: verifier: %+v", attach, ve)
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("droptrace %s: %w: %w", attach, errPerm, err)
	}
	return fmt.Errorf("droptrace %s: %w", attach, err)
}

// Attach returns the attach point in use (AttachBTF or AttachRaw).
func (t *Tracer) Attach() string { return t.attach }

// Program returns the name of the program loaded: kfree_skb_btf_direct,
// kfree_skb_btf or kfree_skb_raw.
func (t *Tracer) Program() string { return t.program }

// Reasons returns the kernel's drop reasons.
func (t *Tracer) Reasons() *Reasons { return t.reasons }

// MaxFlows returns the flows map's size.
func (t *Tracer) MaxFlows() int { return t.opts.MaxFlows }

// Netns returns the namespace in scope (0: all).
func (t *Tracer) Netns() uint32 { return t.opts.Netns }

// Sampling returns one drop in how many is sampled (0: off) and the cap
// of samples a second per CPU.
func (t *Tracer) Sampling() (every, max uint32) { return t.opts.SampleEvery, t.opts.SampleMax }

// SetSampleEvery switches the sampled stream while the program runs: one
// drop in every per CPU from the next drops on, 0 off. Samples already
// in the ring are still read.
func (t *Tracer) SetSampleEvery(every uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.coll == nil {
		return errClosed
	}
	v := t.coll.Variables["sample_every"]
	if v == nil {
		return errors.New("droptrace: the program has no sample_every")
	}
	if err := v.Set(every); err != nil {
		return fmt.Errorf("droptrace: set sample_every: %w", err)
	}
	t.opts.SampleEvery = every
	return nil
}

// RunStats returns how many times the kernel ran the attached program
// and the time it spent in it: the cost per drop, for the benchmark. The
// kernel measures the time only while statistics are on
// (ebpf.EnableStats(unix.BPF_STATS_RUN_TIME), or the
// kernel.bpf_stats_enabled sysctl).
func (t *Tracer) RunStats() (runs uint64, runtime time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.coll == nil {
		return 0, 0, errClosed
	}
	for _, p := range t.coll.Programs {
		st, err := p.Stats()
		if err != nil {
			return 0, 0, fmt.Errorf("droptrace: program stats: %w", err)
		}
		runs += st.RunCount
		runtime += st.Runtime
	}
	return runs, runtime, nil
}

// Counts reads and sums the per-CPU counters.
func (t *Tracer) Counts() (Counts, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counters == nil {
		return Counts{}, errClosed
	}
	var sums [ctrMax]uint64
	var per []uint64
	// Backwards: the program counts a drop as seen (sampled) before it
	// counts where it went, so a drop in flight shows as seen and not yet
	// placed, never placed and not seen.
	for i := ctrMax - 1; i >= 0; i-- {
		if err := t.counters.Lookup(uint32(i), &per); err != nil {
			return Counts{}, fmt.Errorf("droptrace: read counter %d: %w", i, err)
		}
		for _, v := range per {
			sums[i] += v
		}
	}
	var missed uint64
	for _, p := range t.coll.Programs {
		if st, err := p.Stats(); err == nil {
			missed += st.RecursionMisses
		}
	}
	return Counts{Missed: missed, Seen: sums[ctrSeen], NotAggregated: sums[ctrNotAggregated], NotParsed: sums[ctrNotParsed], OtherNetns: sums[ctrOtherNetns],
		Sampled: sums[ctrSampled], Emitted: sums[ctrEmitted], Lost: sums[ctrLost], LostLimit: sums[ctrLostLimit]}, nil
}

var errClosed = errors.New("droptrace: tracer closed")

// batchSize is how many flows one BPF_MAP_LOOKUP_AND_DELETE_BATCH
// returns.
const batchSize = 1024

// DrainFlows takes every flow out of the kernel, calling fn with its
// key and its drops since the previous drain, and returns how many there
// were. It puts the other (empty) hash in use, which returns once no
// program runs with the old one any more (the kernel waits for an RCU
// grace period on a map-in-map update), then reads and empties the old
// one: each drop is read exactly once. It reads in batches
// (BPF_MAP_LOOKUP_AND_DELETE_BATCH, 5.6+) and falls back to key by key.
func (t *Tracer) DrainFlows(fn func(flowKey, flowVal)) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.flows == nil {
		return 0, errClosed
	}
	next := 1 - t.active
	if err := t.flows.Put(uint32(0), t.inner[next]); err != nil {
		return 0, fmt.Errorf("droptrace: swap the flows hash: %w", err)
	}
	old := t.inner[t.active]
	t.active = next
	if t.keys == nil {
		t.keys, t.vals = make([]rawKey, batchSize), make([]rawVal, batchSize)
	}
	total := 0
	var cursor ebpf.MapBatchCursor
	for {
		n, err := old.BatchLookupAndDelete(&cursor, t.keys, t.vals, nil)
		for i := range n {
			if err := emit(t.keys[i][:], t.vals[i:i+1], fn); err != nil {
				return total, err
			}
			total++
		}
		switch {
		case errors.Is(err, ebpf.ErrKeyNotExist):
			return total, nil
		case errors.Is(err, ebpf.ErrNotSupported) && total == 0:
			return drainEach(old, fn)
		case err != nil:
			return total, fmt.Errorf("droptrace: drain flows: %w", err)
		}
	}
}

// drainEach is DrainFlows without batch operations, on a hash no
// program writes: keys are listed, then each is read and deleted.
func drainEach(m *ebpf.Map, fn func(flowKey, flowVal)) (int, error) {
	var keys []rawKey
	var k rawKey
	var v rawVal
	it := m.Iterate()
	for it.Next(&k, &v) {
		keys = append(keys, k)
	}
	if err := it.Err(); err != nil {
		return 0, fmt.Errorf("droptrace: drain flows: %w", err)
	}
	total := 0
	for _, k := range keys {
		if err := m.Lookup(&k, &v); err != nil {
			return total, fmt.Errorf("droptrace: drain flows: %w", err)
		}
		if err := m.Delete(&k); err != nil {
			return total, fmt.Errorf("droptrace: drain flows: %w", err)
		}
		if err := emit(k[:], []rawVal{v}, fn); err != nil {
			return total, err
		}
		total++
	}
	return total, nil
}

// emit decodes a key and its values (several: the slots of a per-CPU
// map), sums the values and calls fn.
func emit(kb []byte, vals []rawVal, fn func(flowKey, flowVal)) error {
	k, err := decodeKey(kb)
	if err != nil {
		return err
	}
	var sum flowVal
	for i := range vals {
		v, err := decodeVal(vals[i][:])
		if err != nil {
			return err
		}
		sum = sum.add(v)
	}
	fn(k, sum)
	return nil
}

// ReadSamples calls fn with each sample waiting in the ring, at most
// limit of them, without waiting for more, and returns how many it
// read.
func (t *Tracer) ReadSamples(limit int, fn func(sample)) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ring == nil {
		return 0, nil
	}
	t.ring.SetDeadline(time.Now())
	n := 0
	for n < limit {
		err := t.ring.ReadInto(&t.rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("droptrace: read samples: %w", err)
		}
		s, err := decodeSample(t.rec.RawSample)
		if err != nil {
			return n, err
		}
		fn(s)
		n++
	}
	return n, nil
}

// Close detaches the program and frees the maps. It is safe to call more
// than once.
func (t *Tracer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var err error
	if t.ring != nil {
		t.ring.Close()
		t.ring = nil
	}
	if t.lnk != nil {
		err = t.lnk.Close()
		t.lnk = nil
	}
	if t.coll != nil {
		t.coll.Close()
		t.coll = nil
	}
	for i, m := range t.inner {
		if m != nil {
			m.Close()
			t.inner[i] = nil
		}
	}
	t.flows, t.counters = nil, nil
	return err
}
