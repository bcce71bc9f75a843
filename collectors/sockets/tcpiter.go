package sockets

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"netlens/model"
)

// The TCP iterator (bpf/tcpiter.c) reads every TCP socket of a namespace
// with what sock_diag reports of it, tcp_info included, at about 0.6 of
// the kernel's cost of the sock_diag dump and without a netlink attribute
// to decode (docs/performance.md, "The TCP iterator"). It needs CAP_BPF
// and CAP_PERFMON (or root), a kernel with BTF and iter/tcp (Linux 5.9+),
// and the kernel's HZ (from /proc/config.gz or /boot/config-RELEASE) to
// turn its jiffies into the microseconds and milliseconds of tcp_info.

// Sizes of the records of bpf/tcpiter.c: every one begins with a struct
// rechdr, whose flags (trFlags) tell a struct tcpcnt (recCounters, the
// counters-only iterator's) from a struct tcprec (the full iterator's).
const (
	tcpHdrSize = 76  // sizeof(struct rechdr)
	tcpRecSize = 280 // sizeof(struct tcprec)
	tcpCntSize = 120 // sizeof(struct tcpcnt)
)

// Offsets of the fields of struct tcprec, struct rechdr's (trCookie to
// trDrops) included.
const (
	trCookie        = 0
	trIno           = 8
	trSaddr         = 16
	trDaddr         = 32
	trSport         = 48 // host order
	trDport         = 50 // network order
	trFamily        = 52
	trState         = 53
	trKind          = 54
	trFlags         = 55
	trUID           = 56
	trIfindex       = 60
	trRqueue        = 64
	trWqueue        = 68
	trDrops         = 72
	trCAState       = 76
	trRetransmits   = 77
	trBackoff       = 78
	trAppLimited    = 79
	trRTO           = 80 // jiffies
	trATO           = 84 // jiffies
	trDelackMax     = 88 // jiffies
	trRTOMin        = 92 // jiffies
	trDstRTOMinMs   = 96
	trSndMSS        = 100
	trRcvMSS        = 104
	trUnacked       = 108
	trSacked        = 112
	trLost          = 116
	trRetrans       = 120
	trDataSentSince = 124 // jiffies
	trDataRecvSince = 128 // jiffies
	trPMTU          = 132
	trRTT           = 136
	trRTTVar        = 140
	trSndSsthresh   = 144
	trSndCwnd       = 148
	trReordering    = 152
	trTotalRetrans  = 156
	trPacingRate    = 160
	trMaxPacingRate = 168
	trBytesAcked    = 176
	trBytesReceived = 184
	trSegsOut       = 192
	trSegsIn        = 196
	trNotsentBytes  = 200
	trMinRTT        = 204
	trDataSegsIn    = 208
	trDataSegsOut   = 212
	trRateDelivered = 216
	trRateInterval  = 220
	trChronoStat    = 224 // struct chrono: 3 x __u32, jiffies
	trChronoSince   = 236 // jiffies
	trChronoType    = 240
	trBytesSent     = 248
	trBytesRetrans  = 256
	trCong          = 264 // char[16]
)

// Offsets of the fields of struct tcpcnt past its struct rechdr.
const (
	tcTotalRetrans  = 76
	tcBytesAcked    = 80
	tcBytesReceived = 88
	tcChronoStat    = 96 // struct chrono: 3 x __u32, jiffies
	tcChronoSince   = 108
	tcChronoType    = 112
)

// Offsets of since and type in struct chrono, both records' chrono
// times (at trChronoStat and tcChronoStat).
const (
	chronoSince = trChronoSince - trChronoStat
	chronoType  = trChronoType - trChronoStat
)

// Kinds of socket in struct rechdr.
const (
	kindFull = 0 // a full socket
	kindTW   = 1 // TIME-WAIT
	kindReq  = 2 // a request socket (SYN-RECV)
)

// Flags of struct rechdr.
const (
	recTCP       = 1 // a tcp_sock: the tcp_info fields are set
	recDstRTOMin = 2 // its route locks rto_min (dst_rto_min_ms)
	recCounters  = 4 // a struct tcpcnt: queues, counters and chrono times
)

// tcpRecLen returns the size of the record b begins with, as its
// header's flags give it, or 0 if b is shorter than a header.
func tcpRecLen(b []byte) int {
	switch {
	case len(b) < tcpHdrSize:
		return 0
	case b[trFlags]&recCounters != 0:
		return tcpCntSize
	}
	return tcpRecSize
}

