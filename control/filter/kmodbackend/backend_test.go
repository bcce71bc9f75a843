package kmodbackend

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/collectors/kmod"
	"netlens/model"
	"netlens/model/rules"
)

// fakeClient plays the module: ids from 1, commit-confirmed changes
// recorded, and a create that fails on a chosen label.
type fakeClient struct {
	rules    []kmod.Rule
	next     uint32
	failOn   string
	calls    []string
	counters kmod.Counters
}

func (f *fakeClient) Create(r kmod.Rule, revert time.Duration) (kmod.Rule, error) {
	f.calls = append(f.calls, fmt.Sprintf("create %q %v", r.Label, revert))
	if r.Label == f.failOn {
		return kmod.Rule{}, errors.New("rule limit reached")
	}
	f.next++
	r.ID = f.next
	if revert > 0 {
		r.PendingTxn, r.RevertIn = 100+r.ID, revert
	}
	f.rules = append(f.rules, r)
	return r, nil
}

func (f *fakeClient) find(id uint32) int {
	return slices.IndexFunc(f.rules, func(r kmod.Rule) bool { return r.ID == id })
}

func (f *fakeClient) Change(id uint32, r kmod.Rule, fields kmod.Field, revert time.Duration) (kmod.Rule, error) {
	f.calls = append(f.calls, fmt.Sprintf("change %d %#x %v", id, fields, revert))
	i := f.find(id)
	if i < 0 {
		return kmod.Rule{}, errors.New("unknown rule id")
	}
	if fields == kmod.FieldDisabled {
		f.rules[i].Disabled = r.Disabled
	} else {
		r.ID = id
		f.rules[i] = r
	}
	return f.rules[i], nil
}

func (f *fakeClient) SetEnabled(id uint32, on bool, revert time.Duration) (kmod.Rule, error) {
	return f.Change(id, kmod.Rule{Disabled: !on}, kmod.FieldDisabled, revert)
}

func (f *fakeClient) Delete(id uint32) error {
	f.calls = append(f.calls, fmt.Sprintf("delete %d", id))
	i := f.find(id)
	if i < 0 {
		return errors.New("unknown rule id")
	}
	f.rules = slices.Delete(f.rules, i, i+1)
	return nil
}

func (f *fakeClient) Get(id uint32) (kmod.Rule, error) { return f.rules[f.find(id)], nil }
func (f *fakeClient) Dump() ([]kmod.Rule, error)       { return slices.Clone(f.rules), nil }
func (f *fakeClient) Counters() (kmod.Counters, error) { return f.counters, nil }
func (f *fakeClient) Confirm(txn uint32) error {
	f.calls = append(f.calls, fmt.Sprintf("confirm %d", txn))
	return nil
}
func (f *fakeClient) Close() error { return nil }

// SetPolicy plays the module: one unconfirmed change per policy (EBUSY),
// the pending transaction reported by Counters.
func (f *fakeClient) SetPolicy(p kmod.Policy, revert time.Duration) (uint32, error) {
	f.calls = append(f.calls, fmt.Sprintf("policy %d/%d %d %v", p.Family, p.Hook, p.Verdict, revert))
	i := slices.IndexFunc(f.counters.Hooks, func(h kmod.HookCounters) bool { return h.Family == p.Family && h.Hook == p.Hook })
	if i < 0 {
		f.counters.Hooks = append(f.counters.Hooks, kmod.HookCounters{Family: p.Family, Hook: p.Hook})
		i = len(f.counters.Hooks) - 1
	}
	h := &f.counters.Hooks[i]
	if h.PolicyTxn != 0 {
		return 0, syscall.EBUSY
	}
	h.Policy = p.Verdict
	if revert > 0 {
		f.next++
		h.PolicyTxn, h.PolicyRevertIn = 200+f.next, revert
	}
	return h.PolicyTxn, nil
}

