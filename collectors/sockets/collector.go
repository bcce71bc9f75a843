package sockets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// Sources a Collector reads sockets from.
const (
	SourceSockDiag = "sock_diag"
	SourceProcNet  = "/proc/net"
)

// Sources of TCP sockets when sock_diag is the source (Options.TCPSource).
const (
	// TCPSourceIter is the BPF TCP iterator (bpf/tcpiter.c, tcpiter.go).
	TCPSourceIter = "iter/tcp"
	// TCPSourceSockDiag is sock_diag's TCP dumps.
	TCPSourceSockDiag = "sock_diag"
)

// TCPSourceEnv names the environment variable that sets
// Options.TCPSource when it is empty: NETLENS_TCP_SOURCE=sock_diag makes
// a whole netlens process read TCP from sock_diag (benchmarks compare the
// two paths so).
const TCPSourceEnv = "NETLENS_TCP_SOURCE"

// Options configure a Collector. The zero value collects the caller's
// network namespace from sock_diag, falling back to /proc/net, with owners.
type Options struct {
	// ProcRoot is where procfs is mounted; "/proc" when empty.
	ProcRoot string
	// NetNS is an open file descriptor of the network namespace to collect
	// (from /run/netns/NAME or /proc/PID/ns/net); 0 for the caller's.
	// Entering another namespace needs CAP_SYS_ADMIN. The Collector does
	// not close it.
	NetNS int
	// NoOwners turns off the owning-process lookup.
	NoOwners bool
	// Owners, when set, is the owner cache to use (and keep warm) instead
	// of a new one: the TUI keeps one across namespace switches, since
	// /proc/*/fd is the whole host's whatever the namespace.
	Owners *OwnerCache
	// Source forces a source (SourceSockDiag or SourceProcNet); empty
	// means sock_diag when the kernel and privileges allow it, else
	// /proc/net.
	Source string
	// Now returns the time stamped on updates; time.Now when nil.
	Now func() time.Time
	// NoTCPInfo leaves INET_DIAG_INFO and INET_DIAG_CONG out of the TCP
	// dumps: no tcp_info and no rates, for a cheaper dump where there
	// are very many sockets (docs/performance.md, "tcp_info: the cost of
	// rates").
	NoTCPInfo bool
	// TCPCountersOnly reads, of a TCP socket's tcp_info, only what its
	// rates need (the byte and retransmit counters and the busy and
	// limited times) when TCP comes from the TCP iterator: its sockets
	// have Rate but no TCP. The walk of a cold table costs about a
	// quarter less, and the tcp_info of 100,000 sockets is 20 MB a
	// collection less (docs/performance.md, "Counters-only reads"). For
	// the TUI, which shows a socket's tcp_info only in its details pane
	// and asks LookupTCPInfo for it. From sock_diag, which has no such
	// request, sockets keep their whole tcp_info.
	TCPCountersOnly bool
	// TCPSource chooses how TCP sockets are read when sock_diag is the
	// source: empty for the BPF TCP iterator when it can be loaded (root
	// or CAP_BPF+CAP_PERFMON, BTF, Linux 5.9+), else sock_diag, with the
	// reason in Stats.TCPFallbackReason and Note; TCPSourceIter to
	// require the iterator; TCPSourceSockDiag for sock_diag's dumps. When
	// empty, $NETLENS_TCP_SOURCE (TCPSourceEnv) is used. UDP and raw
	// sockets always come from sock_diag.
	TCPSource string
	// Once is for a collector that collects once (netlens snapshot): it
	// keeps no rate tracker, since a rate needs a second collection (at
	// 100,000 sockets, learning them took a tenth of the snapshot's CPU).
	Once bool
}

