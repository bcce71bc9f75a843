package netns

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/sockets"
	"netlens/model"
)

// AllSocketsName is the name the all-namespaces sockets collector reports
// under: the sockets collector's, since it takes its place.
const AllSocketsName = "sockets"

// AllSockets is the sockets collector of the all-namespaces view: on each
// Collect it publishes the sockets of every namespace it can enter in one
// model.SocketsUpdate, each socket tagged with its namespace's inode and
// label, owners found in one pass over /proc for all.
//
// Each namespace has its own sockets.Collector, whose sock_diag socket
// and /proc/net files are opened inside the namespace once and kept (a
// socket or file keeps the namespace it was made in: no setns per
// refresh). A sock_diag dump walks the kernel's socket hash, which all
// namespaces share (262,144 TCP buckets here, 3-5 ms of CPU a dump
// whatever the namespace holds), so dumping 500 namespaces every tick
// would take two cores. A namespace is therefore dumped again only when
// its socket counts or its interfaces' packet counters moved
// (sockets.Collector.Changed, a few microseconds and no hash walk): what
// changes a socket's state, queues or counters sends or receives a packet
// and what makes or closes one moves a count. What moves neither (a
// receive queue drained without a window update, a UDP connect()) is
// caught by a sweep that re-dumps the unchanged namespaces in turn, the
// longest unread first, within the Sweep time. Namespaces are
// rediscovered every Rediscover (namespaces that went have their
// collector closed).
//
// Owners come from one pass over /proc for every namespace's sockets,
// made when a socket appears that the last pass did not see, or every
// OwnersEvery; in between the last pass's owners are reused by inode.
//
// Collect must not be called concurrently with itself (the Runner never
// does); Note and Close are safe to call from any goroutine.
type AllSockets struct {
	// Rediscover is how often the namespaces are listed again (5 s).
	Rediscover time.Duration
	// Budget bounds the time one Collect spends dumping namespaces whose
	// counters moved (250 ms), the longest unread first; those left over
	// are dumped first on the next Collect. A namespace never dumped yet
	// is dumped whatever the budget.
	Budget time.Duration
	// Sweep bounds the time one Collect spends dumping namespaces whose
	// counters did not move (10 ms), the longest unread first.
	Sweep time.Duration
	// OwnersEvery is how long the sockets' owners are reused while no
	// new socket appears (5 s; see fillOwners).
	OwnersEvery time.Duration
	opts        Options
	owners      *sockets.OwnerCache
	noOwners    bool

	found  time.Time
	nss    []Namespace
	per    map[uint64]*nsSockets
	cap    capture
	merged []model.Socket
	due    []*nsSockets // scratch: the namespaces to dump
	swept  []*nsSockets // scratch: the unchanged ones
	// owned are the owners of the last pass over /proc, by socket inode.
	owned    map[uint64][]model.Proc
	ownersAt time.Time

	mu     sync.Mutex
	note   string
	closed bool
}

type nsSockets struct {
	fd    int
	ino   uint64
	col   *sockets.Collector
	label string
	socks []model.Socket // the last dump
	read  bool
	at    time.Time // when the last dump began
	err   error
}

// capture is a Publisher that keeps the last SocketsUpdate.
type capture struct{ socks []model.Socket }

func (c *capture) Publish(u model.Update) {
	if s, ok := u.(model.SocketsUpdate); ok {
		c.socks = s.Sockets
	}
}

// NewAllSockets returns the all-namespaces sockets collector. owners may
// be nil (a cache of its own); noOwners leaves processes out.
func NewAllSockets(opt Options, owners *sockets.OwnerCache, noOwners bool) *AllSockets {
	if owners == nil {
		owners = sockets.NewOwnerCache(opt.ProcRoot)
	}
	return &AllSockets{Rediscover: 5 * time.Second, Budget: 250 * time.Millisecond, Sweep: 10 * time.Millisecond, OwnersEvery: 5 * time.Second,
		opts: opt, owners: owners, noOwners: noOwners, per: map[uint64]*nsSockets{}, owned: map[uint64][]model.Proc{}}
}

// Name implements collectors.Collector.
func (a *AllSockets) Name() string { return AllSocketsName }

// Note implements collectors.Noter: how many namespaces were dumped, and
// those that could not be read.
func (a *AllSockets) Note() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.note
}

