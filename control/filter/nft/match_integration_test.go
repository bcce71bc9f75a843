package nft

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"netlens/model"
)

var counterValues = regexp.MustCompile(`counter packets \d+ bytes \d+`)

// ruleLines returns the rule lines of chain c of table inet t as nft(8)
// prints them, counter values left out.
func (l *lab) ruleLines(t *testing.T, table, chain string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(l.ns.Run(t, "nft", "list", "chain", "inet", table, chain), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "type ") || strings.HasPrefix(line, "chain ") ||
			strings.HasPrefix(line, "table ") || line == "}" {
			continue
		}
		out = append(out, counterValues.ReplaceAllString(line, "counter"))
	}
	return out
}

// nftShows checks that nft(8) lists the netlens input chain as exactly
// what it prints for text added by nft itself: the oracle is nft's own
// compiler and printer, on a scratch table of the same namespace. More
// texts are more rules, in chain order.
func (l *lab) nftShows(t *testing.T, texts ...string) {
	t.Helper()
	l.ns.Run(t, "nft", "add", "table", "inet", "oracle")
	l.ns.Run(t, "nft", "add", "chain", "inet", "oracle", "c")
	defer l.ns.Run(t, "nft", "delete", "table", "inet", "oracle")
	for _, text := range texts {
		l.ns.Run(t, "nft", "add", "rule", "inet", "oracle", "c", text)
	}
	want := l.ruleLines(t, "oracle", "c")
	got := l.ruleLines(t, TableName, "input")
	if len(want) != len(texts) || !slices.Equal(got, want) {
		t.Errorf("nft lists the netlens rule as %q; for %q nft itself prints %q", got, texts, want)
	}
}

