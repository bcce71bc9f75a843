package sockets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"netlens/collectors/internal/container"
	"netlens/model"
)

// OwnerStats describes the last owner refresh.
type OwnerStats struct {
	// Procs is how many processes were listed under the proc root.
	Procs int
	// Unreadable is how many of them could not be inspected (another
	// user's process without CAP_SYS_PTRACE/CAP_DAC_READ_SEARCH); their
	// sockets have no owner.
	Unreadable int
	// Scanned is how many processes had their fd directory read in full
	// (new processes, restarted PIDs, changed comm).
	Scanned int
	// Unlisted is how many processes were not listed at all: same
	// process, same number of fds, none of its sockets gone.
	Unlisted int
	// Readlinks is how many fd links were resolved with readlink.
	Readlinks int
	// SameTable says that the table was the last refresh's, inode for
	// inode, and the scan changed nothing: its owners were the last
	// ones, with no lookup per socket.
	SameTable bool
	// FullPasses counts refreshes that re-resolved every cached fd
	// because a socket's inode was found nowhere (fd number reuse that the
	// cheap checks cannot see).
	FullPasses int
	// Via says how the descriptors were listed: OwnersViaBPF (the first
	// refresh, when it can) or OwnersViaProc; NoBPF why not with BPF
	// (empty when they were).
	Via   string
	NoBPF string
}

// How the owner cache lists socket descriptors (OwnerStats.Via).
const (
	// OwnersViaBPF: a BPF task_file iterator lists every descriptor of
	// the host in one read (bpf/sockfds.c). Only the first refresh, of an
	// empty cache, uses it: it costs less than the /proc walk's first
	// pass (a readlink per descriptor), but more than its incremental
	// refreshes, which list only what changed (docs/performance.md).
	OwnersViaBPF = "bpf iter/task_file"
	// OwnersViaProc: getdents64 of /proc/PID/fd and readlink of its
	// new entries, incrementally.
	OwnersViaProc = "/proc/PID/fd"
)

// fdEntry is one open fd of a process: its number and, when it is a
// socket, the socket's inode (0 otherwise).
type fdEntry struct {
	fd  int32
	ino uint64
}

// procState is what the cache knows of one process.
type procState struct {
	start uint64 // starttime from /proc/PID/stat: tells a reused PID apart
	comm  string // from /proc/PID/stat, as ss prints it
	// container is the process's container from /proc/PID/cgroup
	// (container.Container.Short), "" for none; read once per process.
	container string
	fds       []fdEntry // sorted by fd
	gen       uint64
	// kthread marks a kernel thread (no fds, no exec); ino is the inode
	// of its /proc/PID directory, which a reused PID does not share, so
	// that one stat tells it is the same thread (see scanPID).
	kthread bool
	ino     uint64
	// fdIno is the inode of a user process's /proc/PID/fd directory
	// when it was last listed: a reused PID does not share it.
	fdIno uint64
}

// ownerEntry holds the processes of one socket inode. procs is never
// modified in place once built: published snapshots share it.
type ownerEntry struct {
	procs []model.Proc
	gen   uint64 // tableGen of the last table the socket was seen in
}

