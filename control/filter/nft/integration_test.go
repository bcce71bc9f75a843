package nft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
	"netlens/model"
	modelrules "netlens/model/rules"
)

// TestMain doubles as the revert helper: the backend under test starts
// this binary with "rules revert-watch FILE", as netlens starts itself.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "rules" && os.Args[2] == "revert-watch" {
		if err := RevertWatch(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "revert-watch:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) == 4 && os.Args[1] == "rules" && os.Args[2] == "revert-watch-dies" {
		os.NewFile(3, "ready").Write([]byte{1}) // ready, then gone
		os.Exit(0)
	}
	// after revert-watch: the helper the child starts inherits its environment
	if os.Getenv("NETLENS_ARM_CHILD") != "" {
		if err := armChild(); err != nil {
			fmt.Fprintln(os.Stderr, "arm child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type lab struct {
	ns *netnstest.NS
	fd int
	b  *Backend
}

func newLab(t *testing.T) *lab {
	t.Helper()
	ns := netnstest.New(t, "nlnft")
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft(8) as the oracle (apt-get install -y nftables)")
	}
	fd, err := unix.Open("/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	b, err := New(Options{NetNS: fd, StateDir: t.TempDir(), HelperCmd: []string{os.Args[0], "rules", "revert-watch"}})
	if err != nil {
		t.Fatal(err)
	}
	return &lab{ns: ns, fd: fd, b: b}
}

// listen opens a TCP listener and a UDP socket on 127.0.0.1 in the
// namespace, accepting and draining in the background.
func (l *lab) listen(t *testing.T) (tcp net.Listener, udp *net.UDPConn) {
	t.Helper()
	l.ns.Do(t, func() {
		var err error
		if tcp, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if udp, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { tcp.Close(); udp.Close() })
	go func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return tcp, udp
}

// connects tries n TCP connects (each with a short timeout) from inside
// the namespace and returns how many succeeded.
func (l *lab) connects(t *testing.T, addr string, n int) int {
	t.Helper()
	ok := 0
	l.ns.Do(t, func() {
		for range n {
			c, err := net.DialTimeout("tcp4", addr, 200*time.Millisecond)
			if err == nil {
				ok++
				c.Close()
			}
		}
	})
	return ok
}

// udpReceived sends n datagrams to u from inside the namespace and returns
// how many u received.
func (l *lab) udpReceived(t *testing.T, u *net.UDPConn, n int) int {
	t.Helper()
	l.ns.Do(t, func() {
		c, err := net.DialUDP("udp4", nil, u.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for range n {
			c.Write([]byte("netlens"))
		}
	})
	got := 0
	buf := make([]byte, 64)
	for {
		u.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, _, err := u.ReadFromUDP(buf); err != nil {
			return got
		}
		got++
	}
}

// oracleCounters parses `nft -j list table inet netlens` and sums the
// counters per netlens rule id (found by the rule's position against
// List, which the handles tie together).
func (l *lab) oracle(t *testing.T) map[uint64][2]uint64 {
	t.Helper()
	out := l.ns.Run(t, "nft", "-j", "list", "table", "inet", TableName)
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("nft -j: %v\n%s", err, out)
	}
	byHandle := map[uint64][2]uint64{}
	for _, obj := range doc.Nftables {
		raw, ok := obj["rule"]
		if !ok {
			continue
		}
		var r struct {
			Handle uint64                       `json:"handle"`
			Expr   []map[string]json.RawMessage `json:"expr"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		for _, e := range r.Expr {
			if c, ok := e["counter"]; ok {
				var cnt struct{ Packets, Bytes uint64 }
				json.Unmarshal(c, &cnt)
				byHandle[r.Handle] = [2]uint64{cnt.Packets, cnt.Bytes}
			}
		}
	}
	return byHandle
}

// oracleByID sums the oracle's counters per netlens rule id.
func (l *lab) oracleByID(t *testing.T) map[uint32][2]uint64 {
	byHandle := l.oracle(t)
	copies, err := l.b.readCopies()
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32][2]uint64{}
	for _, cp := range copies {
		c := byHandle[cp.handle]
		o := out[cp.meta.ID]
		out[cp.meta.ID] = [2]uint64{o[0] + c[0], o[1] + c[1]}
	}
	return out
}

func TestIntegrationDropToggleCounters(t *testing.T) {
	l := newLab(t)
	tcp, udp := l.listen(t)
	tport := uint16(tcp.Addr().(*net.TCPAddr).Port)
	uport := uint16(udp.LocalAddr().(*net.UDPAddr).Port)
	if got := l.connects(t, tcp.Addr().String(), 3); got != 3 {
		t.Fatalf("before any rule: %d of 3 connects", got)
	}
	drop, err := l.b.Add(model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "tcp",
		DstPorts: model.PortRange{Min: tport, Max: tport}, Action: model.ActionDrop, Label: "no tcp"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	udrop, err := l.b.Add(model.Rule{Enabled: true, Hooks: []string{model.HookInput, model.HookOutput}, Proto: "udp",
		Dst: netipPrefix("127.0.0.1/32"), DstPorts: model.PortRange{Min: uport, Max: uport}, Action: model.ActionDrop, Label: "no udp"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.connects(t, tcp.Addr().String(), 3); got != 0 {
		t.Errorf("with the drop rule: %d of 3 connects succeeded, want 0", got)
	}
	if got := l.udpReceived(t, udp, 10); got != 0 {
		t.Errorf("with the udp drop rule: %d of 10 datagrams received, want 0", got)
	}
	rules, err := l.b.List()
	if err != nil {
		t.Fatal(err)
	}
	oracle := l.oracleByID(t)
	for _, r := range rules {
		if want := oracle[r.ID]; r.Packets != want[0] || r.Bytes != want[1] {
			t.Errorf("rule %d counters %d/%d, nft says %d/%d", r.ID, r.Packets, r.Bytes, want[0], want[1])
		}
		if r.Packets == 0 {
			t.Errorf("rule %d (%s) counted nothing", r.ID, r.Label)
		}
	}
	if got := rules[1].Packets; rules[1].ID == udrop.ID && got != 10 {
		t.Errorf("udp rule counted %d packets, want 10 (dropped at output)", got)
	}
	before := rules[0]
	// toggle off: traffic flows, counters kept
	if _, err := l.b.SetEnabled(drop.ID, false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.b.SetEnabled(udrop.ID, false, 0); err != nil {
		t.Fatal(err)
	}
	// A SYN the kernel retransmits for a connect still timing out may be
	// counted between the read of before and the disable: the counters
	// are read again once disabled, must not have gone back (kept, not
	// reset), and must not move while the rule is off.
	mid, err := l.b.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range mid {
		if r.ID == drop.ID {
			if r.Packets < before.Packets {
				t.Errorf("disabling reset the counter: %d packets, had %d", r.Packets, before.Packets)
			}
			before = r
		}
	}
	if got := l.connects(t, tcp.Addr().String(), 3); got != 3 {
		t.Errorf("rule disabled: %d of 3 connects, want 3", got)
	}
	if got := l.udpReceived(t, udp, 10); got != 10 {
		t.Errorf("udp rule disabled: %d of 10 received", got)
	}
	after, err := l.b.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range after {
		if r.ID == drop.ID && (r.Enabled || r.Packets != before.Packets) {
			t.Errorf("disabled rule: enabled=%v packets %d, want false and %d kept", r.Enabled, r.Packets, before.Packets)
		}
	}
	// toggle on again: traffic stops again
	if _, err := l.b.SetEnabled(drop.ID, true, 0); err != nil {
		t.Fatal(err)
	}
	if got := l.connects(t, tcp.Addr().String(), 2); got != 0 {
		t.Errorf("re-enabled: %d of 2 connects", got)
	}
	rules, _ = l.b.List()
	oracle = l.oracleByID(t)
	for _, r := range rules {
		if want := oracle[r.ID]; r.Packets != want[0] || r.Bytes != want[1] {
			t.Errorf("rule %d counters %d/%d, nft says %d/%d", r.ID, r.Packets, r.Bytes, want[0], want[1])
		}
	}
	t.Logf("nft ruleset:\n%s", l.ns.Run(t, "nft", "list", "table", "inet", TableName))
}

func TestIntegrationWatchSeesNftCLI(t *testing.T) {
	l := newLab(t)
	if _, err := l.b.Add(model.Rule{Enabled: true, Action: model.ActionCount, Hooks: []string{model.HookInput}}, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	done := make(chan error, 1)
	go func() { done <- l.b.Watch(ctx, func() { n.Add(1) }) }()
	time.Sleep(200 * time.Millisecond)
	l.ns.Run(t, "nft", "add", "rule", "inet", TableName, "input", "tcp", "dport", "9", "counter", "drop", "comment", `"by hand"`)
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n.Load() == 0 {
		t.Fatal("Watch did not report the rule added by nft(8)")
	}
	rules, err := l.b.List()
	if err != nil {
		t.Fatal(err)
	}
	var foreign *model.Rule
	for i := range rules {
		if rules[i].Foreign {
			foreign = &rules[i]
		}
	}
	if len(rules) != 2 || foreign == nil || foreign.Label != "by hand" {
		t.Fatalf("rules after nft add: %+v", rules)
	}
	if _, err := l.b.SetEnabled(foreign.ID, false, 0); err == nil {
		t.Error("changing a foreign rule succeeded")
	}
}

// TestIntegrationRevertSurvivesSIGKILL arms a commit-confirmed drop rule
// from a separate process, kills that process with SIGKILL, and checks
// that the revert helper restores the rule set at the deadline.
func TestIntegrationRevertSurvivesSIGKILL(t *testing.T) {
	l := newLab(t)
	tcp, _ := l.listen(t)
	port := tcp.Addr().(*net.TCPAddr).Port
	if _, err := l.b.Add(model.Rule{Enabled: true, Action: model.ActionAccept, Proto: "tcp", Hooks: []string{model.HookInput},
		DstPorts: model.PortRange{Min: 22, Max: 22}, Label: "keep ssh"}, 0); err != nil {
		t.Fatal(err)
	}
	// The armer: this test binary, running armChild in the namespace.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "NETLENS_ARM_CHILD="+l.ns.Name, fmt.Sprintf("NETLENS_ARM_PORT=%d", port),
		"NETLENS_ARM_STATE="+l.b.opt.StateDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	// The armer leads its own process group, as a shell's job does: the
	// whole group is killed, as when an SSH session goes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	var got strings.Builder
	for !strings.Contains(got.String(), "ARMED") {
		n, err := out.Read(buf)
		if err != nil {
			t.Fatalf("arm child: %v (%s)", err, got.String())
		}
		got.Write(buf[:n])
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	armedAt := time.Now()
	rules, _ := l.b.List()
	if len(rules) != 2 || rules[1].PendingTxn == 0 {
		t.Fatalf("after arming: %+v", rules)
	}
	if c := l.connects(t, tcp.Addr().String(), 1); c != 0 {
		t.Errorf("pending drop rule lets connects through")
	}
	for time.Since(armedAt) < 10*time.Second {
		rules, _ = l.b.List()
		if len(rules) == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(rules) != 1 || rules[0].Label != "keep ssh" {
		t.Fatalf("not reverted %v after SIGKILL of the armer: %+v", time.Since(armedAt), rules)
	}
	t.Logf("reverted %v after the armer was killed (deadline 2s after arming)", time.Since(armedAt).Round(time.Millisecond))
	if c := l.connects(t, tcp.Addr().String(), 2); c != 2 {
		t.Errorf("after the revert: %d of 2 connects", c)
	}
}

// armChild is the armer of TestIntegrationRevertSurvivesSIGKILL, run as
// a separate process (this test binary with NETLENS_ARM_CHILD set): it
// adds a commit-confirmed drop rule, prints ARMED and waits to be killed.
func armChild() error {
	fd, err := unix.Open("/run/netns/"+os.Getenv("NETLENS_ARM_CHILD"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	b, err := New(Options{NetNS: fd, StateDir: os.Getenv("NETLENS_ARM_STATE"), HelperCmd: []string{os.Args[0], "rules", "revert-watch"}})
	if err != nil {
		return err
	}
	var port uint16
	fmt.Sscan(os.Getenv("NETLENS_ARM_PORT"), &port)
	if _, err := b.Add(model.Rule{Enabled: true, Action: model.ActionDrop, Proto: "tcp", Hooks: []string{model.HookInput},
		DstPorts: model.PortRange{Min: port, Max: port}, Label: "pending"}, 2*time.Second); err != nil {
		return err
	}
	fmt.Println("ARMED")
	time.Sleep(time.Minute)
	return nil
}

func TestIntegrationConfirmKeeps(t *testing.T) {
	l := newLab(t)
	r, err := l.b.Add(model.Rule{Enabled: true, Action: model.ActionDrop, Proto: "udp", Hooks: []string{model.HookInput},
		DstPorts: model.PortRange{Min: 9, Max: 9}}, 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.PendingTxn == 0 {
		t.Fatal("no pending txn")
	}
	if _, err := l.b.Add(model.Rule{Enabled: true, Action: model.ActionCount}, 0); !errors.Is(err, ErrPending) {
		t.Errorf("second change while pending: %v, want ErrPending", err)
	}
	if err := l.b.Confirm(r.PendingTxn + 1); !errors.Is(err, ErrUnknownTxn) {
		t.Errorf("confirm of a wrong txn: %v", err)
	}
	if err := l.b.Confirm(r.PendingTxn); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(r.RevertAt) + 300*time.Millisecond)
	rules, _ := l.b.List()
	if len(rules) != 1 || rules[0].PendingTxn != 0 {
		t.Fatalf("after confirm and the deadline: %+v", rules)
	}
}

func TestIntegrationReplaceAtomic(t *testing.T) {
	l := newLab(t)
	if err := l.b.Replace([]model.Rule{
		{Enabled: true, Action: model.ActionCount, Hooks: []string{model.HookInput}, Label: "a"},
		{Enabled: false, Action: model.ActionDrop, Proto: "tcp", Hooks: []string{model.HookInput, model.HookOutput}, DstPorts: model.PortRange{Min: 1, Max: 1000}, Label: "b"},
	}, 0); err != nil {
		t.Fatal(err)
	}
	before, _ := l.b.List()
	// one rule the kernel refuses (an interface name match is fine; a
	// port match without a protocol makes nft's transport header load
	// legal, so use a bad hook instead) must leave everything as it was.
	err := l.b.Replace([]model.Rule{
		{Enabled: true, Action: model.ActionDrop, Hooks: []string{model.HookInput}, Label: "new"},
		{Enabled: true, Action: model.ActionDrop, Hooks: []string{"nohook"}, Label: "bad"},
	}, 0)
	if err == nil {
		t.Fatal("replace with a bad rule succeeded")
	}
	after, _ := l.b.List()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("a failed replace changed the rules:\nbefore %+v\nafter  %+v", before, after)
	}
}

func netipPrefix(s string) (p netip.Prefix) { return netip.MustParsePrefix(s) }

// TestIntegrationIPv6AndPrefix drops IPv6 UDP to one port by destination
// prefix and checks that IPv4 to the same port still flows.
func TestIntegrationIPv6AndPrefix(t *testing.T) {
	l := newLab(t)
	var u6, u4 *net.UDPConn
	l.ns.Do(t, func() {
		var err error
		if u6, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
			t.Error(err)
			return
		}
		port := u6.LocalAddr().(*net.UDPAddr).Port
		if u4, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
			t.Error(err)
		}
	})
	if u6 == nil || u4 == nil {
		t.Fatal("listeners")
	}
	defer u6.Close()
	defer u4.Close()
	port := uint16(u6.LocalAddr().(*net.UDPAddr).Port)
	r, err := l.b.Add(model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Proto: "udp", Dst: netipPrefix("::1/128"),
		DstPorts: model.PortRange{Min: port, Max: port}, Action: model.ActionDrop, Label: "v6 only"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	send := func(network string, dst *net.UDPConn, n int) int {
		l.ns.Do(t, func() {
			c, err := net.DialUDP(network, nil, dst.LocalAddr().(*net.UDPAddr))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for range n {
				c.Write([]byte("x"))
			}
		})
		got, buf := 0, make([]byte, 16)
		for {
			dst.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if _, _, err := dst.ReadFromUDP(buf); err != nil {
				return got
			}
			got++
		}
	}
	if got := send("udp6", u6, 7); got != 0 {
		t.Errorf("IPv6: %d of 7 received, want 0", got)
	}
	if got := send("udp4", u4, 7); got != 7 {
		t.Errorf("IPv4: %d of 7 received, want 7", got)
	}
	rules, _ := l.b.List()
	if len(rules) != 1 || rules[0].ID != r.ID || rules[0].Packets != 7 || rules[0].Family != model.FamilyIPv6 {
		t.Errorf("rules: %+v", rules)
	}
	if want := l.oracleByID(t)[r.ID]; want[0] != rules[0].Packets || want[1] != rules[0].Bytes {
		t.Errorf("counters %d/%d, nft says %v", rules[0].Packets, rules[0].Bytes, want)
	}
}

// TestIntegrationRecoverAfterHelperDied: when the helper dies before the
// deadline, the next netlens to look (the collector, the CLI, a plan)
// reverts the change itself once the deadline has passed.
func TestIntegrationRecoverAfterHelperDied(t *testing.T) {
	l := newLab(t)
	l.b.opt.HelperCmd = []string{os.Args[0], "rules", "revert-watch-dies"}
	if _, err := l.b.Add(model.Rule{Enabled: true, Action: model.ActionCount, Label: "kept"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.b.Add(model.Rule{Enabled: true, Action: model.ActionDrop, Label: "orphan"}, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ok, err := l.b.Recover(); ok || err != nil {
		t.Fatalf("Recover before the deadline: %v %v", ok, err)
	}
	time.Sleep(500*time.Millisecond + recoverGrace + 100*time.Millisecond)
	if rules, _ := l.b.List(); len(rules) != 2 {
		t.Fatalf("the dead helper reverted? %+v", rules)
	}
	if ok, err := l.b.Recover(); !ok || err != nil {
		t.Fatalf("Recover: %v %v", ok, err)
	}
	rules, _ := l.b.List()
	if len(rules) != 1 || rules[0].Label != "kept" || rules[0].PendingTxn != 0 {
		t.Fatalf("after Recover: %+v", rules)
	}
	if _, err := l.b.Add(model.Rule{Enabled: true, Action: model.ActionCount}, 0); err != nil {
		t.Errorf("a change after the recovery: %v", err)
	}
}

// TestIntegrationRevertStateDirUnwritable makes the state directory
// unwritable in the middle of the countdown (a read-only bind mount:
// EROFS; the immutable attribute: EPERM). The helper cannot claim the
// state file, and must revert anyway at the deadline and log why where
// `rules list` and the Filters tab read it (Events).
func TestIntegrationRevertStateDirUnwritable(t *testing.T) {
	tests := []struct {
		name      string
		lock      []string // commands that make dir unwritable ("DIR" is replaced)
		unlock    []string
		wantInLog string
	}{
		{"read-only bind mount", []string{"mount --bind DIR DIR", "mount -o remount,bind,ro DIR"}, []string{"umount DIR"}, "read-only file system"},
		{"immutable directory", []string{"chattr +i DIR"}, []string{"chattr -i DIR"}, "operation not permitted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			dir := l.b.opt.StateDir
			run := func(cmds []string) {
				for _, c := range cmds {
					args := strings.Fields(strings.ReplaceAll(c, "DIR", dir))
					if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
						t.Fatalf("%s: %v: %s", c, err, out)
					}
				}
			}
			if _, err := l.b.Add(model.Rule{Enabled: true, Action: model.ActionCount, Label: "kept"}, 0); err != nil {
				t.Fatal(err)
			}
			r, err := l.b.Add(model.Rule{Enabled: true, Action: model.ActionDrop, Label: "locks out"}, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			run(tt.lock)
			t.Cleanup(func() { run(tt.unlock) })
			if f, err := os.Create(dir + "/probe"); err == nil {
				f.Close()
				t.Fatalf("%s is still writable", dir)
			}
			var rules []model.Rule
			var claimErr, reverted bool
			for deadline := r.RevertAt.Add(8 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				rules, _ = l.b.List()
				claimErr, reverted = false, false
				for _, e := range l.b.Events() {
					if e.Txn != r.PendingTxn || !e.Error || !strings.HasPrefix(e.By, "revert helper (pid ") {
						continue
					}
					claimErr = claimErr || strings.Contains(e.Message, "cannot claim the state file") && strings.Contains(e.Message, tt.wantInLog)
					reverted = reverted || strings.HasPrefix(e.Message, "reverted at the deadline, without claiming the state file")
				}
				if len(rules) == 1 && reverted {
					break
				}
			}
			if len(rules) != 1 || rules[0].Label != "kept" {
				t.Fatalf("not reverted 8s after the deadline with the state directory unwritable: %+v", rules)
			}
			t.Logf("reverted by %v after the deadline", time.Since(r.RevertAt).Round(time.Millisecond))
			for _, e := range l.b.Events() {
				t.Logf("revert log: %s %s", e.By, e.Message)
			}
			if !claimErr || !reverted {
				t.Errorf("the revert log does not say the claim failed (%s) and the revert went ahead: claim error %v, reverted %v", tt.wantInLog, claimErr, reverted)
			}
		})
	}
}

// TestIntegrationRejectRefusesAtOnce: a reject rule on tcp answers with a
// TCP reset, so connect fails with ECONNREFUSED at once instead of timing
// out; on udp it answers with an ICMP port unreachable, which a connected
// UDP socket reports as ECONNREFUSED; nft(8) shows both rules.
func TestIntegrationRejectRefusesAtOnce(t *testing.T) {
	l := newLab(t)
	tcp, udp := l.listen(t)
	tport := uint16(tcp.Addr().(*net.TCPAddr).Port)
	uport := uint16(udp.LocalAddr().(*net.UDPAddr).Port)
	for _, r := range []model.Rule{
		{Proto: "tcp", DstPorts: model.PortRange{Min: tport, Max: tport}},
		{Proto: "udp", DstPorts: model.PortRange{Min: uport, Max: uport}},
	} {
		r.Enabled, r.Hooks, r.Family, r.Action = true, []string{model.HookInput}, model.RuleFamilyBoth, model.ActionReject
		if _, err := l.b.Add(r, 0); err != nil {
			t.Fatal(err)
		}
	}
	l.ns.Do(t, func() {
		t0 := time.Now()
		_, err := net.DialTimeout("tcp4", tcp.Addr().String(), 5*time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Since(t0) > time.Second {
			t.Errorf("tcp connect with a reject rule: %v after %v, want ECONNREFUSED at once", err, time.Since(t0))
		}
		c, err := net.DialUDP("udp4", nil, udp.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write([]byte("x"))
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 16)); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("udp with a reject rule: %v, want ECONNREFUSED (ICMP port unreachable)", err)
		}
	})
	rules, err := l.b.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.Action != model.ActionReject || r.Packets == 0 {
			t.Errorf("rule %d: action %s, %d packets", r.ID, r.Action, r.Packets)
		}
	}
	out := l.ns.Run(t, "nft", "list", "table", "inet", TableName)
	if !strings.Contains(out, "reject with tcp reset") || !strings.Contains(out, "reject") {
		t.Errorf("nft ruleset:\n%s", out)
	}
}

// TestIntegrationSets: a rule with a source set (1,000 hosts and a /24, so
// an interval set) and a destination port set is one nftables rule
// "ip saddr @nl1_saddr_... udp dport @nl1_dport_..." over real nft sets; it
// drops exactly the datagrams from its members (by the listener, the
// rule's counter and nft's), reads back with the same elements, and a
// change of the elements or a delete leaves no unused set behind.
func TestIntegrationSets(t *testing.T) {
	l := newLab(t)
	_, u := l.listen(t)
	port := uint16(u.LocalAddr().(*net.UDPAddr).Port)
	var set []netip.Prefix
	for i := range 1000 {
		set = append(set, netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(i%250 + 1)}), 32))
	}
	set = append(set, netipPrefix("127.3.0.0/24"))
	r, err := l.b.Add(model.Rule{Enabled: true, Proto: "udp", SrcSet: set, DstPortSet: []uint16{port, 9},
		Action: model.ActionDrop, Label: "set"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if out := l.ns.Run(t, "nft", "list", "chain", "inet", TableName, "input"); !strings.Contains(out, "ip saddr @nl") ||
		!strings.Contains(out, "udp dport @nl") {
		t.Errorf("nft list chain: no set lookups:\n%s", out)
	}
	send := func(srcs []string) int {
		l.ns.Do(t, func() {
			for _, s := range srcs {
				c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(s)}, u.LocalAddr().(*net.UDPAddr))
				if err != nil {
					t.Error(err)
					return
				}
				c.Write([]byte("netlens"))
				c.Close()
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
	members := []string{"127.1.0.1", "127.1.3.250", "127.3.0.9", "127.3.0.255"}
	others := []string{"127.1.4.1", "127.2.0.1", "127.3.1.0", "127.0.0.1"}
	if got := send(append(members, others...)); got != len(others) {
		t.Errorf("received %d datagrams, want the %d from non-members", got, len(others))
	}
	rules, err := l.b.List()
	if err != nil || len(rules) != 1 {
		t.Fatalf("list: %v %+v", err, rules)
	}
	if rules[0].Packets != uint64(len(members)) {
		t.Errorf("rule counted %d, want %d", rules[0].Packets, len(members))
	}
	if o := l.oracleByID(t)[r.ID]; o[0] != uint64(len(members)) {
		t.Errorf("nft counted %v, want %d", o, len(members))
	}
	want := modelrules.NormalizePrefixSet(set)
	if diff := cmp.Diff(want, rules[0].SrcSet, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("source set read back (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint16{9, port}, rules[0].DstPortSet); port > 9 && diff != "" {
		t.Errorf("port set read back (-want +got):\n%s", diff)
	}
	// a change of the elements: the old sets go
	if _, err := l.b.Change(r.ID, model.Rule{Enabled: true, Proto: "udp", SrcSet: set[:10], Action: model.ActionDrop}, 0); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(l.ns.Run(t, "nft", "list", "sets", "inet"), "set nl"); n != 1 {
		t.Errorf("after the change: %d netlens sets, want 1", n)
	}
	if err := l.b.Delete(r.ID, 0); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(l.ns.Run(t, "nft", "list", "sets", "inet"), "set nl"); n != 0 {
		t.Errorf("after the delete: %d netlens sets, want 0", n)
	}
}
