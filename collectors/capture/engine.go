package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// Options configure a capture.
type Options struct {
	// Interface is the interface to capture on, "any" (or "") for all.
	// File, when set, replays a pcap or pcapng file instead.
	Interface string
	File      string
	// Filter is a capture filter in tcpdump syntax (see Compile); "" for
	// none.
	Filter string
	// Count stops the capture after this many packets (0: no limit).
	Count int
	// RingMiB is the size of the kernel ring in MiB (default
	// DefaultRingMiB), in blocks of 1 MiB.
	RingMiB int
	// StorePackets and StoreBytes bound the store of the last packets
	// (defaults 4096 and 8 MiB).
	StorePackets int
	StoreBytes   int
	// NetNS, when not 0, is an open network namespace file: the
	// interface is looked up and the AF_PACKET socket opened inside it
	// (collectors.InNetNS), so the capture sees that namespace's traffic.
	NetNS int
}

// DefaultRingMiB is the kernel ring's default size in MiB: at 1,514-byte
// frames and 200,000 frames/s it holds 100 ms, so that the reader being
// off the CPU for that long, which happens on a busy host, loses nothing
// (8 MiB dropped frames at that rate on a shared 2-CPU machine;
// docs/performance.md, live capture).
const DefaultRingMiB = 32

func (o *Options) defaults() {
	if o.RingMiB <= 0 {
		o.RingMiB = DefaultRingMiB
	}
	if o.StorePackets <= 0 {
		o.StorePackets = 4096
	}
	if o.StoreBytes <= 0 {
		o.StoreBytes = 8 << 20
	}
	if o.Interface == "" {
		o.Interface = "any"
	}
}

// engine reads packets from one source, decodes and aggregates them. Its
// exported-through-model methods (FlowPackets, WritePcapng) and snapshot
// are safe for concurrent use with the reading goroutine.
type engine struct {
	opts   Options
	filter *Filter
	// link is the frames' link type: Ethernet live, a file's own.
	link layers.LinkType

	mu      sync.Mutex
	st      *stats
	store   *packetStore
	running bool
	err     error
	// ring statistics (live only)
	ringDrops, ringFreezes uint64
	ringBytes              int
	nonEthernet            uint64
	// notEther are the interfaces without Ethernet headers, by index, as
	// of when a capture on all interfaces opened.
	notEther map[int]bool
	// The capture thread's CPU time: cpuBase its clock when run started;
	// cpu the time used since then as of the last reading, taken at cpuAt;
	// prevCPU and prevCPUAt the reading the last snapshot's figure ended
	// at, and cpuPct that figure.
	cpuBase, cpu, prevCPU time.Duration
	cpuAt, prevCPUAt      time.Time
	cpuPct                float64
}

func newEngine(opts Options) (*engine, error) {
	opts.defaults()
	e := &engine{opts: opts, st: newStats(), store: newPacketStore(opts.StorePackets, opts.StoreBytes), link: layers.LinkTypeEthernet}
	e.st.overall = opts.File != ""
	if opts.Filter != "" {
		f, err := Compile(opts.Filter)
		if err != nil {
			return nil, err
		}
		e.filter = f
	}
	return e, nil
}

// setLink sets the frames' link type (a file's), compiling the filter
// again for it.
func (e *engine) setLink(lt layers.LinkType) error {
	if _, ok := firstLayer(lt); !ok {
		return fmt.Errorf("link type %v: %w", lt, errLinkType)
	}
	if e.filter != nil && lt != e.link {
		f, err := CompileFor(e.opts.Filter, lt)
		if err != nil {
			return err
		}
		e.filter = f
	}
	e.link = lt
	return nil
}

// openLive opens the AF_PACKET ring and attaches the filter, inside
// Options.NetNS when it is set.
func (e *engine) openLive() (tp *afpacket.TPacket, at time.Time, err error) {
	if e.opts.NetNS == 0 {
		return e.openLiveHere()
	}
	if nerr := collectors.InNetNS(e.opts.NetNS, func() { tp, at, err = e.openLiveHere() }); nerr != nil {
		return nil, time.Time{}, fmt.Errorf("capture on %s: %w", e.opts.Interface, nerr)
	}
	return tp, at, err
}

