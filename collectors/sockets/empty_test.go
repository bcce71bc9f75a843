package sockets

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
	"netlens/model"
)

// TestIntegrationEmptyTablesNotDumped: the tables /proc/net/sockstat
// says are empty are not dumped, and the sockets found are still exactly
// ss's; a socket in a table, or a TIME-WAIT socket for tcp6, makes the
// table dumped again.

// uncountedTCP matches a namespace's sockstat with no TCP socket in use
// and none in TIME-WAIT. Its orphan, alloc and mem counts are the
// host's (globalSockstat): another namespace's closing connections move
// them.
var uncountedTCP = regexp.MustCompile(`(?m)^TCP: inuse 0 orphan \d+ tw 0 `)

func TestIntegrationEmptyTablesNotDumped(t *testing.T) {
	ns := netnstest.New(t, "nlsk-empty")
	// inNS runs fn in the namespace; what it opens stays open until the
	// test ends.
	inNS := func(fn func() (io.Closer, error)) {
		t.Helper()
		var c io.Closer
		var err error
		ns.Do(t, func() { c, err = fn() })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	var lis net.Listener
	inNS(func() (io.Closer, error) {
		var err error
		lis, err = net.Listen("tcp4", "127.0.0.1:0")
		return lis, err
	})
	tcpAddr := lis.Addr().String()
	// The TCP iterator reads both families in one walk: with it, only
	// the other tables are skipped.
	it := New(Options{NetNS: ns.FD(t), NoOwners: true, TCPSource: TCPSourceIter})
	defer it.Close()
	if _, st, err := it.Sockets(context.Background()); err != nil {
		t.Fatal(err)
	} else if want := []string{"udp", "udp6", "udplite", "udplite6", "raw", "raw6"}; !slices.Equal(st.Empty, want) {
		t.Errorf("with the TCP iterator, tables not dumped: %v, want %v", st.Empty, want)
	}
	c := New(Options{NetNS: ns.FD(t), NoOwners: true, TCPSource: TCPSourceSockDiag})
	defer c.Close()
	collect := func() ([]model.Socket, Stats) { t.Helper(); return collectAsSS(t, ns, c) }
	// tcp6 is read once (a request socket is not in sockstat's count:
	// see Collector.tcpQuiet), then left while nothing moves.
	socks, st := collect()
	if want := []string{"udp", "udp6", "udplite", "udplite6", "raw", "raw6"}; !slices.Equal(st.Empty, want) {
		t.Errorf("tables not dumped at the first collection: %v, want %v", st.Empty, want)
	}
	socks, st = collect()
	if want := []string{"tcp6", "udp", "udp6", "udplite", "udplite6", "raw", "raw6"}; !slices.Equal(st.Empty, want) {
		t.Errorf("tables not dumped: %v, want %v", st.Empty, want)
	}
	if findSocket(socks, model.ProtoTCP, tcpAddr) == nil {
		t.Fatalf("the listener %s is missing", tcpAddr)
	}

	// A UDP socket on IPv6, and a TCP connection closed by its client,
	// which leaves a TIME-WAIT socket (sockstat counts those for both
	// families together).
	var udp net.PacketConn
	inNS(func() (io.Closer, error) {
		var err error
		udp, err = net.ListenPacket("udp6", "[::1]:0")
		return udp, err
	})
	udpAddr := udp.LocalAddr().String()
	inNS(func() (io.Closer, error) {
		conn, err := net.Dial("tcp4", tcpAddr)
		if err != nil {
			return nil, err
		}
		srv, err := lis.Accept()
		if err != nil {
			return nil, err
		}
		conn.Close()
		srv.Close() // after the client: the client's side waits
		return srv, nil
	})
	for i := 0; !strings.Contains(ns.Run(t, "ss", "-tanH", "state", "time-wait"), "127.0.0.1") && i < 50; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	socks, st = collect()
	if slices.Contains(st.Empty, "udp6") || slices.Contains(st.Empty, "tcp6") {
		t.Errorf("tables not dumped: %v; udp6 has a socket and TIME-WAIT sockets may be IPv6", st.Empty)
	}
	if findSocket(socks, model.ProtoUDP, udpAddr) == nil {
		t.Errorf("the UDP socket %s is missing", udpAddr)
	}
}

// TestIntegrationEmptyTCPNotWalked: with the TCP iterator, a namespace
// whose sockstat counts no TCP socket and no TIME-WAIT socket, found
// empty by the last walk, is not walked again; a listener, and later a
// TIME-WAIT socket alone, make it walked again, and the sockets found are
// ss's each time.
func TestIntegrationEmptyTCPNotWalked(t *testing.T) {
	ns, c := emptyNS(t, "nlsk-emptytcp", TCPSourceIter)
	collect := func() ([]model.Socket, Stats) {
		t.Helper()
		socks, st := collectAsSS(t, ns, c)
		if st.TCPSource != TCPSourceIter {
			t.Fatalf("TCP source %q, want %q", st.TCPSource, TCPSourceIter)
		}
		return socks, st
	}
	walked := func(st Stats) bool {
		return !slices.Contains(st.Empty, "tcp") && !slices.Contains(st.Empty, "tcp6")
	}
	if _, st := collect(); !walked(st) {
		t.Errorf("an empty namespace was not walked at the first collection: tables not dumped %v", st.Empty)
	}
	if _, st := collect(); walked(st) {
		t.Errorf("an empty namespace was walked again: tables not dumped %v", st.Empty)
	}

	var lis net.Listener
	var err error
	ns.Do(t, func() { lis, err = net.Listen("tcp6", "[::1]:0") })
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	socks, st := collect()
	if !walked(st) {
		t.Errorf("a namespace with a listener was not walked: tables not dumped %v", st.Empty)
	}
	if findSocket(socks, model.ProtoTCP, addr) == nil {
		t.Fatalf("the listener %s is missing", addr)
	}

	// A connection closed by its client, then the listener closed: only
	// the client's TIME-WAIT socket is left, which sockstat counts as tw,
	// not inuse.
	timeWaitAlone(t, ns, lis)
	if out := ns.Run(t, "ss", "-tanH"); !strings.Contains(out, "TIME-WAIT") || strings.Count(out, "\n") != 1 {
		t.Fatalf("want one TIME-WAIT socket left, ss -tan says:\n%s", out)
	}
	socks, st = collect()
	if !walked(st) {
		t.Errorf("a namespace with a TIME-WAIT socket was not walked: tables not dumped %v", st.Empty)
	}
	if len(socks) != 1 || socks[0].State != model.StateTimeWait {
		t.Errorf("sockets %+v, want the TIME-WAIT socket alone", socks)
	}
}

// collectAsSS collects c's sockets once and checks they are as many as
// ss lists in ns.
func collectAsSS(t *testing.T, ns *netnstest.NS, c *Collector) ([]model.Socket, Stats) {
	t.Helper()
	socks, st, err := c.Sockets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ss := strings.Count(ns.Run(t, "ss", "-tuwanH"), "\n"); len(socks) != ss {
		t.Fatalf("%d sockets, ss lists %d", len(socks), ss)
	}
	return socks, st
}

// emptyNS returns a new network namespace named after prefix and a
// collector of its sockets, TCP from source, without owners; the
// collector is closed when the test ends, before the namespace.
func emptyNS(t *testing.T, prefix, source string) (*netnstest.NS, *Collector) {
	t.Helper()
	ns := netnstest.New(t, prefix)
	c := New(Options{NetNS: ns.FD(t), NoOwners: true, TCPSource: source})
	t.Cleanup(func() { c.Close() })
	return ns, c
}

// timeWaitAlone leaves a TIME-WAIT socket in ns: it connects to lis, a
// listener in ns, closes the connection from the client's side first
// (the client's side waits), then the server's and lis, and waits (up
// to 2 s) for ss to list that socket alone. The caller checks that it
// does, if it needs to.
func timeWaitAlone(t *testing.T, ns *netnstest.NS, lis net.Listener) {
	t.Helper()
	var err error
	ns.Do(t, func() {
		defer lis.Close()
		var conn, srv net.Conn
		if conn, err = net.Dial(lis.Addr().Network(), lis.Addr().String()); err != nil {
			return
		}
		if srv, err = lis.Accept(); err != nil {
			conn.Close()
			return
		}
		conn.Close()
		srv.Close() // after the client: the client's side waits
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if out := ns.Run(t, "ss", "-tanH"); strings.Contains(out, "TIME-WAIT") && strings.Count(out, "\n") == 1 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIntegrationEmptyTCPSockDiag: from sock_diag, TCP over IPv4 is
// dumped on the first collection whatever sockstat says (the answer
// tells whether sock_diag works), then skipped while the namespace has
// no TCP socket and no TIME-WAIT one and nothing moved, and dumped again
// for an IPv4 TIME-WAIT socket alone.
func TestIntegrationEmptyTCPSockDiag(t *testing.T) {
	ns, c := emptyNS(t, "nlsk-emptydiag", TCPSourceSockDiag)
	if _, st := collectAsSS(t, ns, c); slices.Contains(st.Empty, "tcp") {
		t.Errorf("the first collection did not dump tcp: tables not dumped %v", st.Empty)
	}
	if _, st := collectAsSS(t, ns, c); !slices.Contains(st.Empty, "tcp") || !slices.Contains(st.Empty, "tcp6") {
		t.Errorf("an empty namespace's TCP tables were dumped again: tables not dumped %v", st.Empty)
	}
	var lis net.Listener
	var err error
	ns.Do(t, func() { lis, err = net.Listen("tcp4", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	timeWaitAlone(t, ns, lis)
	socks, st := collectAsSS(t, ns, c)
	if slices.Contains(st.Empty, "tcp") {
		t.Errorf("an IPv4 TIME-WAIT socket's table was not dumped: tables not dumped %v", st.Empty)
	}
	if len(socks) != 1 || socks[0].State != model.StateTimeWait {
		t.Errorf("sockets %+v, want the TIME-WAIT socket alone", socks)
	}
}

// TestIntegrationEmptyTCPRequestSocket: a request (SYN-RECV) socket
// whose listener has closed is in the TCP table without being counted in
// sockstat (no inuse, no tw) until its SYN-ACK timer fires; a namespace
// found empty before is walked again all the same (the SYN moved the
// interface counters), from the iterator and from sock_diag, and the
// socket is found as ss finds it.
func TestIntegrationEmptyTCPRequestSocket(t *testing.T) {
	for _, source := range []string{TCPSourceIter, TCPSourceSockDiag} {
		t.Run(source, func(t *testing.T) {
			ns, c := emptyNS(t, "nlsk-reqsk", source)
			// SYN-ACKs are dropped on their way in: the client never
			// answers, and the request socket waits for its timer.
			ns.Run(t, "nft", "add table inet nlreq { chain in { type filter hook input priority 0; tcp flags & (syn|ack) == (syn|ack) drop; }; }")
			for range 2 {
				collectAsSS(t, ns, c)
			}
			if _, st := collectAsSS(t, ns, c); !slices.Contains(st.Empty, "tcp") {
				t.Fatalf("the empty namespace was still read: tables not dumped %v", st.Empty)
			}
			var err error
			ns.Do(t, func() {
				var lis net.Listener
				if lis, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
					return
				}
				defer lis.Close()
				var fd int
				if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0); err != nil {
					return
				}
				defer unix.Close(fd)
				port := lis.Addr().(*net.TCPAddr).Port
				if err = unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != unix.EINPROGRESS {
					err = fmt.Errorf("connect: %v, want EINPROGRESS", err)
					return
				}
				err = nil
				for i := 0; i < 50 && !strings.Contains(ns.Run(t, "ss", "-tanH", "state", "syn-recv"), "127.0.0.1"); i++ {
					time.Sleep(5 * time.Millisecond)
				}
			}) // the client and the listener close here
			if err != nil {
				t.Fatal(err)
			}
			ssOut := ns.Run(t, "ss", "-tanH")
			stat := ns.Run(t, "cat", "/proc/net/sockstat")
			if !strings.Contains(ssOut, "SYN-RECV") || strings.Count(ssOut, "\n") != 1 || !uncountedTCP.MatchString(stat) {
				t.Fatalf("want a SYN-RECV socket alone, uncounted in sockstat; ss -tan:\n%s\nsockstat:\n%s", ssOut, stat)
			}
			socks, st := collectAsSS(t, ns, c)
			if len(socks) != 1 || socks[0].State != model.StateSynRecv {
				t.Errorf("sockets %+v (tables not dumped %v), want the SYN-RECV socket ss lists:\n%s", socks, st.Empty, ssOut)
			}
		})
	}
}