// owners maps socket inodes to the processes holding them, from the
// socket:[INODE] links under <root>/PID/fd, like `ss -p`. It is refreshed
// incrementally (see refresh). An owners is not safe for concurrent use.
//
// procfs offers no cheap change signal for a fd table: the mtime and ctime
// of /proc/PID/fd are fixed when its inode is made and never move as fds
// open and close (checked on 6.18), and its st_size (6.2+) is the number of
// open fds, which a close plus an open leaves equal. So a refresh lists
// fd directories (getdents64 into a reused buffer: cheap per fd) and
// readlinks only what the listing and the socket table say may have
// changed. Where the kernel reports the fd count (6.2+), a process whose
// count has not changed and whose sockets are all still in the table is
// not even listed (see listEvery).
type owners struct {
	root    string
	gen     uint64
	lastAll uint64 // refresh of the last pass over every fd
	procs   map[int]*procState
	byInode map[uint64]*ownerEntry
	// unowned remembers inodes a full pass could not find, with the
	// refresh in which they were last seen, so that each costs one pass.
	unowned map[uint64]uint64
	stats   OwnerStats

	// fdCount returns the number of open fds of a process without
	// listing them, and the inode of its fd directory (statFdCount;
	// tests replace it).
	fdCount func(rootfd int, pid string) (n int, ino uint64, ok bool)

	dirBuf  []byte
	statBuf []byte
	cgBuf   []byte
	linkBuf []byte
	newFds  []fdEntry
	recheck map[int][]int32 // pid -> fds to resolve again
	// inTable lists the entries seen in the table this refresh (each
	// once, as seen marks it), prevTable those of the refresh before:
	// the sockets that left the table are found among them, not by a
	// walk of byInode, which holds every socket of the host (all
	// namespaces) and costs a cache miss per entry.
	inTable, prevTable []*ownerEntry
	// ents holds, for each socket of the table being joined, its entry
	// as last looked up (see entry), so that the passes of a refresh
	// hash each inode once.
	ents []*ownerEntry
	// tableGen is the refresh that last marked the table (see seen): a
	// refresh whose table is the last one's, inode for inode, keeps the
	// marks (and tableGen) as they are instead of marking every socket
	// again.
	tableGen uint64
	// lastInos and lastProcs are the inodes of the last table joined, in
	// order, and the owners it gave each; lastClean says that it left
	// no socket to search for (every one owned, or known to have no
	// readable owner). With mutations (the count of owners added to or
	// removed from sockets of the table), they let a refresh of the same
	// table whose scan changed none of its sockets give the same owners
	// without a lookup (see refresh).
	lastInos  []uint64
	lastProcs [][]model.Proc
	lastClean bool
	mutations uint64

	// bpf lists the socket descriptors when it can (see viaBPF); nil
	// otherwise, noBPF saying why. procOnly turns it off (tests compare
	// the two ways).
	bpf      *sockFDs
	bpfTried bool
	procOnly bool
	noBPF    string
	sockFDs  []sockFD
}

// OwnerCache is the cache of socket owners (socket inode -> processes,
// from /proc/*/fd), for Options.Owners. It may be given to one collector
// after another (a namespace switch); collectors sharing it take turns.
type OwnerCache struct {
	mu sync.Mutex // serialises the collectors that share it
	o  *owners
}

// NewOwnerCache returns an empty cache over procRoot ("/proc" when empty).
func NewOwnerCache(procRoot string) *OwnerCache {
	if procRoot == "" {
		procRoot = "/proc"
	}
	return &OwnerCache{o: newOwners(procRoot)}
}

// Fill brings the cache up to date and sets the Procs of socks (from
// any namespaces: socket inodes are the whole host's). It must not be
// Safe for concurrent use: calls (and collectors' refreshes) take turns.
func (c *OwnerCache) Fill(ctx context.Context, socks []model.Socket) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.o.refresh(ctx, socks)
}

func newOwners(root string) *owners {
	return &owners{
		root:    root,
		procs:   map[int]*procState{},
		byInode: map[uint64]*ownerEntry{},
		unowned: map[uint64]uint64{},
		dirBuf:  make([]byte, 64<<10),
		statBuf: make([]byte, 4096),
		cgBuf:   make([]byte, 16<<10),
		linkBuf: make([]byte, 256),
		recheck: map[int][]int32{},
		fdCount: statFdCount,
	}
}