// Collect implements collectors.Collector.
func (a *AllSockets) Collect(ctx context.Context, pub collectors.Publisher) error {
	now := time.Now()
	if a.nss == nil || now.Sub(a.found) >= a.Rediscover {
		res, err := Discover(Options{ProcRoot: a.opts.ProcRoot, NamedDirs: a.opts.NamedDirs, State: a.opts.State})
		if err != nil {
			return err
		}
		a.nss, a.found = res.Namespaces, now
		a.prune()
	}
	var failed []string
	var errPerm error
	due, swept := a.due[:0], a.swept[:0]
	for i := range a.nss {
		n := &a.nss[i]
		ps, err := a.open(n)
		switch {
		case err != nil:
			if errors.Is(err, collectors.ErrPermission) {
				errPerm = err
			}
			failed = append(failed, fmt.Sprintf("%s: %v", n.Label(), err))
		case !ps.read, ps.err != nil || ps.col.Changed():
			due = append(due, ps)
		default:
			swept = append(swept, ps)
		}
	}
	a.due, a.swept = due, swept
	// Never dumped first (zero time), then the longest unread.
	oldest := func(x, y *nsSockets) int { return x.at.Compare(y.at) }
	slices.SortStableFunc(due, oldest)
	slices.SortStableFunc(swept, oldest)
	start := time.Now()
	changed, left := 0, 0
	for i, ps := range due {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ps.read && time.Since(start) >= a.Budget {
			left = len(due) - i
			break
		}
		a.dump(ctx, ps)
		changed++
	}
	start = time.Now()
	sweptN := 0
	for _, ps := range swept {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(start) >= a.Sweep {
			break
		}
		a.dump(ctx, ps)
		sweptN++
	}
	a.merged = a.merged[:0]
	for i := range a.nss {
		ps := a.per[a.nss[i].Inode]
		if ps == nil {
			continue
		}
		if ps.err != nil {
			if errors.Is(ps.err, collectors.ErrPermission) {
				errPerm = ps.err
			}
			failed = append(failed, fmt.Sprintf("%s: %v", a.nss[i].Label(), ps.err))
			continue
		}
		a.merged = append(a.merged, ps.socks...)
	}
	note := fmt.Sprintf("%d namespaces: %d changed and dumped, %d unchanged dumped in turn", len(a.nss), changed, sweptN)
	if left > 0 {
		note += fmt.Sprintf(", %d changed left for the next refresh", left)
	}
	if len(failed) > 0 {
		note += fmt.Sprintf("; %d not read (first: %s)", len(failed), failed[0])
	}
	a.mu.Lock()
	a.note = note
	a.mu.Unlock()
	if len(failed) == len(a.nss) && errPerm != nil {
		return errPerm
	}
	out := make([]model.Socket, len(a.merged))
	copy(out, a.merged)
	if !a.noOwners {
		if err := a.fillOwners(ctx, now, out); err != nil {
			return err
		}
	}
	pub.Publish(model.SocketsUpdate{At: now, Sockets: out})
	return nil
}

// fillOwners sets the owners of socks: from one pass over /proc for every
// namespace's sockets (OwnerCache.Fill, which reads every process's stat:
// 100 ms a refresh on a host of 5,000 processes) when a socket is new
// since the last pass or that pass is OwnersEvery old, else from the last
// pass, by inode. Between passes an owner that forked, exited or passed
// the socket on is shown as it was, for at most OwnersEvery.
func (a *AllSockets) fillOwners(ctx context.Context, now time.Time, socks []model.Socket) error {
	known := now.Sub(a.ownersAt) < a.OwnersEvery
	for i := 0; known && i < len(socks); i++ {
		if ino := socks[i].Inode; ino != 0 {
			_, known = a.owned[ino]
		}
	}
	if known {
		for i := range socks {
			if ino := socks[i].Inode; ino != 0 {
				socks[i].Procs = a.owned[ino]
			}
		}
		return nil
	}
	if err := a.owners.Fill(ctx, socks); err != nil {
		return fmt.Errorf("socket owners: %w", err)
	}
	a.ownersAt = now
	clear(a.owned)
	for i := range socks {
		if ino := socks[i].Inode; ino != 0 {
			a.owned[ino] = socks[i].Procs // shared, never modified (model.Socket.Procs)
		}
	}
	return nil
}

// dump reads ps's namespace's sockets again.
func (a *AllSockets) dump(ctx context.Context, ps *nsSockets) {
	a.cap.socks = nil
	ps.at = time.Now()
	ps.err = ps.col.Collect(ctx, &a.cap)
	ps.read = true
	if ps.err == nil {
		ps.socks = append(ps.socks[:0], a.cap.socks...)
		for j := range ps.socks {
			ps.socks[j].NetNS, ps.socks[j].Namespace = ps.ino, ps.label
		}
	}
}

// open returns the collector of n, opening the namespace the first time.
func (a *AllSockets) open(n *Namespace) (*nsSockets, error) {
	if ps := a.per[n.Inode]; ps != nil {
		return ps, nil
	}
	fd := 0 // our own namespace: no need to enter it
	if !n.Current {
		if n.EnterPath == "" {
			return nil, errors.New("no file to enter it by")
		}
		var err error
		if fd, err = unix.Open(n.EnterPath, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return nil, err
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Ino != n.Inode { // reused PID: another namespace now
			unix.Close(fd)
			return nil, fmt.Errorf("%s is no longer net:[%d]", n.EnterPath, n.Inode)
		}
	}
	ps := &nsSockets{fd: fd, ino: n.Inode, label: n.Label(), col: sockets.New(sockets.Options{ProcRoot: a.opts.ProcRoot, NetNS: fd, NoOwners: true})}
	a.per[n.Inode] = ps
	return ps, nil
}

// prune closes the collectors of namespaces no longer listed.
func (a *AllSockets) prune() {
	keep := make(map[uint64]bool, len(a.nss))
	for _, n := range a.nss {
		keep[n.Inode] = true
	}
	for ino, ps := range a.per {
		if !keep[ino] {
			ps.close()
			delete(a.per, ino)
		}
	}
}

func (ps *nsSockets) close() {
	ps.col.Close()
	if ps.fd > 0 {
		unix.Close(ps.fd)
	}
}

// Close implements collectors.Closer: every namespace's collector and
// file is closed.
func (a *AllSockets) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	for ino, ps := range a.per {
		ps.close()
		delete(a.per, ino)
	}
	return nil
}
