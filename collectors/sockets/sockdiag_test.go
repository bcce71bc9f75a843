package sockets

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"netlens/model"
)

// fakeKernel answers sock_diag dump requests on one end of a datagram
// socket pair; the other end is a diagConn under test.
type fakeKernel struct {
	fd int
	// reply returns the datagrams answering the attempt-th request (from
	// 1) for family and proto, with sequence number seq.
	reply func(attempt int, seq uint32, family uint8, proto ipProto) [][]byte

	mu       sync.Mutex
	attempts map[[2]uint8]int
}

func newFakeKernel(t *testing.T, reply func(attempt int, seq uint32, family uint8, proto ipProto) [][]byte) *diagConn {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	// Room for a whole reply in flight.
	_ = unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
	_ = unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	k := &fakeKernel{fd: fds[1], reply: reply, attempts: map[[2]uint8]int{}}
	done := make(chan struct{})
	go k.serve(done)
	f := os.NewFile(uintptr(fds[0]), "fake-sock-diag")
	d, err := newDiagConn(f, &ifNames{byIndex: map[uint32]string{1: "lo"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		unix.Shutdown(k.fd, unix.SHUT_RDWR)
		unix.Close(k.fd)
		<-done
	})
	return d
}

func (k *fakeKernel) serve(done chan struct{}) {
	defer close(done)
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(k.fd, buf)
		if err != nil || n < nlmsgHdrLen+diagReqLen {
			return
		}
		seq := binary.NativeEndian.Uint32(buf[8:])
		family, proto := buf[nlmsgHdrLen], ipProto(buf[nlmsgHdrLen+1])
		k.mu.Lock()
		key := [2]uint8{family, uint8(proto)}
		k.attempts[key]++
		attempt := k.attempts[key]
		k.mu.Unlock()
		for _, dg := range k.reply(attempt, seq, family, proto) {
			if _, err := unix.Write(k.fd, dg); err != nil {
				return
			}
		}
	}
}

func tcpMsg(seq uint32, flags uint16, port uint16) []byte {
	m := diagMsg{family: afInet, state: 1, sport: port, dport: 40000, src: netip.MustParseAddr("127.0.0.1"), dst: netip.MustParseAddr("127.0.0.1"),
		inode: uint32(port), attrs: [][]byte{memInfo(0)}}
	return nlmsg(msgSockDiagByFamily, flagMulti|flags, seq, m.bytes())
}

func doneMsg(seq uint32, flags uint16) []byte {
	return nlmsg(msgDone, flagMulti|flags, seq, []byte{0, 0, 0, 0})
}

func ports(socks []model.Socket) []uint16 {
	var p []uint16
	for _, s := range socks {
		p = append(p, s.Local.Port())
	}
	return p
}