// refresh brings the cache up to date for socks and sets their Procs.
//
// Per refresh it lists <root>, reads each /proc/PID/stat (comm and start
// time; of a kernel thread it only stats the /proc/PID directory, see
// scanPID) and lists each /proc/PID/fd directory; it calls readlink only for
// fd numbers it has not seen, for fds whose cached socket is no longer in
// socks (the number may have been reused), and for every fd of a process
// that is new, restarted or changed comm (exec). A process whose fd count
// is unchanged and none of whose sockets left the table is not listed at
// all (see listEvery).
//
// If a socket in socks is then still unknown, a pass re-resolves the fds
// not cached as a socket of the table (a file's or pipe's number reused by
// a socket); if that does not find it either, a pass re-resolves every fd
// (a number reused while its old socket lives on in another process), at
// most once every listEvery refreshes, since a socket closed between the
// dump and the scan also looks unknown and busy servers close many.
// Inodes that a full pass does not find are remembered and trigger no
// other.
func (o *owners) refresh(ctx context.Context, socks []model.Socket) error {
	o.gen++
	gen := o.gen
	o.stats = OwnerStats{}
	clear(o.recheck)
	// The same table as last time, every socket then owned or known to
	// have none: no socket left it (nothing to resolve again), the marks
	// stand, and unless the scan changes the cache the owners are the
	// last ones (see sameTable).
	same := o.sameTable(socks)
	if !same {
		prevGen := o.tableGen
		o.tableGen = gen
		o.prevTable, o.inTable = o.inTable, o.prevTable[:0]
		// Mark the sockets still in the table.
		o.ents = slices.Grow(o.ents[:0], len(socks))[:len(socks)]
		for i := range socks {
			e := o.byInode[socks[i].Inode]
			o.ents[i] = e
			if e != nil {
				o.seen(e)
			}
		}
		if o.viaBPF(gen) {
			// Not searched: a process the iterator did not report (seen on
			// 6.18: PID 1) is listed by the next refresh's /proc walk.
			o.join(socks, gen, false)
			return nil
		}
		// Fds whose socket was in the table last time and is not now:
		// the number may have been reused, resolve them again.
		for _, e := range o.prevTable {
			if e.gen != prevGen {
				continue
			}
			for _, p := range e.procs {
				o.recheck[p.PID] = append(o.recheck[p.PID], int32(p.FD))
			}
		}
	}
	o.stats.Via, o.stats.NoBPF = OwnersViaProc, o.noBPF
	mutations := o.mutations
	if err := o.scan(ctx, gen, scanChanged); err != nil {
		return err
	}
	if same && o.mutations == mutations {
		o.stats.SameTable = true
		for i := range socks {
			socks[i].Procs = o.lastProcs[i]
		}
		return nil
	}
	// Sockets found nowhere: look at the fds not holding a socket of the
	// table, then (at most every listEvery refreshes) at every fd.
	searched := true
	for _, mode := range []scanMode{scanNonTable, scanAll} {
		if !o.hasUnknown(socks) {
			break
		}
		if mode == scanAll {
			if o.lastAll != 0 && gen-o.lastAll < listEvery {
				searched = false
				break
			}
			o.lastAll = gen
		}
		o.stats.FullPasses++
		if err := o.scan(ctx, gen, mode); err != nil {
			return err
		}
	}
	o.join(socks, gen, searched)
	return nil
}

// join sets the Procs of socks from the cache, and remembers the inodes
// found nowhere after a search (searched) as unowned. It keeps the table
// and its owners for the next refresh (see sameTable).
func (o *owners) join(socks []model.Socket, gen uint64, searched bool) {
	clean := true
	o.lastInos = slices.Grow(o.lastInos[:0], len(socks))[:len(socks)]
	o.lastProcs = slices.Grow(o.lastProcs[:0], len(socks))[:len(socks)]
	for i := range socks {
		ino := socks[i].Inode
		o.lastInos[i] = ino
		if ino != 0 {
			if e := o.entry(i, ino); e != nil {
				o.seen(e)
				socks[i].Procs = e.procs
			} else if _, known := o.unowned[ino]; known || searched {
				o.unowned[ino] = gen
			} else {
				clean = false // to be searched for again
			}
		}
		o.lastProcs[i] = socks[i].Procs
	}
	o.lastClean = clean
	for ino, g := range o.unowned {
		if g != gen {
			delete(o.unowned, ino)
		}
	}
}

// sameTable says whether socks holds the inodes of the last table
// joined, in the same order (the kernel keeps its dump order for a
// steady table), and that table left nothing to search for. Such a
// refresh skips the per-socket work: the marks of the last table stand,
// no socket left it, and when the scan changes nothing in the cache the
// owners are those of the last join.
func (o *owners) sameTable(socks []model.Socket) bool {
	if !o.lastClean || len(socks) != len(o.lastInos) || len(o.ents) != len(socks) {
		return false
	}
	for i := range socks {
		if socks[i].Inode != o.lastInos[i] {
			return false
		}
	}
	return true
}

