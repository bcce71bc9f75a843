//go:build kmodvm

package droptrace

// This test needs netlens.ko loaded, which this machine's kernel cannot
// (no CONFIG_MODULES): it is built only with -tags kmodvm, by
// vmtest/run.sh, and runs in the qemu VM (Debian's 6.1 kernel) after the
// VM's init has loaded the module.

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/control/filter/kmodbackend"
	"netlens/model"
)

// nsThread is a locked OS thread in a network namespace of its own
// (unshare(2), loopback up) that runs the functions given to Do; the
// thread ends with Close, and the namespace with the last reference.
type nsThread struct {
	do   chan func()
	ino  uint32
	fd   int // /proc/thread-self/ns/net of the thread, for netlink
	done chan struct{}
}

func newNSThread(t *testing.T) *nsThread {
	t.Helper()
	n := &nsThread{do: make(chan func()), done: make(chan struct{}), fd: -1}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread leaves with the goroutine.
		runtime.LockOSThread()
		defer close(n.done)
		err := unix.Unshare(unix.CLONE_NEWNET)
		if err == nil {
			err = loopbackUp()
		}
		if err == nil {
			n.ino, err = NetnsInode("/proc/thread-self/ns/net")
		}
		if err == nil {
			n.fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
		errc <- err
		if err != nil {
			return
		}
		for fn := range n.do {
			fn()
		}
	}()
	if err := <-errc; err != nil {
		t.Fatalf("namespace: %v", err)
	}
	t.Cleanup(func() {
		close(n.do)
		<-n.done
		unix.Close(n.fd)
	})
	return n
}

// Do runs fn on the namespace's thread and waits for it.
func (n *nsThread) Do(fn func()) {
	ran := make(chan struct{})
	n.do <- func() { defer close(ran); fn() }
	<-ran
}

// send sends count datagrams from the namespace to 127.0.0.1:port.
func (n *nsThread) send(port, count int) (err error) {
	n.Do(func() {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			return
		}
		defer c.Close()
		for i := range count {
			if _, err = c.WriteTo([]byte("kmod"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
				err = fmt.Errorf("send %d to %d: %w", i, port, err)
				return
			}
		}
	})
	return err
}