// Collector publishes the socket table as model.SocketsUpdate. It
// implements collectors.Collector, collectors.Sourcer and
// collectors.Closer. Collect must not be called concurrently with itself
// (the Runner never does); Source, Stats, Note and Close are safe to call
// from any goroutine.
type Collector struct {
	opts Options

	diag *diagConn
	dial func(netns int) (*diagConn, error) // dialDiag; tests replace it
	// openIter opens the TCP iterator (newTCPIter); nil when TCP comes
	// from sock_diag. iter is the open one; iterDown why it is not used.
	openIter func() (*tcpIter, error)
	iter     *tcpIter
	iterDown error
	// diagTCP counts collections that read TCP from sock_diag while the
	// iterator was not yet tried (see tcpIterator).
	diagTCP int
	owners  *owners
	last    int // sockets in the previous collection, to size the next
	// namesAt is when the interface name cache was last emptied.
	namesAt time.Time
	// rates turns tcp_info counters into rates; clock is its time base.
	// cnt holds the counters of a collection's sockets read without
	// tcp_info (Options.TCPCountersOnly), by index.
	rates rateTracker
	cnt   []tcpCounters
	clock time.Time
	// gens are the published collections to fill again once free.
	gens generations
	// probe reads the namespace's sockstat and interface counters;
	// dumpSum is their fingerprint when the last dump began.
	probe      *probe
	probeTried bool
	dumpSum    uint64
	dumpSumOK  bool
	// quietTCP is, for tcp and tcp6, the fingerprint of the last
	// collection that found the table empty (ok false when it found a
	// socket, or had no fingerprint): see tcpQuiet.
	quietTCP [2]struct {
		sum uint64
		ok  bool
	}

	mu       sync.Mutex
	source   string
	stats    Stats
	diagDown error // why sock_diag is not used, once it failed for good
	closed   bool
}

// Stats describe the last collection.
type Stats struct {
	Sockets int
	// Source is the source the last collection used.
	Source string
	// FallbackReason says why sock_diag was not used (empty if it was).
	FallbackReason string
	// TCPSource is where TCP sockets came from: TCPSourceIter or
	// TCPSourceSockDiag (empty with /proc/net).
	TCPSource string
	// TCPFallbackReason says why the TCP iterator was not used when it
	// was not asked to be (Options.TCPSource empty).
	TCPFallbackReason string
	// Interrupted counts sock_diag dumps kept although the kernel flagged
	// them NLM_F_DUMP_INTR after every retry.
	Interrupted uint64
	// ProcNetTables lists the /proc/net tables read because sock_diag has
	// no handler for them (e.g. "raw", "raw6" without CONFIG_INET_RAW_DIAG).
	ProcNetTables []string
	// SkippedProtos lists tables neither source has (e.g. "udplite").
	SkippedProtos []string
	// Empty lists the tables not dumped because /proc/net/sockstat says
	// they hold no socket.
	Empty         []string
	Owners        OwnerStats
	DumpDuration  time.Duration
	OwnerDuration time.Duration
}

// Name is the name the collector reports under.
const Name = model.CollectorSockets

// New returns a Collector with opts. It opens nothing until the first
// Collect.
func New(opts Options) *Collector {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TCPSource == "" {
		opts.TCPSource = os.Getenv(TCPSourceEnv)
	}
	c := &Collector{opts: opts, dial: dialDiag, gens: generations{wait: genWait}}
	if opts.TCPSource != TCPSourceSockDiag {
		counters := opts.TCPCountersOnly && !opts.NoTCPInfo
		c.openIter = func() (*tcpIter, error) { return newTCPIter(counters) }
	}
	return c
}

// Name returns "sockets".
func (c *Collector) Name() string { return Name }

// Source returns the source of the last collection: "sock_diag" or
// "/proc/net" ("" before the first). When TCP came from the TCP iterator,
// or sock_diag lacks a handler for some tables and they were read from
// /proc/net, it says so: "sock_diag (tcp from iter/tcp; raw, raw6 from
// /proc/net)".
func (c *Collector) Source() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.source
}

// namesTTL bounds how long an interface index keeps its cached name.
const namesTTL = 30 * time.Second

