package sysctl

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"netlens/internal/netnstest"
	"netlens/internal/reverthelper"
	"netlens/model"
)

// TestMain lets the test binary be the revert helper ("sysctl
// revert-watch FILE", as netlens starts itself), or a helper that says
// it is ready and dies at once (a killed helper).
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "sysctl" && os.Args[2] == "revert-watch" {
		if err := RevertWatch(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "revert-watch:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) == 4 && os.Args[1] == "sysctl" && os.Args[2] == "revert-watch-dies" {
		reverthelper.Ready()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const testSysctl = "net.ipv4.tcp_keepalive_time"

func newTestControl(t *testing.T, helper string) (*Control, *netnstest.NS) {
	t.Helper()
	netnstest.RequireRoot(t)
	ns := netnstest.New(t, "sysctl")
	c := New(Options{NetNS: ns.FD(t), StateDir: t.TempDir(), HelperCmd: []string{os.Args[0], "sysctl", helper}})
	return c, ns
}

func value(t *testing.T, ns *netnstest.NS) string {
	t.Helper()
	return strings.TrimSpace(ns.Run(t, "sysctl", "-n", testSysctl))
}

// TestIntegrationApplyConfirmRevert: a change with a deadline is written
// and, unconfirmed, written back by the helper at the deadline; a
// confirmed one stays; a second change while one waits is refused; the
// journal has each step.
func TestIntegrationApplyConfirmRevert(t *testing.T) {
	c, ns := newTestControl(t, "revert-watch")
	orig := value(t, ns)
	p, err := c.Plan(testSysctl, "600", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if p.Old != orig || p.New != "600" || len(p.Risks) != 0 {
		t.Fatalf("plan %+v, want %s -> 600 without risks", p, orig)
	}
	res, err := c.Apply(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, ns); got != "600" {
		t.Fatalf("after Apply: %s, want 600", got)
	}
	p2, _ := c.Plan(testSysctl, "700", 5*time.Second)
	if _, err := c.Apply(p2); !errors.Is(err, ErrPending) {
		t.Fatalf("second Apply = %v, want ErrPending", err)
	}
	for value(t, ns) == "600" && time.Now().Before(res.RevertAt.Add(5*time.Second)) {
		time.Sleep(100 * time.Millisecond)
	}
	if got := value(t, ns); got != orig || time.Now().Before(res.RevertAt) {
		t.Fatalf("%s after the deadline, want %s (back no earlier than the deadline)", got, orig)
	}
	if _, err := c.Confirm(); !errors.Is(err, ErrNoPending) {
		t.Fatalf("Confirm after the revert = %v, want ErrNoPending", err)
	}

	p, err = c.Plan(testSysctl, "900", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(p); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Confirm(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	if got := value(t, ns); got != "900" {
		t.Fatalf("confirmed change: %s after the deadline, want 900", got)
	}
	ch, err := c.Changes()
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, e := range ch.Journal {
		outcomes = append(outcomes, e.Outcome)
	}
	want := []string{model.SysctlApplied, model.SysctlReverted, model.SysctlApplied, model.SysctlConfirmed}
	if strings.Join(outcomes, " ") != strings.Join(want, " ") || ch.Pending != nil {
		t.Fatalf("journal outcomes %q pending %v, want %q and none pending", outcomes, ch.Pending, want)
	}
	if ch.Journal[1].By == "" || !strings.HasPrefix(ch.Journal[1].By, "revert helper (pid ") || ch.Journal[0].User == "" {
		t.Fatalf("journal lacks who: %+v", ch.Journal)
	}
}

// TestIntegrationRefusedChangesNothing: an invalid value and a read-only
// sysctl are refused (ErrInvalid), nothing is written, and the journal
// says refused.
func TestIntegrationRefusedChangesNothing(t *testing.T) {
	c, ns := newTestControl(t, "revert-watch")
	orig := value(t, ns)
	for _, tt := range []struct{ name, value, why string }{
		{testSysctl, "0", "out of range 1..32767"},
		{"net.core.rmem_default", "300000", "read-only"},
		{"net.ipv4.no_such_thing", "1", "no such sysctl"},
	} {
		if _, err := c.Plan(tt.name, tt.value, 5*time.Second); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("Plan(%s=%s) = %v, want ErrInvalid with %q", tt.name, tt.value, err, tt.why)
		}
	}
	if got := value(t, ns); got != orig {
		t.Fatalf("%s after refusals, want %s", got, orig)
	}
	ch, _ := c.Changes()
	if ch == nil || len(ch.Journal) != 3 || ch.Journal[0].Outcome != model.SysctlRefused {
		t.Fatalf("journal %+v, want 3 refused entries", ch)
	}
}

// TestIntegrationRecoverAfterHelperDied: the helper dies before the
// deadline (as if killed); Recover, as the TUI's loop runs it, writes
// the old value back once the deadline and its grace have passed, and
// not before.
func TestIntegrationRecoverAfterHelperDied(t *testing.T) {
	c, ns := newTestControl(t, "revert-watch-dies")
	orig := value(t, ns)
	p, err := c.Plan(testSysctl, "650", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Apply(p)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Recover(); ok || err != nil {
		t.Fatalf("Recover before the deadline = %v, %v; want false", ok, err)
	}
	time.Sleep(time.Until(res.RevertAt.Add(recoverGrace + 200*time.Millisecond)))
	if got := value(t, ns); got != "650" {
		t.Fatalf("%s: the dead helper reverted?", got)
	}
	ok, err := c.Recover()
	if !ok || err != nil {
		t.Fatalf("Recover after the deadline = %v, %v; want true", ok, err)
	}
	if got := value(t, ns); got != orig {
		t.Fatalf("%s after Recover, want %s", got, orig)
	}
	ch, _ := c.Changes()
	last := ch.Journal[len(ch.Journal)-1]
	if last.Outcome != model.SysctlReverted || !strings.Contains(last.Message, "its revert helper did not") {
		t.Fatalf("last journal entry %+v", last)
	}
}

// TestIntegrationRouteIface: the guard's SSH path is the interface of the
// route back to the client, as `ip route get` says.
func TestIntegrationRouteIface(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.New(t, "sysroute")
	ns.Run(t, "ip", "link", "add", "ra0", "type", "veth", "peer", "name", "rb0")
	ns.Run(t, "ip", "addr", "add", "10.79.5.1/24", "dev", "ra0")
	ns.Run(t, "ip", "link", "set", "ra0", "up")
	ns.Run(t, "ip", "link", "set", "rb0", "up")
	for _, tt := range []struct{ dst, want string }{{"127.0.0.1", "lo"}, {"10.79.5.9", "ra0"}, {"192.0.2.1", ""}} {
		var got string
		ns.Do(t, func() { got = routeIface(netip.MustParseAddr(tt.dst)) })
		out, _ := ns.Command("ip", "route", "get", tt.dst).CombinedOutput() // no route: exit 2
		if got != tt.want || (tt.want != "" && !strings.Contains(string(out), "dev "+tt.want)) {
			t.Errorf("routeIface(%s) = %q, want %q (ip route get: %s)", tt.dst, got, tt.want, strings.TrimSpace(string(out)))
		}
	}
}
