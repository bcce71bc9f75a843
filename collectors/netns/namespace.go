package netns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"netlens/collectors"
)

// Namespace is one network namespace of the host and what lives in it.
type Namespace struct {
	// Inode identifies the namespace (ls -i /proc/PID/ns/net; lsns's NS).
	Inode uint64 `json:"inode"`
	// Current is true for the namespace netlens itself runs in.
	Current bool `json:"current,omitempty"`
	// Host is true for the host's namespace (init_net): that of the
	// kernel threads (kthreadd, PID 2), else of PID 1. It is false for
	// every namespace when neither can be read (a container's PID
	// namespace, no ptrace access to PID 1).
	Host bool `json:"host,omitempty"`
	// Names are the names under the named directories (ip netns,
	// Docker's sandbox keys).
	Names []string `json:"names,omitempty"`
	// Mounts are the paths the namespace is bind-mounted at (lsns's NSFS),
	// in the mount namespace they were found in.
	Mounts []string `json:"mounts,omitempty"`
	// NProcs is the number of processes in the namespace that netlens
	// could see; PID is the lowest of them, with its comm and the head of
	// its command line.
	NProcs  int    `json:"nprocs"`
	PID     int    `json:"pid,omitempty"`
	Comm    string `json:"comm,omitempty"`
	Cmdline string `json:"cmdline,omitempty"`
	// Container is who owns the namespace, from the cgroup path of PID;
	// nil for none.
	Container *Container `json:"container,omitempty"`
	// Interfaces and Sockets are filled by Discover with Options.Details.
	Interfaces []Interface `json:"interfaces,omitempty"`
	Sockets    *Sockets    `json:"sockets,omitempty"`
	// EnterPath is a file to open to enter the namespace
	// (nsenter --net=EnterPath).
	EnterPath string `json:"enter_path"`
	// Enterable says whether netlens can enter the namespace; Reason says
	// why not ("needs CAP_SYS_ADMIN").
	Enterable bool   `json:"enterable"`
	Reason    string `json:"reason,omitempty"`
}

// Label returns the namespace's display name: "host" for PID 1's, else
// its first name, else its container, else "net:[INODE]".
func (n *Namespace) Label() string {
	switch {
	case n.Host:
		return "host"
	case len(n.Names) > 0:
		return n.Names[0]
	case n.Container != nil:
		return n.Container.Short()
	}
	return fmt.Sprintf("net:[%d]", n.Inode)
}

// Options configure Discover. The zero value reads the host's usual
// places.
type Options struct {
	// ProcRoot is the proc file system ("/proc").
	ProcRoot string
	// NamedDirs hold named namespaces; nil means DefaultNamedDirs.
	NamedDirs []string
	// State are the runtimes' state files read for names; the zero value
	// means DefaultStateFiles.
	State *StateFiles
	// Details enters each namespace for its interfaces and socket counts
	// (one thread, two setns per namespace); without CAP_SYS_ADMIN socket
	// counts come from /proc/PID/net where there is a process.
	Details bool
}

// DefaultNamedDirs are where ip netns and Docker keep named namespaces.
var DefaultNamedDirs = []string{"/run/netns", "/var/run/docker/netns"}

// Result is what Discover found.
type Result struct {
	Namespaces []Namespace `json:"namespaces"`
	// Unreadable counts processes whose namespace netlens may not read
	// (/proc/PID/ns/net needs ptrace access to the process).
	Unreadable int `json:"unreadable_processes,omitempty"`
}

// Find returns the namespace with the inode, or nil.
func (r *Result) Find(ino uint64) *Namespace {
	for i := range r.Namespaces {
		if r.Namespaces[i].Inode == ino {
			return &r.Namespaces[i]
		}
	}
	return nil
}

