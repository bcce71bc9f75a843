package netns

import (
	"context"
	"errors"
	"fmt"
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
// Collect it dumps the sockets of every namespace it can enter (one
// sockets.Collector per namespace, each with its own sock_diag socket
// opened inside it; owners found in one pass for all) and publishes them in
// one model.SocketsUpdate, each socket tagged with its namespace's inode
// and label. Namespaces are rediscovered every Rediscover (namespaces
// that went have their collector closed).
//
// Collect must not be called concurrently with itself (the Runner never
// does); Note and Close are safe to call from any goroutine.
type AllSockets struct {
	// Rediscover is how often the namespaces are listed again (5 s).
	Rediscover time.Duration
	// Budget bounds the time one Collect spends dumping namespaces (20
	// ms): each Collect dumps namespaces in turn, from where the last one
	// stopped, until the budget is spent, and publishes every namespace's
	// latest sockets. A sock_diag dump walks the kernel's socket hash,
	// which all namespaces share, so its cost grows with the host's
	// sockets, not the namespace's; without a budget 500 namespaces would
	// cost 500 walks a tick. A namespace never dumped yet is dumped
	// whatever the budget.
	Budget   time.Duration
	opts     Options
	owners   *sockets.OwnerCache
	noOwners bool

	found  time.Time
	nss    []Namespace
	next   int // the namespace the next Collect dumps first
	per    map[uint64]*nsSockets
	cap    capture
	merged []model.Socket

	mu     sync.Mutex
	note   string
	dumped int // namespaces dumped by the last Collect
	closed bool
}

type nsSockets struct {
	fd    int
	col   *sockets.Collector
	label string
	socks []model.Socket // the last dump
	read  bool
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
	return &AllSockets{Rediscover: 5 * time.Second, Budget: 20 * time.Millisecond, opts: opt, owners: owners, noOwners: noOwners, per: map[uint64]*nsSockets{}}
}

// Name implements collectors.Collector.
func (a *AllSockets) Name() string { return AllSocketsName }

// Note implements collectors.Noter: the namespaces that could not be read.
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
	a.merged = a.merged[:0]
	var failed []string
	var errPerm error
	start := time.Now()
	dumped, first := 0, a.next
	for k := range a.nss {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		i := (first + k) % len(a.nss)
		n := &a.nss[i]
		ps, err := a.open(n)
		if err != nil {
			if errors.Is(err, collectors.ErrPermission) {
				errPerm = err
			}
			failed = append(failed, fmt.Sprintf("%s: %v", n.Label(), err))
			continue
		}
		if ps.read && time.Since(start) >= a.Budget {
			continue // dumped again on a later tick
		}
		a.next = i + 1
		a.cap.socks = nil
		ps.err = ps.col.Collect(ctx, &a.cap)
		ps.read, dumped = true, dumped+1
		if ps.err == nil {
			ps.socks = append(ps.socks[:0], a.cap.socks...)
			for j := range ps.socks {
				ps.socks[j].NetNS, ps.socks[j].Namespace = n.Inode, ps.label
			}
		}
	}
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
	a.mu.Lock()
	a.dumped = dumped
	a.mu.Unlock()
	a.mu.Lock()
	a.note = fmt.Sprintf("%d namespaces, %d dumped this refresh", len(a.nss), dumped)
	if len(failed) > 0 {
		a.note += fmt.Sprintf("; %d not read (first: %s)", len(failed), failed[0])
	}
	a.mu.Unlock()
	if len(failed) == len(a.nss) && errPerm != nil {
		return errPerm
	}
	out := make([]model.Socket, len(a.merged))
	copy(out, a.merged)
	if !a.noOwners {
		// One pass over /proc/*/fd for every namespace's sockets.
		if err := a.owners.Fill(ctx, out); err != nil {
			return fmt.Errorf("socket owners: %w", err)
		}
	}
	pub.Publish(model.SocketsUpdate{At: now, Sockets: out})
	return nil
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
	label := n.Label()
	if n.Current {
		label = "host"
	}
	ps := &nsSockets{fd: fd, label: label, col: sockets.New(sockets.Options{ProcRoot: a.opts.ProcRoot, NetNS: fd, NoOwners: true})}
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
