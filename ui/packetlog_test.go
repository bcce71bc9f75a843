package ui

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"netlens/model"
)

// fakePacketLog streams a fixed list of packets, then ends.
type fakePacketLog struct {
	pkts []model.LoggedPacket
	ids  chan uint32
}

func (f *fakePacketLog) PacketLog(ctx context.Context, id uint32, fn func(model.LoggedPacket), lost func()) error {
	f.ids <- id
	for _, p := range f.pkts {
		fn(p)
	}
	lost()
	return nil
}

// TestFiltersPacketLog: Enter on a rule of the kernel module or of the
// nft backend opens its live packet log: the packets in order, the lost
// count, p pauses, esc goes back to the rules.
func TestFiltersPacketLog(t *testing.T) {
	for _, backend := range []string{"kmod", "nft"} {
		t.Run(backend, func(t *testing.T) { testPacketLog(t, backend) })
	}
}

func testPacketLog(t *testing.T, backend string) {
	store := rulesStore()
	store.Publish(model.RulesUpdate{State: model.RulesState{Backend: backend, At: t0.Add(9 * time.Second), Rules: fixtureRules()}})
	lh := netip.MustParseAddr("127.0.0.1")
	fl := &fakePacketLog{ids: make(chan uint32, 1)}
	for i := range 3 {
		fl.pkts = append(fl.pkts, model.LoggedPacket{At: t0.Add(time.Duration(i) * time.Second), RuleID: 1, Hook: model.HookInput,
			Verdict: model.ActionDrop, Family: model.FamilyIPv4, Proto: "udp", Src: lh, Dst: lh,
			SrcPort: uint16(40000 + i), DstPort: 53, Len: 60, InIface: "lo", CTState: "new"})
	}
	a := newTestApp(t, store, Options{Controls: Controls{Filters: &fakeFilters{}, PacketLog: fl}}, 120, 40)
	runKeys(t, a, "4", "enter")
	if id := <-fl.ids; id != 1 {
		t.Fatalf("packet log of rule %d, want 1", id)
	}
	s := screen(a)
	for i, want := range []string{"packet log of rule 1", "#1 input drop udp 127.0.0.1:40000 -> 127.0.0.1:53 len 60 iif lo ct new",
		"127.0.0.1:40002 -> 127.0.0.1:53", "3 packets", "lost: 1 overruns", "the packet log ended"} {
		if !strings.Contains(s, want) {
			t.Errorf("%d: no %q on screen:\n%s", i, want, s)
		}
	}
	if strings.Index(s, "40000") > strings.Index(s, "40002") {
		t.Errorf("packets not in order:\n%s", s)
	}
	runKeys(t, a, "p")
	if !strings.Contains(screen(a), "PAUSED") {
		t.Errorf("p does not pause:\n%s", screen(a))
	}
	runKeys(t, a, "esc")
	if s := screen(a); strings.Contains(s, "packet log of rule") || !strings.Contains(s, "rules, ") {
		t.Errorf("esc does not go back to the rules:\n%s", s)
	}
}

// blockingPacketLog streams nothing until its context ends, which it
// reports on done.
type blockingPacketLog struct{ done chan struct{} }

func (f *blockingPacketLog) PacketLog(ctx context.Context, id uint32, fn func(model.LoggedPacket), lost func()) error {
	<-ctx.Done()
	close(f.done)
	return ctx.Err()
}

// TestFiltersPacketLogClosedOnSwitch: a namespace switch closes the
// packet log open in the Filters tab (it streams a rule of the namespace
// left) and says so; a switch that failed leaves it open.
func TestFiltersPacketLogClosedOnSwitch(t *testing.T) {
	store := rulesStore()
	store.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: t0.Add(9 * time.Second), Rules: fixtureRules()}})
	fl := &blockingPacketLog{done: make(chan struct{})}
	a := newTestApp(t, store, Options{Controls: Controls{Filters: &fakeFilters{}, PacketLog: fl}}, 120, 40)
	runKeys(t, a, "4")
	// Enter opens the log; its command, which waits for the stream's
	// next event, would wait until the stream ends: not run.
	a.Update(press("enter"))
	if s := screen(a); !strings.Contains(s, "packet log of rule 1") {
		t.Fatalf("no packet log open:\n%s", s)
	}
	run(t, a, netnsSwitchedMsg{label: "nl-other", err: errors.New("no such namespace")})
	if s := screen(a); !strings.Contains(s, "packet log of rule 1") {
		t.Fatalf("a failed switch closed the packet log:\n%s", s)
	}
	run(t, a, netnsSwitchedMsg{label: "nl-other"})
	select {
	case <-fl.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the packet log's stream was not cancelled by the switch")
	}
	s := screen(a)
	if strings.Contains(s, "packet log of rule") || !strings.Contains(s, "rules, ") {
		t.Errorf("the packet log still shows after the switch:\n%s", s)
	}
	if !strings.Contains(s, "packet log of the namespace left is closed") {
		t.Errorf("the status does not say the packet log closed:\n%s", s)
	}
}

// TestFiltersPolicyHeader: a DROP default policy shows in the Filters
// tab's header, per hook and family.
func TestFiltersPolicyHeader(t *testing.T) {
	store := rulesStore()
	store.Publish(model.RulesUpdate{State: model.RulesState{Backend: "kmod", At: t0.Add(9 * time.Second), Rules: fixtureRules(),
		Hooks: []model.HookVerdicts{
			{Family: model.FamilyIPv4, Hook: model.HookInput, Seen: 5, Dropped: 2, Policy: model.ActionDrop},
			{Family: model.FamilyIPv6, Hook: model.HookInput, Seen: 1, Policy: model.ActionAccept},
		}}})
	a := newTestApp(t, store, Options{Controls: Controls{Filters: &fakeFilters{}}}, 120, 40)
	runKeys(t, a, "4")
	if s := screen(a); !strings.Contains(s, "in evaluation order; policy DROP at in4, else accept") {
		t.Errorf("no drop policy in the header:\n%s", s)
	}
}

// TestFiltersPacketLogNoLogAdvice: the packet log of a rule without log
// says how to set it: the rule form has no log field, the CLI sets it.
func TestFiltersPacketLogNoLogAdvice(t *testing.T) {
	store := rulesStore()
	rs := fixtureRules()
	rs[0].Log = false
	store.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: t0.Add(9 * time.Second), Rules: rs}})
	fl := &fakePacketLog{ids: make(chan uint32, 1)}
	a := newTestApp(t, store, Options{Controls: Controls{Filters: &fakeFilters{}, PacketLog: fl}}, 120, 40)
	runKeys(t, a, "4", "enter")
	<-fl.ids
	want := fmt.Sprintf("this rule has no log: netlens rules change %d --log sets it", rs[0].ID)
	if s := screen(a); !strings.Contains(s, want) {
		t.Errorf("no %q on screen:\n%s", want, s)
	}
}