// Discover lists every network namespace it can see: named, held by
// processes, and held only by bind mounts; sorted by inode, as lsns
// sorts. It is safe for concurrent use. It fails only when the proc file
// system cannot be read at all.
func Discover(opt Options) (*Result, error) {
	if opt.ProcRoot == "" {
		opt.ProcRoot = "/proc"
	}
	if opt.NamedDirs == nil {
		opt.NamedDirs = DefaultNamedDirs
	}
	state := DefaultStateFiles
	if opt.State != nil {
		state = *opt.State
	}
	var own unix.Stat_t
	if err := unix.Stat(filepath.Join(opt.ProcRoot, "self/ns/net"), &own); err != nil {
		return nil, fmt.Errorf("stat own network namespace: %w", err)
	}
	host := hostInode(opt.ProcRoot, own.Dev)
	d := &discovery{opt: opt, byIno: map[uint64]*Namespace{}, nsfsDev: own.Dev}
	if err := d.processes(); err != nil {
		return nil, err
	}
	d.named()
	d.mounts()
	res := &Result{Unreadable: d.unreadable}
	admin := collectors.HasCapability(unix.CAP_SYS_ADMIN)
	nm := &namer{files: state}
	for _, n := range d.byIno {
		n.Current = n.Inode == own.Ino
		n.Host = n.Inode == host
		if n.PID > 0 {
			d.describe(n)
			nm.name(n.Container)
		}
		// Its own namespace needs no entering (--netns accepts it
		// without CAP_SYS_ADMIN).
		n.Enterable = admin || n.Current
		if !n.Enterable {
			n.Reason = "entering needs CAP_SYS_ADMIN"
		}
		res.Namespaces = append(res.Namespaces, *n)
	}
	slices.SortFunc(res.Namespaces, func(a, b Namespace) int {
		switch {
		case a.Inode < b.Inode:
			return -1
		case a.Inode > b.Inode:
			return 1
		}
		return 0
	})
	if opt.Details {
		details(opt.ProcRoot, res.Namespaces, admin)
	}
	return res, nil
}

// hostInode returns the inode of the host's network namespace, init_net,
// on the nsfs device dev: kthreadd's (PID 2: kernel threads live in
// init_net, and reading a kernel thread's namespace needs no ptrace
// access), else PID 1's; 0 when neither can be read.
func hostInode(procRoot string, dev uint64) uint64 {
	var st unix.Stat_t
	comm, _ := os.ReadFile(filepath.Join(procRoot, "2/comm"))
	if string(bytes.TrimSpace(comm)) == "kthreadd" && unix.Stat(filepath.Join(procRoot, "2/ns/net"), &st) == nil && st.Dev == dev {
		return st.Ino
	}
	if unix.Stat(filepath.Join(procRoot, "1/ns/net"), &st) == nil && st.Dev == dev {
		return st.Ino
	}
	return 0
}

// discovery is the state of one Discover.
type discovery struct {
	opt        Options
	byIno      map[uint64]*Namespace
	nsfsDev    uint64
	unreadable int
	mntPIDs    []int // one process per mount namespace, in PID order
	buf        []byte
}

func (d *discovery) get(ino uint64) *Namespace {
	n := d.byIno[ino]
	if n == nil {
		n = &Namespace{Inode: ino}
		d.byIno[ino] = n
	}
	return n
}

// processes reads /proc/PID/ns/net and ns/mnt of every process (two
// readlinkat per process, relative to an open /proc; two threads share
// the processes, since each link costs a path walk in the kernel).
func (d *discovery) processes() error {
	f, err := os.Open(d.opt.ProcRoot)
	if err != nil {
		return fmt.Errorf("read %s: %w", d.opt.ProcRoot, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", d.opt.ProcRoot, err)
	}
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	links := make([]nsLinks, len(pids))
	root := int(f.Fd())
	workers := min(2, runtime.NumCPU())
	chunk := (len(pids) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := min(w*chunk, len(pids)), min((w+1)*chunk, len(pids))
		wg.Add(1)
		go func() {
			defer wg.Done()
			readNSLinks(root, pids[lo:hi], links[lo:hi])
		}()
	}
	wg.Wait()
	seenMnt := map[uint64]bool{}
	base := d.opt.ProcRoot + "/"
	for i, pid := range pids {
		l := links[i]
		if l.unreadable {
			d.unreadable++
		}
		if l.net == 0 {
			continue // gone, unreadable, or a kernel without namespaces
		}
		ns := d.get(l.net)
		if ns.NProcs == 0 {
			ns.PID = pid
			ns.EnterPath = base + strconv.Itoa(pid) + "/ns/net"
		}
		ns.NProcs++
		if l.mnt != 0 && !seenMnt[l.mnt] {
			seenMnt[l.mnt] = true
			d.mntPIDs = append(d.mntPIDs, pid)
		}
	}
	return nil
}

// nsLinks are the namespaces of one process (0: not read).
type nsLinks struct {
	net, mnt   uint64
	unreadable bool
}

// readNSLinks reads ns/net and ns/mnt of each of pids under the /proc
// directory root into out.
func readNSLinks(root int, pids []int, out []nsLinks) {
	link := make([]byte, 64)
	path := make([]byte, 0, 32)
	for i, pid := range pids {
		path = strconv.AppendInt(path[:0], int64(pid), 10)
		path = append(path, "/ns/net"...)
		n, err := unix.Readlinkat(root, string(path), link)
		if err != nil {
			out[i].unreadable = errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)
			continue
		}
		ino, ok := parseNSRef(string(link[:n]), "net")
		if !ok {
			continue
		}
		out[i].net = ino
		path = append(path[:len(path)-3], "mnt"...)
		if n, err := unix.Readlinkat(root, string(path), link); err == nil {
			out[i].mnt, _ = parseNSRef(string(link[:n]), "mnt")
		}
	}
}

