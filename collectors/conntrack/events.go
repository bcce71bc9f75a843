package conntrack

import (
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// eventPause is how long the listener lets events gather between reads.
// Each event is one datagram; waking for each costs more than decoding it
// (at 20,000 events/s, most of the listener's CPU). Pausing bounds the
// wake-ups to about 200 a second and delays events by at most this; the
// socket buffer holds seconds' worth meanwhile.
const eventPause = 5 * time.Millisecond

// rawReceiver reads events from a netlink socket in batches: it waits for
// one datagram, then takes every datagram already queued without
// waiting, into one reused buffer. The messages it returns are valid
// until the next Receive. It is used by one goroutine.
type rawReceiver struct {
	rc      syscall.RawConn
	buf     []byte
	pause   time.Duration
	full    bool  // the last batch filled the buffer: more is queued
	pending error // an error met while draining, returned next time
}

func newRawReceiver(c *netlink.Conn) (*rawReceiver, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &rawReceiver{rc: rc, buf: make([]byte, 256<<10), pause: eventPause}, nil
}

// minRoom is the space kept free for the next datagram: an event message
// is a few hundred bytes.
const minRoom = 16 << 10

// Receive implements receiver. Errors are the socket's: ENOBUFS after the
// kernel dropped events, os.ErrClosed after Close.
func (r *rawReceiver) Receive() ([]netlink.Message, error) {
	if err := r.pending; err != nil {
		r.pending = nil
		return nil, err
	}
	if !r.full && r.pause > 0 {
		time.Sleep(r.pause)
	}
	off := 0
	var n int
	var rerr error
	if err := r.rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), r.buf, unix.MSG_DONTWAIT)
		return rerr != unix.EAGAIN
	}); err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	off = (n + 3) &^ 3
	for len(r.buf)-off >= minRoom {
		cerr := r.rc.Control(func(fd uintptr) {
			n, _, rerr = unix.Recvfrom(int(fd), r.buf[off:], unix.MSG_DONTWAIT)
		})
		if cerr != nil {
			r.pending = cerr
			break
		}
		if rerr == unix.EAGAIN {
			break
		}
		if rerr != nil {
			r.pending = rerr
			break
		}
		off += (n + 3) &^ 3
	}
	r.full = len(r.buf)-off < minRoom
	return parseMessages(r.buf[:off])
}

// parseMessages splits a buffer of netlink messages, each aligned to 4
// bytes, without copying.
func parseMessages(b []byte) ([]netlink.Message, error) {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil, err
	}
	out := make([]netlink.Message, len(msgs))
	for i, m := range msgs {
		out[i] = netlink.Message{Header: netlink.Header{Length: m.Header.Len, Type: netlink.HeaderType(m.Header.Type),
			Flags: netlink.HeaderFlags(m.Header.Flags), Sequence: m.Header.Seq, PID: m.Header.Pid}, Data: m.Data}
	}
	return out, nil
}