func TestDump(t *testing.T) {
	tests := []struct {
		name        string
		reply       func(attempt int, seq uint32) [][]byte
		timeout     time.Duration
		want        []uint16
		interrupted uint64
		wantErr     error
	}{
		{
			name: "reply over several datagrams, with a stale one first",
			reply: func(_ int, seq uint32) [][]byte {
				return [][]byte{tcpMsg(seq-1, 0, 9), tcpMsg(seq, 0, 1), cat(tcpMsg(seq, 0, 2), tcpMsg(seq, 0, 3)), doneMsg(seq, 0)}
			},
			want: []uint16{1, 2, 3},
		},
		{
			name: "interrupted dump is started again",
			reply: func(attempt int, seq uint32) [][]byte {
				if attempt == 1 {
					return [][]byte{cat(tcpMsg(seq, flagDumpIntr, 1), tcpMsg(seq, flagDumpIntr, 2)), doneMsg(seq, flagDumpIntr)}
				}
				return [][]byte{cat(tcpMsg(seq, 0, 1), tcpMsg(seq, 0, 3)), doneMsg(seq, 0)}
			},
			want: []uint16{1, 3},
		},
		{
			name: "interrupted on the done message only",
			reply: func(attempt int, seq uint32) [][]byte {
				if attempt == 1 {
					return [][]byte{tcpMsg(seq, 0, 1), doneMsg(seq, flagDumpIntr)}
				}
				return [][]byte{tcpMsg(seq, 0, 4), doneMsg(seq, 0)}
			},
			want: []uint16{4},
		},
		{
			name: "always interrupted: the last attempt is kept and counted",
			reply: func(attempt int, seq uint32) [][]byte {
				return [][]byte{tcpMsg(seq, flagDumpIntr, uint16(attempt)), doneMsg(seq, flagDumpIntr)}
			},
			want:        []uint16{maxDumpRetries + 1},
			interrupted: 1,
		},
		{
			name: "error reply",
			reply: func(_ int, seq uint32) [][]byte {
				return [][]byte{nlmsg(msgError, 0, seq, errPayload(-int32(syscall.ENOENT), ""))}
			},
			wantErr: syscall.ENOENT,
		},
		{
			name: "malformed reply",
			reply: func(_ int, seq uint32) [][]byte {
				return [][]byte{tcpMsg(seq, 0, 1)[:60]}
			},
			wantErr: ErrMalformed,
		},
		{
			name:    "no reply: the context deadline ends the wait",
			reply:   func(int, uint32) [][]byte { return nil },
			timeout: 100 * time.Millisecond,
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newFakeKernel(t, func(attempt int, seq uint32, _ uint8, _ ipProto) [][]byte { return tt.reply(attempt, seq) })
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			prefix := []model.Socket{{Proto: model.ProtoUDP}}
			got, err := d.dump(ctx, afInet, protoTCP, prefix)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				if len(got) != 1 {
					t.Errorf("%d sockets kept after an error, want the 1 before the dump", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got[0].Proto != model.ProtoUDP {
				t.Errorf("sockets before the dump were overwritten: %+v", got[0])
			}
			if diff := cmp.Diff(tt.want, ports(got[1:])); diff != "" {
				t.Errorf("local ports (-want +got)\n%s", diff)
			}
			if d.interrupted != tt.interrupted {
				t.Errorf("interrupted %d, want %d", d.interrupted, tt.interrupted)
			}
		})
	}
}

// TestCollectorWithFakeKernel runs a whole collection against a kernel
// without raw_diag and UDP-Lite handlers: raw sockets come from
// /proc/net/raw{,6}, UDP-Lite is reported missing.
func TestCollectorWithFakeKernel(t *testing.T) {
	d := newFakeKernel(t, func(_ int, seq uint32, family uint8, proto ipProto) [][]byte {
		switch {
		case proto == protoRAW || proto == protoUDPLite:
			return [][]byte{nlmsg(msgError, 0, seq, errPayload(-int32(syscall.ENOENT), ""))}
		case proto == protoTCP && family == afInet:
			return [][]byte{cat(tcpMsg(seq, 0, 80), tcpMsg(seq, 0, 443)), doneMsg(seq, 0)}
		}
		return [][]byte{doneMsg(seq, 0)}
	})
	c := New(Options{ProcRoot: fakeProcRoot(t)})
	c.dial = func(int) (*diagConn, error) { return d, nil }
	c.openIter = nil // the fake kernel has no TCP iterator
	defer c.Close()
	socks, st, err := c.Sockets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range socks {
		got = append(got, s.Proto.String()+" "+s.Local.String())
	}
	slices.Sort(got)
	want := []string{"raw 0.0.0.0:1", "raw [::]:58", "tcp 127.0.0.1:443", "tcp 127.0.0.1:80"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sockets (-want +got)\n%s", diff)
	}
	if c.Source() != "sock_diag (raw, raw6 from /proc/net)" {
		t.Errorf("source %q", c.Source())
	}
	if diff := cmp.Diff([]string{"udplite", "udplite6"}, st.SkippedProtos); diff != "" {
		t.Errorf("skipped (-want +got)\n%s", diff)
	}
	if n := c.Note(); n != "no udplite, udplite6 in this kernel" {
		t.Errorf("note %q", n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Sockets(context.Background()); err == nil {
		t.Error("collection after Close succeeded")
	}
}