// viaBPF fills an empty cache from the BPF iterator's list of every
// descriptor, when it can be used (see sockFDs), and releases the
// iterator: the /proc walk then keeps the cache up to date, as it would
// after its own first pass (it finds every descriptor known, so it
// resolves none again; the first listing of each fd directory records
// the directory's inode).
func (o *owners) viaBPF(gen uint64) bool {
	if len(o.procs) > 0 {
		return false
	}
	if !o.bpfTried {
		o.bpfTried = true
		switch {
		case o.procOnly:
			o.noBPF = "turned off"
		case o.root != "/proc":
			o.noBPF = "procfs not at /proc"
		default:
			var err error
			if o.bpf, err = openSockFDs(); err != nil {
				o.noBPF = err.Error()
			}
		}
	}
	if o.bpf == nil {
		return false
	}
	err := o.scanBPF(gen)
	o.bpf.close()
	o.bpf = nil
	o.sockFDs = nil // read once: 1.9 MB at 100,000 sockets not kept for nothing
	if err != nil {
		o.noBPF = err.Error()
		for pid, ps := range o.procs {
			o.dropAll(pid, ps)
		}
		clear(o.procs)
		return false
	}
	o.stats.Via = OwnersViaBPF
	o.lastAll = gen // as a full pass
	return true
}

// scanBPF reads every descriptor of the host and brings the processes
// holding them up to date: a process's name, start time and container
// are read from /proc once, and its stat again every statEvery
// refreshes (an exec, a reused PID).
func (o *owners) scanBPF(gen uint64) error {
	var err error
	if o.sockFDs, err = o.bpf.read(o.sockFDs[:0]); err != nil {
		return err
	}
	d, err := unix.Open(o.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", o.root, err)
	}
	defer unix.Close(d)
	recs := o.sockFDs
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].tgid == recs[i].tgid {
			j++
		}
		o.bpfProc(d, int(recs[i].tgid), recs[i:j], gen)
		o.stats.Procs++
		i = j
	}
	// Processes that hold no socket any more, or are gone.
	for pid, ps := range o.procs {
		if ps.gen != gen {
			o.dropAll(pid, ps)
			delete(o.procs, pid)
		}
	}
	return nil
}

// bpfProc brings process pid, holding the descriptors recs (ascending),
// up to date.
func (o *owners) bpfProc(rootfd, pid int, recs []sockFD, gen uint64) {
	ps := o.procs[pid]
	fresh := false
	if ps == nil || (uint64(pid)+gen)%statEvery == 0 {
		name := strconv.Itoa(pid)
		start, _, comm, ok := o.readStat(rootfd, name)
		if !ok {
			return // exited since
		}
		if ps != nil && (ps.start != start || ps.comm != string(comm)) {
			o.dropAll(pid, ps) // exec'd, or another process under the PID
			ps = nil
		}
		if ps == nil {
			ps = &procState{start: start, comm: string(comm), container: o.readContainer(rootfd, name)}
			o.procs[pid] = ps
			o.stats.Scanned++
			fresh = true
		}
	}
	ps.gen = gen
	o.newFds = o.newFds[:0]
	for _, r := range recs {
		o.newFds = append(o.newFds, fdEntry{fd: int32(r.fd), ino: r.ino})
	}
	old := ps.fds
	i := 0
	for _, nf := range o.newFds {
		for i < len(old) && old[i].fd < nf.fd {
			o.remove(old[i].ino, pid, old[i].fd) // closed
			i++
		}
		if i < len(old) && old[i].fd == nf.fd {
			was := old[i].ino
			i++
			if was == nf.ino && !fresh {
				continue
			}
			o.remove(was, pid, nf.fd) // the number now holds another socket
		}
		o.add(nf.ino, model.Proc{PID: pid, Comm: ps.comm, FD: int(nf.fd), Container: ps.container})
	}
	for ; i < len(old); i++ {
		o.remove(old[i].ino, pid, old[i].fd)
	}
	ps.fds = append(ps.fds[:0], o.newFds...)
}

// seen marks e as in the table of tableGen, listing it in inTable the
// first time.
func (o *owners) seen(e *ownerEntry) {
	if e.gen != o.tableGen {
		e.gen = o.tableGen
		o.inTable = append(o.inTable, e)
	}
}