// openLiveHere opens the ring in the calling thread's namespace.
func (e *engine) openLiveHere() (*afpacket.TPacket, time.Time, error) {
	iface := e.opts.Interface
	if iface == "any" {
		iface = ""
		// Packets from interfaces without Ethernet headers are counted
		// and skipped, not decoded as garbage.
		ifs, err := net.Interfaces()
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("capture on any: list interfaces: %w", err)
		}
		e.notEther = map[int]bool{}
		for _, ifi := range ifs {
			if !ethernetLike(ifi) {
				e.notEther[ifi.Index] = true
			}
		}
	} else {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return nil, time.Time{}, noInterface(iface, err)
		}
		if !ethernetLike(*ifi) {
			return nil, time.Time{}, fmt.Errorf("capture on %s: no Ethernet headers on this interface (netlens decodes Ethernet frames): %w", iface, collectors.ErrNotSupported)
		}
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(iface),
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
		afpacket.OptBlockSize(1<<20),
		afpacket.OptNumBlocks(e.opts.RingMiB),
		afpacket.OptBlockTimeout(50*time.Millisecond),
		afpacket.OptPollTimeout(100*time.Millisecond),
		// Put back the 802.1Q tag the kernel took off (VLAN offload), as
		// libpcap does, so that frames look as they did on the wire.
		afpacket.OptAddVLANHeader(true),
	)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, time.Time{}, fmt.Errorf("capture on %s: needs CAP_NET_RAW: %w", e.opts.Interface, collectors.ErrPermission)
		}
		return nil, time.Time{}, fmt.Errorf("capture on %s: %w", e.opts.Interface, err)
	}
	// A filter is always attached: it drops loopback's outgoing copies.
	lo := 0
	if ifi, err := net.InterfaceByName("lo"); err == nil {
		lo = ifi.Index
	}
	prog, err := kernelProgram(e.filter, lo)
	if err == nil {
		err = tp.SetBPF(prog)
	}
	if err != nil {
		tp.Close()
		return nil, time.Time{}, fmt.Errorf("capture on %s: attach filter: %w", e.opts.Interface, err)
	}
	attached := time.Now()
	e.ringBytes = e.opts.RingMiB << 20
	return tp, attached, nil
}

// run reads packets until ctx is done, the source ends, or Count packets.
// verifyBefore: packets stamped before it may have entered the ring before
// the kernel filter was attached, and are filtered again here.
func (e *engine) run(ctx context.Context, src packetSource, live *afpacket.TPacket, verifyBefore time.Time) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The wall time first, the CPU clock second (and the other way
	// round in sampleCPU): the wall interval holds the CPU one, so the
	// share stays within one CPU.
	at := time.Now()
	base := threadCPU()
	e.mu.Lock()
	e.running = true
	e.cpuBase, e.cpu, e.prevCPU, e.cpuPct = base, 0, 0, 0
	e.cpuAt, e.prevCPUAt = at, at
	e.mu.Unlock()
	d := newDecoderFor(e.link)
	var pi packetInfo
	n := 0 // packets accepted
	userFilter := e.filter != nil && live == nil
	var err error
	done := ctx.Done()
	for i := 0; ; i++ {
		if i&255 == 0 {
			e.sampleCPU(live)
		}
		// Every packet: a steady stream leaves no read timeout, and
		// every 256 packets was seconds at tens a second (--duration
		// and Ctrl-C overran by up to 256 packets).
		if closed(done) {
			break
		}
		var data []byte
		var ci gopacket.CaptureInfo
		data, ci, err = src.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, afpacket.ErrTimeout) || errors.Is(err, syscall.EINTR) {
				e.sampleCPU(live)
				if ctx.Err() != nil {
					err = nil
					break
				}
				continue
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			break
		}
		if e.notEther[ci.InterfaceIndex] {
			e.mu.Lock()
			e.nonEthernet++
			e.mu.Unlock()
			continue
		}
		if e.filter != nil && (userFilter || e.filter.NeedsCheck(data) || ci.Timestamp.Before(verifyBefore)) && !e.filter.Match(data, ci.Length) {
			continue
		}
		n++
		e.packet(d, &pi, data, &ci)
		if e.opts.Count > 0 && n >= e.opts.Count {
			break
		}
	}
	e.sampleCPU(live)
	e.mu.Lock()
	e.running = false
	if err != nil {
		e.err = fmt.Errorf("capture %s: %w", e.sourceName(), err)
	}
	e.mu.Unlock()
	return e.err
}

// closed reports whether done is closed, without blocking: a receive
// that does not block is a couple of atomic loads (a nil done, as
// context.Background's, is never closed).
func closed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// ethernetLike reports whether an interface's packets carry Ethernet
// headers as a packet socket sees them: a 6-byte hardware address
// (Ethernet, veth, bridges, Wi-Fi), or loopback (zero MAC addresses).
// Tunnels and WireGuard have none.
func ethernetLike(ifi net.Interface) bool {
	return len(ifi.HardwareAddr) == 6 || ifi.Flags&net.FlagLoopback != 0
}