// wholeRecords returns the length of the whole records b begins with.
func wholeRecords(b []byte) int {
	n := 0
	for {
		l := tcpRecLen(b[n:])
		if l == 0 || l > len(b)-n {
			return n
		}
		n += l
	}
}

// TCP states of struct rechdr.state.
const tcpListen = 10 // TCP_LISTEN

// tcpIterProg is the loaded and attached TCP iterator with what decoding
// its records needs. One serves every Collector of the process: the
// namespace an iterator walks is the one it is opened in. Safe for
// concurrent use (each Open is an iterator of its own).
type tcpIterProg struct {
	objs tcpiterObjects
	it   *link.Iter
	conv jiffies
	// infoLen is sizeof(struct tcp_info) of the running kernel: the
	// length of the INET_DIAG_INFO sock_diag sends.
	infoLen uint16
}

// tcpIterShared holds the process's tcpIterProgs, the full one ([0]) and
// the counters-only one ([1], Options.TCPCountersOnly), each loaded on
// first use and
// kept for the life of the process (two file descriptors: the program
// and its link): a TUI switching namespaces closes one Collector and
// opens another, and unloading with the last would make every switch
// load the program again (about 50 ms of CPU and a parse of the kernel's
// BTF). A failure is kept too: neither the kernel nor the process's
// privileges change under it.
var tcpIterShared [2]struct {
	mu  sync.Mutex
	p   *tcpIterProg
	err error
}

// acquireTCPIter returns the process's TCP iterator, full or counters
// only, loading it on first use; the error says why it cannot be used.
func acquireTCPIter(countersOnly bool) (*tcpIterProg, error) {
	s := &tcpIterShared[0]
	if countersOnly {
		s = &tcpIterShared[1]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil && s.err == nil {
		s.p, s.err = loadTCPIter(countersOnly)
	}
	return s.p, s.err
}

func loadTCPIter(countersOnly bool) (*tcpIterProg, error) {
	hz, err := kernelHZ()
	if err != nil {
		return nil, err
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	var ti *btf.Struct
	if err := spec.TypeByName("tcp_info", &ti); err != nil {
		return nil, fmt.Errorf("kernel BTF: struct tcp_info: %w", err)
	}
	if ti.Size < model.TCPInfoLenBytesSent || ti.Size > 0xffff {
		return nil, fmt.Errorf("kernel BTF: struct tcp_info of %d bytes", ti.Size)
	}
	p := &tcpIterProg{conv: jiffies{hz: hz}, infoLen: uint16(ti.Size)}
	// The kernel's BTF, parsed once for the size above and the program's
	// CO-RE relocations.
	opts := &ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: spec}}
	cs, err := loadTcpiter()
	if err != nil {
		return nil, fmt.Errorf("load the TCP iterator: %w", err)
	}
	if countersOnly {
		v := cs.Variables["counters_only"]
		if v == nil {
			return nil, errors.New("load the TCP iterator: no counters_only in its object")
		}
		if err := v.Set(uint32(1)); err != nil {
			return nil, fmt.Errorf("load the TCP iterator: %w", err)
		}
	}
	if err := cs.LoadAndAssign(&p.objs, opts); err != nil {
		return nil, fmt.Errorf("load the TCP iterator: %w", err)
	}
	p.it, err = link.AttachIter(link.IterOptions{Program: p.objs.Tcpiter})
	if err != nil {
		p.objs.Close()
		return nil, fmt.Errorf("attach the TCP iterator: %w", err)
	}
	return p, nil
}

// kernelHZ returns the kernel's CONFIG_HZ, read from /proc/config.gz or
// /boot/config-RELEASE (where libbpf and cilium/ebpf read Kconfig).
func kernelHZ() (uint32, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return 0, fmt.Errorf("uname: %w", err)
	}
	release := string(bytes.TrimRight(uts.Release[:], "\x00"))
	for _, path := range []string{"/proc/config.gz", "/boot/config-" + release} {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		var r io.Reader = f
		if path == "/proc/config.gz" {
			z, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				continue
			}
			r = z
		}
		hz, err := parseConfigHZ(r)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		return hz, nil
	}
	return 0, errors.New("kernel HZ unknown: no /proc/config.gz or /boot/config-" + release)
}

// parseConfigHZ returns CONFIG_HZ of a kernel .config.
func parseConfigHZ(r io.Reader) (uint32, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("CONFIG_HZ=")); ok {
			hz, err := strconv.ParseUint(string(v), 10, 32)
			if err != nil || hz == 0 {
				return 0, fmt.Errorf("CONFIG_HZ=%s: %w", v, ErrMalformed)
			}
			return uint32(hz), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no CONFIG_HZ: %w", ErrMalformed)
}

