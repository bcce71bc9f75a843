package sockets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"netlens/model"
)

// TestIntegrationTCPCountersOnlyParity reads tcpIterEnv's namespace with
// the full TCP iterator and counters only (Options.TCPCountersOnly): the
// sockets are the same, field by field, but for tcp_info, which the
// counters-only reading leaves out; its rates (second reading) are there
// for every socket the full reading rates.
func TestIntegrationTCPCountersOnlyParity(t *testing.T) {
	ns := tcpIterEnv(t)
	fd := ns.FD(t)
	ctx := context.Background()
	full := New(Options{NetNS: fd, NoOwners: true, TCPSource: TCPSourceIter})
	cnt := New(Options{NetNS: fd, NoOwners: true, TCPSource: TCPSourceIter, TCPCountersOnly: true})
	t.Cleanup(func() { full.Close(); cnt.Close() })
	read := func(c *Collector) []model.Socket {
		socks, _, err := c.Sockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tcpOnly(socks)
	}
	read(full)
	read(cnt)
	time.Sleep(200 * time.Millisecond)
	var last string
	for range 10 {
		f, c := read(full), read(cnt)
		fullInfo := 0
		for i := range f {
			if f[i].TCP != nil {
				fullInfo++
			}
		}
		if fullInfo == 0 {
			t.Fatal("the full reading has no tcp_info")
		}
		for _, s := range c {
			if s.TCP != nil {
				t.Fatalf("%v %v: counters only, with tcp_info %+v", s.Local, s.Remote, s.TCP)
			}
		}
		strip := func(socks []model.Socket) []model.Socket {
			out := slices.Clone(socks)
			for i := range out {
				out[i].TCP, out[i].Rate = nil, nil
			}
			return out
		}
		if last = gocmp.Diff(strip(f), strip(c), equateAddrs); last != "" {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for i := range f {
			if (f[i].Rate != nil) != (c[i].Rate != nil) {
				t.Errorf("%v %v: rate %+v with tcp_info, %+v counters only", f[i].Local, f[i].Remote, f[i].Rate, c[i].Rate)
			}
		}
		return
	}
	t.Fatalf("full (-) vs counters only (+), 10 attempts; last:\n%s", last)
}

// TestIntegrationLookupTCPInfo asks LookupTCPInfo for every full TCP
// socket of tcpIterEnv's namespace but listeners (v4, v6, v4-mapped,
// three congestion controls, a device-bound connection): its tcp_info
// equals the iterator's reading of the socket on either side of it, but
// for the fields that move by themselves. A socket that closed, and a
// cookie that names no socket, are ErrSocketGone.
func TestIntegrationLookupTCPInfo(t *testing.T) {
	ns := tcpIterEnv(t)
	fd := ns.FD(t)
	ctx := context.Background()
	full := New(Options{NetNS: fd, NoOwners: true, TCPSource: TCPSourceIter})
	t.Cleanup(func() { full.Close() })
	read := func() []model.Socket {
		socks, _, err := full.Sockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tcpOnly(socks)
	}
	strip := func(ti *model.TCPInfo) *model.TCPInfo {
		if ti == nil {
			return nil
		}
		c := *ti
		c.LastDataSent, c.LastDataRecv, c.BusyTime, c.RwndLimited, c.SndbufLimited = 0, 0, 0, 0, 0
		return &c
	}
	checked, devBound := 0, 0
	for _, s := range read() {
		if s.TCP == nil || s.State == model.StateListen {
			continue
		}
		var last string
		ok := false
		for range 10 {
			got, err := LookupTCPInfo(ctx, fd, s)
			if err != nil {
				t.Fatalf("%v %v: %v", s.Local, s.Remote, err)
			}
			var now *model.TCPInfo
			for _, x := range read() {
				if x.Cookie == s.Cookie {
					now = x.TCP
				}
			}
			if last = gocmp.Diff(strip(now), strip(got)); last == "" {
				ok = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !ok {
			t.Errorf("%v %v %s: iterator (-) vs lookup (+):\n%s", s.Local, s.Remote, s.State, last)
		}
		checked++
		if s.Interface != "" {
			devBound++
			// A device whose name was unknown when the socket was read
			// ("ifN", ifNames): its index is in the name.
			var ifi *net.Interface
			var err error
			ns.Do(t, func() { ifi, err = net.InterfaceByName(s.Interface) })
			if err != nil {
				t.Fatal(err)
			}
			byIndex := s
			byIndex.Interface = fmt.Sprintf("if%d", ifi.Index)
			if ti, err := LookupTCPInfo(ctx, fd, byIndex); err != nil || ti == nil {
				t.Errorf("%v %v on %s: %+v %v", s.Local, s.Remote, byIndex.Interface, ti, err)
			}
		}
	}
	if checked < 6 {
		t.Fatalf("looked up %d sockets, want every established one of the namespace (6 or more)", checked)
	}
	t.Logf("%d sockets looked up, %d bound to a device", checked, devBound)

	// A socket that is gone; a cookie of no socket.
	var c net.Conn
	var l net.Listener
	var err error
	ns.Do(t, func() {
		if l, err = net.Listen("tcp4", "127.0.0.1:0"); err == nil {
			c, err = net.Dial("tcp4", l.Addr().String())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mine model.Socket
	for _, s := range read() {
		if s.Local.String() == c.LocalAddr().String() {
			mine = s
		}
	}
	if mine.Cookie == 0 {
		t.Fatalf("%v not read", c.LocalAddr())
	}
	wrong := mine
	wrong.Cookie++
	if _, err := LookupTCPInfo(ctx, fd, wrong); !errors.Is(err, ErrSocketGone) {
		t.Errorf("a wrong cookie: %v, want ErrSocketGone", err)
	}
	if ti, err := LookupTCPInfo(ctx, fd, mine); err != nil || ti == nil {
		t.Fatalf("the open socket: %+v %v", ti, err)
	}
	// Reset, not closed gracefully: no TIME-WAIT socket left to find.
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	if _, err := LookupTCPInfo(ctx, fd, mine); !errors.Is(err, ErrSocketGone) {
		t.Errorf("a closed socket: %v, want ErrSocketGone", err)
	}
	if _, err := LookupTCPInfo(ctx, fd, model.Socket{Proto: model.ProtoUDP}); err == nil {
		t.Error("a UDP socket: no error")
	}
}

// BenchmarkLookupTCPInfo times one LookupTCPInfo (a netlink socket
// opened, one exact sock_diag request, its answer decoded): what the
// TUI's detail pane costs a refresh while it is open.
func BenchmarkLookupTCPInfo(b *testing.B) {
	loopbackConns(b, 1000)
	full := New(Options{NoOwners: true, TCPSource: TCPSourceSockDiag})
	defer full.Close()
	socks, _, err := full.Sockets(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var s model.Socket
	for _, x := range socks {
		if x.TCP != nil && x.State == model.StateEstablished {
			s = x
		}
	}
	if s.Cookie == 0 {
		b.Fatal("no established socket")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LookupTCPInfo(context.Background(), 0, s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIntegrationFillTCPInfo: a counters-only table filled by
// FillTCPInfo has the tcp_info of every full TCP socket, listeners
// included, as a full reading has it (the fields that do not move by
// themselves), in a copy: the table read stays without.
func TestIntegrationFillTCPInfo(t *testing.T) {
	ns := tcpIterEnv(t)
	fd := ns.FD(t)
	ctx := context.Background()
	cnt := New(Options{NetNS: fd, NoOwners: true, TCPSource: TCPSourceIter, TCPCountersOnly: true})
	t.Cleanup(func() { cnt.Close() })
	socks, _, err := cnt.Sockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	filled, err := FillTCPInfo(ctx, fd, socks)
	if err != nil {
		t.Fatal(err)
	}
	if len(filled) != len(socks) || len(socks) > 0 && &filled[0] == &socks[0] {
		t.Fatalf("%d sockets filled of %d, or not a copy", len(filled), len(socks))
	}
	full, listeners := 0, 0
	for i, s := range filled {
		if socks[i].TCP != nil {
			t.Fatalf("the table read was changed: %+v", socks[i].TCP)
		}
		if s.Proto != model.ProtoTCP || !s.HasDrops { // TIME-WAIT, request sockets: no tcp_info
			continue
		}
		if s.TCP == nil || s.TCP.SndCwnd == 0 {
			t.Errorf("%v %v %s: no tcp_info after FillTCPInfo: %+v", s.Local, s.Remote, s.State, s.TCP)
			continue
		}
		full++
		if s.State == model.StateListen {
			listeners++
		}
	}
	if full < 10 || listeners < 3 {
		t.Fatalf("%d full TCP sockets filled, %d listeners", full, listeners)
	}
	// Nothing to fill: the same list back.
	if again, err := FillTCPInfo(ctx, fd, filled); err != nil || &again[0] != &filled[0] {
		t.Errorf("a filled table filled again: %v, copied %v", err, &again[0] != &filled[0])
	}
}
