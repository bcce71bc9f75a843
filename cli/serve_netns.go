package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/all"
	"netlens/collectors/netns"
	"netlens/exporter"
	"netlens/model"
)

// netnsAll is the --netns value of `serve` that exports every namespace.
const netnsAll = "all"

// defaultMaxNetNS is serve's --max-netns.
const defaultMaxNetNS = 64

// nsCollectors are the collectors run inside each namespace other than
// netlens's own for `serve --netns all`: the drop funnel's counters
// (/proc/net and rtnetlink) and conntrack. Sockets come from the
// all-namespaces sockets collector of the host's Runner, which dumps
// every namespace within a budget; sysctls, rules, capture and drop
// reasons are netlens's own namespace's.
var nsCollectors = []string{all.Counters, all.Qdisc, all.Conntrack}

// nsFleet is the exporter.NamespaceSource of `serve --netns all`: it
// rediscovers the host's namespaces every interval and keeps, for each
// one it exports (at most max, netlens's own first, then the others in
// the order they appeared), a Runner of nsCollectors inside it publishing
// into a Store of its own. A namespace that disappears has its Runner
// stopped and is gone from the next scrape; one that appears is exported
// from its Runner's first run on. Methods are safe for concurrent use.
type nsFleet struct {
	o     options
	host  *model.Store // netlens's own namespace, with every namespace's sockets
	max   int
	every time.Duration
	own   uint64
	log   io.Writer

	mu         sync.Mutex
	members    []*nsMember
	unexported map[string]int

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// errGone is a namespace that went between the listing and its opening.
var errGone = errors.New("namespace gone")

// nsMember is one exported namespace.
type nsMember struct {
	inode            uint64
	netns, container string
	store            *model.Store // nil for netlens's own: the host's
	stop             func()
}

func newNSFleet(o options, host *model.Store, maxNS int, log io.Writer) (*nsFleet, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return nil, fmt.Errorf("--netns all: own namespace: %w", err)
	}
	return &nsFleet{o: o, host: host, max: maxNS, every: max(2*time.Second, o.refresh), own: st.Ino, log: log, unexported: map[string]int{}}, nil
}

// run discovers the namespaces now, then every f.every until ctx is
// done or stop is called; stop ends it and stops every Runner.
func (f *nsFleet) run(ctx context.Context) {
	ctx, f.cancel = context.WithCancel(ctx)
	f.refresh(ctx)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		t := time.NewTicker(f.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f.refresh(ctx)
			}
		}
	}()
}

func (f *nsFleet) stop() {
	f.cancel()
	f.wg.Wait()
	f.mu.Lock()
	ms := f.members
	f.members = nil
	f.mu.Unlock()
	stopMembers(ms)
}

func stopMembers(ms []*nsMember) {
	var wg sync.WaitGroup
	for _, m := range ms {
		if m.stop != nil {
			wg.Go(m.stop)
		}
	}
	wg.Wait()
}

// refresh lists the namespaces, stops the Runners of those gone and
// starts those of new ones, up to the cap.
func (f *nsFleet) refresh(ctx context.Context) {
	res, err := netns.Discover(netns.Options{})
	if err != nil {
		fmt.Fprintf(f.log, "netlens serve: --netns all: %v\n", err)
		return
	}
	f.mu.Lock()
	present := make(map[uint64]bool, len(res.Namespaces))
	for _, n := range res.Namespaces {
		present[n.Inode] = true
	}
	present[f.own] = true
	var gone []*nsMember
	kept := f.members[:0:0]
	for _, m := range f.members {
		if present[m.inode] {
			kept = append(kept, m)
		} else {
			gone = append(gone, m)
		}
	}
	f.members = kept
	f.mu.Unlock()
	stopMembers(gone)

	unexported := map[string]int{}
	for i := range res.Namespaces {
		n := &res.Namespaces[i]
		if f.member(n.Inode) {
			continue
		}
		switch {
		case n.Inode == f.own:
			f.add(f.newMember(n, nil, nil))
		case !n.Enterable:
			unexported[exporter.UnexportedNotEnterable]++
		case f.size() >= f.max:
			unexported[exporter.UnexportedOverCap]++
		default:
			if m, err := f.start(ctx, n); errors.Is(err, errGone) {
				// Gone between the listing and now: the next listing
				// will not have it.
			} else if err != nil {
				fmt.Fprintf(f.log, "netlens serve: --netns all: %s: %v\n", n.Label(), err)
			} else {
				f.add(m)
			}
		}
	}
	if !f.member(f.own) {
		f.add(f.newMember(&netns.Namespace{Inode: f.own}, nil, nil))
	}
	f.mu.Lock()
	f.unexported = unexported
	f.mu.Unlock()
}

func (f *nsFleet) member(inode uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.members {
		if m.inode == inode {
			return true
		}
	}
	return false
}

func (f *nsFleet) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.members)
}

func (f *nsFleet) add(m *nsMember) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.members {
		if o.netns == m.netns { // two names alike in two directories
			m.netns = fmt.Sprintf("inode:%d", m.inode)
		}
	}
	if m.inode == f.own {
		f.members = append([]*nsMember{m}, f.members...)
		return
	}
	f.members = append(f.members, m)
}

// newMember labels n: netns is its name, else inode:N (either is a
// --netns selector), container its container's name or short ID.
func (f *nsFleet) newMember(n *netns.Namespace, store *model.Store, stop func()) *nsMember {
	m := &nsMember{inode: n.Inode, netns: fmt.Sprintf("inode:%d", n.Inode), store: store, stop: stop}
	if len(n.Names) > 0 {
		m.netns = n.Names[0]
	}
	m.container = n.Model().Container
	return m
}

// start opens n and runs nsCollectors inside it.
func (f *nsFleet) start(ctx context.Context, n *netns.Namespace) (*nsMember, error) {
	fd, err := unix.Open(n.EnterPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return nil, errGone
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", n.EnterPath, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Ino != n.Inode {
		unix.Close(fd)
		return nil, errGone // the path now names another namespace
	}
	specs, err := all.Specs(all.Config{Refresh: f.o.refresh, NetNS: fd, Only: nsCollectors})
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	store := newStore()
	store.Publish(model.NetNSUpdate{NetNS: n.Model()})
	r := collectors.NewRunner(store, specs...)
	cctx, cancel := context.WithCancel(ctx)
	r.Run(cctx)
	return f.newMember(n, store, func() {
		cancel()
		r.Wait()
		unix.Close(fd)
	}), nil
}

// Snapshot implements exporter.Source: netlens's own namespace, with
// every namespace's sockets (what /snapshot serves).
func (f *nsFleet) Snapshot() model.Snapshot { return f.host.Snapshot() }

// Namespaces implements exporter.NamespaceSource.
func (f *nsFleet) Namespaces() exporter.NamespacesView {
	host := f.host.Snapshot()
	f.mu.Lock()
	defer f.mu.Unlock()
	v := exporter.NamespacesView{Sockets: host.Sockets, Kernel: host.Kernel, Unexported: f.unexported}
	for _, m := range f.members {
		snap := host
		if m.store != nil {
			snap = m.store.Snapshot()
		}
		v.Namespaces = append(v.Namespaces, exporter.Namespace{Inode: m.inode, NetNS: m.netns, Container: m.container, Snap: snap})
	}
	return v
}