// entry returns the entry of ino, the inode of the i-th socket of the
// table: the one looked up before in this refresh unless a scan removed
// it from byInode since (its procs are then nil), else byInode's.
func (o *owners) entry(i int, ino uint64) *ownerEntry {
	if e := o.ents[i]; e != nil && e.procs != nil {
		return e
	}
	e := o.byInode[ino]
	o.ents[i] = e
	return e
}

// hasUnknown says whether a socket of socks has an inode that is neither
// cached nor known to have no readable owner; it marks those it finds.
func (o *owners) hasUnknown(socks []model.Socket) bool {
	unknown := false
	for i := range socks {
		ino := socks[i].Inode
		if ino == 0 {
			continue
		}
		if e := o.entry(i, ino); e != nil {
			o.seen(e)
			continue
		}
		if _, ok := o.unowned[ino]; !ok {
			unknown = true
		}
	}
	return unknown
}

// scanMode says which cached fds a scan resolves again.
type scanMode int

const (
	// scanChanged resolves new fd numbers and those in recheck.
	scanChanged scanMode = iota
	// scanNonTable also resolves fds not cached as a socket of the table
	// (files, pipes, unix sockets whose number a new socket may reuse).
	scanNonTable
	// scanAll resolves every fd (a number reused while its old socket
	// lives on in another process).
	scanAll
)

