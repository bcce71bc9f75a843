package nft

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/internal/netnstest"
	"netlens/model"
)

// logVeth joins the lab's namespace (nla0, 10.77.0.1) and a peer (nlb0,
// 10.77.0.2) with a veth pair.
func logVeth(t *testing.T, l *lab) *netnstest.NS {
	t.Helper()
	peer := netnstest.New(t, "nlpeer")
	netnstest.Veth(t, l.ns, peer, "nla0", "10.77.0.1", "nlb0", "10.77.0.2")
	return peer
}

// sendUDP sends datagrams 10.77.0.2:sport -> 10.77.0.1:dport from peer,
// crafted with gopacket.
func sendUDP(t *testing.T, peer *netnstest.NS, ds []netnstest.UDP) {
	t.Helper()
	peer.SendUDP4(t, netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("10.77.0.1"), ds)
}

// logReader runs PacketLog for rule id until the test ends and collects
// its packets; it returns once the nflog group is bound (nft's view:
// /proc/net/netfilter/nfnetlink_log of the namespace).
type logReader struct {
	mu   sync.Mutex
	got  []model.LoggedPacket
	lost int
}

func (l *lab) readLog(t *testing.T, id uint32) *logReader {
	t.Helper()
	lr := &logReader{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- l.b.PacketLog(ctx, id, func(p model.LoggedPacket) {
			lr.mu.Lock()
			lr.got = append(lr.got, p)
			lr.mu.Unlock()
		}, func() { lr.mu.Lock(); lr.lost++; lr.mu.Unlock() })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("PacketLog: %v", err)
		}
	})
	group := strconv.Itoa(LogGroup)
	for deadline := time.Now().Add(5 * time.Second); ; {
		for _, line := range strings.Split(l.ns.Run(t, "cat", "/proc/net/netfilter/nfnetlink_log"), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == group {
				return lr
			}
		}
		select {
		case err := <-done:
			t.Fatalf("PacketLog ended before binding: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("nflog group never bound")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait returns the packets once there are n, or what came within d.
func (lr *logReader) wait(n int, d time.Duration) []model.LoggedPacket {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		lr.mu.Lock()
		k := len(lr.got)
		lr.mu.Unlock()
		if k >= n {
			break
		}
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return append([]model.LoggedPacket(nil), lr.got...)
}

// logTuple is what the test compares of a logged packet.
type logTuple struct {
	Rule         uint32
	Hook, Iif    string
	Verdict      model.RuleAction
	Proto        string
	Src, Dst     netip.Addr
	Sport, Dport uint16
	Len          uint32
}

func tuples(ps []model.LoggedPacket) []logTuple {
	var out []logTuple
	for _, p := range ps {
		out = append(out, logTuple{p.RuleID, p.Hook, p.InIface, p.Verdict, p.Proto, p.Src, p.Dst, p.SrcPort, p.DstPort, p.Len})
	}
	return out
}

// TestIntegrationPacketLogNft: a COUNT+LOG rule of the nft backend logs,
// through nfnetlink_log group 20044, exactly the datagrams a peer
// namespace sent over a veth (crafted with gopacket: each its own source
// port and length), tuple by tuple and in order, with hook, input
// interface and verdict; none over the limit, none lost. A DROP+LOG rule
// at 10/s drops all 60 of a burst, logs the first 10 (the burst) and then
// only what the rate refills, in order; the log copy's counters give the
// rest as LogDropped (logged + LogDropped = 60 = the rule's packets).
func TestIntegrationPacketLogNft(t *testing.T) {
	l := newLab(t)
	peer := logVeth(t, l)
	count := l.add(t, model.Rule{Proto: "udp", DstPorts: model.PortRange{Min: 7000, Max: 7000}, Action: model.ActionCount, Log: true, LogRate: 1000})
	if !count.Log || count.LogRate != 1000 {
		t.Fatalf("rule reads back without its log: %+v", count)
	}
	// the log copy, then the rule
	l.nftShows(t, `udp dport 7000 counter limit rate 1000/second burst 1000 packets counter log prefix "netlens 1 count" group 20044`,
		`udp dport 7000 counter`)

	lr := l.readLog(t, 0)
	var ds []netnstest.UDP
	var want []logTuple
	for i := range 40 {
		d := netnstest.UDP{SrcPort: uint16(40000 + i), DstPort: 7000, Payload: i * 3}
		ds = append(ds, d)
		want = append(want, logTuple{count.ID, "input", "nla0", model.ActionCount, "udp", netip.MustParseAddr("10.77.0.2"),
			netip.MustParseAddr("10.77.0.1"), d.SrcPort, 7000, uint32(28 + d.Payload)})
	}
	sendUDP(t, peer, ds)
	got := lr.wait(len(want), 5*time.Second)
	if diff := cmp.Diff(want, tuples(got), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("logged packets (-want +got):\n%s", diff)
	}
	// each datagram (its own source port) is new to conntrack, where the
	// kernel can say so (CONFIG_NETFILTER_NETLINK_GLUE_CT; this machine's
	// kernel has not: no state at all)
	for i, p := range got {
		if p.CTState != "" && p.CTState != "new" {
			t.Errorf("packet %d: conntrack state %q, want new", i, p.CTState)
			break
		}
	}
	rs, _ := l.b.List()
	if len(rs) != 1 || rs[0].Packets != 40 || rs[0].LogDropped != 0 || lr.lost != 0 {
		t.Errorf("after 40 datagrams: %+v, lost %d", rs, lr.lost)
	}

	// over the rate
	if err := l.b.Delete(count.ID, 0); err != nil {
		t.Fatal(err)
	}
	l.ns.Run(t, "nft", "-f", "/dev/null") // a barrier: the delete is in
	drop := l.add(t, model.Rule{Proto: "udp", DstPorts: model.PortRange{Min: 7001, Max: 7001}, Action: model.ActionDrop, Log: true, LogRate: 10})
	lr.mu.Lock()
	lr.got = nil
	lr.mu.Unlock()
	var ds2 []netnstest.UDP
	for i := range 60 {
		ds2 = append(ds2, netnstest.UDP{SrcPort: uint16(41000 + i), DstPort: 7001, Payload: 8})
	}
	start := time.Now()
	sendUDP(t, peer, ds2)
	took := time.Since(start)
	got = lr.wait(60, 1500*time.Millisecond)
	maxLogged := 10 + int(took.Seconds()*10) + 1
	if len(got) < 10 || len(got) > maxLogged {
		t.Errorf("DROP+LOG at 10/s: %d of 60 logged (sent in %v), want 10..%d", len(got), took, maxLogged)
	}
	for i, p := range tuples(got) {
		if i < 10 && p.Sport != uint16(41000+i) || p.Verdict != model.ActionDrop || p.Rule != drop.ID {
			t.Errorf("logged packet %d: %+v", i, p)
		}
		if i > 0 && p.Sport <= tuples(got)[i-1].Sport {
			t.Errorf("logged out of order at %d: %+v", i, p)
		}
	}
	rs, _ = l.b.List()
	if len(rs) != 1 || rs[0].Packets != 60 || uint64(len(got))+rs[0].LogDropped != 60 {
		t.Errorf("DROP+LOG: rule %+v, %d logged: logged + log_dropped != 60", rs, len(got))
	}
	t.Logf("DROP+LOG at 10/s: 60 sent in %v, %d logged (the first 10, then in order), %d in LogDropped", took, len(got), rs[0].LogDropped)
}