// jiffies converts the kernel's jiffies as include/linux/jiffies.h and
// kernel/time/time.c do on a 64-bit kernel with HZ hz.
type jiffies struct{ hz uint32 }

// usecs is jiffies_to_usecs(j).
func (c jiffies) usecs(j uint32) uint32 {
	if 1000000%c.hz == 0 {
		return 1000000 / c.hz * j
	}
	g := gcd(1000000, uint64(c.hz))
	return uint32(uint64(j) * (1000000 / g) / (uint64(c.hz) / g))
}

// msecs is jiffies_to_msecs(j).
func (c jiffies) msecs(j uint32) uint32 {
	switch {
	case c.hz <= 1000 && 1000%c.hz == 0:
		return 1000 / c.hz * j
	case c.hz > 1000 && c.hz%1000 == 0:
		d := c.hz / 1000
		return uint32((uint64(j) + uint64(d) - 1) / uint64(d))
	}
	g := gcd(1000, uint64(c.hz))
	num, den := 1000/g, uint64(c.hz)/g
	return uint32((uint64(j)*num + den - 1) / den)
}

// fromMsecs is msecs_to_jiffies(m), rounding up.
func (c jiffies) fromMsecs(m uint32) uint32 {
	switch {
	case c.hz <= 1000 && 1000%c.hz == 0:
		d := 1000 / c.hz
		return uint32((uint64(m) + uint64(d) - 1) / uint64(d))
	case c.hz > 1000 && c.hz%1000 == 0:
		return m * (c.hz / 1000)
	}
	return uint32((uint64(m)*uint64(c.hz) + 999) / 1000)
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// tcpIter reads a namespace's TCP sockets through the process's TCP
// iterator into model.Socket values equal to what the sock_diag dump
// gives. Not safe for concurrent use.
type tcpIter struct {
	p   *tcpIterProg
	buf []byte
}

// tcpIterBuf is how much a read(2) of the iterator asks for: the kernel
// fills its seq_file buffer (32 KiB at first) and copies it out whole.
const tcpIterBuf = 128 << 10

// yieldIterReads is how many reads of the iterator a collection makes
// before it lets other goroutines run (see diagConn.recvfrom: the reads
// are the kernel's work, not waits).
const yieldIterReads = 8

// newTCPIter returns a reader of the process's TCP iterator, full or
// counters only (Options.TCPCountersOnly).
func newTCPIter(countersOnly bool) (*tcpIter, error) {
	p, err := acquireTCPIter(countersOnly)
	if err != nil {
		return nil, err
	}
	return &tcpIter{p: p, buf: make([]byte, tcpIterBuf)}, nil
}

// close lets go of the iterator. Nothing is released: the program stays
// loaded (tcpIterShared), and a read still running on another goroutine
// (Collector.Close does not wait for one) keeps its buffer.
func (t *tcpIter) close() {}

// read appends the TCP sockets of network namespace netns (an open
// namespace file; 0 for the calling thread's) to out. tcpInfo false
// leaves out tcp_info and the congestion control, as
// Options.NoTCPInfo does for sock_diag. A counters-only iterator's
// sockets get no tcp_info: their counters go to cnt, at their index in
// out (cnt may be nil with a full iterator).
func (t *tcpIter) read(ctx context.Context, netns int, names *ifNames, tcp *slab[model.TCPInfo], cnt *[]tcpCounters, tcpInfo bool, out []model.Socket) ([]model.Socket, error) {
	start := len(out)
	d := tcpDecoder{conv: t.p.conv, infoLen: t.p.infoLen, names: names, tcp: tcp, cnt: cnt, tcpInfo: tcpInfo}
	err := t.records(ctx, netns, func(b []byte) error {
		var err error
		out, err = d.decode(b, out)
		return err
	})
	if err != nil {
		if cnt != nil && len(*cnt) > start {
			*cnt = (*cnt)[:start]
		}
		return out[:start], err
	}
	return out, nil
}

// records runs the iterator in network namespace netns (0: the calling
// thread's) and hands fn its records, whole ones, a buffer at a time. It
// stops with ctx's error when ctx is done.
func (t *tcpIter) records(ctx context.Context, netns int, fn func([]byte) error) error {
	var r io.ReadCloser
	var err error
	if netns == 0 {
		r, err = t.p.it.Open()
	} else if nerr := inNetNS(netns, func() { r, err = t.p.it.Open() }); nerr != nil {
		return nerr
	}
	if err != nil {
		return fmt.Errorf("open the TCP iterator: %w", err)
	}
	defer r.Close()
	fd := r.(*os.File).Fd()
	have := 0
	for reads := 1; ; reads++ {
		n, _, errno := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&t.buf[have])), uintptr(len(t.buf)-have))
		if errno == unix.EINTR || errno == unix.EAGAIN {
			continue
		}
		if errno != 0 {
			return fmt.Errorf("read the TCP iterator: %w", errno)
		}
		if n == 0 {
			break
		}
		have += int(n)
		whole := wholeRecords(t.buf[:have])
		if err := fn(t.buf[:whole]); err != nil {
			return err
		}
		have = copy(t.buf, t.buf[whole:have])
		if reads%yieldIterReads == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			runtime.Gosched()
		}
	}
	if have != 0 {
		return fmt.Errorf("TCP iterator: %d bytes left, not a whole record: %w", have, ErrMalformed)
	}
	return nil
}

