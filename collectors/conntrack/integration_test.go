package conntrack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	ct "github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// requireRoot skips when the test cannot create network namespaces and
// fails when a tool the oracle needs is missing (CI installs them).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and nftables rules")
	}
	for _, tool := range []string{"ip", "nft", "conntrack"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (apt-get install iproute2 nftables conntrack): %v", tool, err)
		}
	}
	if _, err := os.Stat(filepath.Join(SysctlDir, "nf_conntrack_max")); errors.Is(err, os.ErrNotExist) {
		t.Skipf("nf_conntrack not available in this kernel: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
}

type netns struct {
	name string
	f    *os.File
}

func (n *netns) fd() int { return int(n.f.Fd()) }

var nsSeq struct {
	sync.Mutex
	n int
}

// newNetns creates a network namespace, deleted when the test ends.
func newNetns(t *testing.T, role string) *netns {
	t.Helper()
	nsSeq.Lock()
	nsSeq.n++
	name := fmt.Sprintf("nlct%d-%d-%s", os.Getpid(), nsSeq.n, role)
	nsSeq.Unlock()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		exec.Command("ip", "netns", "del", name).Run()
		t.Fatal(err)
	}
	n := &netns{name: name, f: f}
	t.Cleanup(func() {
		f.Close()
		exec.Command("ip", "netns", "del", name).Run()
	})
	n.run(t, "ip", "link", "set", "lo", "up")
	return n
}

// run runs a command in the namespace and returns its standard output.
func (n *netns) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := n.exec(args...)
	if err != nil {
		t.Fatalf("ip netns exec %s %s: %v: %s", n.name, strings.Join(args, " "), err, out)
	}
	return out
}

func (n *netns) exec(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

// do runs fn on a thread inside the namespace: sockets fn creates live
// there.
func (n *netns) do(t *testing.T, fn func() error) {
	t.Helper()
	if err := inNetNS(n.fd(), fn); err != nil {
		t.Fatal(err)
	}
}

// nft loads a ruleset into the namespace.
func (n *netns) nft(t *testing.T, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f in %s: %v: %s\n%s", n.name, err, out, ruleset)
	}
}

// oracle lists the namespace's conntrack table with conntrack(8), IPv4
// and IPv6.
func (n *netns) oracle(t *testing.T) map[uint32]model.Flow {
	t.Helper()
	out := map[uint32]model.Flow{}
	for _, fam := range []string{"ipv4", "ipv6"} {
		text := n.run(t, "conntrack", "-L", "-f", fam, "-o", "extended,id,ktimestamp")
		flows, err := parseConntrackL(strings.NewReader(text))
		if err != nil {
			t.Fatalf("parse conntrack -L -f %s: %v\n%s", fam, err, text)
		}
		for _, f := range flows {
			out[f.ID] = f
		}
	}
	return out
}

// natLab is three namespaces: cli — rtr — srv. rtr forwards between
// 10.1.0.0/24 + fd01::/64 (cli side) and 10.2.0.0/24 + fd02::/64 (srv
// side), DNATs 10.1.0.1:8080 and [fd01::1]:8080 to srv port 80,
// masquerades towards srv, puts UDP port 7777 in conntrack zone 7 and
// marks UDP port 5353 with 42.
type natLab struct{ cli, rtr, srv *netns }

const labRules = `
table inet netlens {
	chain raw_pre {
		type filter hook prerouting priority raw; policy accept;
		meta l4proto udp th dport 7777 ct zone set 7
		meta l4proto udp th sport 7777 ct zone set 7
	}
	chain forward_f {
		type filter hook forward priority filter; policy accept;
		ct state invalid counter
		meta l4proto udp th dport 5353 ct mark set 42
	}
	chain pre_nat {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 10.1.0.1 tcp dport 8080 dnat ip to 10.2.0.2:80
		ip6 daddr fd01::1 tcp dport 8080 dnat ip6 to [fd02::2]:80
	}
	chain post_nat {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "r-srv" masquerade
	}
}
`

