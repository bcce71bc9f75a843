package sockets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// recvBufSize is the receive buffer for dump datagrams. The kernel sizes a
// dump datagram after the reader's buffer but caps it near 32 KiB; 64 KiB
// always holds one whole.
const recvBufSize = 64 << 10

// yieldEvery is how many dump datagrams a dump reads (each a raw system
// call, see recvfrom) before it lets other goroutines run: 8 datagrams
// are 1-2 ms of the kernel's work.
const yieldEvery = 8

// maxDumpRetries bounds how often a dump flagged NLM_F_DUMP_INTR is
// restarted before its (possibly inconsistent) result is kept.
const maxDumpRetries = 3

// diagConn is a NETLINK_SOCK_DIAG socket that dumps inet sockets. Replies
// are read with recvfrom into one reused buffer and decoded in place, so a
// dump allocates nothing per socket beyond the model.Socket it appends.
// A diagConn is not safe for concurrent use.
//
// A dump cannot overrun a slow reader: the kernel builds the next reply
// datagram only when the reader has taken the previous ones, so ENOBUFS
// does not happen. Any receive error (ENOBUFS included) fails the
// collection, and the collector opens a fresh socket for the next.
type diagConn struct {
	c     sockConn
	rc    syscall.RawConn
	buf   []byte
	seq   uint32
	names *ifNames
	// tcp holds the tcp_info of the collection under way: its
	// generation's slab (Collector.fromDiag sets it for each); nil
	// allocates each alone.
	tcp *slab[model.TCPInfo]
	// Interrupted counts dumps that stayed NLM_F_DUMP_INTR after every retry.
	interrupted uint64
	// tcpOK is set once a TCP dump worked on this socket: sock_diag is
	// known to answer, and an empty TCP table need not be dumped.
	tcpOK bool
	// ext returns the idiag_ext mask to request for a protocol;
	// extensions when nil (benchmarks compare other masks).
	ext func(ipProto) uint8

	readFn  func(fd uintptr) bool
	recvN   int
	recvs   int // datagrams read, for yieldEvery
	recvErr error
}

// sockConn is the socket a diagConn reads and writes through its raw
// file descriptor: a *netlink.Conn, or in tests one end of a socket pair
// (an *os.File).
type sockConn interface {
	SyscallConn() (syscall.RawConn, error)
	SetReadDeadline(time.Time) error
	Close() error
}

// newDiagConn wraps c, whose peer speaks sock_diag.
func newDiagConn(c sockConn, names *ifNames) (*diagConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("sock_diag raw conn: %w", err)
	}
	return &diagConn{c: c, rc: rc, buf: make([]byte, recvBufSize), seq: uint32(time.Now().UnixNano()), names: names}, nil
}

// dialDiag opens a sock_diag socket in the network namespace netns (an
// open namespace file descriptor; 0 for the caller's). Errors wrap
// collectors.ErrNotSupported when the kernel has no sock_diag, and
// collectors.ErrPermission when it is denied.
func dialDiag(netns int) (*diagConn, error) {
	c, err := netlink.Dial(familySockDiag, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, classifyDial("NETLINK_SOCK_DIAG", err)
	}
	// Extended ACK makes the kernel explain a rejected request; older
	// kernels lack it, which only costs the explanation.
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	_ = c.SetReadBuffer(1 << 20)
	d, err := newDiagConn(c, &ifNames{lookup: func() map[uint32]string { return dumpLinks(netns) }})
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return d, nil
}

