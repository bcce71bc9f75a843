package droptrace

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"netlens/internal/netnstest"
	"netlens/model"
)

// pubFunc is a collectors.Publisher calling a function.
type pubFunc func(model.Update)

func (f pubFunc) Publish(u model.Update) { f(u) }

// newNSCollector returns a collector tracing only ns, closed when the
// test ends.
func newNSCollector(t *testing.T, ns *netnstest.NS, opts Options) *Collector {
	t.Helper()
	ino, err := NetnsInode("/run/netns/" + ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	opts.Netns = ino
	c := New(opts)
	t.Cleanup(func() { c.Close() })
	if _, err := collect(c); err != nil {
		t.Fatalf("start the tracer: %v", err)
	}
	return c
}

// collect runs one Collect and returns the DropTrace published.
func collect(c *Collector) (model.DropTrace, error) {
	var got model.DropTrace
	err := c.Collect(context.Background(), pubFunc(func(u model.Update) {
		if d, ok := u.(model.DropTraceUpdate); ok {
			got = d.Trace
		}
	}))
	return got, err
}

// readNstat reads the namespace's counters with nstat.
func readNstat(t *testing.T, ns *netnstest.NS) map[string]uint64 { return ns.Nstat(t) }

// match selects flows.
type match struct {
	reason string
	proto  string
	dst    netip.Addr
	dport  uint16
}

func (m match) ok(f model.DropTraceFlow) bool {
	return f.Reason == m.reason && (m.proto == "" || f.Proto == m.proto) &&
		(!m.dst.IsValid() || f.Dst == m.dst) && (m.dport == 0 || f.DstPort == m.dport)
}

// packets sums the packets of the flows m selects and returns them.
func packets(tr model.DropTrace, m match) (uint64, []model.DropTraceFlow) {
	var n uint64
	var fs []model.DropTraceFlow
	for _, f := range tr.Flows {
		if m.ok(f) {
			n += f.Packets
			fs = append(fs, f)
		}
	}
	return n, fs
}

// waitTrace collects until the flows m selects hold want packets and
// the counter named counter has moved by want since base (both the
// kernel's counting and the tracer's are done), or 5 s pass.
func waitTrace(t *testing.T, c *Collector, ns *netnstest.NS, m match, counter string, base map[string]uint64, want uint64) (model.DropTrace, uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tr, err := collect(c)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := packets(tr, m)
		var delta uint64
		if counter != "" {
			delta = readNstat(t, ns)[counter] - base[counter]
		}
		if (got >= want && (counter == "" || delta >= want)) || time.Now().After(deadline) {
			time.Sleep(100 * time.Millisecond) // anything late would show now
			tr, err = collect(c)
			if err != nil {
				t.Fatal(err)
			}
			if counter != "" {
				delta = readNstat(t, ns)[counter] - base[counter]
			}
			return tr, delta
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkFlows checks that the flows m selects all come from function fn
// (or one of the space-separated names in fn),
// carry the tuple, and add up to want.
func checkFlows(t *testing.T, tr model.DropTrace, m match, fn string, want uint64) []model.DropTraceFlow {
	t.Helper()
	got, fs := packets(tr, m)
	if got != want {
		t.Errorf("traced %s drops to %v:%d = %d, want %d; flows: %+v", m.reason, m.dst, m.dport, got, want, tr.Flows)
	}
	for _, f := range fs {
		if !slices.Contains(strings.Fields(fn), f.Function) {
			t.Errorf("flow %+v: function %q, want %q", f, f.Function, fn)
		}
		if !f.Parsed || !f.Src.IsValid() {
			t.Errorf("flow %+v: no tuple", f)
		}
	}
	if tr.Seen != tr.Attributed+tr.Unattributed || tr.Unattributed != 0 {
		t.Errorf("seen %d, attributed %d, unattributed %d: want every drop attributed", tr.Seen, tr.Attributed, tr.Unattributed)
	}
	return fs
}

// incident waits for the drops m selects (incident packets, or want),
// checks their function, tuple and count (checkFlows), and that the
// kernel's counter moved by the same count since base.
func incident(t *testing.T, c *Collector, ns *netnstest.NS, base map[string]uint64, m match, counter, fn string, want uint64) (model.DropTrace, []model.DropTraceFlow) {
	t.Helper()
	tr, delta := waitTrace(t, c, ns, m, counter, base, want)
	fs := checkFlows(t, tr, m, fn, want)
	if delta != want {
		t.Errorf("%s moved by %d, want %d", counter, delta, want)
	}
	return tr, fs
}

// sendUDP sends n datagrams of size bytes from an unconnected socket in
// ns (ICMP errors are not reported to it) to dst.
func sendUDP(t *testing.T, ns *netnstest.NS, src string, dst netip.AddrPort, n, size int) {
	t.Helper()
	ns.Do(t, func() {
		c, err := net.ListenPacket("udp", net.JoinHostPort(src, "0"))
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		buf := make([]byte, size)
		for i := range n {
			if _, err := c.WriteTo(buf, net.UDPAddrFromAddrPort(dst)); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
		}
	})
}

// veth joins two namespaces with a veth pair "a" (in a, address aAddr)
// and "b" (in b, address bAddr), both /24, IPv6 off, with static
// neighbour entries so that no ARP is needed.
func veth(t *testing.T, a, b *netnstest.NS, aAddr, bAddr string) {
	t.Helper()
	netnstest.Run(t, "ip", "link", "add", "vt-a", "netns", a.Name, "type", "veth", "peer", "name", "vt-b", "netns", b.Name)
	for _, x := range []struct {
		ns   *netnstest.NS
		dev  string
		addr string
	}{{a, "vt-a", aAddr}, {b, "vt-b", bAddr}} {
		x.ns.Run(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
		x.ns.Run(t, "ip", "addr", "add", x.addr+"/24", "dev", x.dev)
		x.ns.Run(t, "ip", "link", "set", x.dev, "up")
	}
	macB := strings.TrimSpace(b.Run(t, "cat", "/sys/class/net/vt-b/address"))
	macA := strings.TrimSpace(a.Run(t, "cat", "/sys/class/net/vt-a/address"))
	a.Run(t, "ip", "neigh", "replace", bAddr, "lladdr", macB, "dev", "vt-a", "nud", "permanent")
	b.Run(t, "ip", "neigh", "replace", aAddr, "lladdr", macA, "dev", "vt-b", "nud", "permanent")
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
