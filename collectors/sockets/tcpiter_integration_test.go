package sockets

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
	"netlens/model"
)

// Ports of the sockets the TCP iterator tests make in their namespace.
const (
	itFlood    = 7101 // 127.0.0.1, reno client: data queued both ways
	itV6       = 7102 // [::1] only, cubic client: unread data at the server
	itDual     = 7103 // [::]: a v4-mapped connection
	itDev      = 7104 // 10.88.0.1 bound to vit0
	itTimeWait = 7105 // the client closes first, then the server
	itFinWait2 = 7106 // the client closes, the server never does
	itSynRecv  = 7107 // the handshake's last ACK dropped: a request socket
	itSynSent  = 7108 // SYNs dropped: the client stays in SYN-SENT
	itBacklog  = 7109 // one connection never accepted
)

// tcpIterEnv is a namespace holding TCP sockets in every state the
// iterator reports differently: listeners v4, v6 and dual-stack (one
// bound to a device, one with a connection waiting in its accept queue),
// established connections v4, v6 and v4-mapped with data queued, on
// three congestion control algorithms, TIME-WAIT sockets in the
// TIME-WAIT and FIN-WAIT-2 substates, a CLOSE-WAIT one, a request
// socket (SYN-RECV) and a SYN-SENT one.
func tcpIterEnv(t *testing.T) *netnstest.NS {
	ns := netnstest.New(t, "nlit")
	ns.Run(t, "ip", "link", "add", "vit0", "type", "veth", "peer", "name", "vit1")
	ns.Run(t, "ip", "link", "set", "vit1", "up")
	ns.Run(t, "ip", "addr", "add", "10.88.0.1/24", "dev", "vit0")
	ns.Run(t, "ip", "link", "set", "vit0", "up")
	ns.Run(t, "nft", fmt.Sprintf(`table inet nlit {
		chain in {
			type filter hook input priority 0;
			tcp dport %d tcp flags & (syn | ack) == ack drop
			tcp dport %d tcp flags syn drop
		}
	}`, itSynRecv, itSynSent))
	var err error
	ns.Do(t, func() { err = tcpIterSockets(t) })
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the FINs, the flood's first window
	return ns
}

