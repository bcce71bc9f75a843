package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotFound is returned when a selector names no namespace.
var ErrNotFound = errors.New("no such network namespace")

// ErrSelector is wrapped by ParseSelector's errors (a usage error).
var ErrSelector = errors.New("bad --netns selector")

// SelectorKind says how a Selector names a namespace.
type SelectorKind int

// Selector kinds.
const (
	ByName  SelectorKind = iota + 1 // NAME: /run/netns/NAME, /var/run/docker/netns/NAME
	ByPath                          // PATH: any namespace file (contains a '/')
	ByPID                           // pid:PID: /proc/PID/ns/net
	ByInode                         // inode:N: found by Discover
)

// Selector names one network namespace, as --netns takes it:
// NAME | PATH | pid:PID | inode:N.
type Selector struct {
	Kind  SelectorKind
	Name  string // ByName, ByPath
	PID   int
	Inode uint64
}

// String returns the selector as ParseSelector takes it.
func (s Selector) String() string {
	switch s.Kind {
	case ByPID:
		return "pid:" + strconv.Itoa(s.PID)
	case ByInode:
		return "inode:" + strconv.FormatUint(s.Inode, 10)
	}
	return s.Name
}

// ParseSelector parses NAME, PATH (anything with a '/'), pid:PID or
// inode:N. It is pure; errors wrap ErrSelector.
func ParseSelector(s string) (Selector, error) {
	switch {
	case s == "":
		return Selector{}, fmt.Errorf("%w: empty (want NAME, PATH, pid:PID or inode:N)", ErrSelector)
	case strings.HasPrefix(s, "pid:"):
		pid, err := strconv.Atoi(s[len("pid:"):])
		if err != nil || pid <= 0 {
			return Selector{}, fmt.Errorf("%w: %q: PID must be a positive number", ErrSelector, s)
		}
		return Selector{Kind: ByPID, PID: pid}, nil
	case strings.HasPrefix(s, "inode:"):
		ino, err := strconv.ParseUint(s[len("inode:"):], 10, 64)
		if err != nil || ino == 0 {
			return Selector{}, fmt.Errorf("%w: %q: inode must be a positive number", ErrSelector, s)
		}
		return Selector{Kind: ByInode, Inode: ino}, nil
	case strings.ContainsRune(s, '/'):
		return Selector{Kind: ByPath, Name: s}, nil
	case s == "." || s == ".." || strings.ContainsAny(s, "\x00"):
		return Selector{}, fmt.Errorf("%w: %q is not a namespace name", ErrSelector, s)
	}
	return Selector{Kind: ByName, Name: s}, nil
}

// Handle is an open network namespace: the file to give collectors
// (their NetNS option, collectors.InNetNS) and what Discover says of it.
// Close it when done. A Handle is safe for concurrent use; the namespace
// stays alive while it is open.
type Handle struct {
	FD        int
	Namespace Namespace
}

// Close closes the namespace file.
func (h *Handle) Close() error {
	if h == nil || h.FD <= 0 {
		return nil
	}
	fd := h.FD
	h.FD = -1
	return unix.Close(fd)
}

// Open resolves sel and opens the namespace. Its description is read
// with Discover (no details) when the namespace is found there; a
// namespace Discover does not list is still opened, described by its
// inode and path alone. Errors wrap ErrNotFound when nothing matches.
func Open(sel Selector, opt Options) (*Handle, error) {
	if opt.NamedDirs == nil {
		opt.NamedDirs = DefaultNamedDirs
	}
	if opt.ProcRoot == "" {
		opt.ProcRoot = "/proc"
	}
	var path string
	var res *Result
	switch sel.Kind {
	case ByName:
		for _, dir := range opt.NamedDirs {
			p := filepath.Join(dir, sel.Name)
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			return nil, fmt.Errorf("netns %q: not in %s: %w", sel.Name, strings.Join(opt.NamedDirs, " or "), ErrNotFound)
		}
	case ByPath:
		path = sel.Name
	case ByPID:
		path = filepath.Join(opt.ProcRoot, strconv.Itoa(sel.PID), "ns/net")
	case ByInode:
		var err error
		if res, err = Discover(opt); err != nil {
			return nil, err
		}
		n := res.Find(sel.Inode)
		if n == nil || n.EnterPath == "" {
			return nil, fmt.Errorf("netns inode:%d: %w", sel.Inode, ErrNotFound)
		}
		path = n.EnterPath
	default:
		return nil, fmt.Errorf("%w: zero selector", ErrSelector)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			err = fmt.Errorf("%w (%w)", ErrNotFound, err)
		}
		return nil, fmt.Errorf("netns %s: open %s: %w", sel, path, err)
	}
	var st unix.Stat_t
	if typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE); err != nil || typ != unix.CLONE_NEWNET || unix.Fstat(fd, &st) != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netns %s: %s is not a network namespace file: %w", sel, path, ErrNotFound)
	}
	h := &Handle{FD: fd, Namespace: Namespace{Inode: st.Ino, EnterPath: path}}
	if res == nil {
		res, _ = Discover(opt)
	}
	if res != nil {
		if n := res.Find(st.Ino); n != nil {
			h.Namespace = *n
		}
	}
	return h, nil
}