// TestIntegrationKmodRuleAttributed is the kmod half of issue #15's
// "netlens rule drop attributed to its rule" (the nft half is
// TestIntegrationNetlensRuleAttributed): netlens.ko rules in a namespace
// of their own, the eBPF tracer attached to that namespace.
//
//   - "drop range" drops UDP to 7040-7049 (priority 100); "keep 7045"
//     accepts 7045 first (priority 10); "drop set" drops the port set
//     {7050} (priority 50, before "drop range", so a join that ignored
//     sets would give it every flow); "reject 7060" rejects 7060 (an ICMP
//     error, then the packet dropped).
//   - sent: 7040, 7050 and 7060 (dropped at the module's hook:
//     NETFILTER_DROP freed in nf_hook_slow), 7045 (accepted, then dropped
//     as NO_SOCKET by UDP: no rule's drop).
//
// Checked: the tracer's count per flow is exactly sent, at nf_hook_slow;
// model.Snapshot.DropRule (the join the Filters tab uses) gives "drop
// range" for 7040, "drop set" for 7050, "reject 7060" for 7060, nothing
// for 7045;
// Snapshot.RuleDrops equals each rule's own counter; each rule's counter
// equals sent; the module's input hook counted 3*sent drops.
func TestIntegrationKmodRuleAttributed(t *testing.T) {
	if _, err := os.Stat("/sys/module/netlens"); err != nil {
		t.Fatalf("netlens.ko is not loaded (vmtest/init loads it): %v", err)
	}
	const sent = 40
	ns := newNSThread(t)
	b, err := kmodbackend.DialNetNS("", ns.fd)
	must(t, err)
	t.Cleanup(func() { b.Close() })
	udp := func(label string, prio uint32, act model.RuleAction, ports model.PortRange, set []uint16) model.Rule {
		r, err := b.Add(model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "udp",
			DstPorts: ports, DstPortSet: set, Action: act, Priority: prio, Label: label}, 0)
		must(t, err)
		return r
	}
	rangeRule := udp("drop range", 100, model.ActionDrop, model.PortRange{Min: 7040, Max: 7049}, nil)
	keepRule := udp("keep 7045", 10, model.ActionAccept, model.PortRange{Min: 7045, Max: 7045}, nil)
	setRule := udp("drop set", 50, model.ActionDrop, model.PortRange{}, []uint16{7050})
	rejectRule := udp("reject 7060", 60, model.ActionReject, model.PortRange{Min: 7060, Max: 7060}, nil)
	inputDropped := func() uint64 {
		vs, err := b.Verdicts()
		must(t, err)
		for _, v := range vs {
			if v.Family == model.FamilyIPv4 && v.Hook == model.HookInput {
				return v.Dropped
			}
		}
		t.Fatalf("no ipv4 input verdicts: %+v", vs)
		return 0
	}
	dropped0 := inputDropped()

	c := New(Options{Netns: ns.ino})
	t.Cleanup(func() { c.Close() })
	_, err = collect(c)
	must(t, err)
	for _, port := range []int{7040, 7045, 7050, 7060} {
		must(t, ns.send(port, sent))
	}
	tr, _ := waitTrace(t, c, nil, match{reason: "NETFILTER_DROP", proto: "udp", dport: 7060}, "", nil, sent)
	rules, err := b.List()
	must(t, err)
	snap := model.Snapshot{DropTrace: tr, Rules: &model.RulesState{Backend: b.Name(), At: time.Now(), Rules: rules}}

	lo := mustAddr("127.0.0.1")
	for _, tt := range []struct {
		port   uint16
		reason string
		fn     string
		want   uint32 // the rule DropRule gives, 0 for none
	}{
		{7040, "NETFILTER_DROP", "nf_hook_slow", rangeRule.ID},
		{7045, "NO_SOCKET", "__udp4_lib_rcv", 0},
		{7050, "NETFILTER_DROP", "nf_hook_slow", setRule.ID},
		{7060, "NETFILTER_DROP", "nf_hook_slow", rejectRule.ID},
	} {
		m := match{reason: tt.reason, proto: "udp", dst: lo, dport: tt.port}
		for _, f := range checkFlows(t, tr, m, tt.fn, sent) {
			r, ok := snap.DropRule(f)
			t.Logf("%d %s drops to %v:%d at %s (%s layer): rule %d %q (%v)", f.Packets, f.Reason, f.Dst, f.DstPort, f.Location, f.Layer, r.ID, r.Label, ok)
			if got := map[bool]uint32{true: r.ID}[ok]; got != tt.want {
				t.Errorf("%s to port %d attributed to rule %d %q (%v), want %d", tt.reason, tt.port, r.ID, r.Label, ok, tt.want)
			}
		}
	}
	for _, r := range rules {
		traced, flows := snap.RuleDrops(r.ID)
		t.Logf("rule %d %q (%s, priority %d): counter %d packets; traced drops attributed %d in %d flows", r.ID, r.Label, r.Action, r.Priority, r.Packets, traced, flows)
		if r.Packets != sent {
			t.Errorf("rule %q counted %d, want %d", r.Label, r.Packets, sent)
		}
		wantTraced := map[uint32]uint64{rangeRule.ID: sent, setRule.ID: sent, rejectRule.ID: sent, keepRule.ID: 0}[r.ID]
		if traced != wantTraced {
			t.Errorf("rule %q: %d traced drops attributed, want %d", r.Label, traced, wantTraced)
		}
	}
	d := inputDropped() - dropped0
	t.Logf("the module's ipv4 input hook: %d dropped", d)
	if d != 3*sent {
		t.Errorf("the module's ipv4 input hook dropped %d, want %d", d, 3*sent)
	}
	t.Logf("tracer: %d drops seen, %d attributed, %d unattributed (attach %s)", tr.Seen, tr.Attributed, tr.Unattributed, tr.Attach)
}