func classifyDial(what string, err error) error {
	switch {
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("open %s: %w: %w", what, collectors.ErrNotSupported, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("open %s: %w: %w", what, collectors.ErrPermission, err)
	}
	return fmt.Errorf("open %s: %w", what, err)
}

// Close closes the socket.
func (d *diagConn) Close() error { return d.c.Close() }

// dump appends the sockets of one family and protocol to out. A dump the
// kernel flags NLM_F_DUMP_INTR (its tables changed underneath) is started
// again, up to maxDumpRetries times. An error leaves the socket in an
// unknown state: the caller must close it.
func (d *diagConn) dump(ctx context.Context, family uint8, proto ipProto, out []model.Socket) ([]model.Socket, error) {
	start := len(out)
	for attempt := 0; ; attempt++ {
		out = out[:start]
		var intr bool
		var err error
		out, intr, err = d.dumpOnce(ctx, family, proto, out)
		if err != nil {
			return out[:start], err
		}
		if !intr {
			return out, nil
		}
		if attempt == maxDumpRetries {
			d.interrupted++
			return out, nil
		}
	}
}

func (d *diagConn) dumpOnce(ctx context.Context, family uint8, proto ipProto, out []model.Socket) ([]model.Socket, bool, error) {
	d.seq++
	seq := d.seq
	ext := extensions
	if d.ext != nil {
		ext = d.ext
	}
	req := appendDumpRequestExt(d.buf[:0], seq, family, proto, ext(proto))
	if err := d.send(req); err != nil {
		return out, false, fmt.Errorf("send sock_diag request: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = d.c.SetReadDeadline(dl)
	} else {
		_ = d.c.SetReadDeadline(time.Time{})
	}
	mp := proto.model()
	intr := false
	for {
		if err := ctx.Err(); err != nil {
			return out, intr, err
		}
		n, err := d.recv()
		if err != nil {
			return out, intr, fmt.Errorf("receive sock_diag reply: %w", err)
		}
		if d.recvs++; d.recvs%yieldEvery == 0 {
			runtime.Gosched() // see recvfrom
		}
		var st dumpStatus
		out, st, err = decodeDatagram(d.buf[:n], seq, mp, d.names, d.tcp, out)
		intr = intr || st.interrupted
		if err != nil {
			return out, intr, fmt.Errorf("%s/%s: %w", mp, familyName(family), err)
		}
		if st.done {
			return out, intr, nil
		}
	}
}

// send writes a request. An unconnected netlink socket sends a message
// without address to the kernel.
func (d *diagConn) send(b []byte) error {
	var serr error
	err := d.rc.Write(func(fd uintptr) bool {
		_, serr = unix.Write(int(fd), b)
		return serr != unix.EAGAIN && serr != unix.EINTR
	})
	if err != nil {
		return err
	}
	return serr
}

// recvfrom is the raw read of recv, kept as a method value so that a
// read allocates no closure; it leaves its results in recvN and recvErr.
// It calls recvfrom(2) without asking for the source address, which
// unix.Recvfrom would allocate for every datagram.
//
// The call is a raw one (no entersyscall): the socket is non-blocking,
// and each call is the kernel building the next datagram of the dump
// (0.1-0.3 ms of CPU), not a wait. As an ordinary system call, the Go
// scheduler's monitor took the P from it whenever another goroutine was
// runnable and handed it to another thread, about 130 times a refresh
// at 10k sockets, each time waking a thread and restarting its own
// 20 µs polling (docs/performance.md, "The TUI's CPU at 10k sockets",
// round 4). dumpOnce yields every yieldEvery datagrams instead, so that
// the dump holds its P for about a millisecond at a time.
func (d *diagConn) recvfrom(fd uintptr) bool {
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&d.buf[0])), uintptr(len(d.buf)), unix.MSG_TRUNC, 0, 0)
	d.recvN, d.recvErr = int(n), nil
	if errno != 0 {
		d.recvN, d.recvErr = 0, errno
	}
	return errno != unix.EAGAIN && errno != unix.EINTR
}

func (d *diagConn) recv() (int, error) {
	if d.readFn == nil {
		d.readFn = d.recvfrom
	}
	err := d.rc.Read(d.readFn)
	n, rerr := d.recvN, d.recvErr
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return 0, err
	}
	if rerr != nil {
		return 0, rerr
	}
	if n > len(d.buf) {
		return 0, fmt.Errorf("datagram of %d bytes truncated to %d: %w", n, len(d.buf), ErrMalformed)
	}
	return n, nil
}

func familyName(f uint8) string {
	if f == afInet6 {
		return "ipv6"
	}
	return "ipv4"
}

// dumpLinks returns the interfaces of network namespace netns (0: the
// caller's) by index, or nil if it cannot ask rtnetlink.
func dumpLinks(netns int) map[uint32]string {
	c, err := netlink.Dial(familyRoute, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	req := netlink.Message{
		Header: netlink.Header{Type: msgGetLink, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, ifinfoLen), // struct ifinfomsg, AF_UNSPEC
	}
	if _, err := c.Send(req); err != nil {
		return nil
	}
	m := map[uint32]string{}
	for msg, err := range c.ReceiveIter() {
		if err != nil {
			return nil
		}
		b, err := msg.MarshalBinary()
		if err != nil {
			return nil
		}
		parseLinks(b, m)
	}
	return m
}