// scan walks <root>/PID and brings the cache of each process up to date.
func (o *owners) scan(ctx context.Context, gen uint64, mode scanMode) error {
	d, err := unix.Open(o.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", o.root, err)
	}
	defer unix.Close(d)
	var pids []int
	err = readDirents(d, o.dirBuf, func(name []byte) {
		if pid, ok := parseUint(name, 10, 31); ok && pid > 0 {
			pids = append(pids, int(pid))
		}
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", o.root, err)
	}
	o.stats.Procs = len(pids)
	o.stats.Unreadable = 0 // counted again by each pass
	for i, pid := range pids {
		if i%64 == 0 && ctx.Err() != nil {
			// Keep what is known; processes not reached stay cached.
			for _, p := range pids[i:] {
				if ps := o.procs[p]; ps != nil {
					ps.gen = gen
				}
			}
			return ctx.Err()
		}
		o.scanPID(d, pid, gen, mode)
	}
	// Processes that are gone.
	for pid, ps := range o.procs {
		if ps.gen != gen {
			o.dropAll(pid, ps)
			delete(o.procs, pid)
		}
	}
	return nil
}

func (o *owners) scanPID(rootfd, pid int, gen uint64, mode scanMode) {
	name := strconv.Itoa(pid)
	ps := o.procs[pid]
	if ps != nil && ps.kthread && mode == scanChanged {
		// A kernel thread has no fds and never execs; while its /proc
		// directory is the same inode it is the same thread, which
		// spares reading its stat and fd directory every refresh (most
		// of a host's processes are kernel threads).
		var st unix.Stat_t
		if unix.Fstatat(rootfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			return // exited
		}
		if st.Ino == ps.ino {
			ps.gen = gen
			o.stats.Unlisted++
			return
		}
	}
	// A process seen before, none of whose sockets left the table, with
	// as many fds as last time in the same fd directory (a reused PID
	// has another): the same process, unless it exec'd, which its stat
	// tells; that is read every statEvery refreshes (staggered by PID),
	// since it is the dearest file here and a host has many processes.
	steady := mode == scanChanged && ps != nil && !ps.kthread && len(o.recheck[pid]) == 0 && !listDue(pid, gen, len(ps.fds))
	nfd, fdIno, counted := 0, uint64(0), false
	if steady {
		nfd, fdIno, counted = o.fdCount(rootfd, name)
		if counted && fdIno == ps.fdIno && nfd == len(ps.fds) && (uint64(pid)+gen)%statEvery != 0 {
			ps.gen = gen
			o.stats.Unlisted++
			return
		}
	}
	start, flags, comm, ok := o.readStat(rootfd, name)
	if !ok {
		return // exited
	}
	if flags&pfKthread != 0 {
		o.kernelThread(rootfd, pid, name, start, comm, gen)
		return
	}
	if ps != nil && ps.kthread {
		o.dropAll(pid, ps) // a kernel thread's PID, reused
		delete(o.procs, pid)
		ps = nil
	}
	if steady && ps.start == start && ps.comm == string(comm) && counted && fdIno == ps.fdIno && nfd == len(ps.fds) {
		// Same process, none of its sockets left the table, as many fds
		// as last time: skip the listing (see listEvery for what that
		// can miss, and for how long).
		ps.gen = gen
		o.stats.Unlisted++
		return
	}
	fdd, err := unix.Openat(rootfd, name+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			o.stats.Unreadable++
		}
		if ps := o.procs[pid]; ps != nil {
			ps.gen = gen
			if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
				o.dropAll(pid, ps)
				ps.fds = nil
			}
		}
		return
	}
	defer unix.Close(fdd)
	if ps != nil && (ps.start != start || ps.comm != string(comm)) {
		o.dropAll(pid, ps)
		ps = nil
	}
	fresh := ps == nil
	if fresh {
		ps = &procState{start: start, comm: string(comm), container: o.readContainer(rootfd, name)}
		o.procs[pid] = ps
		o.stats.Scanned++
	}
	ps.gen = gen
	var st unix.Stat_t
	if unix.Fstat(fdd, &st) == nil {
		ps.fdIno = st.Ino
	}
	// Merge the directory listing (ascending fd order, as procfs lists
	// it; sorted to be safe) with the cached entries.
	o.newFds = o.newFds[:0]
	if err := readDirents(fdd, o.dirBuf, func(n []byte) {
		if fd, ok := parseUint(n, 10, 31); ok {
			o.newFds = append(o.newFds, fdEntry{fd: int32(fd)})
		}
	}); err != nil {
		return
	}
	if !slices.IsSortedFunc(o.newFds, cmpFd) {
		slices.SortFunc(o.newFds, cmpFd)
	}
	recheck := o.recheck[pid]
	slices.Sort(recheck)
	old := ps.fds
	i := 0
	for k := range o.newFds {
		nf := &o.newFds[k]
		for i < len(old) && old[i].fd < nf.fd {
			o.remove(old[i].ino, pid, old[i].fd) // closed
			i++
		}
		resolve := true
		if i < len(old) && old[i].fd == nf.fd {
			nf.ino = old[i].ino
			i++
			resolve = fresh || o.resolveAgain(mode, nf, recheck)
		}
		if !resolve {
			continue
		}
		ino := o.readSocketLink(fdd, nf.fd)
		if ino != nf.ino {
			o.remove(nf.ino, pid, nf.fd)
			nf.ino = ino
			o.add(ino, model.Proc{PID: pid, Comm: ps.comm, FD: int(nf.fd), Container: ps.container})
		} else if fresh && ino != 0 {
			o.add(ino, model.Proc{PID: pid, Comm: ps.comm, FD: int(nf.fd), Container: ps.container})
		}
	}
	for ; i < len(old); i++ {
		o.remove(old[i].ino, pid, old[i].fd)
	}
	ps.fds = append(ps.fds[:0], o.newFds...)
}

// pfKthread is PF_KTHREAD in the flags of /proc/PID/stat.
const pfKthread = 0x00200000

// kernelThread records pid as a kernel thread: no fds to list, and the
// inode of its /proc directory to know it again.
func (o *owners) kernelThread(rootfd, pid int, name string, start uint64, comm []byte, gen uint64) {
	var st unix.Stat_t
	if unix.Fstatat(rootfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return // exited
	}
	ps := o.procs[pid]
	if ps != nil && !ps.kthread {
		o.dropAll(pid, ps) // a reused PID
		ps = nil
	}
	if ps == nil {
		ps = &procState{kthread: true}
		o.procs[pid] = ps
		o.stats.Scanned++
	}
	ps.start, ps.comm, ps.ino, ps.gen = start, string(comm), st.Ino, gen
}

// resolveAgain says whether a cached fd must be resolved again in mode.
func (o *owners) resolveAgain(mode scanMode, e *fdEntry, recheck []int32) bool {
	switch mode {
	case scanAll:
		return true
	case scanNonTable:
		if e.ino == 0 {
			return true
		}
		oe := o.byInode[e.ino]
		return oe == nil || oe.gen != o.tableGen
	}
	_, again := slices.BinarySearch(recheck, e.fd)
	return again
}

