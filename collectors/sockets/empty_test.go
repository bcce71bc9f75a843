package sockets

import (
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"netlens/internal/netnstest"
	"netlens/model"
)

// TestIntegrationEmptyTablesNotDumped: the tables /proc/net/sockstat
// says are empty are not dumped, and the sockets found are still exactly
// ss's; a socket in a table, or a TIME-WAIT socket for tcp6, makes the
// table dumped again.
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
	socks, st := collect()
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
// whose sockstat counts no TCP socket and no TIME-WAIT socket is not
// walked; a listener, and later a TIME-WAIT socket alone, make it walked
// again, and the sockets found are ss's each time.
func TestIntegrationEmptyTCPNotWalked(t *testing.T) {
	ns := netnstest.New(t, "nlsk-emptytcp")
	c := New(Options{NetNS: ns.FD(t), NoOwners: true, TCPSource: TCPSourceIter})
	defer c.Close()
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
	if _, st := collect(); walked(st) {
		t.Errorf("an empty namespace was walked: tables not dumped %v", st.Empty)
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
	ns.Do(t, func() {
		var conn net.Conn
		if conn, err = net.Dial("tcp6", addr); err != nil {
			return
		}
		var srv net.Conn
		if srv, err = lis.Accept(); err != nil {
			return
		}
		conn.Close()
		srv.Close()
		lis.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; strings.Count(ns.Run(t, "ss", "-tanH"), "\n") != 1 && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
	}
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

// TestIntegrationEmptyTCPSockDiag: from sock_diag, TCP over IPv4 is
// dumped on the first collection whatever sockstat says (the answer
// tells whether sock_diag works), then skipped while the namespace has
// no TCP socket and no TIME-WAIT one, and dumped again for an IPv4
// TIME-WAIT socket alone.
func TestIntegrationEmptyTCPSockDiag(t *testing.T) {
	ns := netnstest.New(t, "nlsk-emptydiag")
	c := New(Options{NetNS: ns.FD(t), NoOwners: true, TCPSource: TCPSourceSockDiag})
	defer c.Close()
	if _, st := collectAsSS(t, ns, c); slices.Contains(st.Empty, "tcp") {
		t.Errorf("the first collection did not dump tcp: tables not dumped %v", st.Empty)
	}
	if _, st := collectAsSS(t, ns, c); !slices.Contains(st.Empty, "tcp") || !slices.Contains(st.Empty, "tcp6") {
		t.Errorf("an empty namespace's TCP tables were dumped again: tables not dumped %v", st.Empty)
	}
	var err error
	ns.Do(t, func() {
		var lis net.Listener
		if lis, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			return
		}
		defer lis.Close()
		var conn, srv net.Conn
		if conn, err = net.Dial("tcp4", lis.Addr().String()); err != nil {
			return
		}
		if srv, err = lis.Accept(); err != nil {
			return
		}
		conn.Close()
		srv.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; !strings.Contains(ns.Run(t, "ss", "-tanH"), "TIME-WAIT") && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	socks, st := collectAsSS(t, ns, c)
	if slices.Contains(st.Empty, "tcp") {
		t.Errorf("an IPv4 TIME-WAIT socket's table was not dumped: tables not dumped %v", st.Empty)
	}
	if len(socks) != 1 || socks[0].State != model.StateTimeWait {
		t.Errorf("sockets %+v, want the TIME-WAIT socket alone", socks)
	}
}
