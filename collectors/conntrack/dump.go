package conntrack

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/model"
)

// A dump's cost is mostly the kernel's: netlink_recvmsg fills the next
// skb of the dump (ctnetlink_dump_table, up to 32 KiB whatever buffer is
// offered) in the reader's own recvmsg call, one skb per call. Decoding
// and what fn does with each flow (the JSON encoding of `netlens
// flows`) is the rest. The two are pipelined: a reader goroutine keeps
// calling recvmsg while the caller's goroutine decodes the datagrams it
// received before (several to a buffer: recvChunk), so on a machine with
// a second CPU free the user-space work hides behind the kernel's
// instead of adding to it.

// recvBuffers is how many receive buffers circulate between the reader
// and the decoder: the reader runs at most this many buffers ahead.
const recvBuffers = 4

// recvChunk is the size of a receive buffer. The reader fills one with
// as many datagrams as fit (each recvmsg is offered recvBufSize, the
// most one skb of a dump can need) before it hands it over: a hand-over
// wakes the decoder, and at one per 32 KiB skb a dump of 100,000
// entries made about 2,900 context switches (perf stat), against 4 for
// `conntrack -L`.
const recvChunk = 8 * recvBufSize

// datagram is the result of one or more recvmsg calls: buf[:n], their
// datagrams one after another (each padded to 4 bytes, as netlink
// messages are aligned), and err, the error that ended them, if any.
type datagram struct {
	buf []byte
	n   int
	err error
}

// dumpReader reads one dump's datagrams on its own goroutine into buffers
// from free and hands them over on full, until the datagram that holds
// the dump's end (its NLMSG_DONE or NLMSG_ERROR), an error, or stop.
// full is closed when it ends. Buffers go back on free once decoded.
type dumpReader struct {
	free chan []byte
	full chan datagram
	quit chan struct{}
	// failed is an error fill met after it had filled part of a buffer:
	// that part is handed over first, the error with the next.
	failed error
}

// recvChunks keeps receive buffers between dumps: a collector dumps every
// few seconds, and a small table needs one buffer, a large one four.
var recvChunks = sync.Pool{New: func() any { return make([]byte, recvChunk) }}

// newRecvBuffers returns a dumpReader's buffers, for startReceiver: one
// set per dump, reused by its tries. They are taken from recvChunks when
// the reader first needs each (nil until then) and given back by
// putRecvBuffers.
func newRecvBuffers() chan []byte {
	free := make(chan []byte, recvBuffers)
	for range recvBuffers {
		free <- nil
	}
	return free
}

// putRecvBuffers gives the buffers back in free to recvChunks, once the
// dump's reader has ended.
func putRecvBuffers(free chan []byte) {
	for {
		select {
		case buf := <-free:
			if buf != nil {
				recvChunks.Put(buf)
			}
		default:
			return
		}
	}
}

// startReceiver starts reading the replies of the request with sequence
// number seq from rc.
func startReceiver(rc syscall.RawConn, seq uint32, free chan []byte) *dumpReader {
	r := &dumpReader{free: free, full: make(chan datagram, recvBuffers), quit: make(chan struct{})}
	go r.run(rc, seq)
	return r
}

func (r *dumpReader) run(rc syscall.RawConn, seq uint32) {
	defer close(r.full)
	for {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-r.quit:
			return
		}
		if buf == nil {
			buf = recvChunks.Get().([]byte)
		}
		n, ended, rerr := r.fill(rc, buf, seq)
		// full holds as many datagrams as there are buffers: never blocks.
		r.full <- datagram{buf: buf, n: n, err: rerr}
		if rerr != nil || ended {
			return
		}
	}
}

// errEmptyRead is a read of no bytes in the middle of a dump.
var errEmptyRead = fmt.Errorf("conntrack dump: %w: an empty read before NLMSG_DONE", ErrDecode)

// fill reads datagrams into buf until the next one might not fit, the
// dump ends, or none is queued and buf holds some already. (In a dump
// that is rare: netlink_recvmsg queues the next skb of a dump in the
// call that returns the previous one, so a buffer is usually handed
// over full, about seven datagrams after its first.) It returns the
// bytes filled and whether the last datagram held the dump's end; an
// error after some bytes is kept for the next call (failed), so that
// the entries before it are decoded.
func (r *dumpReader) fill(rc syscall.RawConn, buf []byte, seq uint32) (n int, ended bool, err error) {
	if err, r.failed = r.failed, nil; err != nil {
		return 0, false, err
	}
	for len(buf)-n >= recvBufSize {
		var m int
		if n == 0 {
			m, err = recv(rc, buf)
		} else if m, err = recvReady(rc, buf[n:]); err == unix.EAGAIN {
			return n, false, nil
		}
		if err == nil && m <= 0 {
			// Netlink never returns an empty datagram in a dump: an end
			// without NLMSG_DONE, and no reason to read on.
			err = errEmptyRead
		}
		if err != nil && n > 0 {
			r.failed = err
			return n, false, nil
		}
		if err != nil {
			return n, false, err
		}
		if dumpEnds(buf[n:n+m], seq) {
			return n + m, true, nil
		}
		// Pad to 4 bytes so that the next datagram's messages stay
		// aligned for the decoder's walk.
		for ; m%4 != 0; m++ {
			buf[n+m] = 0
		}
		n += m
	}
	return n, false, nil
}