// chrono returns the busy, receiver-window-limited and
// send-buffer-limited times (us) of c, a record's struct chrono,
// as tcp_get_info_chrono_stats computes them: TCP_CHRONO_BUSY,
// _RWND_LIMITED, _SNDBUF_LIMITED are 1, 2, 3; the running one has the
// time since it began added.
func (d *tcpDecoder) chrono(c []byte) (busy, rwnd, sndbuf uint64) {
	ne := binary.NativeEndian
	var stats [3]uint64
	ctype := ne.Uint32(c[chronoType:])
	for i := range stats {
		stats[i] = uint64(ne.Uint32(c[4*i:]))
		if uint32(i+1) == ctype {
			stats[i] += uint64(ne.Uint32(c[chronoSince:]))
		}
		stats[i] *= uint64(1000000 / d.conv.hz)
	}
	return stats[0] + stats[1] + stats[2], stats[1], stats[2]
}

// counters puts the counters of struct tcpcnt r in (*d.cnt)[idx].
func (d *tcpDecoder) counters(r []byte, idx int) {
	ne := binary.NativeEndian
	c := tcpCounters{
		ok:       true,
		acked:    ne.Uint64(r[tcBytesAcked:]),
		received: ne.Uint64(r[tcBytesReceived:]),
		retrans:  ne.Uint32(r[tcTotalRetrans:]),
	}
	c.busy, c.rwnd, c.sndbuf = d.chrono(r[tcChronoStat:tcpCntSize])
	cnt := *d.cnt
	if old := len(cnt); idx >= old {
		cnt = slices.Grow(cnt, idx+1-old)[:idx+1]
		clear(cnt[old:idx]) // sockets without counters, and a reused array's
	}
	cnt[idx] = c
	*d.cnt = cnt
}

// tcpDecoder turns struct tcprec and struct tcpcnt records into
// model.Socket values.
type tcpDecoder struct {
	conv    jiffies
	infoLen uint16
	names   *ifNames
	tcp     *slab[model.TCPInfo]
	// cnt gets the counters of counters-only records (recCounters), at
	// the index of their socket in out; nil drops them.
	cnt     *[]tcpCounters
	tcpInfo bool
}

// decode appends the sockets of b, whole records in native byte order,
// to out. On error out is returned as it was given. It never panics.
func (d *tcpDecoder) decode(b []byte, out []model.Socket) ([]model.Socket, error) {
	if whole := wholeRecords(b); whole != len(b) {
		return out, fmt.Errorf("TCP iterator: %d bytes, a record cut short at byte %d: %w", len(b), whole, ErrMalformed)
	}
	if d.conv.hz == 0 {
		return out, fmt.Errorf("TCP iterator: no HZ: %w", ErrMalformed)
	}
	start := len(out)
	for len(b) > 0 {
		n := tcpRecLen(b)
		out = append(out, model.Socket{Proto: model.ProtoTCP})
		if err := d.decodeRec(b[:n], &out[len(out)-1], len(out)-1); err != nil {
			return out[:start], err
		}
		b = b[n:]
	}
	return out, nil
}