// Note returns what a user should know about the last collection beyond
// its source, or "": the owners it could not see and why, tables neither
// source had, dumps kept although the kernel flagged them inconsistent,
// why TCP came from sock_diag rather than the TCP iterator.
// "owners of 41 of 97 processes unreadable (needs root or CAP_SYS_PTRACE)"
func (c *Collector) Note() string {
	c.mu.Lock()
	st := c.stats
	c.mu.Unlock()
	var notes []string
	if n := st.Owners.Unreadable; n > 0 {
		notes = append(notes, fmt.Sprintf("owners of %d of %d processes unreadable (needs root or CAP_SYS_PTRACE)", n, st.Owners.Procs))
	}
	if len(st.SkippedProtos) > 0 {
		notes = append(notes, "no "+strings.Join(st.SkippedProtos, ", ")+" in this kernel")
	}
	if st.Interrupted > 0 {
		notes = append(notes, fmt.Sprintf("%d dumps inconsistent after %d retries", st.Interrupted, maxDumpRetries))
	}
	if st.TCPFallbackReason != "" {
		notes = append(notes, "TCP from sock_diag: "+st.TCPFallbackReason)
	}
	return strings.Join(notes, "; ")
}

// Stats returns what the last collection did.
func (c *Collector) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Close releases the sock_diag socket; a Collect still running (one the
// Runner gave up waiting for) is unblocked and fails. Later Collects fail.
func (c *Collector) Close() error {
	c.mu.Lock()
	d, p, it := c.diag, c.probe, c.iter
	c.diag, c.iter, c.closed = nil, nil, true
	c.mu.Unlock()
	if p != nil {
		p.close()
	}
	if it != nil {
		it.close()
	}
	if d != nil {
		return d.Close()
	}
	return nil
}

// Collect reads the socket table, resolves owners unless turned off, and
// publishes a model.SocketsUpdate. The list it publishes, and the tcp_info
// and rates its sockets point to, are filled again by a later Collect
// once no reader holds them (model.SocketsGen; readers that take the
// Store's snapshot with Hold release it).
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	g := c.gens.take(ctx, c.last)
	var early func([]model.Socket)
	if !c.opts.NoOwners && c.owners == nil {
		// The first run reads every process's descriptors, which takes
		// seconds on a host with 100,000 sockets: publish the sockets
		// first (a copy: the owners are filled in place), so that the
		// screen has its rows at once, then again with their owners.
		early = func(socks []model.Socket) {
			pub.Publish(model.SocketsUpdate{At: c.opts.Now(), Sockets: slices.Clone(socks), Gen: g.life.Ref()})
		}
	}
	socks, _, err := c.collect(ctx, early, g)
	if err == nil {
		pub.Publish(model.SocketsUpdate{At: c.opts.Now(), Sockets: socks, Gen: g.life.Ref()})
	}
	c.gens.put(g)
	return err
}

// Sockets reads the socket table and its owners once, without publishing.
// The list is the caller's: it is never filled again. Like Collect, it
// must not be called concurrently with itself or Collect.
func (c *Collector) Sockets(ctx context.Context) ([]model.Socket, Stats, error) {
	return c.collect(ctx, nil, newGeneration(c.last))
}

// collect is Sockets into g that, when early is set, calls it with the
// sockets before their owners are looked up.
func (c *Collector) collect(ctx context.Context, early func([]model.Socket), g *generation) ([]model.Socket, Stats, error) {
	socks, st, err := c.sockets(ctx, early, g)
	c.mu.Lock()
	if err == nil {
		c.stats = st
	}
	if st.Source != "" {
		c.source = st.Source // what was tried, also when it failed
	}
	c.mu.Unlock()
	return socks, st, err
}