func newNATLab(t *testing.T) *natLab {
	t.Helper()
	l := &natLab{cli: newNetns(t, "cli"), rtr: newNetns(t, "rtr"), srv: newNetns(t, "srv")}
	sh := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	sh("ip", "link", "add", "c0", "netns", l.cli.name, "type", "veth", "peer", "name", "r-cli", "netns", l.rtr.name)
	sh("ip", "link", "add", "s0", "netns", l.srv.name, "type", "veth", "peer", "name", "r-srv", "netns", l.rtr.name)
	for _, a := range []struct {
		ns        *netns
		dev, addr string
	}{
		{l.cli, "c0", "10.1.0.2/24"}, {l.cli, "c0", "fd01::2/64"},
		{l.rtr, "r-cli", "10.1.0.1/24"}, {l.rtr, "r-cli", "fd01::1/64"},
		{l.rtr, "r-srv", "10.2.0.1/24"}, {l.rtr, "r-srv", "fd02::1/64"},
		{l.srv, "s0", "10.2.0.2/24"}, {l.srv, "s0", "fd02::2/64"},
	} {
		args := []string{"ip", "addr", "add", a.addr, "dev", a.dev}
		if strings.Contains(a.addr, ":") {
			args = append(args, "nodad")
		}
		a.ns.run(t, args...)
		a.ns.run(t, "ip", "link", "set", a.dev, "up")
	}
	l.cli.run(t, "ip", "route", "add", "default", "via", "10.1.0.1")
	l.cli.run(t, "ip", "-6", "route", "add", "default", "via", "fd01::1")
	l.srv.run(t, "ip", "route", "add", "default", "via", "10.2.0.1")
	l.srv.run(t, "ip", "-6", "route", "add", "default", "via", "fd02::1")
	l.rtr.run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
		"net.netfilter.nf_conntrack_acct=1", "net.netfilter.nf_conntrack_timestamp=1")
	l.rtr.nft(t, labRules)
	return l
}

// serve starts, in srv, TCP listeners on port 80 that hold connections
// open and UDP echo servers on 5353 and 7777, IPv4 and IPv6; they stop
// with the test.
func (l *natLab) serve(t *testing.T) {
	t.Helper()
	var closers []io.Closer
	l.srv.do(t, func() error {
		for _, a := range []string{"10.2.0.2:80", "[fd02::2]:80"} {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				return err
			}
			closers = append(closers, ln)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() { io.Copy(io.Discard, c); c.Close() }()
				}
			}()
		}
		for _, a := range []string{"10.2.0.2:5353", "10.2.0.2:7777", "[fd02::2]:7777", "[fd02::2]:5353"} {
			pc, err := net.ListenPacket("udp", a)
			if err != nil {
				return err
			}
			closers = append(closers, pc)
			go func() {
				buf := make([]byte, 1500)
				for {
					n, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					pc.WriteTo(buf[:n], from)
				}
			}()
		}
		return nil
	})
	t.Cleanup(func() {
		for _, c := range closers {
			c.Close()
		}
	})
}