func TestBackendPolicy(t *testing.T) {
	fc := &fakeClient{}
	b := New(fc, nil, "")
	now := time.Unix(1700000000, 0)
	b.now = func() time.Time { return now }
	txn, at, err := b.SetPolicy(rules.Policy{Family: model.FamilyIPv6, Hook: model.HookForward, Verdict: model.ActionDrop}, 30*time.Second)
	if err != nil || txn == 0 || !at.Equal(now.Add(30*time.Second)) {
		t.Fatalf("SetPolicy: %d %v %v", txn, at, err)
	}
	if _, _, err := b.SetPolicy(rules.Policy{Family: model.FamilyIPv6, Hook: model.HookForward, Verdict: model.ActionAccept}, 0); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("a second change of a pending policy: %v, want EBUSY", err)
	}
	if diff := cmp.Diff([]model.PendingChange{{Txn: txn, RevertAt: now.Add(30 * time.Second)}}, b.PendingList(), cmpOpts...); diff != "" {
		t.Errorf("PendingList (-want +got)\n%s", diff)
	}
	vs, err := b.Verdicts()
	if err != nil || len(vs) != 1 || vs[0].Policy != model.ActionDrop || vs[0].Hook != model.HookForward || vs[0].Family != model.FamilyIPv6 {
		t.Errorf("Verdicts: %v %+v", err, vs)
	}
	if txn, _, err := b.SetPolicy(rules.Policy{Family: model.FamilyIPv4, Hook: model.HookInput, Verdict: model.ActionAccept}, 0); err != nil || txn != 0 {
		t.Errorf("accept without revert: %d %v", txn, err)
	}
	for _, bad := range []rules.Policy{
		{Family: model.RuleFamilyBoth, Hook: model.HookInput, Verdict: model.ActionDrop},
		{Family: model.FamilyIPv4, Hook: "ingress", Verdict: model.ActionDrop},
		{Family: model.FamilyIPv4, Hook: model.HookInput, Verdict: model.ActionReject},
	} {
		if _, _, err := b.SetPolicy(bad, 0); err == nil {
			t.Errorf("SetPolicy(%+v) accepted", bad)
		}
	}
	want := []string{"policy 2/2 2 30s", "policy 2/2 1 0s", "policy 1/1 1 0s"}
	if diff := cmp.Diff(want, fc.calls); diff != "" {
		t.Errorf("calls (-want +got)\n%s", diff)
	}
	ro := New(&fakeClient{}, nil, "read-only: no CAP_NET_ADMIN")
	if _, _, err := ro.SetPolicy(rules.Policy{Family: model.FamilyIPv4, Hook: model.HookInput, Verdict: model.ActionDrop}, 0); err == nil {
		t.Error("read-only backend set a policy")
	}
}