func (c *Collector) sockets(ctx context.Context, early func([]model.Socket), g *generation) ([]model.Socket, Stats, error) {
	var st Stats
	t0 := time.Now()
	counts := c.sockstat()
	hint := c.last
	if hint == 0 {
		hint = counts.hint()
	}
	c.cnt = c.cnt[:0]
	// Sized once for the table when counters are read, or will be (the
	// iterator opens at the second collection): grown socket by socket,
	// it would double past the table and leave the copies as garbage.
	c.mu.Lock()
	counters := c.opts.TCPCountersOnly && !c.opts.NoTCPInfo && c.openIter != nil && c.iterDown == nil
	c.mu.Unlock()
	if counters && cap(c.cnt) < hint {
		c.cnt = make([]tcpCounters, 0, hint+hint/32)
	}
	socks := g.socks[:0] // a generation filled again keeps its list's memory
	if cap(socks) < hint {
		socks = make([]model.Socket, 0, hint+hint/32+64) // 3% to grow: 0.7 MB at 100k
	}
	if g.tcp.hint == 0 {
		g.tcp.hint, g.rates.hint = hint, hint
	}
	var err error
	switch c.opts.Source {
	case SourceProcNet:
		socks, err = c.fromProcNet(socks)
		st.Source = SourceProcNet
	case SourceSockDiag:
		socks, err = c.fromDiag(ctx, socks, counts, &st, &g.tcp)
		st.Source = diagSource(st)
	case "":
		c.mu.Lock()
		down := c.diagDown
		c.mu.Unlock()
		if down == nil {
			socks, err = c.fromDiag(ctx, socks, counts, &st, &g.tcp)
			st.Source = diagSource(st)
			// The kernel and privileges do not change under a running
			// collector: once sock_diag is missing or denied, stay on
			// /proc/net.
			if isCapability(err) {
				c.mu.Lock()
				c.diagDown, down = err, err
				c.mu.Unlock()
			}
		}
		if down != nil {
			st.TCPSource, st.TCPFallbackReason = "", ""
			st.FallbackReason = down.Error()
			socks, err = c.fromProcNet(socks[:0])
			st.Source = SourceProcNet
		}
	default:
		return nil, st, fmt.Errorf("unknown socket source %q", c.opts.Source)
	}
	g.socks = socks // its memory, to fill again, also when the collection failed
	if err != nil {
		return nil, st, err
	}
	st.DumpDuration = time.Since(t0)
	if early != nil && !c.opts.NoOwners {
		// Before the rate tracker too: on the first run it has no rate
		// to give (every socket is seen for the first time) and takes
		// 0.1-0.2 s at 100,000 sockets to learn them.
		early(socks)
	}
	if c.clock.IsZero() {
		c.clock = t0
	}
	if !c.opts.Once {
		c.rates.rates = &g.rates
		c.rates.update(socks, c.cnt, time.Since(c.clock))
		c.rates.rates = nil
	}
	c.last = len(socks)
	st.Sockets = len(socks)
	if !c.opts.NoOwners {
		t1 := time.Now()
		if c.owners == nil {
			if c.opts.Owners != nil {
				c.owners = c.opts.Owners.o
			} else {
				c.owners = newOwners(c.opts.ProcRoot)
			}
		}
		if c.opts.Owners != nil {
			c.opts.Owners.mu.Lock()
		}
		err := c.owners.refresh(ctx, socks)
		st.Owners = c.owners.stats
		if c.opts.Owners != nil {
			c.opts.Owners.mu.Unlock()
		}
		if err != nil {
			return nil, st, fmt.Errorf("socket owners: %w", err)
		}
		st.OwnerDuration = time.Since(t1)
	}
	return socks, st, nil
}

// diagSource names the source of a sock_diag collection that read TCP
// from the TCP iterator, or tables from /proc/net where sock_diag has no
// handler: "sock_diag (tcp from iter/tcp; raw, raw6 from /proc/net)".
func diagSource(st Stats) string {
	var parts []string
	if st.TCPSource == TCPSourceIter {
		parts = append(parts, "tcp from "+TCPSourceIter)
	}
	if len(st.ProcNetTables) > 0 {
		parts = append(parts, strings.Join(st.ProcNetTables, ", ")+" from /proc/net")
	}
	if len(parts) == 0 {
		return SourceSockDiag
	}
	return SourceSockDiag + " (" + strings.Join(parts, "; ") + ")"
}

func isCapability(err error) bool {
	s := collectors.Classify(err)
	return s == model.StateNotSupported || s == model.StateNoPermission
}

// dumps are the protocol/family pairs dumped, in order.
var dumps = []struct {
	proto  ipProto
	family uint8
}{
	{protoTCP, afInet}, {protoTCP, afInet6},
	{protoUDP, afInet}, {protoUDP, afInet6},
	{protoUDPLite, afInet}, {protoUDPLite, afInet6},
	{protoRAW, afInet}, {protoRAW, afInet6},
}