// tcpIterSockets makes the sockets of tcpIterEnv in the calling
// thread's namespace; they are closed when the test ends.
func tcpIterSockets(t *testing.T) error {
	keep := func(c interface{ Close() error }) { t.Cleanup(func() { c.Close() }) }
	listen := func(network, addr, dev string) (net.Listener, error) {
		lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if dev != "" {
				_ = rc.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), dev) })
			}
			return serr
		}}
		l, err := lc.Listen(context.Background(), network, addr)
		if err == nil {
			keep(l)
		}
		return l, err
	}
	dial := func(network, addr, cong string, rcvbuf int) (net.Conn, error) {
		d := net.Dialer{Timeout: 2 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			_ = rc.Control(func(fd uintptr) {
				if rcvbuf > 0 {
					serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
				}
				if cong != "" && serr == nil {
					serr = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, cong)
				}
			})
			return serr
		}}
		c, err := d.Dial(network, addr)
		if err == nil {
			keep(c)
		}
		return c, err
	}
	accept := func(l net.Listener) (net.Conn, error) {
		c, err := l.Accept()
		if err == nil {
			keep(c)
		}
		return c, err
	}
	// Listeners.
	ls := map[int]net.Listener{}
	for _, a := range []struct {
		port          int
		network, addr string
		dev           string
	}{
		{itFlood, "tcp4", "127.0.0.1", ""},
		{itV6, "tcp6", "[::1]", ""},
		{itDual, "tcp", "[::]", ""},
		{itDev, "tcp4", "10.88.0.1", "vit0"},
		{itTimeWait, "tcp4", "127.0.0.1", ""},
		{itFinWait2, "tcp4", "127.0.0.1", ""},
		{itSynRecv, "tcp4", "127.0.0.1", ""},
		{itBacklog, "tcp4", "127.0.0.1", ""},
	} {
		l, err := listen(a.network, fmt.Sprintf("%s:%d", a.addr, a.port), a.dev)
		if err != nil {
			return err
		}
		ls[a.port] = l
	}
	// v4, reno: the server sends 1 MB the client (4 KB receive buffer)
	// does not read.
	if _, err := dial("tcp4", fmt.Sprintf("127.0.0.1:%d", itFlood), "reno", 4096); err != nil {
		return err
	}
	srv, err := accept(ls[itFlood])
	if err != nil {
		return err
	}
	go func() {
		_ = srv.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		_, _ = srv.Write(make([]byte, 1<<20))
	}()
	// v6, cubic: 5000 bytes the server does not read.
	c6, err := dial("tcp6", fmt.Sprintf("[::1]:%d", itV6), "cubic", 0)
	if err != nil {
		return err
	}
	if _, err := accept(ls[itV6]); err != nil {
		return err
	}
	if _, err := c6.Write(make([]byte, 5000)); err != nil {
		return err
	}
	// v4-mapped (the server's end) and device-bound connections.
	for _, p := range []struct {
		port int
		addr string
	}{{itDual, "127.0.0.1"}, {itDev, "10.88.0.1"}} {
		if _, err := dial("tcp4", fmt.Sprintf("%s:%d", p.addr, p.port), "", 0); err != nil {
			return err
		}
		if _, err := accept(ls[p.port]); err != nil {
			return err
		}
	}
	// TIME-WAIT and FIN-WAIT-2 (both TIME-WAIT sockets in the kernel),
	// CLOSE-WAIT.
	for _, port := range []int{itTimeWait, itFinWait2} {
		c, err := dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port), "", 0)
		if err != nil {
			return err
		}
		s, err := accept(ls[port])
		if err != nil {
			return err
		}
		c.Close()
		if port == itTimeWait {
			_ = s.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := s.Read(make([]byte, 1)); err == nil {
				return errors.New("TIME-WAIT: data, not EOF")
			}
			s.Close()
		}
	}
	// SYN-RECV: the client thinks it is connected, never accepted.
	if _, err := dial("tcp4", fmt.Sprintf("127.0.0.1:%d", itSynRecv), "", 0); err != nil {
		return err
	}
	// A connection waiting in the accept queue.
	if _, err := dial("tcp4", fmt.Sprintf("127.0.0.1:%d", itBacklog), "", 0); err != nil {
		return err
	}
	// SYN-SENT: a non-blocking connect whose SYNs are dropped.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: itSynSent, Addr: [4]byte{127, 0, 0, 1}}); !errors.Is(err, unix.EINPROGRESS) {
		return fmt.Errorf("connect to the SYN-dropping port: %v", err)
	}
	return nil
}

// tcpOnly returns the TCP sockets of socks sorted by cookie.
func tcpOnly(socks []model.Socket) []model.Socket {
	var out []model.Socket
	for _, s := range socks {
		if s.Proto == model.ProtoTCP {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b model.Socket) int { return cmp.Compare(a.Cookie, b.Cookie) })
	return out
}

// movingTCPInfo are the tcp_info fields that change by themselves
// between two readings of an idle socket: times since the last data
// (ms) and the send-time chrono of a socket whose chrono is running
// (the flood's rwnd-limited sender).
func movingTCPInfo(t *model.TCPInfo) [5]uint64 {
	if t == nil {
		return [5]uint64{}
	}
	return [5]uint64{uint64(t.LastDataSent), uint64(t.LastDataRecv), t.BusyTime, t.RwndLimited, t.SndbufLimited}
}

// withoutMoving returns copies of socks with movingTCPInfo zeroed, and
// without rates (which depend on the reading's time).
func withoutMoving(socks []model.Socket) []model.Socket {
	out := slices.Clone(socks)
	for i := range out {
		out[i].Rate = nil
		if out[i].TCP != nil {
			t := *out[i].TCP
			t.LastDataSent, t.LastDataRecv, t.BusyTime, t.RwndLimited, t.SndbufLimited = 0, 0, 0, 0, 0
			out[i].TCP = &t
		}
	}
	return out
}