// dial opens a connection from inside ns; it is closed with the test.
func dialIn(t *testing.T, ns *netns, network, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	ns.do(t, func() (err error) {
		c, err = net.DialTimeout(network, addr, 2*time.Second)
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func udpExchange(t *testing.T, ns *netns, addr string) {
	t.Helper()
	c := dialIn(t, ns, "udp", addr)
	c.Write([]byte("ping"))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 16)); err != nil {
		t.Fatalf("udp %s: no echo: %v", addr, err)
	}
}

// TestIntegrationFlowsMatchConntrack compares every flow netlens reads
// with `conntrack -L -o extended` in a NAT router namespace: TCP, UDP and
// ICMP over IPv4 and IPv6, DNAT, masquerade, a ct mark and a zone.
func TestIntegrationFlowsMatchConntrack(t *testing.T) {
	requireRoot(t)
	l := newNATLab(t)
	l.serve(t)
	for _, a := range []string{"10.1.0.1:8080", "[fd01::1]:8080"} { // DNAT + masquerade
		c := dialIn(t, l.cli, "tcp", a)
		c.Write([]byte("hello"))
	}
	udpExchange(t, l.cli, "10.2.0.2:5353")  // mark 42, masquerade
	udpExchange(t, l.cli, "[fd02::2]:5353") // mark 42, masquerade
	udpExchange(t, l.cli, "10.2.0.2:7777")  // zone 7
	udpExchange(t, l.cli, "[fd02::2]:7777") // zone 7
	l.cli.run(t, "ping", "-c1", "-W2", "10.2.0.2")
	l.cli.run(t, "ping", "-6", "-c1", "-W2", "fd02::2")
	l.rtr.run(t, "ping", "-c1", "-W2", "10.2.0.2") // local, no NAT
	dialIn(t, l.rtr, "tcp", "10.2.0.2:80")         // local TCP, masquerade keeps the address
	time.Sleep(300 * time.Millisecond)             // let the last ACKs settle

	c := New(Config{NetNS: l.rtr.fd(), Refresh: time.Hour})
	defer c.Close()
	store := model.NewStore("h", "k", time.Now())
	// A Collect whose context is already done returns at once; its dump
	// goes on and the next Collect publishes it.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Collect(done, store); err != nil {
		t.Fatal(err)
	}
	if err := c.Collect(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	if d := store.Snapshot().Conntrack.Dumps; d != 1 {
		t.Errorf("%d dumps, want 1", d)
	}
	oracle := l.rtr.oracle(t)
	snap := store.Snapshot()
	got := map[uint32]model.Flow{}
	for _, f := range snap.Flows {
		got[f.ID] = f
	}
	if len(oracle) < 10 {
		t.Fatalf("conntrack lists only %d flows: %v", len(oracle), oracle)
	}
	if len(got) != len(oracle) {
		t.Errorf("netlens has %d flows, conntrack %d", len(got), len(oracle))
	}
	for id, want := range oracle {
		f, ok := got[id]
		if !ok {
			t.Errorf("flow %d missing: %s", id, FormatFlow(&want, time.Now()))
			continue
		}
		compareFlow(t, want, f, true)
	}
	st := snap.Conntrack
	if !st.Accounting || !st.Timestamps || st.Count != uint64(len(oracle)) || st.Max == 0 || len(st.PerCPU) == 0 {
		t.Errorf("stats: %+v", st)
	}

	// The one-shot dump of `netlens flows` sees the same table.
	once, onceSt, err := DumpOnce(context.Background(), Config{NetNS: l.rtr.fd()})
	if err != nil {
		t.Fatal(err)
	}
	if len(once) != len(oracle) || onceSt.FlowsHeld != len(once) || onceSt.Count != uint64(len(oracle)) {
		t.Errorf("DumpOnce: %d flows, stats %+v; conntrack %d", len(once), onceSt, len(oracle))
	}
	for _, f := range once {
		if want, ok := oracle[f.ID]; !ok {
			t.Errorf("DumpOnce flow %d not in conntrack", f.ID)
		} else {
			compareFlow(t, want, f, true)
		}
	}

	// What the lab set up, spelled out.
	var sawDNAT4, sawDNAT6, sawMark, sawZone4, sawZone6, sawICMP4, sawICMP6, sawLocal bool
	for _, f := range snap.Flows {
		switch {
		case f.ProtoNum == 6 && f.Orig.Dst == netip.MustParseAddrPort("10.1.0.1:8080"):
			src, to := f.NATAddrs()
			sawDNAT4 = f.NAT == model.NATBoth && to == netip.MustParseAddrPort("10.2.0.2:80") && src.Addr() == netip.MustParseAddr("10.2.0.1") &&
				f.TCPState == model.TCPEstablished && f.Status&model.StatusAssured != 0
		case f.ProtoNum == 6 && f.Orig.Dst == netip.MustParseAddrPort("[fd01::1]:8080"):
			_, to := f.NATAddrs()
			sawDNAT6 = f.NAT == model.NATBoth && to == netip.MustParseAddrPort("[fd02::2]:80") && f.Family == model.FamilyIPv6
		case f.ProtoNum == 17 && f.Orig.Dst.Port() == 5353:
			sawMark = f.Mark == 42 && f.NAT == model.NATSrc
		case f.ProtoNum == 17 && f.Orig.Dst == netip.MustParseAddrPort("10.2.0.2:7777"):
			sawZone4 = f.Zone == 7
		case f.ProtoNum == 17 && f.Orig.Dst == netip.MustParseAddrPort("[fd02::2]:7777"):
			sawZone6 = f.Zone == 7
		case f.Proto == model.ProtoICMP && f.Orig.Src.Addr() == netip.MustParseAddr("10.1.0.2"):
			sawICMP4 = f.Orig.ICMP != nil && f.Orig.ICMP.Type == 8 && f.NAT == model.NATSrc
		case f.Proto == model.ProtoICMPv6:
			sawICMP6 = f.Orig.ICMP != nil && f.Orig.ICMP.Type == 128
		case f.ProtoNum == 6 && f.Orig.Src.Addr() == netip.MustParseAddr("10.2.0.1"):
			sawLocal = f.NAT == model.NATNone
		}
	}
	for name, ok := range map[string]bool{"DNAT v4": sawDNAT4, "DNAT v6": sawDNAT6, "mark": sawMark, "zone v4": sawZone4,
		"zone v6": sawZone6, "ICMP": sawICMP4, "ICMPv6": sawICMP6, "local TCP without NAT": sawLocal} {
		if !ok {
			t.Errorf("%s flow not found as expected", name)
		}
	}

	// A new flow arrives by event, before any dump.
	udpExchange(t, l.cli, "10.2.0.2:7777")
	time.Sleep(200 * time.Millisecond)
	if err := c.Collect(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	snap = store.Snapshot()
	if snap.Conntrack.Dumps != 1 || snap.Conntrack.EventsNew == 0 || !snap.Conntrack.Listening {
		t.Errorf("after an event: %+v", snap.Conntrack)
	}
	oracle = l.rtr.oracle(t)
	got = map[uint32]model.Flow{}
	for _, f := range snap.Flows {
		got[f.ID] = f
	}
	for id, want := range oracle {
		f, ok := got[id]
		if !ok {
			t.Errorf("flow %d missing after events: %s", id, FormatFlow(&want, time.Now()))
			continue
		}
		compareFlow(t, want, f, false)
	}
	t.Logf("%d flows compared; %d events", len(oracle), snap.Conntrack.EventsNew+snap.Conntrack.EventsUpdate+snap.Conntrack.EventsDestroy)
}

// compareFlow compares what conntrack(8) prints of a flow with netlens's.
// Counters are compared when withCounters (netlens has them from dumps).
func compareFlow(t *testing.T, want, got model.Flow, withCounters bool) {
	t.Helper()
	line := FormatFlow(&want, time.Now())
	check := func(what string, ok bool) {
		if !ok {
			t.Errorf("flow %d %s differs:\n conntrack: %s\n netlens:   %s", want.ID, what, line, FormatFlow(&got, time.Now()))
		}
	}
	check("family/proto", want.Family == got.Family && want.Proto == got.Proto && want.ProtoNum == got.ProtoNum)
	check("orig tuple", want.Orig.String() == got.Orig.String() && want.Orig.Src == got.Orig.Src && want.Orig.Dst == got.Orig.Dst)
	check("reply tuple", want.Reply.String() == got.Reply.String() && want.Reply.Src == got.Reply.Src && want.Reply.Dst == got.Reply.Dst)
	ws, wd := want.NATAddrs()
	gs, gd := got.NATAddrs()
	check("NAT", want.NAT == got.NAT && ws == gs && wd == gd)
	check("state", want.State() == got.State())
	flags := model.StatusSeenReply | model.StatusAssured | model.StatusOffload
	check("status", want.Status&flags == got.Status&flags)
	check("mark", want.Mark == got.Mark)
	check("zone", want.Zone == got.Zone)
	d := want.Timeout - got.TimeoutLeft(time.Now())
	check("timeout", d > -3*time.Second && d < 3*time.Second)
	if withCounters {
		check("counters", want.CountersKnown == got.CountersKnown && want.OrigPackets == got.OrigPackets &&
			want.OrigBytes == got.OrigBytes && want.ReplyPackets == got.ReplyPackets && want.ReplyBytes == got.ReplyBytes)
		ds := want.Start.Sub(got.Start)
		check("start", want.Start.IsZero() == got.Start.IsZero() && ds > -time.Second && ds < time.Second)
	}
}

// loopbackLab is one namespace whose loopback traffic is tracked.
func loopbackLab(t *testing.T, role string) *netns {
	t.Helper()
	ns := newNetns(t, role)
	ns.nft(t, `
table inet netlens {
	chain out {
		type filter hook output priority filter; policy accept;
		ct state new counter
	}
	chain in {
		type filter hook input priority filter; policy accept;
		ct state new counter
	}
}
`)
	return ns
}

// TestIntegrationEventsNoSilentLoss opens and closes 10,000 short TCP
// flows while the listener runs, then flushes the table: every NEW and
// DESTROY of those flows is either seen or counted as lost, and the table
// equals `conntrack -L` afterwards. With a tiny socket buffer, loss is
// forced: it must be counted and repaired by a re-dump.
func TestIntegrationEventsNoSilentLoss(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name     string
		buf      int
		wantLoss bool
	}{
		{"default buffer", 0, false},
		{"tiny buffer", 4096, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := loopbackLab(t, "ev")
			c := New(Config{NetNS: ns.fd(), Refresh: time.Hour, EventBuffer: tc.buf})
			defer c.Close()
			var mu sync.Mutex
			seen := map[eventKind]int{}
			var lport uint16
			c.onEvent = func(e event) {
				if e.flow.ProtoNum != 6 || e.flow.Orig.Dst.Port() != lport || (e.kind != evNew && e.kind != evDestroy) {
					return
				}
				mu.Lock()
				seen[e.kind]++
				mu.Unlock()
			}
			store := model.NewStore("h", "k", time.Now())
			// The listener on a fixed port, so the hook can filter on it.
			lport = 40999
			if err := c.Collect(context.Background(), store); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			made := shortFlowsOn(t, ns, lport, 10000, 30*time.Second)
			elapsed := time.Since(start)
			time.Sleep(500 * time.Millisecond) // let the listener drain
			settle(t, c, store)
			// The table, built from events (and a re-dump if any were
			// lost), equals conntrack -L.
			compareTable(t, ns, store.Snapshot().Flows)

			ns.run(t, "conntrack", "-F")
			settle(t, c, store)
			snap := store.Snapshot()
			st := snap.Conntrack
			mu.Lock()
			// Each connection made one conntrack entry: one NEW, one DESTROY.
			// (Neither client ports nor entry ids are unique over 10,000
			// flows: the kernel reuses both.)
			missNew, missDestroy := max(0, made-seen[evNew]), max(0, made-seen[evDestroy])
			mu.Unlock()
			t.Logf("%d flows in %v (%.0f/s); events new=%d update=%d destroy=%d lost=%d overruns=%d resyncs=%d buffer=%d; missing new=%d destroy=%d",
				made, elapsed.Round(time.Millisecond), float64(made)/elapsed.Seconds(), st.EventsNew, st.EventsUpdate, st.EventsDestroy,
				st.EventsLost, st.Overruns, st.Resyncs, st.EventBuffer, missNew, missDestroy)
			if made < 10000 {
				t.Errorf("only %d of 10000 flows made within the time bound", made)
			}
			if uint64(missNew+missDestroy) > st.EventsLost {
				t.Errorf("silent loss: %d NEW and %d DESTROY events missing, only %d counted lost", missNew, missDestroy, st.EventsLost)
			}
			if st.EventsLost > 0 && (st.Overruns == 0 || st.Resyncs == 0) {
				t.Errorf("loss not reported or repaired: %+v", st)
			}
			if tc.wantLoss && st.EventsLost == 0 {
				t.Errorf("a %d-byte buffer lost nothing: %+v", tc.buf, st)
			}
			compareTable(t, ns, snap.Flows)
		})
	}
}