func cmpFd(a, b fdEntry) int { return int(a.fd) - int(b.fd) }

// dropAll removes every socket of pid from the inode index.
func (o *owners) dropAll(pid int, ps *procState) {
	for _, e := range ps.fds {
		o.remove(e.ino, pid, e.fd)
	}
	ps.fds = ps.fds[:0]
}

// add records that p holds socket ino. The slice is rebuilt, never
// appended to in place, since published snapshots share it.
func (o *owners) add(ino uint64, p model.Proc) {
	if ino == 0 {
		return
	}
	e := o.byInode[ino]
	if o.ofTable(e, ino) {
		o.mutations++
	}
	if e == nil {
		e = &ownerEntry{}
		o.byInode[ino] = e
	}
	procs := make([]model.Proc, 0, len(e.procs)+1)
	procs = append(procs, e.procs...)
	procs = append(procs, p)
	slices.SortFunc(procs, func(a, b model.Proc) int {
		if a.PID != b.PID {
			return a.PID - b.PID
		}
		return a.FD - b.FD
	})
	e.procs = procs
}

// ofTable says whether socket ino, whose entry is e (nil if none), is
// in the table last marked: an owner added to or removed from it changes
// what a join gives (see mutations). The sockets of other processes and
// namespaces, which a host opens and closes all the time, do not.
func (o *owners) ofTable(e *ownerEntry, ino uint64) bool {
	if e != nil {
		return e.gen == o.tableGen
	}
	_, ok := o.unowned[ino]
	return ok
}

// remove forgets that pid holds ino through fd.
func (o *owners) remove(ino uint64, pid int, fd int32) {
	if ino == 0 {
		return
	}
	e := o.byInode[ino]
	if e == nil {
		return
	}
	idx := slices.IndexFunc(e.procs, func(p model.Proc) bool { return p.PID == pid && p.FD == int(fd) })
	if idx < 0 {
		return
	}
	if o.ofTable(e, ino) {
		o.mutations++
	}
	if len(e.procs) == 1 {
		// prevTable and ents may still point at e: with no procs it
		// asks for no recheck, as an entry gone from byInode should not,
		// and entry looks the inode up again.
		e.procs = nil
		delete(o.byInode, ino)
		return
	}
	procs := make([]model.Proc, 0, len(e.procs)-1)
	procs = append(procs, e.procs[:idx]...)
	procs = append(procs, e.procs[idx+1:]...)
	e.procs = procs
}

// listEvery is how often (in refreshes) every fd directory is listed even
// when its fd count has not changed. Skipping a listing is safe for every
// change that leaves a trace: a socket that left the table puts its fds
// in recheck, and a socket of the table found nowhere triggers a pass that
// lists everything. What it can miss is a process closing a socket that
// lives on in another process while opening something else: its stale
// ownership lasts until the next full listing of that process: listEvery
// refreshes at most, longer for a process of more than listBatch fds
// (see listDue).
const listEvery = 16

// listBatch is how many fds a process may hold for each listEvery
// refreshes between the listings of its unchanged fd table: procfs makes
// a listing cost about a microsecond per fd (a dentry per entry), so a
// server holding 10,000 sockets would cost 10-20 ms each time.
const listBatch = 1024

// listDue says whether refresh gen lists the fd directory of pid, which
// holds nfds fds, although its count has not changed: every listEvery
// refreshes, and every listEvery more for each listBatch fds past the
// first (a process of 10,000 fds: every 160), staggered by PID so that
// the processes of a host are not listed in the same refresh.
func listDue(pid int, gen uint64, nfds int) bool {
	period := uint64(listEvery * max(1, (nfds+listBatch-1)/listBatch))
	return (uint64(pid)+gen)%period == 0
}

// statEvery is how often (in refreshes) a process whose fd table looks
// unchanged has its /proc/PID/stat read, to see an exec (a new comm): a
// process that exec'd keeps its PID, fds and fd directory, so its new
// name shows within statEvery refreshes.
const statEvery = 4