// decodeRec decodes one record, of the size tcpRecLen gives, into s, as
// decodeDiagMsg decodes the sock_diag message of the same socket.
func (d *tcpDecoder) decodeRec(r []byte, s *model.Socket, idx int) error {
	ne := binary.NativeEndian
	u32 := func(off int) uint32 { return ne.Uint32(r[off:]) }
	u64 := func(off int) uint64 { return ne.Uint64(r[off:]) }
	sport := ne.Uint16(r[trSport:])
	dport := binary.BigEndian.Uint16(r[trDport:])
	switch r[trFamily] {
	case afInet:
		s.Family = model.FamilyIPv4
		s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[trSaddr:trSaddr+4])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[trDaddr:trDaddr+4])), dport)
	case afInet6:
		s.Family = model.FamilyIPv6
		s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[trSaddr:trSaddr+16])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[trDaddr:trDaddr+16])), dport)
	default:
		return fmt.Errorf("TCP iterator: address family %d: %w", r[trFamily], ErrMalformed)
	}
	s.State = model.SockState(r[trState])
	s.Cookie = u64(trCookie)
	if ifindex := u32(trIfindex); ifindex != 0 {
		s.Interface = d.names.name(ifindex)
	}
	kind, flags := r[trKind], r[trFlags]
	valid := uint8(recTCP | recDstRTOMin) // of a struct tcprec
	if flags&recCounters != 0 {
		valid = recTCP | recCounters // of a struct tcpcnt
	}
	if flags&^valid != 0 {
		return fmt.Errorf("TCP iterator: record flags %#x: %w", flags, ErrMalformed)
	}
	switch kind {
	case kindTW, kindReq:
		return nil // no uid, inode, queues, drops or tcp_info
	case kindFull:
	default:
		return fmt.Errorf("TCP iterator: socket kind %d: %w", kind, ErrMalformed)
	}
	s.UID = u32(trUID)
	if flags&recTCP == 0 {
		return nil
	}
	s.Inode = u64(trIno)
	s.RecvQ = u32(trRqueue)
	s.SendQ = u32(trWqueue)
	s.Drops = uint64(u32(trDrops))
	s.HasDrops = true
	if !d.tcpInfo {
		return nil
	}
	if flags&recCounters != 0 {
		if d.cnt != nil && s.State != tcpListen {
			d.counters(r, idx)
		}
		return nil
	}
	t := d.tcp.alloc()
	s.TCP = t
	t.Len = d.infoLen
	t.Congestion = congName(cstring(r[trCong : trCong+16]))
	t.PacingRate = u64(trPacingRate)
	t.MaxPacingRate = u64(trMaxPacingRate)
	t.Reordering = u32(trReordering)
	t.SndCwnd = u32(trSndCwnd)
	t.Unacked = u32(trUnacked)
	t.Sacked = u32(trSacked)
	if s.State == tcpListen {
		return nil // tcp_get_info stops here for a listener
	}
	c := d.conv
	t.CAState = model.CAState(r[trCAState])
	t.Retransmits = r[trRetransmits]
	t.Backoff = r[trBackoff]
	t.DeliveryRateAppLimited = r[trAppLimited] != 0
	t.RTO = c.usecs(u32(trRTO))
	// tcp_delack_max: the socket's delayed-ACK ceiling, or its minimum
	// RTO if lower, which a route may lock (tcp_rto_min).
	rtoMin := u32(trRTOMin)
	if flags&recDstRTOMin != 0 {
		rtoMin = c.fromMsecs(u32(trDstRTOMinMs))
	}
	t.ATO = c.usecs(min(u32(trATO), u32(trDelackMax), rtoMin))
	t.SndMSS = u32(trSndMSS)
	t.RcvMSS = u32(trRcvMSS)
	t.Lost = u32(trLost)
	t.Retrans = u32(trRetrans)
	t.LastDataSent = c.msecs(u32(trDataSentSince))
	t.LastDataRecv = c.msecs(u32(trDataRecvSince))
	t.PMTU = u32(trPMTU)
	t.RTT = u32(trRTT)
	t.RTTVar = u32(trRTTVar)
	t.SndSsthresh = u32(trSndSsthresh)
	t.TotalRetrans = u32(trTotalRetrans)
	t.BytesAcked = u64(trBytesAcked)
	t.BytesReceived = u64(trBytesReceived)
	t.SegsOut = u32(trSegsOut)
	t.SegsIn = u32(trSegsIn)
	t.NotsentBytes = u32(trNotsentBytes)
	t.MinRTT = u32(trMinRTT)
	t.DataSegsIn = u32(trDataSegsIn)
	t.DataSegsOut = u32(trDataSegsOut)
	// tcp_compute_delivery_rate
	if rate, intv := u32(trRateDelivered), u32(trRateInterval); rate != 0 && intv != 0 {
		t.DeliveryRate = uint64(rate) * uint64(t.SndMSS) * 1000000 / uint64(intv)
	}
	t.BusyTime, t.RwndLimited, t.SndbufLimited = d.chrono(r[trChronoStat:tcpRecSize])
	t.BytesSent = u64(trBytesSent)
	t.BytesRetrans = u64(trBytesRetrans)
	return nil
}

// cstring is b up to its first NUL.
func cstring(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}