// stop ends the reader and waits for it, leaving the rest of the dump
// unread: the connection is then only good for closing.
func (r *dumpReader) stop() {
	close(r.quit)
	for d := range r.full {
		r.free <- d.buf
	}
}

// drain reads the rest of the dump and throws it away, so that the
// connection stays usable.
func (r *dumpReader) drain() {
	for d := range r.full {
		r.free <- d.buf
	}
}

// dumpEnds reports whether the datagram b holds the end of the dump with
// sequence number seq (or is malformed, which ends it too).
func dumpEnds(b []byte, seq uint32) bool {
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return true
		}
		typ := binary.NativeEndian.Uint16(b[4:])
		if binary.NativeEndian.Uint32(b[8:]) == seq && (typ == unix.NLMSG_DONE || typ == unix.NLMSG_ERROR) {
			return true
		}
		l = (l + 3) &^ 3
		if l >= len(b) {
			return false
		}
		b = b[l:]
	}
	return false
}

// dumpFast dumps the conntrack table on c, IPv4 and IPv6, decoding each
// entry into a model.Flow for fn (the flow is only valid during the
// call). A dump the kernel flags NLM_F_DUMP_INTR is restarted (start is
// called before each try). Entries that fail to decode are counted in
// badMsgs and skipped.
func dumpFast(ctx context.Context, c *netlink.Conn, now time.Time, start func(), fn func(*model.Flow)) (badMsgs uint64, err error) {
	bad, _, err := dumpEach(ctx, c, now, start, func(f *model.Flow) error { fn(f); return nil }, false)
	return bad, err
}

// dumpEach is dumpFast with a callback that may stop the dump (its error
// is returned; the rest of the dump is left unread, so c is then only
// good for closing). In stream mode an entry is
// passed to fn as soon as it is decoded and an interrupted dump is not
// restarted (what fn was given cannot be taken back, as with
// `conntrack -L`): it runs to its end and reports interrupted, since the
// kernel may have skipped or repeated entries. fn runs on the caller's
// goroutine; the datagrams are received on another (dumpReader).
func dumpEach(ctx context.Context, c *netlink.Conn, now time.Time, start func(), fn func(*model.Flow) error, stream bool) (badMsgs uint64, interrupted bool, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	free := newRecvBuffers()
	defer putRecvBuffers(free) // every path has ended its reader by then
	var f model.Flow
	for try := 0; try < dumpRetries; try++ {
		start()
		badMsgs = 0
		req, err := c.Send(request(msgCTGet, netlink.Request|netlink.Dump))
		if err != nil {
			return 0, false, permError("dump", err)
		}
		seq := req.Header.Sequence
		r := startReceiver(rc, seq, free)
		intr, done := false, false
		for !done {
			d, ok := <-r.full
			if !ok {
				// The reader only ends early on an error it handed over.
				return badMsgs, intr, fmt.Errorf("conntrack dump: %w: the dump ended without NLMSG_DONE", ErrDecode)
			}
			if d.err != nil {
				r.stop()
				return badMsgs, intr, permError("dump", d.err)
			}
			if ctx.Err() != nil {
				r.free <- d.buf
				r.drain() // so the socket stays usable
				return badMsgs, intr, ctx.Err()
			}
			b := d.buf[:d.n]
			for len(b) >= unix.NLMSG_HDRLEN {
				l := int(binary.NativeEndian.Uint32(b))
				if l < unix.NLMSG_HDRLEN || l > len(b) {
					r.stop()
					return badMsgs, intr, fmt.Errorf("conntrack dump: %w: message length %d of %d bytes", ErrDecode, l, len(b))
				}
				typ := binary.NativeEndian.Uint16(b[4:])
				flags := binary.NativeEndian.Uint16(b[6:])
				mseq := binary.NativeEndian.Uint32(b[8:])
				payload := b[unix.NLMSG_HDRLEN:l]
				if al := (l + 3) &^ 3; al < len(b) {
					b = b[al:]
				} else {
					b = nil
				}
				if mseq != seq {
					continue // a stale reply
				}
				if flags&unix.NLM_F_DUMP_INTR != 0 {
					intr = true
				}
				switch {
				case typ == unix.NLMSG_DONE:
					done = true
				case typ == unix.NLMSG_ERROR:
					if err := nlError(flags, payload); err != nil {
						r.stop()
						return badMsgs, intr, permError("dump", err)
					}
					done = true
				case typ == nfnlSubsysCTNetlink<<8|uint16(msgCTNew) && (!intr || stream):
					if len(payload) < nfgenmsgLen || decodeFlow(payload[nfgenmsgLen:], now, &f) != nil {
						badMsgs++
						continue
					}
					if err := fn(&f); err != nil {
						// The rest of the dump is left unread: the
						// connection is only good for closing.
						r.stop()
						return badMsgs, intr, err
					}
				}
			}
			r.free <- d.buf
		}
		r.drain() // returns at once: the reader ended with the datagram holding the end
		if !intr || stream {
			return badMsgs, intr, nil
		}
	}
	return badMsgs, true, errDumpInterrupted
}