// shortFlowsOn opens and closes n TCP connections to port on loopback in
// ns as fast as it can (bounded by deadline) and returns how many it made.
func shortFlowsOn(t *testing.T, ns *netns, port uint16, n int, deadline time.Duration) int {
	t.Helper()
	ln := serveTCP(t, ns, "127.0.0.1:"+strconv.Itoa(int(port)), func(c net.Conn) { c.Close() })
	defer ln.Close()
	var made atomic.Int64
	stop := time.Now().Add(deadline)
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inNetNS(ns.fd(), func() error {
				for i := w; i < n && time.Now().Before(stop); i += workers {
					c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
					if err != nil {
						continue
					}
					made.Add(1)
					c.Close()
				}
				return nil
			})
		}()
	}
	wg.Wait()
	return int(made.Load())
}

// serveTCP listens on addr in ns and hands each connection accepted to
// handle until the listener is closed.
func serveTCP(t *testing.T, ns *netns, addr string, handle func(net.Conn)) net.Listener {
	t.Helper()
	var ln net.Listener
	ns.do(t, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
		}
	}()
	return ln
}

// settle collects until the listener has read every queued event and no
// re-dump is pending (any loss repaired); bounded to 30 s.
func settle(t *testing.T, c *Collector, store *model.Store) {
	t.Helper()
	for stop := time.Now().Add(30 * time.Second); ; {
		time.Sleep(300 * time.Millisecond)
		if err := c.Collect(context.Background(), store); err != nil {
			t.Fatal(err)
		}
		if st := store.Snapshot().Conntrack; !st.ResyncPending && st.EventQueued == 0 {
			return
		}
		if time.Now().After(stop) {
			t.Fatalf("a re-dump is still pending: %+v", store.Snapshot().Conntrack)
		}
	}
}

