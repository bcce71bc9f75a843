package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"netlens/control/filter/kmodbackend"
	"netlens/internal/filtertest"
	"netlens/model"
)

// echoServer listens on 127.0.0.1 and echoes lines back on connections it
// keeps open.
func echoServer() (net.Listener, uint16, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, 0, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln, uint16(ln.Addr().(*net.TCPAddr).Port), nil
}

func echoes(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("netlens\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "netlens\n"
}

func connects(addr string, n int) int {
	ok := 0
	for range n {
		if c, err := net.DialTimeout("tcp4", addr, 300*time.Millisecond); err == nil {
			ok++
			c.Close()
		}
	}
	return ok
}

func packetsOf(b *kmodbackend.Backend, id uint32) (uint64, error) {
	rs, err := b.List()
	if err != nil {
		return 0, err
	}
	for _, r := range rs {
		if r.ID == id {
			return r.Packets, nil
		}
	}
	return 0, fmt.Errorf("rule %d gone", id)
}

func deleteAll(b *kmodbackend.Backend) error {
	rs, err := b.List()
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := b.Delete(r.ID, 0); err != nil {
			return err
		}
	}
	return nil
}

// firstPacketOnly checks a drop rule that must refuse new connections to
// the port and let an established one go on: added with the CLI flags
// args (the port appended as --dport). A count rule on ct state
// established turns conntrack on before the connection is made.
func firstPacketOnly(b *kmodbackend.Backend, args ...string) error {
	ln, port, err := echoServer()
	if err != nil {
		return err
	}
	defer ln.Close()
	p := strconv.Itoa(int(port))
	if out, err := run("add", "--action", "count", "--ct-state", "established", "--proto", "tcp", "--dport", p, "--no-revert"); err != nil {
		return fmt.Errorf("add ct established count: %v %s", err, out)
	}
	before, err := net.DialTimeout("tcp4", ln.Addr().String(), time.Second)
	if err != nil {
		return err
	}
	defer before.Close()
	out, err := run(append(append([]string{"add", "--action", "drop", "--priority", "5"}, args...), "--dport", p, "--no-revert")...)
	if err != nil {
		return fmt.Errorf("add %q: %v %s", args, err, out)
	}
	logf("%s", strings.TrimSpace(out))
	for i := range 3 {
		if !echoes(before) {
			return fmt.Errorf("%q: echo %d on the established connection lost", args, i)
		}
	}
	if n := connects(ln.Addr().String(), 2); n != 0 {
		return fmt.Errorf("%q: %d of 2 new connections got through", args, n)
	}
	rs, err := b.List()
	if err != nil || len(rs) != 2 {
		return fmt.Errorf("rules: %v %+v", err, rs)
	}
	for _, r := range rs {
		logf("rule %d %s action %s: %d packets", r.ID, r.Label, r.Action, r.Packets)
		if r.Packets < 2 {
			return fmt.Errorf("rule %d counted %d packets, want at least 2", r.ID, r.Packets)
		}
	}
	return deleteAll(b)
}

// pingLoopback sends one ICMP echo request to 127.0.0.1 from a raw
// socket and reports whether the reply came within half a second.
func pingLoopback(seq int) (bool, error) {
	c, err := icmp.ListenPacket("ip4:icmp", "127.0.0.1")
	if err != nil {
		return false, err
	}
	defer c.Close()
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: os.Getpid() & 0xffff, Seq: seq, Data: []byte("netlens")}}
	wb, err := msg.Marshal(nil)
	if err != nil {
		return false, err
	}
	if _, err := c.WriteTo(wb, &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		return false, err
	}
	buf := make([]byte, 1500)
	deadline := time.Now().Add(500 * time.Millisecond)
	for range 10 {
		c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return false, nil
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err == nil && m.Type == ipv4.ICMPTypeEchoReply {
			if e, ok := m.Body.(*icmp.Echo); ok && e.Seq == seq {
				return true, nil
			}
		}
	}
	return false, nil
}