// named adds the namespaces bind-mounted in the named directories.
func (d *discovery) named() {
	for _, dir := range d.opt.NamedDirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			var st unix.Stat_t
			// A name left behind by a namespace that is gone is an empty
			// file on tmpfs, not nsfs: skipped.
			if unix.Stat(p, &st) != nil || st.Dev != d.nsfsDev {
				continue
			}
			ns := d.get(st.Ino)
			ns.Names = appendNew(ns.Names, e.Name())
			ns.Mounts = appendNew(ns.Mounts, p)
			if ns.NProcs == 0 {
				ns.EnterPath = p
			}
		}
	}
}

// mounts adds the nsfs bind mounts of every mount namespace (one
// mountinfo per mount namespace, where readable).
func (d *discovery) mounts() {
	self := filepath.Join(d.opt.ProcRoot, "self/mountinfo")
	files := []string{self}
	var roots = []string{""}
	selfMnt, _ := os.Readlink(filepath.Join(d.opt.ProcRoot, "self/ns/mnt"))
	for _, pid := range d.mntPIDs {
		dir := filepath.Join(d.opt.ProcRoot, strconv.Itoa(pid))
		if m, _ := os.Readlink(dir + "/ns/mnt"); m == selfMnt {
			continue
		}
		files = append(files, dir+"/mountinfo")
		roots = append(roots, dir+"/root")
	}
	for i, f := range files {
		b, err := readFile(f, &d.buf)
		if err != nil {
			continue
		}
		for _, m := range parseMountinfo(b) {
			ns := d.get(m.Inode)
			ns.Mounts = appendNew(ns.Mounts, m.Path)
			if ns.EnterPath == "" {
				ns.EnterPath = roots[i] + m.Path
			}
		}
	}
}

// describe reads the main process's comm, command line and cgroup.
func (d *discovery) describe(n *Namespace) {
	dir := filepath.Join(d.opt.ProcRoot, strconv.Itoa(n.PID))
	if b, err := readFile(dir+"/comm", &d.buf); err == nil {
		n.Comm = strings.TrimSpace(string(b))
	}
	if b, err := readFile(dir+"/cmdline", &d.buf); err == nil {
		n.Cmdline = cmdlineHead(b, 120)
	}
	if b, err := readFile(dir+"/cgroup", &d.buf); err == nil {
		n.Container = parseCgroup(b)
	}
}

// cmdlineHead turns /proc/PID/cmdline (NUL-separated) into at most max
// bytes of a space-separated line.
func cmdlineHead(b []byte, max int) string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) > max {
		b = b[:max]
	}
	s := strings.Map(func(r rune) rune {
		if r == 0 || r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, string(b))
	return strings.TrimSpace(s)
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// readFile reads a whole (proc) file into *buf, growing it as needed,
// without trusting the size stat reports.
func readFile(path string, buf *[]byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if cap(*buf) == 0 {
		*buf = make([]byte, 4096)
	}
	b := (*buf)[:cap(*buf)]
	n := 0
	for {
		if n == len(b) {
			b = append(b, make([]byte, len(b))...)
		}
		m, err := unix.Read(fd, b[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	*buf = b
	return b[:n], nil
}