// compareTable checks that netlens's flows are conntrack's: same ids,
// tuples and states.
func compareTable(t *testing.T, ns *netns, flows []model.Flow) {
	t.Helper()
	oracle := ns.oracle(t)
	got := map[uint32]model.Flow{}
	for _, f := range flows {
		got[f.ID] = f
	}
	bad := 0
	for id, want := range oracle {
		f, ok := got[id]
		if !ok || f.Orig != want.Orig || f.Reply != want.Reply || f.State() != want.State() {
			if bad++; bad <= 5 {
				t.Errorf("flow %d: conntrack %s; netlens %v %s", id, FormatFlow(&want, time.Now()), ok, FormatFlow(&f, time.Now()))
			}
		}
	}
	for id, f := range got {
		if _, ok := oracle[id]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("flow %d only in netlens: %s", id, FormatFlow(&f, time.Now()))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d flows differ (conntrack %d, netlens %d)", bad, len(oracle), len(got))
	}
}

// TestIntegrationTableFull fills the table to a small nf_conntrack_max and
// checks that the stats say so and count the drops as `conntrack -S`
// does. nf_conntrack_max is global on this kernel (read-only in other
// namespaces): it is lowered for about a second and restored.
func TestIntegrationTableFull(t *testing.T) {
	requireRoot(t)
	ns := loopbackLab(t, "full")
	var ln net.Listener
	ns.do(t, func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	})
	defer ln.Close()
	var held []net.Conn
	var hmu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hmu.Lock()
			held = append(held, c)
			hmu.Unlock()
		}
	}()
	defer func() {
		hmu.Lock()
		for _, c := range held {
			c.Close()
		}
		hmu.Unlock()
	}()
	// 200 established (ASSURED) connections: early_drop cannot evict them.
	for range 200 {
		c := dialIn(t, ns, "tcp", ln.Addr().String())
		c.Write([]byte("x"))
	}
	time.Sleep(200 * time.Millisecond)

	c := New(Config{NetNS: ns.fd(), Refresh: time.Hour})
	defer c.Close()
	store := model.NewStore("h", "k", time.Now())
	if err := c.Collect(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	before := store.Snapshot().Conntrack
	if before.Full() {
		t.Fatalf("table full before the test: %+v", before)
	}

	maxPath := filepath.Join(SysctlDir, "nf_conntrack_max")
	orig, err := os.ReadFile(maxPath)
	if err != nil {
		t.Fatal(err)
	}
	// The limit is global: another test on this machine may have lowered
	// it for a moment. Restoring that value would leave it low.
	for stop := time.Now().Add(10 * time.Second); ; {
		v, err := parseSysctlUint(bytes.NewReader(orig))
		if err == nil && v >= 65536 {
			break
		}
		if time.Now().After(stop) {
			t.Fatalf("%s is %s, lowered by something else; not touching it", maxPath, bytes.TrimSpace(orig))
		}
		time.Sleep(200 * time.Millisecond)
		orig, _ = os.ReadFile(maxPath)
	}
	restore := sync.OnceFunc(func() {
		if err := os.WriteFile(maxPath, orig, 0o644); err != nil {
			t.Errorf("restore %s to %s: %v", maxPath, orig, err)
		}
	})
	t.Cleanup(restore)
	limit := before.Count + 5
	if err := os.WriteFile(maxPath, []byte(strconv.FormatUint(limit, 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	// 40 more connection attempts: 5 fit, the rest's SYNs are dropped.
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inNetNS(ns.fd(), func() error {
				c, err := net.DialTimeout("tcp", ln.Addr().String(), 300*time.Millisecond)
				if err == nil {
					hmu.Lock()
					held = append(held, c)
					hmu.Unlock()
				}
				return nil
			})
		}()
	}
	wg.Wait()
	if err := c.Collect(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	oracleS := ns.run(t, "conntrack", "-S")
	restore()

	snap := store.Snapshot()
	st := snap.Conntrack
	t.Logf("count=%d max=%d drop=%d early_drop=%d full=%v", st.Count, st.Max, st.Total.Drop, st.Total.EarlyDrop, st.Full())
	if !st.Full() || st.Max != limit {
		t.Errorf("stats do not show the table full: count %d max %d (limit %d)", st.Count, st.Max, limit)
	}
	if st.Total.Drop <= before.Total.Drop {
		t.Errorf("drop counter did not move: %d -> %d", before.Total.Drop, st.Total.Drop)
	}
	cpus, err := parseConntrackS(strings.NewReader(oracleS))
	if err != nil {
		t.Fatal(err)
	}
	var want model.ConntrackCPU
	for _, c := range cpus {
		want.Add(c)
	}
	if want.Drop != st.Total.Drop || want.EarlyDrop != st.Total.EarlyDrop || want.InsertFailed != st.Total.InsertFailed || want.Invalid != st.Total.Invalid {
		t.Errorf("totals differ from conntrack -S:\n conntrack -S: %+v\n netlens:      %+v", want, st.Total)
	}
	if len(cpus) != len(st.PerCPU) {
		t.Errorf("%d CPUs in conntrack -S, %d in netlens", len(cpus), len(st.PerCPU))
	}
	var drop model.Counter
	for _, ctr := range snap.Counters {
		if ctr.Source == "ctnetlink" && ctr.Name == "drop" {
			drop = ctr
		}
	}
	if drop.Value != st.Total.Drop || drop.Delta == 0 {
		t.Errorf("drop counter %+v, want value %d and a delta", drop, st.Total.Drop)
	}
}

// TestIntegrationNonRoot runs the collector as nobody: it must say it
// needs CAP_NET_ADMIN, classified as no-permission, and still report what
// /proc allows.
func TestIntegrationNonRoot(t *testing.T) {
	if os.Getenv("NETLENS_CT_NONROOT_HELPER") == "1" {
		var rec recorder
		err := New(Config{}).Collect(context.Background(), &rec)
		fmt.Printf("STATE=%s\nERR=%v\nMAX=%d\n", collectors.Classify(err), err, rec.stats.Max)
		_, _, err = DumpOnce(context.Background(), Config{})
		fmt.Printf("ONCE=%s\nONCEERR=%v\n", collectors.Classify(err), err)
		return
	}
	requireRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv not installed (apt-get install util-linux): %v", err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "conntrack.test")
	exe, _ := os.Executable()
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin, "-test.run=^TestIntegrationNonRoot$")
	cmd.Env = append(os.Environ(), "NETLENS_CT_NONROOT_HELPER=1")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "STATE=no-permission") || !strings.Contains(string(out), "needs CAP_NET_ADMIN") ||
		!strings.Contains(string(out), "ONCE=no-permission") || strings.Contains(string(out), "MAX=0\n") {
		t.Errorf("as nobody: %s", out)
	}
	t.Logf("as nobody: %s", bytes.TrimSpace(out))
}