var cmpOpts = []cmp.Option{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

func TestConvertRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 0)
	rules := []model.Rule{
		{ID: 3, Enabled: true, Hooks: []string{model.HookPreRouting, model.HookOutput}, Family: model.FamilyIPv4, Proto: "tcp",
			Src: netip.MustParsePrefix("10.0.0.0/8"), Dst: netip.MustParsePrefix("192.0.2.1/32"),
			SrcPorts: model.PortRange{Min: 1024, Max: 65535}, DstPorts: model.PortRange{Min: 22, Max: 22},
			InIface: "eth0", OutIface: "eth1", Action: model.ActionDrop, Priority: 7, Label: "x"},
		{ID: 4, Enabled: false, Hooks: []string{model.HookForward}, Family: model.RuleFamilyBoth, Action: model.ActionCount},
		{ID: 5, Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv6, Proto: "icmpv6", Action: model.ActionAccept,
			Dst: netip.MustParsePrefix("2001:db8::/32")},
		{ID: 6, Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "tcp", Action: model.ActionReject,
			DstPorts: model.PortRange{Min: 25, Max: 25}},
		{ID: 7, Enabled: true, Hooks: []string{model.HookForward}, Family: model.RuleFamilyBoth, Proto: "udp", Action: model.ActionReject},
		{ID: 8, Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "tcp", Action: model.ActionDrop,
			Src: netip.MustParsePrefix("10.0.0.0/8"), DstPorts: model.PortRange{Min: 8080, Max: 8080},
			CTState: []string{"new", "untracked"}, TCPFlags: "syn/syn,ack", Negate: []string{"src", "tcp_flags", "ct_state"}},
		{ID: 9, Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv6, Proto: "icmpv6", Action: model.ActionDrop,
			ICMP: "destination-unreachable/4", Negate: []string{"icmp"}},
		{ID: 10, Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "icmp", Action: model.ActionAccept,
			ICMP: "echo-request"},
	}
	for _, r := range rules {
		k, err := ToKmod(r)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, FromKmod(k, now), cmpOpts...); diff != "" {
			t.Errorf("round trip (-want +got)\n%s", diff)
		}
	}
	for i, want := range map[int]kmod.RejectWith{3: kmod.RejectTCPReset, 4: kmod.RejectUnspec} {
		if k, _ := ToKmod(rules[i]); k.Action != kmod.ActionReject || k.RejectWith != want {
			t.Errorf("reject rule %d: action %v with %v, want reject with %v", rules[i].ID, k.Action, k.RejectWith, want)
		}
	}
	k := kmod.Rule{ID: 9, Hooks: kmod.HookLocalIn, Family: kmod.FamilyBoth, Action: kmod.ActionDrop, Packets: 5, Bytes: 300,
		LastHit: now, PendingTxn: 77, RevertIn: 20 * time.Second, DstPorts: kmod.PortRange{Min: 0, Max: 0xffff}}
	got := FromKmod(k, now)
	if got.PendingTxn != 77 || !got.RevertAt.Equal(now.Add(20*time.Second)) || !got.LastHit.Equal(now) || got.Packets != 5 || !got.DstPorts.Any() {
		t.Errorf("read-only fields: %+v", got)
	}
	if k, _ := ToKmod(rules[5]); k.CTState != kmod.CTNew|kmod.CTUntracked || k.TCPFlags != 0x02 || k.TCPFlagsMask != 0x12 ||
		k.Negate != kmod.NegSrc|kmod.NegTCPFlags|kmod.NegCT {
		t.Errorf("stateful rule to the module: ct %#x flags %#x/%#x negate %#x", k.CTState, k.TCPFlags, k.TCPFlagsMask, k.Negate)
	}
	if k, _ := ToKmod(rules[6]); !k.ICMPTypeSet || k.ICMPType != 1 || !k.ICMPCodeSet || k.ICMPCode != 4 || k.Negate != kmod.NegICMP {
		t.Errorf("icmpv6 rule to the module: %+v", k)
	}
	// ICMP codes by nft name go to the module as numbers and read back
	// in the canonical form (type name, code number)
	for _, tt := range []struct {
		proto, icmp string
		typ, code   uint8
		back        string
	}{
		{"icmp", "destination-unreachable/port-unreachable", 3, 3, "destination-unreachable/3"},
		{"icmp", "time-exceeded/host-unreachable", 11, 1, "time-exceeded/1"},
		{"icmpv6", "destination-unreachable/admin-prohibited", 1, 1, "destination-unreachable/1"},
	} {
		r := model.Rule{ID: 11, Enabled: true, Hooks: []string{model.HookInput}, Proto: tt.proto, ICMP: tt.icmp, Action: model.ActionDrop}
		k, err := ToKmod(r)
		if err != nil || !k.ICMPTypeSet || !k.ICMPCodeSet || k.ICMPType != tt.typ || k.ICMPCode != tt.code {
			t.Errorf("%s %s to the module: %+v, %v", tt.proto, tt.icmp, k, err)
			continue
		}
		if got := FromKmod(k, now).ICMP; got != tt.back {
			t.Errorf("%s %s reads back as %q, want %q", tt.proto, tt.icmp, got, tt.back)
		}
	}
	if _, err := ToKmod(model.Rule{Action: "masquerade"}); err == nil {
		t.Error("ToKmod accepted action masquerade")
	}
	if _, err := ToKmod(model.Rule{Action: model.ActionDrop, Hooks: []string{"ingress"}}); err == nil {
		t.Error("ToKmod accepted hook ingress")
	}
}

func TestBackendOperations(t *testing.T) {
	fc := &fakeClient{counters: kmod.Counters{Rules: 1, Hooks: []kmod.HookCounters{{Family: kmod.FamilyIPv6, Hook: 1, Seen: 10, Accepted: 7, Dropped: 3, Policy: kmod.ActionDrop}}}}
	b := New(fc, nil, "")
	r, err := b.Add(model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Action: model.ActionDrop, Label: "a"}, 30*time.Second)
	if err != nil || r.ID != 1 || r.PendingTxn != 101 || r.RevertAt.IsZero() {
		t.Fatalf("Add: %v %+v", err, r)
	}
	if err := b.Confirm(101); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetEnabled(1, false, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Change(1, model.Rule{Enabled: true, Hooks: []string{model.HookForward}, Action: model.ActionCount}, 0); err != nil {
		t.Fatal(err)
	}
	want := []string{`create "a" 30s`, "confirm 101", "change 1 0x1 0s", "change 1 0x1 5s", "change 1 0x1ffff 0s"}
	if diff := cmp.Diff(want, fc.calls); diff != "" {
		t.Errorf("calls (-want +got)\n%s", diff)
	}
	v, _ := b.Verdicts()
	if diff := cmp.Diff([]model.HookVerdicts{{Family: model.FamilyIPv6, Hook: "input", Seen: 10, Accepted: 7, Dropped: 3, Policy: model.ActionDrop}}, v); diff != "" {
		t.Errorf("verdicts (-want +got)\n%s", diff)
	}
	ro := New(&fakeClient{}, nil, "read-only: needs CAP_NET_ADMIN")
	if _, err := ro.Add(model.Rule{Action: model.ActionDrop}, 0); err == nil {
		t.Error("read-only backend added a rule")
	}
}