// sockstat reads the namespace's socket counts (see sockCounts) and
// keeps the probe's fingerprint as that of this dump; on error every
// table is unknown.
func (c *Collector) sockstat() sockCounts {
	c.dumpSumOK = false
	p := c.openProbe()
	if p == nil {
		return sockCounts{}
	}
	sum, err := p.read()
	if err != nil {
		return sockCounts{}
	}
	c.dumpSum, c.dumpSumOK = sum, true
	return p.counts()
}

// tcpQuiet reports whether TCP table t (0: tcp, 1: tcp6) need not be
// read: sockstat counts no socket in it and no TIME-WAIT socket, the last
// collection that read it found it empty, and nothing moved since that
// collection began (the probe's fingerprint: sockstat and the
// interfaces' packet counters). Sockstat alone is not enough: a request
// (SYN-RECV) socket is in the table without being counted, and outlives
// its listener until its SYN-ACK timer fires (up to two minutes); it
// needs a packet to exist, which moves the fingerprint.
func (c *Collector) tcpQuiet(counts sockCounts, t int) bool {
	q := c.quietTCP[t]
	return counts.empty([...]string{"tcp", "tcp6"}[t]) && q.ok && c.dumpSumOK && q.sum == c.dumpSum
}

// noteTCP records that this collection read TCP table t (0: tcp, 1: tcp6)
// and found n sockets in it.
func (c *Collector) noteTCP(t, n int) {
	c.quietTCP[t].sum, c.quietTCP[t].ok = c.dumpSum, c.dumpSumOK && n == 0
}

// resum takes the probe's fingerprint again as the last dump's.
func (c *Collector) resum() {
	if !c.dumpSumOK {
		return
	}
	sum, err := c.probe.read()
	c.dumpSum, c.dumpSumOK = sum, err == nil
}

// openProbe returns the namespace's probe, opened (inside the namespace)
// on first use; nil if it cannot be.
func (c *Collector) openProbe() *probe {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.probe != nil || c.probeTried || c.closed {
		return c.probe
	}
	c.probeTried = true
	if c.opts.NetNS == 0 {
		c.probe = openProbe(filepath.Join(c.opts.ProcRoot, "net"))
	} else if inNetNS(c.opts.NetNS, func() { c.probe = openProbe(filepath.Join(c.opts.ProcRoot, "thread-self", "net")) }) != nil {
		c.probe = nil
	}
	return c.probe
}

// Changed reports whether the namespace may hold other sockets, or
// sockets in other states, than at the last collection: whether its
// socket counts (/proc/net/sockstat{,6}, the fields that are the
// namespace's) or its interfaces' packet counters (/proc/net/dev) moved
// since that collection began. It is true when it cannot tell (no
// collection yet, the files unreadable). What it misses: a receive queue
// drained without a packet, connect() on a UDP socket; a caller that
// skips unchanged namespaces should still collect them now and then.
// Reading the files needs no setns. Must not be called concurrently with
// Collect.
func (c *Collector) Changed() bool {
	if !c.dumpSumOK {
		return true
	}
	p := c.openProbe()
	if p == nil {
		return true
	}
	sum, err := p.read()
	return err != nil || sum != c.dumpSum
}

