package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/internal/filtermem"
	"netlens/model"
	"netlens/model/rules"
)

func TestManagerGuardedChange(t *testing.T) {
	b := &filtermem.Backend{}
	ssh := session("192.0.2.7 50022 10.0.0.1 22")
	m := &Manager{Backend: b, Revert: 5 * time.Second, Guard: func() GuardInput { return GuardInput{SSH: ssh} }}

	// a harmless rule: no deadline
	p, err := m.Plan(rules.Op{Kind: rules.OpAdd, Rule: model.Rule{Enabled: true, Action: model.ActionAccept, Proto: "tcp", DstPorts: ports(22), Label: "keep ssh"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.DropCapable || p.Revert != 0 || p.NeedsSecondConfirm() {
		t.Fatalf("accept plan: %+v", p)
	}
	res, err := m.Apply(p)
	if err != nil || res.Txn != 0 {
		t.Fatalf("apply accept: %v %+v", err, res)
	}
	keep := res.Rule.ID

	// a drop-everything rule after the accept: deadline, session safe
	p, err = m.Plan(rules.Op{Kind: rules.OpAdd, Rule: model.Rule{Enabled: true, Action: model.ActionDrop, Priority: 10, Label: "drop all"}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.DropCapable || p.Revert != 5*time.Second || p.Impact.Session != nil {
		t.Fatalf("drop plan: %+v", p)
	}
	res, err = m.Apply(p)
	if err != nil || res.Txn == 0 {
		t.Fatalf("apply drop: %v %+v", err, res)
	}
	if err := m.Confirm(res.Txn); err != nil {
		t.Fatal(err)
	}

	// disabling the accept would cut the session: a second confirm
	p, err = m.Plan(rules.Op{Kind: rules.OpDisable, ID: keep})
	if err != nil {
		t.Fatal(err)
	}
	if p.Impact.Session == nil || !p.NeedsSecondConfirm() || p.Impact.Session.Rule.Label != "drop all" {
		t.Fatalf("disable plan: %+v", p.Impact)
	}
	if !strings.Contains(p.Impact.String(), "YOUR SSH SESSION (tcp 192.0.2.7:50022 -> 10.0.0.1:22) would be cut by rule") {
		t.Errorf("impact text: %s", p.Impact)
	}
	res, err = m.Apply(p)
	if err != nil || res.Txn == 0 {
		t.Fatalf("apply disable: %v %+v", err, res)
	}
	b.Revert() // no confirm: the deadline passes
	rs, _ := b.List()
	if !rs[0].Enabled {
		t.Errorf("after the revert the accept rule is %+v", rs[0])
	}
	// deleting the accept is guarded too
	p, _ = m.Plan(rules.Op{Kind: rules.OpDelete, ID: keep})
	if !p.DropCapable || p.Impact.Session == nil {
		t.Errorf("delete plan: %+v", p)
	}
	if _, err := m.Apply(p); err != nil {
		t.Fatal(err)
	}
	if got := b.Calls[len(b.Calls)-1]; got != "delete 1 revert=5s" {
		t.Errorf("last call %q", got)
	}
}

func TestManagerInvalid(t *testing.T) {
	b := &filtermem.Backend{}
	m := &Manager{Backend: b}
	var ue rules.InvalidError
	for _, op := range []rules.Op{
		{Kind: rules.OpAdd, Rule: model.Rule{Action: "masquerade"}},
		{Kind: rules.OpEnable, ID: 9},
		{Kind: rules.OpChange, ID: 9, Rule: model.Rule{Action: model.ActionDrop}},
		{Kind: "flip"},
		{Kind: rules.OpLoad, Rules: []model.Rule{{Action: model.ActionDrop, Label: "ok"}, {Action: model.ActionDrop, Label: "bad", InIface: "a/b"}}},
	} {
		if _, err := m.Plan(op); !errors.As(err, &ue) {
			t.Errorf("Plan(%+v) = %v, want a UsageError", op, err)
		}
	}
	_, err := m.Plan(rules.Op{Kind: rules.OpLoad, Rules: []model.Rule{{Action: model.ActionDrop, Label: "ok"}, {Action: model.ActionDrop, Label: "bad", InIface: "a/b"}}})
	if !strings.Contains(err.Error(), `rule 2 ("bad"): iif: interface name cannot contain '/'`) {
		t.Errorf("load error does not name the rule: %v", err)
	}
	// In words, without an errno's ("no rule with id 9: no such file or
	// directory").
	if _, err := m.Plan(rules.Op{Kind: rules.OpDelete, ID: 9}); err == nil || err.Error() != "no rule with id 9" {
		t.Errorf("delete of a missing rule: %v, want: no rule with id 9", err)
	}
	if len(b.Calls) != 0 {
		t.Errorf("invalid input reached the backend: %v", b.Calls)
	}
}

func TestManagerLoad(t *testing.T) {
	b := &filtermem.Backend{}
	m := &Manager{Backend: b, Revert: time.Second}
	rs, err := LoadFile("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Plan(rules.Op{Kind: rules.OpLoad, Rules: rs})
	if err != nil {
		t.Fatal(err)
	}
	// the file's accept is new and its drop is disabled: nothing drops
	if p.DropCapable {
		t.Errorf("load plan drop-capable")
	}
	if _, err := m.Apply(p); err != nil {
		t.Fatal(err)
	}
	got, _ := b.List()
	if len(got) != 3 || got[2].Packets != 0 || got[2].PendingTxn != 0 {
		t.Errorf("loaded: %+v", got)
	}
	// a failing backend load changes nothing (the backend's promise)
	b.FailAdd = true
	p, _ = m.Plan(rules.Op{Kind: rules.OpLoad, Rules: rs[:2]})
	if _, err := m.Apply(p); err == nil {
		t.Error("failed load returned no error")
	}
	again, _ := b.List()
	if len(again) != 3 {
		t.Errorf("failed load changed the rules: %+v", again)
	}
}

var _ Backend = (*filtermem.Backend)(nil)

// noPolicy is a backend without default policies (as nft).
type noPolicy struct{ Backend }

func TestManagerPolicy(t *testing.T) {
	b := &filtermem.Backend{}
	ssh := session("192.0.2.7 50022 10.0.0.1 22")
	m := &Manager{Backend: b, Revert: 5 * time.Second, Guard: func() GuardInput { return GuardInput{SSH: ssh} }}
	dropIn := rules.Op{Kind: rules.OpPolicy, Policy: rules.Policy{Family: model.FamilyIPv4, Hook: model.HookInput, Verdict: model.ActionDrop}}

	// a DROP policy with no rule would cut the session: the guard names
	// the policy
	p, err := m.Plan(dropIn)
	if err != nil {
		t.Fatal(err)
	}
	if !p.DropCapable || p.Revert != 5*time.Second || p.Impact.Session == nil || p.Impact.Session.Policy == nil {
		t.Fatalf("drop policy plan: %+v", p)
	}
	if want := "YOUR SSH SESSION (tcp 192.0.2.7:50022 -> 10.0.0.1:22) would be cut by the default policy (drop at ipv4 input) at input"; p.Impact.String() != want {
		t.Errorf("impact text:\n got %s\nwant %s", p.Impact, want)
	}
	// an IPv6 DROP policy does not touch the IPv4 session
	p6, _ := m.Plan(rules.Op{Kind: rules.OpPolicy, Policy: rules.Policy{Family: model.FamilyIPv6, Hook: model.HookInput, Verdict: model.ActionDrop}})
	if !p6.DropCapable || p6.Impact.Cuts() {
		t.Errorf("ipv6 policy plan: %+v", p6)
	}

	// with an ACCEPT for ssh first, the session is safe; unconfirmed, the
	// policy reverts
	if _, err := m.Apply(mustPlan(t, m, rules.Op{Kind: rules.OpAdd, Rule: model.Rule{Enabled: true, Action: model.ActionAccept, Proto: "tcp", DstPorts: ports(22), Label: "keep ssh"}})); err != nil {
		t.Fatal(err)
	}
	p = mustPlan(t, m, dropIn)
	if !p.DropCapable || p.Impact.Cuts() {
		t.Fatalf("drop policy after keep ssh: %+v", p)
	}
	res, err := m.Apply(p)
	if err != nil || res.Txn == 0 || res.RevertAt.IsZero() {
		t.Fatalf("apply policy: %v %+v", err, res)
	}
	if got := b.Calls[len(b.Calls)-1]; got != "policy drop at ipv4 input revert=5s" {
		t.Errorf("last call %q", got)
	}
	if pcs := rules.PendingChanges(b, nil); len(pcs) != 1 || pcs[0].Txn != res.Txn {
		t.Errorf("pending after the policy: %+v, want txn %d", pcs, res.Txn)
	}
	b.Revert() // the deadline passes
	if pol := PoliciesOf(mustVerdicts(t, b)); pol.anyDrop() {
		t.Errorf("after the revert: %v", pol)
	}

	// confirmed, it stays; then removing the ACCEPT is guarded by the policy
	if res, err = m.Apply(mustPlan(t, m, dropIn)); err != nil {
		t.Fatal(err)
	}
	if err := m.Confirm(0); err != nil {
		t.Fatal(err)
	}
	if got := b.Calls[len(b.Calls)-1]; got != fmt.Sprintf("confirm %d", res.Txn) {
		t.Errorf("confirm(0) called %q", got)
	}
	p = mustPlan(t, m, rules.Op{Kind: rules.OpDelete, ID: 1})
	if !p.DropCapable || p.Impact.Session == nil || p.Impact.Session.Policy == nil || p.Impact.Session.Hook != model.HookInput {
		t.Errorf("delete of keep ssh under a DROP policy: %+v", p.Impact)
	}

	// back to ACCEPT: cannot drop, no deadline
	p = mustPlan(t, m, rules.Op{Kind: rules.OpPolicy, Policy: rules.Policy{Family: model.RuleFamilyBoth, Hook: model.HookInput, Verdict: model.ActionAccept}})
	if p.DropCapable || p.Revert != 0 {
		t.Errorf("accept policy plan: %+v", p)
	}
	if res, err = m.Apply(p); err != nil || res.Txn != 0 {
		t.Errorf("apply accept: %v %+v", err, res)
	}
	if diff := cmp.Diff([]string{"policy accept at ipv4 input revert=0s", "policy accept at ipv6 input revert=0s"}, b.Calls[len(b.Calls)-2:]); diff != "" {
		t.Errorf("calls (-want +got)\n%s", diff)
	}

	var ie rules.InvalidError
	for _, bad := range []rules.Policy{
		{Family: model.FamilyIPv4, Hook: "ingress", Verdict: model.ActionDrop},
		{Family: "ipx", Hook: model.HookInput, Verdict: model.ActionDrop},
		{Family: model.FamilyIPv4, Hook: model.HookInput, Verdict: model.ActionReject},
	} {
		if _, err := m.Plan(rules.Op{Kind: rules.OpPolicy, Policy: bad}); !errors.As(err, &ie) {
			t.Errorf("Plan(policy %+v) = %v, want an InvalidError", bad, err)
		}
	}
	if _, err := (&Manager{Backend: noPolicy{b}}).Plan(dropIn); !errors.Is(err, ErrNoPolicy) {
		t.Errorf("policy on a backend without: %v", err)
	}
}

func mustPlan(t *testing.T, m *Manager, op rules.Op) rules.Plan {
	t.Helper()
	p, err := m.Plan(op)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustVerdicts(t *testing.T, b Backend) []model.HookVerdicts {
	t.Helper()
	vs, err := b.Verdicts()
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// keepIDs is a filtermem.Backend whose Replace keeps ids under 1<<31,
// as nft's does.
type keepIDs struct{ *filtermem.Backend }

func (keepIDs) ReplaceKeepsIDs() uint32 { return 1 << 31 }

// TestManagerLoadKeepsIDs: on a backend that keeps ids, a load keeps the
// file's and gives the rules without one the next ids in file order, so
// that the plan (and the guard) sees the order the backend applies;
// duplicate ids, ids out of range and no id left are refused.
func TestManagerLoadKeepsIDs(t *testing.T) {
	b := keepIDs{&filtermem.Backend{}}
	m := &Manager{Backend: b, Revert: time.Second}
	if _, err := b.Add(model.Rule{Enabled: true, Action: model.ActionCount, Label: "old"}, 0); err != nil {
		t.Fatal(err)
	}
	drop := model.Rule{ID: 3, Enabled: true, Action: model.ActionDrop, Proto: "tcp", Label: "drop"}
	accept := model.Rule{Enabled: true, Action: model.ActionAccept, Proto: "tcp", Label: "accept"}
	p, err := m.Plan(rules.Op{Kind: rules.OpLoad, Rules: []model.Rule{drop, accept}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Op.Rules {
		got = append(got, fmt.Sprintf("%s=%d", r.Label, r.ID))
	}
	if want := []string{"drop=3", "accept=4"}; !cmp.Equal(got, want) {
		t.Errorf("load plan ids %v, want %v", got, want)
	}
	for _, bad := range []struct {
		rules []model.Rule
		want  string
	}{
		{[]model.Rule{drop, drop}, "rule 2 (\"drop\"): id 3 is rule 1's too"},
		{[]model.Rule{{ID: 1 << 31, Action: model.ActionDrop}}, "id 2147483648 out of range"},
		{[]model.Rule{{ID: 1<<31 - 1, Action: model.ActionDrop}, accept}, "no id left"},
	} {
		if _, err := m.Plan(rules.Op{Kind: rules.OpLoad, Rules: bad.rules}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("load of %v: %v, want an error with %q", bad.rules, err, bad.want)
		}
	}
}