// echoServer listens on 127.0.0.1 in the namespace and echoes every line
// back on connections it keeps open.
func (l *lab) echoServer(t *testing.T) (net.Listener, uint16) {
	t.Helper()
	var ln net.Listener
	l.ns.Do(t, func() {
		var err error
		if ln, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln, uint16(ln.Addr().(*net.TCPAddr).Port)
}

// echoes sends a line on c and reports whether it came back within a
// second.
func echoes(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("netlens\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "netlens\n"
}

func (l *lab) add(t *testing.T, r model.Rule) model.Rule {
	t.Helper()
	r.Enabled = true
	if len(r.Hooks) == 0 {
		r.Hooks = []string{model.HookInput}
	}
	got, err := l.b.Add(r, 0)
	if err != nil {
		t.Fatalf("add %+v: %v", r, err)
	}
	return got
}

func (l *lab) packets(t *testing.T, id uint32) uint64 {
	t.Helper()
	rs, err := l.b.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.ID == id {
			return r.Packets
		}
	}
	t.Fatalf("rule %d gone", id)
	return 0
}

// TestIntegrationCTStateNew: "ct state new tcp dport P drop" lets a
// connection established before it go on (its packets are established)
// and refuses every new one; nft(8) prints the rule as it prints that
// text, and reads it back as the same rule.
func TestIntegrationCTStateNew(t *testing.T) {
	l := newLab(t)
	ln, port := l.echoServer(t)
	// conntrack runs in a namespace once a rule needs it: a connection
	// made before that is picked up mid-stream, and its first packet seen
	// is new (which is why the guard takes a session conntrack does not
	// track for new)
	est := l.add(t, model.Rule{Proto: "tcp", DstPorts: model.PortRange{Min: port, Max: port}, CTState: []string{"established"},
		Action: model.ActionCount, Priority: 1})
	var before net.Conn
	l.ns.Do(t, func() {
		var err error
		if before, err = net.DialTimeout("tcp4", ln.Addr().String(), time.Second); err != nil {
			t.Fatal(err)
		}
	})
	defer before.Close()
	if !echoes(before) {
		t.Fatal("no echo before the rule")
	}
	r := l.add(t, model.Rule{Proto: "tcp", DstPorts: model.PortRange{Min: port, Max: port}, CTState: []string{"new"},
		Action: model.ActionDrop, Priority: 2})
	for i := range 3 {
		if !echoes(before) {
			t.Errorf("echo %d on the established connection: lost under ct state new drop", i)
		}
	}
	if n := l.connects(t, ln.Addr().String(), 2); n != 0 {
		t.Errorf("%d of 2 new connections got through ct state new drop", n)
	}
	if n := l.packets(t, r.ID); n < 2 {
		t.Errorf("rule counted %d packets, want at least the 2 SYNs", n)
	}
	if n := l.packets(t, est.ID); n < 4 {
		t.Errorf("ct state established rule counted %d packets, want at least the 4 echoes", n)
	}
	if err := l.b.Delete(est.ID, 0); err != nil {
		t.Fatal(err)
	}
	l.nftShows(t, "ct state new tcp dport "+strconv.Itoa(int(port))+" counter drop")
	rs, err := l.b.List()
	if err != nil || len(rs) != 1 || strings.Join(rs[0].CTState, ",") != "new" {
		t.Errorf("read back: %v %+v", err, rs)
	}
}

// ping sends n echo requests to 127.0.0.1 in the namespace and returns
// how many were answered (from ping's own summary).
func (l *lab) ping(t *testing.T, n int) int {
	t.Helper()
	out, _ := l.ns.Command("ping", "-n", "-c", strconv.Itoa(n), "-i", "0.2", "-W", "1", "127.0.0.1").CombinedOutput()
	m := regexp.MustCompile(`(\d+) received`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("ping: no summary:\n%s", out)
	}
	got, _ := strconv.Atoi(string(m[1]))
	return got
}

// TestIntegrationICMPType: a rule dropping icmp echo-request stops ping
// (each request counted by it, none by a rule counting echo-reply); with
// it gone, the echo-reply rule counts every answer. ping is the witness,
// nft the oracle of the rule's text.
func TestIntegrationICMPType(t *testing.T) {
	l := newLab(t)
	reply := l.add(t, model.Rule{Proto: "icmp", ICMP: "echo-reply", Action: model.ActionCount, Priority: 1})
	req := l.add(t, model.Rule{Proto: "icmp", ICMP: "echo-request", Action: model.ActionDrop, Priority: 2})
	if got := l.ping(t, 3); got != 0 {
		t.Errorf("%d of 3 pings answered through icmp type echo-request drop", got)
	}
	if n := l.packets(t, req.ID); n != 3 {
		t.Errorf("echo-request rule counted %d, want 3", n)
	}
	if n := l.packets(t, reply.ID); n != 0 {
		t.Errorf("echo-reply rule counted %d with every request dropped, want 0", n)
	}
	if err := l.b.Delete(reply.ID, 0); err != nil {
		t.Fatal(err)
	}
	l.nftShows(t, "icmp type echo-request counter drop")
	if err := l.b.Delete(req.ID, 0); err != nil {
		t.Fatal(err)
	}
	reply = l.add(t, model.Rule{Proto: "icmp", ICMP: "echo-reply", Action: model.ActionCount})
	if got := l.ping(t, 3); got != 3 {
		t.Errorf("%d of 3 pings answered without a drop rule", got)
	}
	if n := l.packets(t, reply.ID); n != 3 {
		t.Errorf("echo-reply rule counted %d, want 3", n)
	}
}

// TestIntegrationTCPFlagsSynOnly: "tcp flags syn / syn,ack tcp dport P
// drop" drops a connection's first packet only: new connects fail, an
// established connection (every packet has ACK) goes on.
func TestIntegrationTCPFlagsSynOnly(t *testing.T) {
	l := newLab(t)
	ln, port := l.echoServer(t)
	var before net.Conn
	l.ns.Do(t, func() {
		var err error
		if before, err = net.DialTimeout("tcp4", ln.Addr().String(), time.Second); err != nil {
			t.Fatal(err)
		}
	})
	defer before.Close()
	r := l.add(t, model.Rule{Proto: "tcp", DstPorts: model.PortRange{Min: port, Max: port}, TCPFlags: "syn/syn,ack",
		Action: model.ActionDrop})
	for i := range 3 {
		if !echoes(before) {
			t.Errorf("echo %d on the established connection: lost under a SYN-only drop", i)
		}
	}
	if n := l.connects(t, ln.Addr().String(), 2); n != 0 {
		t.Errorf("%d of 2 new connections got through tcp flags syn / syn,ack drop", n)
	}
	if n := l.packets(t, r.ID); n < 2 {
		t.Errorf("rule counted %d packets, want at least the 2 SYNs", n)
	}
	l.nftShows(t, "tcp dport "+strconv.Itoa(int(port))+" tcp flags syn / syn,ack counter drop")
	rs, err := l.b.List()
	if err != nil || len(rs) != 1 || rs[0].TCPFlags != "syn/syn,ack" {
		t.Errorf("read back: %v %+v", err, rs)
	}
}

// TestIntegrationNegatedSource: "ip saddr != 10.0.0.0/8 udp dport P drop"
// lets datagrams from 10.0.0.1 through and drops those from 192.0.2.1 and
// 127.0.0.1; so does "ip saddr != @set" with the set {10.0.0.0/8}.
func TestIntegrationNegatedSource(t *testing.T) {
	t.Run("prefix", func(t *testing.T) { testNegatedSource(t, false) })
	t.Run("set", func(t *testing.T) { testNegatedSource(t, true) })
}

func testNegatedSource(t *testing.T, set bool) {
	l := newLab(t)
	_, u := l.listen(t)
	port := uint16(u.LocalAddr().(*net.UDPAddr).Port)
	l.ns.Run(t, "ip", "addr", "add", "10.0.0.1/8", "dev", "lo")
	l.ns.Run(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "lo")
	rule := model.Rule{Proto: "udp", Src: netipPrefix("10.0.0.0/8"), DstPorts: model.PortRange{Min: port, Max: port},
		Negate: []string{"src"}, Action: model.ActionDrop}
	if set {
		rule.Src, rule.SrcSet = netip.Prefix{}, []netip.Prefix{netipPrefix("10.0.0.0/8")}
	}
	r := l.add(t, rule)
	from := func(src string, n int) int {
		l.ns.Do(t, func() {
			c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src)}, u.LocalAddr().(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for range n {
				c.Write([]byte("netlens"))
			}
		})
		got, buf := 0, make([]byte, 64)
		for {
			u.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if _, _, err := u.ReadFromUDP(buf); err != nil {
				return got
			}
			got++
		}
	}
	if got := from("10.0.0.1", 3); got != 3 {
		t.Errorf("from 10.0.0.1 (in 10.0.0.0/8): %d of 3 received", got)
	}
	for _, src := range []string{"192.0.2.1", "127.0.0.1"} {
		if got := from(src, 3); got != 0 {
			t.Errorf("from %s (not in 10.0.0.0/8): %d of 3 received", src, got)
		}
	}
	if n := l.packets(t, r.ID); n != 6 {
		t.Errorf("rule counted %d, want 6", n)
	}
	if set {
		if out := l.ns.Run(t, "nft", "list", "chain", "inet", TableName, "input"); !strings.Contains(out, "ip saddr != @nl") {
			t.Errorf("nft does not show an inverted set lookup:\n%s", out)
		}
	} else {
		l.nftShows(t, "meta nfproto ipv4 ip saddr != 10.0.0.0/8 udp dport "+strconv.Itoa(int(port))+" counter drop")
	}
	rs, err := l.b.List()
	if err != nil || len(rs) != 1 || strings.Join(rs[0].Negate, ",") != "src" {
		t.Errorf("read back: %v %+v", err, rs)
	}
}