// TestIntegrationTCPIterParity reads the same namespace through the TCP
// iterator and through sock_diag, a sock_diag reading on each side of the
// iterator's, and requires the iterator's sockets to equal one of them
// field by field, with the fields that move by themselves
// (movingTCPInfo) between the two sock_diag readings.
func TestIntegrationTCPIterParity(t *testing.T) {
	ns := tcpIterEnv(t)
	fd := ns.FD(t)
	ctx := context.Background()
	iter := New(Options{NetNS: fd, NoOwners: true, TCPSource: TCPSourceIter})
	diag := New(Options{NetNS: fd, NoOwners: true, TCPSource: TCPSourceSockDiag})
	t.Cleanup(func() { iter.Close(); diag.Close() })
	read := func(c *Collector) []model.Socket {
		socks, _, err := c.Sockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tcpOnly(socks)
	}
	var last string
	for attempt := range 10 {
		d1, it, d2 := read(diag), read(iter), read(diag)
		if st := iter.Stats(); st.TCPSource != TCPSourceIter || st.Source != "sock_diag (tcp from iter/tcp)" {
			t.Fatalf("iterator stats: source %q, TCP source %q", st.Source, st.TCPSource)
		}
		if st := diag.Stats(); st.TCPSource != TCPSourceSockDiag || st.Source != SourceSockDiag {
			t.Fatalf("sock_diag stats: source %q, TCP source %q", st.Source, st.TCPSource)
		}
		if attempt == 0 {
			checkTCPIterCoverage(t, it)
		}
		diff1 := gocmp.Diff(withoutMoving(d1), withoutMoving(it), equateAddrs)
		diff2 := gocmp.Diff(withoutMoving(d2), withoutMoving(it), equateAddrs)
		if diff1 != "" && diff2 != "" {
			last = "sock_diag before (-) vs iterator (+):\n" + diff1 + "\nsock_diag after (-) vs iterator (+):\n" + diff2
			time.Sleep(100 * time.Millisecond)
			continue
		}
		// Same sockets in the same order: the moving fields lie between
		// the two sock_diag readings.
		for i := range it {
			lo, mid, hi := movingTCPInfo(d1[i].TCP), movingTCPInfo(it[i].TCP), movingTCPInfo(d2[i].TCP)
			for k := range mid {
				if mid[k] < lo[k] || mid[k] > hi[k] {
					t.Errorf("%v %v: moving tcp_info field %d: iterator %d outside sock_diag's %d..%d", it[i].Local, it[i].Remote, k, mid[k], lo[k], hi[k])
				}
			}
		}
		return
	}
	t.Fatalf("the iterator's sockets differ from sock_diag's in 10 attempts; last:\n%s", last)
}

