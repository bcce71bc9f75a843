package ui

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// fakeSysctl is a SysctlControl that records calls; risks are the
// guard's answer for every plan, refuse the error of every plan.
type fakeSysctl struct {
	mu        sync.Mutex
	risks     []string
	refuse    error
	planned   []string // "name=value"
	applied   []SysctlPlan
	confirmed int
}

func (f *fakeSysctl) Plan(name, value string) (SysctlPlan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.planned = append(f.planned, name+"="+value)
	if f.refuse != nil {
		return SysctlPlan{}, f.refuse
	}
	return SysctlPlan{Name: name, Old: "4096", New: value, Revert: 30 * time.Second, Risks: f.risks}, nil
}

func (f *fakeSysctl) Apply(p SysctlPlan) (SysctlResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, p)
	return SysctlResult{Txn: 7, RevertAt: t0.Add(30 * time.Second)}, nil
}

func (f *fakeSysctl) Confirm() (model.SysctlPending, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirmed++
	p := f.applied[len(f.applied)-1]
	return model.SysctlPending{Txn: 7, Name: p.Name, Old: p.Old, New: p.New}, nil
}

// sysctlApp is the Sysctl tab with the row of net.core.somaxconn
// selected and the editor open on it.
func sysctlApp(t *testing.T, ctl *fakeSysctl) *App {
	t.Helper()
	a := newTestApp(t, fixtureStore(), Options{Controls: Controls{Sysctl: ctl}}, 120, 40)
	runKeys(t, a, "3", "/")
	runText(t, a, "somaxconn")
	runKeys(t, a, "enter", "e")
	if scr := screen(a); !strings.Contains(scr, "Change net.core.somaxconn") || !strings.Contains(scr, "now    4096") {
		t.Fatalf("the editor is not open on somaxconn:\n%s", scr)
	}
	return a
}

// sysctlApplied is sysctlApp after net.core.somaxconn was set to 8192
// with a revert deadline.
func sysctlApplied(t *testing.T) (*App, *fakeSysctl) {
	t.Helper()
	ctl := &fakeSysctl{}
	a := sysctlApp(t, ctl)
	runKeys(t, a, "ctrl+u")
	runText(t, a, "8192")
	runKeys(t, a, "enter")
	return a, ctl
}

func TestSysctlEditApplyConfirm(t *testing.T) {
	a, ctl := sysctlApplied(t)
	if diff := cmp.Diff([]string{"net.core.somaxconn=8192"}, ctl.planned); diff != "" {
		t.Fatalf("planned (-want +got):\n%s", diff)
	}
	if len(ctl.applied) != 1 || ctl.applied[0].New != "8192" {
		t.Fatalf("applied %+v, want the plan to 8192", ctl.applied)
	}
	scr := screen(a)
	for _, want := range []string{"net.core.somaxconn: 4096 -> 8192 applied; press c on Sysctl to keep it", "SYSCTL REVERT IN 20s: c on Sysctl keeps it"} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
	// The countdown is in the header on every tab.
	runKeys(t, a, "1")
	if !strings.Contains(screen(a), "SYSCTL REVERT IN 20s") {
		t.Errorf("no countdown on another tab:\n%s", screen(a))
	}
	runKeys(t, a, "3", "c")
	if ctl.confirmed != 1 || !strings.Contains(screen(a), "confirmed: net.core.somaxconn = 8192 is kept") || strings.Contains(screen(a), "SYSCTL REVERT IN") {
		t.Fatalf("confirm %d times; screen:\n%s", ctl.confirmed, screen(a))
	}
}

func TestSysctlEditRefused(t *testing.T) {
	ctl := &fakeSysctl{refuse: errors.New("invalid sysctl change: net.core.somaxconn takes an integer: \"lots\" is not an integer")}
	a := sysctlApp(t, ctl)
	runKeys(t, a, "ctrl+u")
	runText(t, a, "lots")
	runKeys(t, a, "enter")
	scr := screen(a)
	if !strings.Contains(scr, "refused, nothing changed") || !strings.Contains(scr, `"lots" is not an integer`) || len(ctl.applied) != 0 {
		t.Fatalf("applied %v; screen:\n%s", ctl.applied, scr)
	}
	// The editor stays open to fix the value; esc cancels.
	runKeys(t, a, "esc")
	if !strings.Contains(screen(a), "cancelled: net.core.somaxconn was not changed") {
		t.Fatalf("esc did not cancel:\n%s", screen(a))
	}
}

func TestSysctlEditGuard(t *testing.T) {
	ctl := &fakeSysctl{risks: []string{"reverse-path filtering on eth0, the path of your SSH session (192.0.2.7:50000 -> 192.0.2.1:22 via eth0)"}}
	a := sysctlApp(t, ctl)
	runKeys(t, a, "ctrl+u")
	runText(t, a, "1")
	runKeys(t, a, "enter")
	scr := screen(a)
	if !strings.Contains(scr, "!! GUARD") || !strings.Contains(scr, "your SSH session (192.0.2.7:50000") || len(ctl.applied) != 0 {
		t.Fatalf("no guard prompt, or applied %v:\n%s", ctl.applied, scr)
	}
	runKeys(t, a, "y")
	if len(ctl.applied) != 0 || !strings.Contains(screen(a), "y once more") {
		t.Fatalf("one y applied it:\n%s", screen(a))
	}
	runKeys(t, a, "y")
	if len(ctl.applied) != 1 {
		t.Fatalf("y twice did not apply:\n%s", screen(a))
	}
}

