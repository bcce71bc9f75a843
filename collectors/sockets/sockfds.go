package sockets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/cilium/ebpf/link"
)

// sockFD is one descriptor of a process, as bpf/sockfds.c writes it
// (struct sockfd): the process (its thread group ID), the descriptor and
// the socket's inode (0: not a socket).
type sockFD struct {
	tgid uint32
	fd   uint32
	ino  uint64
}

const sockFDSize = 16 // sizeof(struct sockfd)

// sockFDs lists every descriptor of every process of the host, with the
// inodes of sockets, in one read, with a BPF task_file iterator
// (bpf/sockfds.c): no getdents64 per process and no readlink per
// descriptor, as the /proc walk of the owner cache needs on a cold
// cache. It needs CAP_BPF and CAP_PERFMON (or root), a kernel
// with BTF and iter/task_file (Linux 5.8+), and the initial PID namespace
// (the iterator gives the kernel's PIDs, which /proc names only there).
// A sockFDs is not safe for concurrent use.
type sockFDs struct {
	objs sockfdsObjects
	it   *link.Iter
	buf  []byte
}

// openSockFDs loads and attaches the iterator; the error says why it
// cannot be used.
func openSockFDs() (*sockFDs, error) {
	if !initialPIDNS() {
		return nil, errors.New("not in the initial PID namespace")
	}
	var s sockFDs
	if err := loadSockfdsObjects(&s.objs, nil); err != nil {
		return nil, fmt.Errorf("load the socket-fd iterator: %w", err)
	}
	it, err := link.AttachIter(link.IterOptions{Program: s.objs.Sockfds})
	if err != nil {
		s.objs.Close()
		return nil, fmt.Errorf("attach the socket-fd iterator: %w", err)
	}
	s.it = it
	s.buf = make([]byte, 0, 64<<10)
	return &s, nil
}

// initialPIDNS reports whether this process runs in the initial PID
// namespace: its NSpid line in /proc/self/status has one PID.
func initialPIDNS() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for l := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(l, []byte("NSpid:")); ok {
			return len(bytes.Fields(v)) == 1
		}
	}
	return false
}

// read appends every descriptor of the host to out, grouped by process
// in ascending PID order and by descriptor within a process.
func (s *sockFDs) read(out []sockFD) ([]sockFD, error) {
	r, err := s.it.Open()
	if err != nil {
		return out, fmt.Errorf("open the socket-fd iterator: %w", err)
	}
	defer r.Close()
	b := s.buf[:0]
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, cap(b))
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF || (err == nil && n == 0) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("read the socket-fd iterator: %w", err)
		}
	}
	s.buf = b
	out, err = parseSockFDs(b, out)
	if err != nil {
		return out, err
	}
	// One task per fd table: a process's records come together, in PID
	// order, unless a thread has a table of its own (clone without
	// CLONE_FILES). /proc/PID/fd shows the thread group leader's.
	if !slices.IsSortedFunc(out, cmpSockFD) {
		slices.SortStableFunc(out, cmpSockFD)
		out = slices.CompactFunc(out, func(a, b sockFD) bool { return a.tgid == b.tgid && a.fd == b.fd })
	}
	return out, nil
}

func cmpSockFD(a, b sockFD) int {
	if a.tgid != b.tgid {
		return int(a.tgid) - int(b.tgid)
	}
	return int(a.fd) - int(b.fd)
}

// parseSockFDs appends the records of b (struct sockfd, native byte
// order) to out.
func parseSockFDs(b []byte, out []sockFD) ([]sockFD, error) {
	if len(b)%sockFDSize != 0 {
		return out, fmt.Errorf("socket-fd iterator: %d bytes, not a whole number of %d-byte records: %w", len(b), sockFDSize, ErrMalformed)
	}
	ne := binary.NativeEndian
	for ; len(b) >= sockFDSize; b = b[sockFDSize:] {
		out = append(out, sockFD{tgid: ne.Uint32(b), fd: ne.Uint32(b[4:]), ino: ne.Uint64(b[8:])})
	}
	return out, nil
}

// close detaches and unloads the iterator.
func (s *sockFDs) close() {
	s.it.Close()
	s.objs.Close()
}