// packet decodes, counts and stores one packet.
func (e *engine) packet(d *decoder, pi *packetInfo, data []byte, ci *gopacket.CaptureInfo) {
	e.mu.Lock()
	d.decode(data, pi)
	e.st.add(pi, ci.Timestamp, ci.Length, ci.CaptureLength)
	e.store.add(data, ci, pi)
	e.mu.Unlock()
}

// threadCPU returns the calling thread's CPU clock (user and system
// time). Unlike getrusage(RUSAGE_THREAD), which lags the running thread
// by up to a scheduler tick (milliseconds: more than a whole replay of a
// small file takes), it is exact to the nanosecond. 0 if it cannot be
// read.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// sampleCPU reads the calling thread's CPU time (the capture goroutine is
// locked to it) and the ring's statistics.
func (e *engine) sampleCPU(live *afpacket.TPacket) {
	cpu := threadCPU()
	at := time.Now()
	var drops, freezes uint64
	if live != nil {
		if _, v3, err := live.SocketStats(); err == nil {
			drops, freezes = uint64(v3.Drops()), uint64(v3.QueueFreezes())
		}
	}
	e.mu.Lock()
	if cpu >= e.cpuBase {
		e.cpu, e.cpuAt = cpu-e.cpuBase, at
	}
	if live != nil {
		e.ringDrops, e.ringFreezes = drops, freezes
	}
	e.mu.Unlock()
}

func (e *engine) sourceName() string {
	if e.opts.File != "" {
		return e.opts.File
	}
	return e.opts.Interface
}

// snapshot returns the statistics as of now.
func (e *engine) snapshot(now time.Time) model.CaptureStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	cs := model.CaptureStats{Source: "live", Interface: e.opts.Interface, Filter: e.opts.Filter, Running: e.running,
		RingDrops: e.ringDrops, RingFreezes: e.ringFreezes, RingBytes: e.ringBytes, NonEthernet: e.nonEthernet,
		StoreBytes: len(e.store.buf), StorePackets: len(e.store.recs)}
	if e.opts.File != "" {
		cs.Source, cs.Interface = "file", e.opts.File
	}
	e.st.snapshot(now, &cs)
	cs.CPUSeconds = e.cpu.Seconds()
	// The share is over the interval between two readings of the CPU
	// clock, each with the time it was taken (not now: the last reading
	// may be up to a poll timeout old, or from when a replay ended).
	if dt := e.cpuAt.Sub(e.prevCPUAt); dt > 0 {
		pct := 100 * float64(e.cpu-e.prevCPU) / float64(dt)
		// One thread uses at most one CPU; the two clocks may disagree
		// by a little over a short interval.
		e.cpuPct = min(max(pct, 0), 100)
		e.prevCPU, e.prevCPUAt = e.cpu, e.cpuAt
	} else if !e.running {
		// Stopped, and its last interval already reported.
		e.cpuPct = 0
	}
	cs.CPUPercent = e.cpuPct
	return cs
}

// FlowPackets returns the last n stored packets of flow, decoded.
func (e *engine) FlowPackets(flow model.CaptureFlowKey, n int) []model.CapturedPacket {
	e.mu.Lock()
	pkts := e.store.last(&flow, n)
	e.mu.Unlock()
	out := make([]model.CapturedPacket, len(pkts))
	for i, p := range pkts {
		out[i] = describe(p.data, e.link, p.rec.at, int(p.rec.length))
	}
	return out
}

// WritePcapng writes the stored packets (flow's only when flow is not
// nil) to path atomically and returns how many it wrote.
func (e *engine) WritePcapng(path string, flow *model.CaptureFlowKey) (int, error) {
	e.mu.Lock()
	stored := e.store.last(flow, len(e.store.recs))
	e.mu.Unlock()
	recs := make([]packetRecord, len(stored))
	for i, p := range stored {
		recs[i] = packetRecord{ci: gopacket.CaptureInfo{Timestamp: p.rec.at, Length: int(p.rec.length)}, data: p.data}
	}
	if err := writePcapng(path, e.sourceName(), e.link, 262144, recs); err != nil {
		return 0, err
	}
	return len(recs), nil
}

// noInterface is the error for a capture on an interface that does not
// exist: "no interface bogus0 (interfaces: eth0, lo)" rather than Go's
// "route ip+net: no such network interface".
func noInterface(name string, err error) error {
	ifs, lerr := net.Interfaces()
	if lerr != nil {
		return fmt.Errorf("capture on %s: %w", name, err)
	}
	names := make([]string, 0, len(ifs))
	for _, ifi := range ifs {
		names = append(names, ifi.Name)
	}
	slices.Sort(names)
	return fmt.Errorf("capture: no interface %s (there are: %s; or \"any\")", name, strings.Join(names, ", "))
}
