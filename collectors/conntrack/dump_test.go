package conntrack

import (
	"encoding/binary"
	"errors"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// nlmsg returns one netlink message: a header of type typ and sequence
// seq, then payload, padded to 4 bytes.
func nlmsg(typ uint16, seq uint32, payload []byte) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_MULTI)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestDumpEnds(t *testing.T) {
	const seq = 7
	entry := nlmsg(nfnlSubsysCTNetlink<<8, seq, []byte{2, 0, 0, 0, 1, 2, 3})
	done := nlmsg(unix.NLMSG_DONE, seq, []byte{0, 0, 0, 0})
	cat := func(bs ...[]byte) []byte {
		var b []byte
		for _, x := range bs {
			b = append(b, x...)
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"empty", nil, false},
		{"entries", cat(entry, entry), false},
		{"done at the end", cat(entry, entry, done), true},
		{"done alone", done, true},
		{"error", nlmsg(unix.NLMSG_ERROR, seq, make([]byte, 20)), true},
		{"another dump's done", cat(entry, nlmsg(unix.NLMSG_DONE, seq+1, []byte{0, 0, 0, 0})), false},
		{"length past the end", cat(entry, entry[:len(entry)-4]), true},
		{"length below a header", cat(entry, []byte{4, 0, 0, 0}, make([]byte, 12)), true},
		{"a short tail", cat(entry, []byte{1, 2}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dumpEnds(tt.b, seq); got != tt.want {
				t.Errorf("dumpEnds = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzDumpEnds checks dumpEnds against syscall.ParseNetlinkMessage: the
// dump reader must stop at the datagram where the decoder sees the end
// (or gives up on a malformed message), and never before.
func FuzzDumpEnds(f *testing.F) {
	b, err := os.ReadFile("testdata/ctnetlink-dump-nat.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, uint32(0))
	f.Add(append(nlmsg(nfnlSubsysCTNetlink<<8, 3, []byte{2, 0, 0, 0}), nlmsg(unix.NLMSG_DONE, 3, []byte{0, 0, 0, 0})...), uint32(3))
	f.Fuzz(func(t *testing.T, b []byte, seq uint32) {
		got := dumpEnds(b, seq)
		msgs, err := syscall.ParseNetlinkMessage(b)
		if err != nil {
			return // malformed somewhere: either answer is a stop the decoder agrees with
		}
		want := false
		for _, m := range msgs {
			if m.Header.Seq == seq && (m.Header.Type == unix.NLMSG_DONE || m.Header.Type == unix.NLMSG_ERROR) {
				want = true
			}
		}
		if got != want {
			t.Errorf("dumpEnds = %v, ParseNetlinkMessage says %v", got, want)
		}
	})
}

// TestReaderFill runs the dump reader over a SOCK_SEQPACKET pair standing
// for the netlink socket: datagrams of odd lengths are packed into one
// buffer, each padded to 4 bytes, so that the decoder's walk finds every
// message; the reader stops at the dump's end; an end without
// NLMSG_DONE (an empty read) is an error handed over after the datagrams
// before it.
func TestReaderFill(t *testing.T) {
	const seq = 9
	pair := func(t *testing.T) (syscall.RawConn, int) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fds[0]), "dump")
		t.Cleanup(func() { f.Close(); unix.Close(fds[1]) })
		rc, err := f.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		return rc, fds[1]
	}
	// An entry message whose length is not a multiple of 4, sent alone:
	// the datagram ends without padding.
	entry := func(i byte) []byte {
		m := nlmsg(nfnlSubsysCTNetlink<<8, seq, []byte{2, 0, 0, 0, i, i, i})
		return m[:unix.NLMSG_HDRLEN+7]
	}
	walk := func(b []byte) (payloads []byte, done bool) {
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(b))
			if binary.NativeEndian.Uint16(b[4:]) == unix.NLMSG_DONE {
				done = true
			} else {
				payloads = append(payloads, b[unix.NLMSG_HDRLEN+4])
			}
			b = b[min(len(b), (l+3)&^3):]
		}
		return payloads, done
	}
	read := func(t *testing.T, rc syscall.RawConn) (got []byte, done bool, err error) {
		r := startReceiver(rc, seq, newRecvBuffers())
		for d := range r.full {
			p, dn := walk(d.buf[:d.n])
			got, done = append(got, p...), done || dn
			if d.err != nil {
				err = d.err
			}
			r.free <- d.buf
		}
		return got, done, err
	}

	t.Run("packed", func(t *testing.T) {
		rc, w := pair(t)
		for i := byte(1); i <= 20; i++ {
			unix.Write(w, entry(i))
		}
		unix.Write(w, nlmsg(unix.NLMSG_DONE, seq, []byte{0, 0, 0, 0}))
		got, done, err := read(t, rc)
		if err != nil || !done || len(got) != 20 || got[0] != 1 || got[19] != 20 {
			t.Errorf("read %v, done %v, err %v; want entries 1-20 and the end", got, done, err)
		}
	})
	t.Run("empty read", func(t *testing.T) {
		rc, w := pair(t)
		for i := byte(1); i <= 3; i++ {
			unix.Write(w, entry(i))
		}
		unix.Shutdown(w, unix.SHUT_WR) // the next read returns 0 bytes
		got, done, err := read(t, rc)
		if !errors.Is(err, ErrDecode) || done || len(got) != 3 {
			t.Errorf("read %v, done %v, err %v; want entries 1-3, then ErrDecode", got, done, err)
		}
	})
}