// TestIntegrationRawMessages captures what the kernel sends in the NAT lab
// (a dump and a stream of events) and checks that both decoders agree on
// every message. With NETLENS_UPDATE_FIXTURES=1 it writes them to
// testdata/ctnetlink-*.bin, the unit tests' fixtures and fuzz seeds.
func TestIntegrationRawMessages(t *testing.T) {
	requireRoot(t)
	l := newNATLab(t)
	l.serve(t)
	evConn, err := dial(l.rtr.fd())
	if err != nil {
		t.Fatal(err)
	}
	defer evConn.Close()
	for _, g := range []uint32{1, 2, 3} { // NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY
		if err := evConn.JoinGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	rr, err := newRawReceiver(evConn)
	if err != nil {
		t.Fatal(err)
	}
	c := dialIn(t, l.cli, "tcp", "10.1.0.1:8080")
	c.Write([]byte("hello"))
	udpExchange(t, l.cli, "[fd02::2]:7777")
	udpExchange(t, l.cli, "10.2.0.2:5353")
	l.cli.run(t, "ping", "-c1", "-W2", "10.2.0.2")
	l.cli.run(t, "ping", "-6", "-c1", "-W2", "fd02::2")
	time.Sleep(200 * time.Millisecond)
	q, err := dial(l.rtr.fd())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var dump []byte
	rc, _ := q.SyscallConn()
	if _, err := q.Send(request(msgCTGet, netlink.Request|netlink.Dump)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, recvBufSize)
	for done := false; !done; {
		var n int
		var rerr error
		rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			return rerr != unix.EAGAIN
		})
		if rerr != nil {
			t.Fatal(rerr)
		}
		msgs, err := parseMessages(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Header.Type == netlink.Done {
				done = true
				continue
			}
			b, _ := m.MarshalBinary()
			dump = append(dump, b...)
		}
	}
	c.Close()
	time.Sleep(200 * time.Millisecond)
	l.rtr.run(t, "conntrack", "-D", "-p", "udp", "--dport", "5353")
	time.Sleep(200 * time.Millisecond)
	rr.pause = 0
	msgs, err := rr.Receive()
	if err != nil {
		t.Fatal(err)
	}
	var events []byte
	for _, m := range msgs {
		b, _ := m.MarshalBinary()
		events = append(events, b...)
	}
	for name, b := range map[string][]byte{"dump": dump, "events": events} {
		msgs, err := parseMessages(b)
		if err != nil || len(msgs) < 4 {
			t.Fatalf("%s: %d messages, %v", name, len(msgs), err)
		}
		for _, m := range msgs {
			var ev ct.Event
			if err := ev.Unmarshal(m); err != nil {
				t.Fatalf("%s: ti-mo: %v", name, err)
			}
			var fast model.Flow
			if err := decodeFlow(m.Data[nfgenmsgLen:], t0, &fast); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if diff := cmp.Diff(toModel(ev.Flow, t0), fast, addrOpts); diff != "" {
				t.Errorf("%s %v (-ti-mo +decodeFlow)\n%s", name, ev.Type, diff)
			}
		}
	}
	if os.Getenv("NETLENS_UPDATE_FIXTURES") == "1" {
		for name, b := range map[string][]byte{"testdata/ctnetlink-dump-nat.bin": dump, "testdata/ctnetlink-events-nat.bin": events} {
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s: %d bytes", name, len(b))
		}
	}
}