// TestDropsEditGoverningSysctl: e on a Drops counter's explanation edits
// the sysctl that governs it.
func TestDropsEditGoverningSysctl(t *testing.T) {
	ctl := &fakeSysctl{}
	a := newTestApp(t, funnelStore(), Options{Controls: Controls{Sysctl: ctl}}, 120, 40)
	send(a, "2", "end", "up", "enter", "up")
	if !strings.Contains(screen(a), "ListenOverflows: ") {
		t.Fatalf("ListenOverflows is not explained:\n%s", screen(a))
	}
	runKeys(t, a, "e")
	scr := screen(a)
	if !strings.Contains(scr, "Change net.core.somaxconn") || !strings.Contains(scr, "now    4096") {
		t.Fatalf("e does not edit the counter's sysctl:\n%s", scr)
	}
	runKeys(t, a, "ctrl+u")
	runText(t, a, "8192")
	runKeys(t, a, "enter")
	if len(ctl.applied) != 1 || ctl.applied[0].Name != "net.core.somaxconn" {
		t.Fatalf("applied %+v", ctl.applied)
	}
}

// TestDropsEditNoSysctl: e on a counter whose explanation names no
// sysctl says so on the status line.
func TestDropsEditNoSysctl(t *testing.T) {
	a := newTestApp(t, funnelStore(), Options{Controls: Controls{Sysctl: &fakeSysctl{}}}, 120, 40)
	send(a, "2", "home", "enter")
	name, _, n := a.pages[1].(*dropsPage).governingSysctl()
	runKeys(t, a, "e")
	scr := screen(a)
	if n == 0 && !strings.Contains(scr, "names no net.* sysctl") {
		t.Fatalf("no word on the status line:\n%s", scr)
	}
	if n > 0 && !strings.Contains(scr, "Change "+name) {
		t.Fatalf("the editor is not open on %s:\n%s", name, scr)
	}
}

// TestSysctlEditNarrow: at 80 columns the editor's keys are read whole
// (esc: cancel was cut to "esc: c~") and the pending change's line says
// what to do before when (the "unless c keeps it" at its end was cut).
func TestSysctlEditNarrow(t *testing.T) {
	ctl := &fakeSysctl{}
	a := sysctlApp(t, ctl)
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if scr := strings.Join(strings.Fields(screen(a)), " "); !strings.Contains(scr, "esc: cancel ctrl+u: clear") {
		t.Errorf("the editor's keys are cut:\n%s", screen(a))
	}
	runKeys(t, a, "ctrl+u")
	runText(t, a, "8192")
	runKeys(t, a, "enter")
	// What control/sysctl publishes once it applied the change.
	a.store.Publish(model.SysctlChangesUpdate{Changes: &model.SysctlChanges{Pending: &model.SysctlPending{Txn: 7, Name: "net.core.somaxconn", Old: "4096", New: "8192", RevertAt: t0.Add(30 * time.Second)}}})
	a.apply()
	if scr := screen(a); !strings.Contains(scr, " pending: net.core.somaxconn 4096 -> 8192: c keeps it, else written back at") {
		t.Errorf("the pending line:\n%s", scr)
	}
}

// TestSysctlPendingInOtherNamespace: after a switch (N) the header names
// the namespace whose c keeps the change, and c in the other namespace
// does not pass the confirm to its control; back there, c keeps it.
func TestSysctlPendingInOtherNamespace(t *testing.T) {
	a, ctl := sysctlApplied(t)
	switchTo := func(ns *model.NetNS) {
		t.Helper()
		a.store.Publish(model.NetNSUpdate{NetNS: ns, Switch: true})
		a.apply()
	}
	switchTo(&model.NetNS{Inode: 4026532202, Name: "hx-b"})
	header := func() string { return strings.SplitN(screen(a), "\n", 2)[0] }
	if h := header(); !strings.Contains(h, "SYSCTL REVERT IN 20s: c on Sysctl in netlens's own namespace keeps it") {
		t.Fatalf("the header does not name the namespace of the change:\n%s", screen(a))
	}
	runKeys(t, a, "c")
	if scr := screen(a); ctl.confirmed != 0 || !strings.Contains(scr, "waits in netlens's own namespace (c on Sysctl there keeps it)") {
		t.Fatalf("c in hx-b: %d confirms; screen:\n%s", ctl.confirmed, scr)
	}
	switchTo(nil)
	if h := header(); !strings.Contains(h, "SYSCTL REVERT IN 20s: c on Sysctl keeps it") {
		t.Fatalf("back in the namespace of the change:\n%s", screen(a))
	}
	runKeys(t, a, "c")
	if ctl.confirmed != 1 || !strings.Contains(screen(a), "confirmed: net.core.somaxconn = 8192 is kept") || strings.Contains(header(), "REVERT") {
		t.Fatalf("confirm %d times; screen:\n%s", ctl.confirmed, screen(a))
	}
}