// TestIntegrationTCPIterParityNoTCPInfo: with NoTCPInfo the iterator
// gives what sock_diag gives without INET_DIAG_INFO: no tcp_info, the
// drops of SKMEMINFO.
func TestIntegrationTCPIterParityNoTCPInfo(t *testing.T) {
	ns := tcpIterEnv(t)
	fd := ns.FD(t)
	iter := New(Options{NetNS: fd, NoOwners: true, NoTCPInfo: true, TCPSource: TCPSourceIter})
	diag := New(Options{NetNS: fd, NoOwners: true, NoTCPInfo: true, TCPSource: TCPSourceSockDiag})
	t.Cleanup(func() { iter.Close(); diag.Close() })
	read := func(c *Collector) []model.Socket {
		socks, _, err := c.Sockets(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tcpOnly(socks)
	}
	var last string
	for range 10 {
		d, it := read(diag), read(iter)
		if last = gocmp.Diff(d, it, equateAddrs); last == "" {
			for _, s := range it {
				if s.TCP != nil || s.Rate != nil {
					t.Fatalf("%v %v: tcp_info %+v, rate %+v without tcp_info", s.Local, s.Remote, s.TCP, s.Rate)
				}
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("sock_diag (-) vs the iterator (+) without tcp_info, 10 attempts; last:\n%s", last)
}

// checkTCPIterCoverage fails unless socks (the iterator's) hold every
// kind of socket tcpIterEnv made, with the values that show it.
func checkTCPIterCoverage(t *testing.T, socks []model.Socket) {
	t.Helper()
	find := func(what string, ok func(s model.Socket) bool) *model.Socket {
		for i := range socks {
			if ok(socks[i]) {
				return &socks[i]
			}
		}
		t.Errorf("no %s among the iterator's sockets", what)
		return nil
	}
	port := func(s model.Socket, p int, st model.SockState) bool {
		return s.State == st && (s.Local.Port() == uint16(p) || s.Remote.Port() == uint16(p))
	}
	if s := find("v6 listener", func(s model.Socket) bool {
		return port(s, itV6, model.StateListen) && s.Family == model.FamilyIPv6
	}); s != nil && s.TCP.Congestion == "" {
		t.Errorf("listener without congestion control: %+v", s.TCP)
	}
	if s := find("listener with a connection waiting", func(s model.Socket) bool {
		return port(s, itBacklog, model.StateListen)
	}); s != nil && (s.RecvQ != 1 || s.SendQ == 0) {
		t.Errorf("backlog listener: Recv-Q %d Send-Q %d, want 1 and the backlog", s.RecvQ, s.SendQ)
	}
	find("device-bound listener", func(s model.Socket) bool {
		return port(s, itDev, model.StateListen) && s.Interface == "vit0"
	})
	find("device-bound connection", func(s model.Socket) bool {
		return port(s, itDev, model.StateEstablished) && s.Local.Port() == itDev && s.Interface == "vit0"
	})
	find("flood sender with a send queue", func(s model.Socket) bool {
		return port(s, itFlood, model.StateEstablished) && s.Local.Port() == itFlood && s.SendQ > 0
	})
	if s := find("reno flood receiver with a receive queue", func(s model.Socket) bool {
		return port(s, itFlood, model.StateEstablished) && s.Remote.Port() == itFlood && s.RecvQ > 0
	}); s != nil && s.TCP.Congestion != "reno" {
		t.Errorf("flood receiver: congestion %q, want reno", s.TCP.Congestion)
	}
	if s := find("cubic v6 client", func(s model.Socket) bool {
		return port(s, itV6, model.StateEstablished) && s.Remote.Port() == itV6
	}); s != nil && (s.TCP.Congestion != "cubic" || s.TCP.BytesAcked == 0 || s.TCP.RTT == 0) {
		t.Errorf("v6 client: %+v", s.TCP)
	}
	find("v6 server with unread data", func(s model.Socket) bool {
		return port(s, itV6, model.StateEstablished) && s.Local.Port() == itV6 && s.RecvQ == 5000
	})
	find("v4-mapped server", func(s model.Socket) bool {
		return port(s, itDual, model.StateEstablished) && s.Family == model.FamilyIPv6 && s.Local.Addr().Is4In6()
	})
	find("TIME-WAIT", func(s model.Socket) bool { return port(s, itTimeWait, model.StateTimeWait) && s.TCP == nil })
	find("FIN-WAIT-2 (a TIME-WAIT socket)", func(s model.Socket) bool {
		return port(s, itFinWait2, model.StateFinWait2) && s.TCP == nil && s.Inode == 0
	})
	find("CLOSE-WAIT", func(s model.Socket) bool { return port(s, itFinWait2, model.StateCloseWait) })
	find("SYN-RECV (a request socket)", func(s model.Socket) bool {
		return port(s, itSynRecv, model.StateSynRecv) && s.TCP == nil && s.Cookie != 0
	})
	find("SYN-SENT", func(s model.Socket) bool { return port(s, itSynSent, model.StateSynSent) && s.TCP != nil })
	for _, s := range socks {
		if s.Cookie == 0 {
			t.Errorf("%v %v %v: no cookie", s.State, s.Local, s.Remote)
		}
	}
}

// ssEntry is one socket of `ss -tanieH`: its main line's fields and the
// tcp_info line's.
type ssEntry struct {
	State, Local, Remote string
	RecvQ, SendQ         uint32
	UID, Ino             uint64
	Cookie               uint64
	Info                 map[string]string
}

// parseSSExtended parses `ss -tanieH`.
func parseSSExtended(out string) ([]ssEntry, error) {
	var es []ssEntry
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] == '\t' || line[0] == ' ' {
			if len(es) == 0 {
				return nil, fmt.Errorf("info line first: %q", line)
			}
			info, err := parseSSTCPInfo(strings.NewReader("X 0 0 a b\n" + line))
			if err != nil || len(info) != 1 {
				return nil, fmt.Errorf("info line %q: %v", line, err)
			}
			es[len(es)-1].Info = info[0].Info
			// The congestion control is the first bare word that is not
			// an option (ts, sack, ecn, ...).
			delete(es[len(es)-1].Info, "cong")
			for _, w := range strings.Fields(line) {
				if _, ok := congNames[w]; ok {
					es[len(es)-1].Info["cong"] = w
					break
				}
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			return nil, fmt.Errorf("ss line %q", line)
		}
		e := ssEntry{State: f[0], Local: f[3], Remote: f[4]}
		rq, _ := strconv.ParseUint(f[1], 10, 32)
		sq, _ := strconv.ParseUint(f[2], 10, 32)
		e.RecvQ, e.SendQ = uint32(rq), uint32(sq)
		for _, x := range f[5:] {
			k, v, _ := strings.Cut(x, ":")
			switch k {
			case "uid":
				e.UID, _ = strconv.ParseUint(v, 10, 32)
			case "ino":
				e.Ino, _ = strconv.ParseUint(v, 10, 64)
			case "sk":
				e.Cookie, _ = strconv.ParseUint(v, 16, 64)
			}
		}
		es = append(es, e)
	}
	return es, sc.Err()
}

// ssAddr renders an address as ss does with -n: "127.0.0.1:80",
// "[::1]:80", "*:80" for the unspecified IPv6 address of a socket whose
// local address is unspecified too (star), "%dev" after a device-bound
// socket's local address.
func ssAddr(ap netip.AddrPort, dev string, local, star bool) string {
	a := ap.Addr()
	host := a.String()
	switch {
	case a.Is6() && a.IsUnspecified() && star:
		host = "*"
	case a.Is6():
		host = "[" + host + "]"
	}
	if local && dev != "" {
		host += "%" + dev
	}
	port := strconv.Itoa(int(ap.Port()))
	if !local && ap.Port() == 0 {
		port = "*"
	}
	return host + ":" + port
}

// TestIntegrationTCPIterOracle compares the iterator's sockets with
// `ss -tanieH` run in the namespace right after: the addresses, state,
// queues, uid, inode, cookie, and the congestion control, cwnd and MSS
// of tcp_info (values that stay put on these sockets).
func TestIntegrationTCPIterOracle(t *testing.T) {
	ns := tcpIterEnv(t)
	c := New(Options{NetNS: ns.FD(t), NoOwners: true, TCPSource: TCPSourceIter})
	t.Cleanup(func() { c.Close() })
	var last string
	for range 10 {
		socks, _, err := c.Sockets(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		es, err := parseSSExtended(ns.Run(t, "ss", "-tanieH"))
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			State, Local, Remote string
			RecvQ, SendQ         uint32
			UID, Ino, Cookie     uint64
			Cong                 string
			Cwnd, MSS            uint64
		}
		var want, got []row
		for _, e := range es {
			want = append(want, row{e.State, e.Local, e.Remote, e.RecvQ, e.SendQ, e.UID, e.Ino, e.Cookie, e.Info["cong"], ssUint(e.Info, "cwnd"), ssUint(e.Info, "mss")})
		}
		for _, s := range tcpOnly(socks) {
			r := row{State: s.State.String(), Local: ssAddr(s.Local, s.Interface, true, true),
				Remote: ssAddr(s.Remote, "", false, s.Local.Addr().IsUnspecified()),
				RecvQ:  s.RecvQ, SendQ: s.SendQ, UID: uint64(s.UID), Ino: s.Inode, Cookie: s.Cookie}
			if s.TCP != nil {
				r.Cong, r.Cwnd, r.MSS = s.TCP.Congestion, uint64(s.TCP.SndCwnd), uint64(s.TCP.SndMSS)
			}
			got = append(got, r)
		}
		byCookie := func(a, b row) int { return cmp.Compare(a.Cookie, b.Cookie) }
		slices.SortFunc(want, byCookie)
		slices.SortFunc(got, byCookie)
		if last = gocmp.Diff(want, got); last == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("ss -tanieH (-) vs the iterator (+) in 10 attempts; last:\n%s", last)
}

// TestIntegrationTCPIterDefault: by default the first collection reads
// TCP from sock_diag and later ones from the iterator; $NETLENS_TCP_SOURCE
// keeps sock_diag; an iterator that cannot be loaded leaves TCP on
// sock_diag with the reason in Stats and Note, and a forced one is an
// error, not a fall back to /proc/net.
func TestIntegrationTCPIterDefault(t *testing.T) {
	ns := tcpIterEnv(t)
	fd := ns.FD(t)
	ctx := context.Background()
	sources := func(c *Collector) []string {
		t.Helper()
		var got []string
		for range 3 {
			if _, _, err := c.Sockets(ctx); err != nil {
				t.Fatal(err)
			}
			st := c.Stats()
			got = append(got, st.TCPSource+" | "+c.Source()+" | "+st.TCPFallbackReason+" | "+c.Note())
		}
		c.Close()
		return got
	}
	iter := TCPSourceIter + " | sock_diag (tcp from iter/tcp) |  | "
	diag := TCPSourceSockDiag + " | sock_diag |  | "
	if diff := gocmp.Diff([]string{diag, iter, iter}, sources(New(Options{NetNS: fd, NoOwners: true}))); diff != "" {
		t.Errorf("default (-want +got)\n%s", diff)
	}
	t.Setenv(TCPSourceEnv, TCPSourceSockDiag)
	if diff := gocmp.Diff([]string{diag, diag, diag}, sources(New(Options{NetNS: fd, NoOwners: true}))); diff != "" {
		t.Errorf("%s=%s (-want +got)\n%s", TCPSourceEnv, TCPSourceSockDiag, diff)
	}
	t.Setenv(TCPSourceEnv, "")
	c := New(Options{NetNS: fd, NoOwners: true})
	c.openIter = func() (*tcpIter, error) { return nil, errors.New("no BTF") }
	down := TCPSourceSockDiag + " | sock_diag | iter/tcp unavailable: no BTF | TCP from sock_diag: iter/tcp unavailable: no BTF"
	if diff := gocmp.Diff([]string{diag, down, down}, sources(c)); diff != "" {
		t.Errorf("iterator unavailable (-want +got)\n%s", diff)
	}
	c = New(Options{NetNS: fd, NoOwners: true, TCPSource: TCPSourceIter})
	c.openIter = func() (*tcpIter, error) { return nil, fmt.Errorf("load: %w", syscall.EPERM) }
	if _, st, err := c.Sockets(ctx); err == nil || !strings.Contains(err.Error(), "iter/tcp unavailable") || st.Source == SourceProcNet {
		t.Errorf("forced iterator unavailable: source %q, error %v", st.Source, err)
	}
	c.Close()
}