// TestIntegrationEmptyNamespaceSkipsWalk: in a namespace without a
// conntrack entry the dump does not walk the host's table (no dump socket
// is even opened); once the namespace has flows, they are dumped and
// equal conntrack's.
func TestIntegrationEmptyNamespaceSkipsWalk(t *testing.T) {
	requireRoot(t)
	ns := loopbackLab(t, "empty")
	c := New(Config{NetNS: ns.fd(), Refresh: time.Hour})
	defer c.Close()
	store := model.NewStore("h", "k", time.Now())
	if err := c.Collect(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	snap := store.Snapshot()
	if c.emptySkips.Load() != 1 || c.dumpConn != nil || snap.Conntrack.Dumps != 1 || len(snap.Flows) != 0 {
		t.Fatalf("empty namespace: %d skips, dump socket %v, %d dumps, %d flows", c.emptySkips.Load(), c.dumpConn != nil, snap.Conntrack.Dumps, len(snap.Flows))
	}

	if n := shortFlowsOn(t, ns, 9300, 3, 5*time.Second); n != 3 {
		t.Fatalf("%d of 3 flows made", n)
	}
	c.requested.Store(true)
	if err := c.Collect(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	settle(t, c, store)
	snap = store.Snapshot()
	if c.emptySkips.Load() != 1 || c.dumpConn == nil {
		t.Fatalf("a namespace with flows was not dumped (%d skips)", c.emptySkips.Load())
	}
	if len(snap.Flows) < 3 {
		t.Fatalf("%d flows, want the 3 made", len(snap.Flows))
	}
	compareTable(t, ns, snap.Flows)
}

// TestIntegrationDemand: while Demand says the counters are not wanted,
// no periodic dump is made, yet events keep the table equal to
// `conntrack -L` (a new flow appears, its state moves); the counters stay
// as of the first dump. Want(true) makes the next Collect dump, and the
// counters are then conntrack's.
func TestIntegrationDemand(t *testing.T) {
	requireRoot(t)
	ns := loopbackLab(t, "demand")
	ns.run(t, "sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1")
	ln := serveTCP(t, ns, "127.0.0.1:0", func(c net.Conn) { go io.Copy(io.Discard, c) })
	defer ln.Close()
	dial := func() net.Conn {
		var c net.Conn
		ns.do(t, func() (err error) {
			c, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
			return err
		})
		t.Cleanup(func() { c.Close() })
		return c
	}
	first := dial()
	if _, err := first.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)

	var d Demand
	d.Want(false)
	c := New(Config{NetNS: ns.fd(), Refresh: 200 * time.Millisecond, Demand: &d})
	defer c.Close()
	store := model.NewStore("h", "k", time.Now())
	settle(t, c, store)
	bytesOf := func(flows []model.Flow, port uint16) uint64 {
		for _, f := range flows {
			if f.ProtoNum == 6 && f.Orig.Src.Port() == port {
				return f.OrigBytes
			}
		}
		return 0
	}
	port := uint16(first.LocalAddr().(*net.TCPAddr).Port)
	before := bytesOf(store.Snapshot().Flows, port)
	if before == 0 {
		t.Fatalf("the first dump has no counters for port %d: %+v", port, store.Snapshot().Flows)
	}

	// More bytes on the first flow, a second flow: past several
	// Refreshes, no dump, the flows still conntrack's.
	if _, err := first.Write(make([]byte, 50000)); err != nil {
		t.Fatal(err)
	}
	dial()
	for range 5 {
		time.Sleep(250 * time.Millisecond)
		if err := c.Collect(context.Background(), store); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, c, store)
	snap := store.Snapshot()
	if snap.Conntrack.Dumps != 1 {
		t.Errorf("%d dumps while the counters were not wanted, want 1", snap.Conntrack.Dumps)
	}
	compareTable(t, ns, snap.Flows)
	if got := bytesOf(snap.Flows, port); got != before {
		t.Errorf("counters moved without a dump: %d bytes, were %d", got, before)
	}

	d.Want(true)
	if err := c.Collect(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	snap = store.Snapshot()
	if snap.Conntrack.Dumps != 2 {
		t.Fatalf("%d dumps after Want(true), want 2", snap.Conntrack.Dumps)
	}
	var want uint64
	for _, f := range ns.oracle(t) {
		if f.ProtoNum == 6 && f.Orig.Src.Port() == port {
			want = f.OrigBytes
		}
	}
	got := bytesOf(snap.Flows, port)
	if got != want || got < before+50000 {
		t.Errorf("after Want(true): %d bytes, conntrack -L says %d (%d before the 50,000 written)", got, want, before)
	}
	t.Logf("counters: %d bytes at the first dump, %d after Want(true) (conntrack -L %d); dumps %d", before, got, want, snap.Conntrack.Dumps)
}