// checkMatches: the module's conntrack state, TCP flags, ICMP type and
// negation, set through the kmod backend (model.Rule fields, the CLI's
// flags) against real loopback traffic.
func checkMatches() error {
	b, err := kmodbackend.Dial("")
	if err != nil {
		return err
	}
	defer b.Close()
	if err := deleteAll(b); err != nil {
		return err
	}
	// ct state new tcp dport P drop; tcp flags syn / syn,ack tcp dport P drop
	if err := firstPacketOnly(b, "--ct-state", "new", "--proto", "tcp", "--label", "ct-new"); err != nil {
		return err
	}
	if err := firstPacketOnly(b, "--tcp-flags", "syn/syn,ack", "--proto", "tcp", "--label", "syn-only"); err != nil {
		return err
	}

	// icmp type echo-request drop, against a count of echo-reply
	reply, err := b.Add(model.Rule{Enabled: true, Proto: "icmp", ICMP: "echo-reply", Action: model.ActionCount, Priority: 1}, 0)
	if err != nil {
		return fmt.Errorf("add echo-reply count: %w", err)
	}
	req, err := b.Add(model.Rule{Enabled: true, Proto: "icmp", ICMP: "echo-request", Action: model.ActionDrop, Priority: 2}, 0)
	if err != nil {
		return fmt.Errorf("add echo-request drop: %w", err)
	}
	if req.ICMP != "echo-request" || reply.ICMP != "echo-reply" {
		return fmt.Errorf("read back: %q %q", req.ICMP, reply.ICMP)
	}
	for i := range 3 {
		if ok, err := pingLoopback(i); err != nil || ok {
			return fmt.Errorf("ping %d through icmp type echo-request drop: answered %v, %v", i, ok, err)
		}
	}
	nreq, _ := packetsOf(b, req.ID)
	nrep, _ := packetsOf(b, reply.ID)
	if nreq != 3 || nrep != 0 {
		return fmt.Errorf("echo-request drop counted %d (want 3), echo-reply count %d (want 0)", nreq, nrep)
	}
	if err := b.Delete(req.ID, 0); err != nil {
		return err
	}
	for i := range 3 {
		if ok, err := pingLoopback(10 + i); err != nil || !ok {
			return fmt.Errorf("ping %d without the drop: answered %v, %v", i, ok, err)
		}
	}
	if nrep, _ = packetsOf(b, reply.ID); nrep != 3 {
		return fmt.Errorf("echo-reply count %d, want 3", nrep)
	}
	logf("icmp: echo-request drop took 3 of 3 requests; echo-reply count 0, then 3 without the drop")
	if err := deleteAll(b); err != nil {
		return err
	}

	// saddr != 127.1.0.0/16 udp dport P drop
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer srv.Close()
	port := strconv.Itoa(srv.LocalAddr().(*net.UDPAddr).Port)
	out, err := run("add", "--action", "drop", "--proto", "udp", "--src", "!127.1.0.0/16", "--dport", port, "--no-revert")
	if err != nil {
		return fmt.Errorf("add negated source: %v %s", err, out)
	}
	from := func(src string) (int, error) {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src)}, srv.LocalAddr().(*net.UDPAddr))
		if err != nil {
			return 0, err
		}
		defer c.Close()
		for range 3 {
			c.Write([]byte("netlens"))
		}
		return filtertest.Received(srv), nil
	}
	for src, want := range map[string]int{"127.1.0.1": 3, "127.0.0.1": 0, "127.2.0.1": 0} {
		got, err := from(src)
		if err != nil || got != want {
			return fmt.Errorf("from %s through saddr != 127.1.0.0/16 drop: %d of 3 received (%v), want %d", src, got, err, want)
		}
	}
	rs, err := b.List()
	if err != nil || len(rs) != 1 || strings.Join(rs[0].Negate, ",") != "src" || rs[0].Packets != 6 {
		return fmt.Errorf("negated rule read back: %v %+v", err, rs)
	}
	logf("negation: saddr != 127.1.0.0/16 dropped the 6 datagrams from outside it, passed the 3 from inside")
	return deleteAll(b)
}