// statFdCount returns the number of open fds of process name from the
// size of <root>/PID/fd (Linux 6.2 and later; older kernels report 0,
// which makes the caller list the directory), and the directory's inode.
func statFdCount(rootfd int, name string) (int, uint64, bool) {
	var st unix.Stat_t
	if err := unix.Fstatat(rootfd, name+"/fd", &st, 0); err != nil || st.Size <= 0 {
		return 0, 0, false
	}
	return int(st.Size), st.Ino, true
}

// readStat reads <root>/PID/stat and returns the start time, the flags
// and comm. comm aliases an internal buffer.
func (o *owners) readStat(rootfd int, pid string) (start, flags uint64, comm []byte, ok bool) {
	f, err := unix.Openat(rootfd, pid+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, nil, false
	}
	n, err := readFull(f, o.statBuf)
	unix.Close(f)
	if err != nil {
		return 0, 0, nil, false
	}
	return parseStat(o.statBuf[:n])
}

// parseStat extracts comm, the flags (field 9) and starttime (field 22)
// from the text of /proc/PID/stat. comm may contain spaces and
// parentheses; it ends at the last ')'.
func parseStat(b []byte) (start, flags uint64, comm []byte, ok bool) {
	l := bytes.IndexByte(b, '(')
	r := bytes.LastIndexByte(b, ')')
	if l < 0 || r < l {
		return 0, 0, nil, false
	}
	comm = b[l+1 : r]
	var f [24][]byte
	n := splitFields(b[r+1:], f[:])
	// Fields after ')' start at field 3 (state).
	const flagsField, startField = 9 - 3, 22 - 3
	if n <= startField {
		return 0, 0, nil, false
	}
	if flags, ok = parseUint(f[flagsField], 10, 64); !ok {
		return 0, 0, nil, false
	}
	start, ok = parseUint(f[startField], 10, 64)
	return start, flags, comm, ok
}

// readContainer reads <root>/PID/cgroup and returns the process's
// container as the namespace discovery names it (container.ParseCgroup,
// then Short: the container's 12-digit ID, its pod in front), or "".
// The owner cache calls it once per process, when it first sees it.
func (o *owners) readContainer(rootfd int, pid string) string {
	f, err := unix.Openat(rootfd, pid+"/cgroup", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	n, err := readFull(f, o.cgBuf)
	unix.Close(f)
	if err != nil {
		return ""
	}
	return container.ParseCgroup(o.cgBuf[:n]).Short()
}

var socketPrefix = []byte("socket:[")

// readSocketLink resolves fd in the fd directory dirfd and returns the
// socket inode it points to, or 0 if it is not a socket (or is gone).
func (o *owners) readSocketLink(dirfd int, fd int32) uint64 {
	o.stats.Readlinks++
	var name [16]byte
	nb := strconv.AppendInt(name[:0], int64(fd), 10)
	nb = append(nb, 0)
	n, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(&nb[0])),
		uintptr(unsafe.Pointer(&o.linkBuf[0])), uintptr(len(o.linkBuf)), 0, 0)
	if errno != 0 {
		return 0
	}
	link := o.linkBuf[:n]
	if !bytes.HasPrefix(link, socketPrefix) || len(link) < len(socketPrefix)+2 || link[len(link)-1] != ']' {
		return 0
	}
	ino, ok := parseUint(link[len(socketPrefix):len(link)-1], 10, 64)
	if !ok {
		return 0
	}
	return ino
}

// readDirents lists the directory open at fd with getdents64 into buf and
// calls fn with each name (aliasing buf), skipping "." and "..".
func readDirents(fd int, buf []byte, fn func(name []byte)) error {
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return err
	}
	for {
		n, err := unix.Getdents(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		for off := 0; off+19 <= n; {
			reclen := int(*(*uint16)(unsafe.Pointer(&buf[off+16])))
			if reclen < 19 || off+reclen > n {
				return fmt.Errorf("getdents64: bad record length %d: %w", reclen, ErrMalformed)
			}
			name := buf[off+19 : off+reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if !(len(name) == 1 && name[0] == '.') && !(len(name) == 2 && name[0] == '.' && name[1] == '.') {
				fn(name)
			}
			off += reclen
		}
	}
}

// readFull reads a small file whole into buf.
func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}