// fromDiag dumps every table, except those counts says are empty: the
// kernel walks a whole hash table for a dump (TCP's established table is
// shared by every namespace, 262,144 buckets here), whether or not it
// finds anything. TCP over IPv4 is dumped from sock_diag at least once
// on each netlink socket, empty or not: its answer tells whether
// sock_diag works at all. The TCP iterator skips an empty namespace too.
func (c *Collector) fromDiag(ctx context.Context, out []model.Socket, counts sockCounts, st *Stats, tcp *slab[model.TCPInfo]) ([]model.Socket, error) {
	c.mu.Lock()
	dc, closed := c.diag, c.closed
	c.mu.Unlock()
	if closed {
		return out, errors.New("sockets collector closed")
	}
	if dc == nil {
		d, err := c.dial(c.opts.NetNS)
		if err != nil {
			return out, err
		}
		if c.opts.NoTCPInfo {
			d.ext = memInfoOnly
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			_ = d.Close()
			return out, errors.New("sockets collector closed")
		}
		c.diag, dc = d, d
		c.mu.Unlock()
		// The new socket is one more of the namespace's sockets
		// ("sockets: used"): take the fingerprint again with it.
		c.resum()
	}
	dc.tcp = tcp
	defer func() { dc.tcp = nil }()
	// Forget interface names now and then: indexes get reused.
	if now := time.Now(); now.Sub(c.namesAt) > namesTTL {
		dc.names.reset()
		c.namesAt = now
	}
	it, err := c.tcpIterator()
	if err != nil {
		return out, err
	}
	if c.opts.TCPCountersOnly && !c.opts.NoTCPInfo {
		// Counters only, the iterator not tried yet (the first
		// collection): sock_diag's tcp_info would be read to be thrown
		// away (20 MB at 100,000 sockets, and 1.6 times the dump); the
		// rates start from the iterator's first counters. Once the
		// iterator is down, sock_diag gives the rates their tcp_info.
		c.mu.Lock()
		first := c.iter == nil && c.iterDown == nil && c.openIter != nil
		c.mu.Unlock()
		if first {
			dc.ext = memInfoOnly
		} else {
			dc.ext = nil
		}
	}
	st.TCPSource = TCPSourceSockDiag
	for _, d := range dumps {
		if d.proto == protoTCP && it != nil {
			if d.family == afInet6 {
				continue // the iterator gave both families
			}
			// Both TCP tables quiet (tcpQuiet): the iterator would walk
			// the shared hash tables (262,144 buckets here, about 3 ms
			// of kernel time) to find nothing.
			if c.tcpQuiet(counts, 0) && c.tcpQuiet(counts, 1) {
				st.Empty = append(st.Empty, "tcp", "tcp6")
				st.TCPSource = TCPSourceIter
				continue
			}
			before := len(out)
			var ierr error
			if out, ierr = it.read(ctx, c.opts.NetNS, dc.names, tcp, &c.cnt, !c.opts.NoTCPInfo, out); ierr == nil {
				st.TCPSource = TCPSourceIter
				v6 := 0
				for i := range out[before:] {
					if out[before+i].Family == model.FamilyIPv6 {
						v6++
					}
				}
				c.noteTCP(0, len(out)-before-v6)
				c.noteTCP(1, v6)
				continue
			}
			if ctx.Err() != nil {
				return out, ierr
			}
			if c.opts.TCPSource == TCPSourceIter {
				return out, fmt.Errorf("%v", ierr)
			}
			// An iterator that loaded but cannot be read is not tried
			// again: this and later collections dump TCP from sock_diag.
			c.dropIter(ierr)
			it = nil
		}
		// A TCP table is skipped only when quiet, and TCP over IPv4 not
		// before a dump of it worked on this netlink socket.
		name, tcpTable := procNetName(d.proto, d.family), -1
		if d.proto == protoTCP {
			tcpTable = 0
			if d.family == afInet6 {
				tcpTable = 1
			}
		}
		if tcpTable < 0 && counts.empty(name) || tcpTable >= 0 && (tcpTable == 1 || dc.tcpOK) && c.tcpQuiet(counts, tcpTable) {
			st.Empty = append(st.Empty, name)
			continue
		}
		before := len(out)
		var err error
		out, err = dc.dump(ctx, d.family, d.proto, out)
		if err == nil {
			if tcpTable >= 0 {
				c.noteTCP(tcpTable, len(out)-before)
			}
			if tcpTable == 0 {
				dc.tcpOK = true
			}
			continue
		}
		// A kernel without UDP-Lite, raw_diag or IPv6 has no handler for
		// the pair: skip it, as ss does. raw_diag is often not built
		// (CONFIG_INET_RAW_DIAG): read /proc/net/raw{,6} instead, as ss
		// does.
		optional := d.proto != protoTCP || d.family == afInet6
		if optional && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP)) {
			name := procNetName(d.proto, d.family)
			if d.proto == protoRAW {
				var perr error
				out, perr = c.readProcNet([]procNetFile{{name, model.ProtoRAW}}, out)
				if perr == nil {
					st.ProcNetTables = append(st.ProcNetTables, name)
					continue
				}
			}
			st.SkippedProtos = append(st.SkippedProtos, name)
			continue
		}
		// The socket may hold the rest of a dump: start afresh next time.
		c.mu.Lock()
		if c.diag == dc {
			c.diag = nil
		}
		c.mu.Unlock()
		_ = dc.Close()
		if d.proto == protoTCP && d.family == afInet && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP)) {
			return out, fmt.Errorf("sock_diag has no inet_diag (module inet_diag/tcp_diag absent?): %w: %w", collectors.ErrNotSupported, err)
		}
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return out, fmt.Errorf("sock_diag denied: %w: %w", collectors.ErrPermission, err)
		}
		return out, err
	}
	st.Interrupted = dc.interrupted
	c.mu.Lock()
	if c.iterDown != nil && c.opts.TCPSource == "" {
		st.TCPFallbackReason = c.iterDown.Error()
	}
	c.mu.Unlock()
	return out, nil
}

