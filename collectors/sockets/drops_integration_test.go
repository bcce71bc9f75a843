package sockets

import (
	"context"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
	"netlens/model"
)

// TestIntegrationTCPDropsMatchSS makes a TCP socket drop what it is sent
// (a socket filter that drops every packet: the kernel counts each in
// the socket's sk_drops, as tcp_v4_rcv's discard_and_relse does) and
// reads its drops three ways: sock_diag, the full TCP iterator and the
// counters-only one the TUI uses, which reads sk_drops without
// sk_drop_counters (bpf/tcpiter.c). Each must lie between the `ss -tmn`
// readings (skmem's d) taken before and after it: the sender's
// retransmits keep adding drops.
func TestIntegrationTCPDropsMatchSS(t *testing.T) {
	ns := netnstest.New(t, "nldrop")
	ns.Run(t, "ip", "link", "set", "lo", "up")
	var server string
	ns.Do(t, func() {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		server = s.LocalAddr().String() + " " + s.RemoteAddr().String()
		raw, err := s.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		// One classic BPF instruction, "ret #0": keep nothing.
		drop := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: 1, Filter: &drop[0]})
		}); err != nil || serr != nil {
			t.Fatal(err, serr)
		}
		if _, err := c.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	})
	local, remote, _ := strings.Cut(server, " ")
	// ss's d for the server socket (filtered by its ports).
	skmemD := regexp.MustCompile(`skmem:\([^)]*,d(\d+)\)`)
	ssDrops := func() uint64 {
		out := ns.Run(t, "ss", "-tmnH", "src", local, "dst", remote)
		m := skmemD.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no skmem drops in ss -tmn: %q", out)
		}
		n, _ := strconv.ParseUint(m[1], 10, 64)
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); ssDrops() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the filtered socket dropped nothing in 10 s")
		}
	}
	fd := ns.FD(t)
	ctx := context.Background()
	want := netip.MustParseAddrPort(local)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"sock_diag", Options{NetNS: fd, NoOwners: true, TCPSource: TCPSourceSockDiag}},
		{"iter/tcp", Options{NetNS: fd, NoOwners: true, TCPSource: TCPSourceIter}},
		{"iter/tcp counters only", Options{NetNS: fd, NoOwners: true, TCPSource: TCPSourceIter, TCPCountersOnly: true}},
	} {
		c := New(tc.opts)
		// The iterator opens at a collector's second collection.
		for range 2 {
			if _, _, err := c.Sockets(ctx); err != nil {
				t.Fatal(err)
			}
		}
		before := ssDrops()
		socks, _, err := c.Sockets(ctx)
		after := ssDrops()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		var got *model.Socket
		for i := range socks {
			if s := &socks[i]; s.Proto == model.ProtoTCP && s.Local == want && s.State == model.StateEstablished {
				got = s
			}
		}
		if got == nil {
			t.Fatalf("%s: no socket %s", tc.name, local)
		}
		if !got.HasDrops || got.Drops < before || got.Drops > after {
			t.Errorf("%s: drops %d (known %v), ss -tmn read %d before and %d after", tc.name, got.Drops, got.HasDrops, before, after)
		} else {
			t.Logf("%s: drops %d, ss %d..%d", tc.name, got.Drops, before, after)
		}
	}
}
