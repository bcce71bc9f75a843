package droptrace

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"netlens/collectors"
)

// DefaultMaxFlows is the default size of the kernel's flows map: 16384
// keys of 72 bytes and values of 32 (about 2.5 MiB of kernel memory with
// the LRU's overhead; docs/performance.md).
const DefaultMaxFlows = 16384

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
}

// Tracer is the loaded and attached BPF program with its maps. Its
// methods are safe for concurrent use; Close detaches it.
type Tracer struct {
	opts    TracerOptions
	attach  string
	reasons *Reasons

	mu       sync.Mutex
	coll     *ebpf.Collection
	lnk      link.Link
	flows    *ebpf.Map
	counters *ebpf.Map
	// Buffers for batch reads, reused.
	keys []rawKey
	vals []rawVal
}

// Counts are the tracer's per-CPU counters summed (enum counter in
// bpf/droptrace.c).
type Counts struct {
	Seen, NotAggregated, NotParsed, OtherNetns uint64
}

// Counter indexes (enum counter in bpf/droptrace.c).
const (
	ctrSeen          = iota // CTR_SEEN
	ctrNotAggregated        // CTR_NOT_AGGREGATED
	ctrNotParsed            // CTR_NOT_PARSED
	ctrOtherNetns           // CTR_OTHER_NETNS
	ctrMax                  // CTR_MAX
)

// Program names in the object.
const (
	progBTF = "kfree_skb_btf"
	progRaw = "kfree_skb_raw"
)

// OpenTracer loads the program for this kernel and attaches it. The
// error wraps collectors.ErrPermission without CAP_BPF and CAP_PERFMON,
// and collectors.ErrNotSupported on a kernel without BTF or without the
// tracepoint's reason (before 5.17).
func OpenTracer(opts TracerOptions) (*Tracer, error) {
	if opts.MaxFlows <= 0 {
		opts.MaxFlows = DefaultMaxFlows
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

	attaches := []string{AttachBTF, AttachRaw}
	if opts.Attach != "" {
		attaches = []string{opts.Attach}
	}
	var errs []error
	for _, a := range attaches {
		t, err := load(opts, a, reasons, rxSk, kspec)
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

// load loads and attaches the program for one attach point.
func load(opts TracerOptions, attach string, reasons *Reasons, rxSk bool, kspec *btf.Spec) (*Tracer, error) {
	spec, err := loadDroptrace()
	if err != nil {
		return nil, fmt.Errorf("droptrace: parse embedded object: %w", err)
	}
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	keep, drop := progBTF, progRaw
	if attach == AttachRaw {
		keep, drop = progRaw, progBTF
	}
	delete(spec.Programs, drop)
	spec.Maps["flows"].MaxEntries = uint32(opts.MaxFlows)
	for name, v := range map[string]any{
		"target_netns":  opts.Netns,
		"skip_reason_a": reasons.notDropped,
		"skip_reason_b": reasons.consumed,
		"has_rx_sk":     rxSk,
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("droptrace: set %s: %w", name, err)
		}
	}
	// CO-RE relocates against the kernel BTF already read.
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: kspec}})
	if err != nil {
		return nil, wrapLoadErr(attach, err)
	}
	prog := coll.Programs[keep]
	var lnk link.Link
	if attach == AttachBTF {
		lnk, err = link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
	} else {
		lnk, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: "kfree_skb", Program: prog})
	}
	if err != nil {
		coll.Close()
		return nil, wrapLoadErr(attach, err)
	}
	return &Tracer{
		opts: opts, attach: attach, reasons: reasons,
		coll: coll, lnk: lnk, flows: coll.Maps["flows"], counters: coll.Maps["counters"],
	}, nil
}

// checkSpec checks that the object's map key and value are the sizes
// key.go decodes.
func checkSpec(spec *ebpf.CollectionSpec) error {
	m := spec.Maps["flows"]
	if m == nil || m.KeySize != keySize || m.ValueSize != valSize {
		return fmt.Errorf("droptrace: embedded object's flows map is not %d/%d bytes", keySize, valSize)
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

// Reasons returns the kernel's drop reasons.
func (t *Tracer) Reasons() *Reasons { return t.reasons }

// MaxFlows returns the flows map's size.
func (t *Tracer) MaxFlows() int { return t.opts.MaxFlows }

// Netns returns the namespace in scope (0: all).
func (t *Tracer) Netns() uint32 { return t.opts.Netns }

// Counts reads and sums the per-CPU counters.
func (t *Tracer) Counts() (Counts, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counters == nil {
		return Counts{}, errClosed
	}
	var sums [ctrMax]uint64
	var per []uint64
	for i := range sums {
		if err := t.counters.Lookup(uint32(i), &per); err != nil {
			return Counts{}, fmt.Errorf("droptrace: read counter %d: %w", i, err)
		}
		for _, v := range per {
			sums[i] += v
		}
	}
	return Counts{Seen: sums[ctrSeen], NotAggregated: sums[ctrNotAggregated], NotParsed: sums[ctrNotParsed], OtherNetns: sums[ctrOtherNetns]}, nil
}

var errClosed = errors.New("droptrace: tracer closed")

// batchSize is how many flows one BPF_MAP_LOOKUP_BATCH returns.
const batchSize = 4096

// ReadFlows calls fn with every flow in the kernel's map and returns how
// many there were. It reads in batches (BPF_MAP_LOOKUP_BATCH, 5.6+) and
// falls back to iterating key by key. Flows the program updates during
// the read are seen before or after the update.
func (t *Tracer) ReadFlows(fn func(flowKey, flowVal)) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.flows == nil {
		return 0, errClosed
	}
	if t.keys == nil {
		t.keys, t.vals = make([]rawKey, batchSize), make([]rawVal, batchSize)
	}
	total := 0
	var cursor ebpf.MapBatchCursor
	for {
		n, err := t.flows.BatchLookup(&cursor, t.keys, t.vals, nil)
		for i := range n {
			if err := emit(t.keys[i][:], t.vals[i][:], fn); err != nil {
				return total, err
			}
			total++
		}
		switch {
		case errors.Is(err, ebpf.ErrKeyNotExist):
			return total, nil
		case errors.Is(err, ebpf.ErrNotSupported) && total == 0:
			return t.iterate(fn)
		case err != nil:
			return total, fmt.Errorf("droptrace: read flows: %w", err)
		}
	}
}

// iterate is ReadFlows without batch operations.
func (t *Tracer) iterate(fn func(flowKey, flowVal)) (int, error) {
	var k rawKey
	var v rawVal
	total := 0
	it := t.flows.Iterate()
	for it.Next(&k, &v) {
		if err := emit(k[:], v[:], fn); err != nil {
			return total, err
		}
		total++
	}
	if err := it.Err(); err != nil {
		return total, fmt.Errorf("droptrace: read flows: %w", err)
	}
	return total, nil
}

func emit(kb, vb []byte, fn func(flowKey, flowVal)) error {
	k, err := decodeKey(kb)
	if err != nil {
		return err
	}
	v, err := decodeVal(vb)
	if err != nil {
		return err
	}
	fn(k, v)
	return nil
}

// Close detaches the program and frees the maps. It is safe to call more
// than once.
func (t *Tracer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var err error
	if t.lnk != nil {
		err = t.lnk.Close()
		t.lnk = nil
	}
	if t.coll != nil {
		t.coll.Close()
		t.coll = nil
	}
	t.flows, t.counters = nil, nil
	return err
}