// tcpIterator returns the TCP iterator to read TCP sockets with, opening
// it on first use; nil when TCP comes from sock_diag (asked for, or the
// iterator unavailable: iterDown says why). With Options.TCPSource
// TCPSourceIter, an unavailable iterator is an error.
//
// Unless asked for, the iterator is first tried at a Collector's second
// collection: loading it (parsing the kernel's BTF, the verifier) costs
// about 50 ms of CPU once, more than it saves on one collection below
// about 100,000 sockets, so a one-shot command (snapshot, top's first
// line) does not pay for it and the TUI's first frame does not wait for
// it.
func (c *Collector) tcpIterator() (*tcpIter, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.opts.TCPSource {
	case "", TCPSourceIter, TCPSourceSockDiag:
	default:
		return nil, fmt.Errorf("unknown TCP socket source %q", c.opts.TCPSource)
	}
	if c.iter != nil || c.openIter == nil || c.closed {
		return c.iter, nil
	}
	if c.opts.TCPSource == "" && c.diagTCP == 0 {
		c.diagTCP++
		return nil, nil
	}
	if c.iterDown == nil {
		it, err := c.openIter()
		if err == nil {
			c.iter = it
			return it, nil
		}
		c.iterDown = fmt.Errorf("%s unavailable: %w", TCPSourceIter, err)
	}
	if c.opts.TCPSource == TCPSourceIter {
		// Not wrapped: the iterator's EPERM is no reason to leave
		// sock_diag for /proc/net.
		return nil, fmt.Errorf("%v", c.iterDown)
	}
	return nil, nil
}

// dropIter gives up the TCP iterator for good after err.
func (c *Collector) dropIter(err error) {
	c.mu.Lock()
	it := c.iter
	c.iter, c.iterDown = nil, fmt.Errorf("%s failed: %w", TCPSourceIter, err)
	c.mu.Unlock()
	if it != nil {
		it.close()
	}
}

func (c *Collector) fromProcNet(out []model.Socket) ([]model.Socket, error) {
	return c.readProcNet(procNetFiles, out)
}

// procNetName is the /proc/net table of proto and family: "tcp", "raw6".
func procNetName(p ipProto, family uint8) string {
	n := p.model().String()
	if family == afInet6 {
		n += "6"
	}
	return n
}

// readProcNet reads tables of the collector's namespace.
func (c *Collector) readProcNet(files []procNetFile, out []model.Socket) ([]model.Socket, error) {
	if c.opts.NetNS == 0 {
		out, err := netFiles(filepath.Join(c.opts.ProcRoot, "net"), files, out)
		return out, classifyProc(err)
	}
	var err error
	nerr := inNetNS(c.opts.NetNS, func() {
		out, err = netFiles(filepath.Join(c.opts.ProcRoot, "thread-self", "net"), files, out)
	})
	if nerr != nil {
		return out, nerr
	}
	return out, classifyProc(err)
}

func classifyProc(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %w", collectors.ErrNotSupported, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: %w", collectors.ErrPermission, err)
	}
	return err
}

// inNetNS runs fn in the network namespace ns (collectors.InNetNS).
func inNetNS(ns int, fn func()) error {
	if err := collectors.InNetNS(ns, fn); err != nil {
		return classifyDial("network namespace", err)
	}
	return nil
}

var _ interface {
	collectors.Collector
	collectors.Sourcer
	collectors.Closer
} = (*Collector)(nil)