// TestChangeICMPRefused: the module keeps an icmp rule's type and code
// when a change leaves them out, so a change that takes them off is
// refused before it is sent, with what to do instead; one that keeps or
// sets them goes through.
func TestChangeICMPRefused(t *testing.T) {
	fc := &fakeClient{}
	b := New(fc, nil, "")
	icmp := model.Rule{Enabled: true, Proto: "icmp", ICMP: "destination-unreachable/3", Action: model.ActionDrop, Label: "icmp"}
	if _, err := b.Add(icmp, 0); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		icmp string
		ok   bool
	}{{"destination-unreachable/1", true}, {"destination-unreachable", false}, {"", false}} {
		r := icmp
		r.ICMP = tt.icmp
		_, err := b.Change(1, r, 0)
		if (err == nil) != tt.ok {
			t.Errorf("change to icmp %q: %v, want ok %v", tt.icmp, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "delete it and add") {
			t.Errorf("refusal does not say what to do: %v", err)
		}
	}
	if got, _ := b.List(); got[0].ICMP != "destination-unreachable/1" {
		t.Errorf("after the changes: %+v", got[0])
	}
}

func TestReplaceRollsBack(t *testing.T) {
	fc := &fakeClient{}
	b := New(fc, nil, "")
	for _, l := range []string{"old1", "old2"} {
		if _, err := b.Add(model.Rule{Enabled: true, Action: model.ActionCount, Label: l}, 0); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := b.List()
	fc.failOn = "bad"
	err := b.Replace([]model.Rule{{Enabled: true, Action: model.ActionDrop, Label: "new"}, {Enabled: true, Action: model.ActionDrop, Label: "bad"}}, 0)
	if err == nil {
		t.Fatal("Replace succeeded")
	}
	after, _ := b.List()
	if diff := cmp.Diff(before, after, cmpOpts...); diff != "" {
		t.Errorf("a failed load changed the rules (-want +got)\n%s", diff)
	}
	fc.failOn = ""
	if err := b.Replace([]model.Rule{{Enabled: true, Action: model.ActionDrop, Label: "new"}}, time.Second); err != nil {
		t.Fatal(err)
	}
	after, _ = b.List()
	if len(after) != 1 || after[0].Label != "new" || after[0].PendingTxn == 0 {
		t.Errorf("after load: %+v", after)
	}
}

type fakeEvents struct {
	batches [][]kmod.Event
	errs    []error
	closed  bool
}

func (e *fakeEvents) Receive() ([]kmod.Event, error) {
	if len(e.errs) > 0 {
		err := e.errs[0]
		e.errs = e.errs[1:]
		return nil, err
	}
	if len(e.batches) > 0 {
		b := e.batches[0]
		e.batches = e.batches[1:]
		return b, nil
	}
	time.Sleep(5 * time.Millisecond)
	return nil, os.ErrDeadlineExceeded
}
func (e *fakeEvents) SetReadDeadline(time.Time) error { return nil }
func (e *fakeEvents) Close() error                    { e.closed = true; return nil }

func TestWatch(t *testing.T) {
	ev := &fakeEvents{
		errs:    []error{fmt.Errorf("kmod events: %w", kmod.ErrEventsLost)},
		batches: [][]kmod.Event{{{Type: kmod.EventCreated}}, {{Type: kmod.EventReverted, Txn: 3}}},
	}
	b := New(&fakeClient{}, func() (Events, error) { return ev, nil }, "")
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	done := make(chan error)
	go func() {
		done <- b.Watch(ctx, func() {
			n++
			if n == 3 {
				cancel()
			}
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return")
	}
	if n != 3 || !ev.closed {
		t.Errorf("changed %d times (want 3: overrun, created, reverted), closed %v", n, ev.closed)
	}
}
