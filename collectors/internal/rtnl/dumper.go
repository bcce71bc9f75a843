package rtnl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Dumper runs dumps as Dump does, but receives the replies into memory
// it keeps from one dump to the next: mdlayher/netlink's Execute
// allocates a new buffer for every datagram it receives (the whole dump,
// again, every refresh). The messages fn is given, and their Data, are
// valid only until fn returns. A Conn with no socket under it (nltest's)
// is dumped by Dump. A Dumper is not safe for concurrent use; its zero
// value is ready.
//
// A request the kernel refuses (an error message with an errno) is
// sent again through Dump, for the error exactly as Execute makes it
// (the extended acknowledgement's text, its offset): refusals are rare
// (a kernel without RTM_GETSTATS, once; an interface gone since the link
// dump), and a dump has no side effect.
type Dumper struct {
	buf   []byte // the datagrams of the dump, each padded to 4 bytes
	spans []span // the messages in buf, Done excepted
	msgs  []netlink.Message

	// peek and read are the functions given to RawConn.Read, made once:
	// they write their results here.
	peek, read func(fd uintptr) bool
	n, at      int
	errno      syscall.Errno
}

type span struct{ off, n int }

const nlmsgHdrLen = 16

func nlmsgAlign(n int) int { return (n + 3) &^ 3 }

// Dump sends req on conn and calls fn with every reply of the last
// attempt, as Dump (the function) does.
func (d *Dumper) Dump(conn *netlink.Conn, req netlink.Message, fn func(netlink.Message) error) (bad, err error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return Dump(conn, req, fn)
	}
	for try := 0; ; try++ {
		intr, err := d.receive(conn, rc, req)
		if err == errRefused {
			return Dump(conn, req, fn)
		}
		if err != nil {
			return nil, err
		}
		if !intr || try >= MaxDumpRetries {
			break
		}
	}
	d.msgs = d.msgs[:0]
	for _, s := range d.spans {
		b := d.buf[s.off : s.off+s.n]
		d.msgs = append(d.msgs, netlink.Message{Header: netlink.Header{
			Length:   ne.Uint32(b[0:4]),
			Type:     netlink.HeaderType(ne.Uint16(b[4:6])),
			Flags:    netlink.HeaderFlags(ne.Uint16(b[6:8])),
			Sequence: ne.Uint32(b[8:12]),
			PID:      ne.Uint32(b[12:16]),
		}, Data: b[nlmsgHdrLen:s.n:s.n]})
	}
	var errs []error
	for _, m := range d.msgs {
		if err := fn(m); err != nil {
			errs = append(errs, err)
		}
	}
	clear(d.msgs) // no Data kept past the call
	return errors.Join(errs...), nil
}

var ne = binary.NativeEndian

// errRefused is receive's error for an error message with an errno.
var errRefused = errors.New("refused")

// receive sends req and reads its replies into buf and spans, as
// Execute's receive loop and Validate do: datagrams are read while a
// message says more follow (Multi) until NLMSG_DONE; an error message
// with an errno ends it with errRefused; a reply to another request is
// an error. intr says the kernel flagged the dump interrupted.
func (d *Dumper) receive(conn *netlink.Conn, rc syscall.RawConn, req netlink.Message) (intr bool, err error) {
	sent, err := conn.Send(req)
	if err != nil {
		return false, err
	}
	d.buf, d.spans = d.buf[:0], d.spans[:0]
	for {
		start, err := d.recv(rc)
		if err != nil {
			return false, &netlink.OpError{Op: "receive", Err: err}
		}
		more := false
		for off := start; off < len(d.buf); {
			if len(d.buf)-off < nlmsgHdrLen {
				return false, &netlink.OpError{Op: "receive", Err: errors.New("short netlink message")}
			}
			b := d.buf[off:]
			n := int(ne.Uint32(b[0:4]))
			typ, flags := netlink.HeaderType(ne.Uint16(b[4:6])), netlink.HeaderFlags(ne.Uint16(b[6:8]))
			if n < nlmsgHdrLen || n > len(b) {
				return false, &netlink.OpError{Op: "receive", Err: fmt.Errorf("netlink message of %d bytes in %d", n, len(b))}
			}
			if seq := ne.Uint32(b[8:12]); seq != sent.Header.Sequence {
				return false, &netlink.OpError{Op: "validate", Err: errors.New("mismatched sequence in netlink reply")}
			}
			if pid := ne.Uint32(b[12:16]); pid != sent.Header.PID && pid != 0 && sent.Header.PID != 0 {
				return false, &netlink.OpError{Op: "validate", Err: errors.New("mismatched PID in netlink reply")}
			}
			data := b[nlmsgHdrLen:n]
			done := typ == netlink.Done && flags&netlink.Multi != 0
			if typ == netlink.Error || done && len(data) > 0 {
				if len(data) < 4 {
					return false, &netlink.OpError{Op: "receive", Err: errors.New("short netlink error message")}
				}
				if c := int32(ne.Uint32(data[0:4])); c != 0 {
					return false, errRefused
				}
			}
			if done {
				return intr, nil
			}
			if flags&netlink.Multi != 0 {
				more = true
			}
			if flags&netlink.DumpInterrupted != 0 {
				intr = true
			}
			d.spans = append(d.spans, span{off, n})
			off += nlmsgAlign(n)
		}
		if !more {
			return intr, nil
		}
	}
}

// recv reads the next datagram onto the end of buf, padded to 4 bytes,
// and returns where it starts. It waits for it as the socket's own reads
// do (the poller, the Conn's deadline).
func (d *Dumper) recv(rc syscall.RawConn) (start int, err error) {
	if d.peek == nil {
		d.peek = func(fd uintptr) bool { return d.recvfrom(fd, nil, unix.MSG_PEEK|unix.MSG_TRUNC) }
		d.read = func(fd uintptr) bool { return d.recvfrom(fd, d.buf[d.at:cap(d.buf)], unix.MSG_TRUNC) }
	}
	if err := rc.Read(d.peek); err != nil {
		return 0, err
	}
	if d.errno != 0 {
		return 0, d.errno
	}
	start, size := len(d.buf), nlmsgAlign(d.n)
	if size == 0 {
		return 0, errors.New("empty netlink datagram")
	}
	// Room for the datagram and its padding; the read fills from start
	// to as much as the kernel gives, which the peek measured.
	if cap(d.buf)-start < size {
		next := make([]byte, start, 2*cap(d.buf)+size)
		copy(next, d.buf)
		d.buf = next
	}
	d.at = start
	if err := rc.Read(d.read); err != nil {
		return 0, err
	}
	if d.errno != 0 {
		return 0, d.errno
	}
	if nlmsgAlign(d.n) > cap(d.buf)-start { // MSG_TRUNC: the length it had
		return 0, fmt.Errorf("netlink datagram of %d bytes, %d peeked", d.n, size)
	}
	d.buf = d.buf[:start+nlmsgAlign(d.n)]
	clear(d.buf[start+d.n:])
	return start, nil
}

// recvfrom receives into b (nil: no room), without waiting: false when
// nothing is there yet (RawConn.Read then waits); else its result, with
// MSG_TRUNC the datagram's length, is in n and errno.
func (d *Dumper) recvfrom(fd uintptr, b []byte, flags int) bool {
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(flags|unix.MSG_DONTWAIT), 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		d.n, d.errno = int(r), e
		return true
	}
}
