package filter

import (
	"errors"
	"strings"
	"testing"
	"time"

	"netlens/model"
)

func TestManagerGuardedChange(t *testing.T) {
	b := &memBackend{}
	ssh := session("192.0.2.7 50022 10.0.0.1 22")
	m := &Manager{Backend: b, Revert: 5 * time.Second, Guard: func() GuardInput { return GuardInput{SSH: ssh} }}

	// a harmless rule: no deadline
	p, err := m.Plan(Op{Kind: OpAdd, Rule: model.Rule{Enabled: true, Action: model.ActionAccept, Proto: "tcp", DstPorts: ports(22), Label: "keep ssh"}})
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
	p, err = m.Plan(Op{Kind: OpAdd, Rule: model.Rule{Enabled: true, Action: model.ActionDrop, Priority: 10, Label: "drop all"}})
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
	p, err = m.Plan(Op{Kind: OpDisable, ID: keep})
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
	b.revert() // no confirm: the deadline passes
	rules, _ := b.List()
	if !rules[0].Enabled {
		t.Errorf("after the revert the accept rule is %+v", rules[0])
	}
	// deleting the accept is guarded too
	p, _ = m.Plan(Op{Kind: OpDelete, ID: keep})
	if !p.DropCapable || p.Impact.Session == nil {
		t.Errorf("delete plan: %+v", p)
	}
	if _, err := m.Apply(p); err != nil {
		t.Fatal(err)
	}
	if got := b.calls[len(b.calls)-1]; got != "delete 1 revert=5s" {
		t.Errorf("last call %q", got)
	}
}

func TestManagerInvalid(t *testing.T) {
	b := &memBackend{}
	m := &Manager{Backend: b}
	var ue UsageError
	for _, op := range []Op{
		{Kind: OpAdd, Rule: model.Rule{Action: "masquerade"}},
		{Kind: OpEnable, ID: 9},
		{Kind: OpChange, ID: 9, Rule: model.Rule{Action: model.ActionDrop}},
		{Kind: "flip"},
		{Kind: OpLoad, Rules: []model.Rule{{Action: model.ActionDrop, Label: "ok"}, {Action: model.ActionDrop, Label: "bad", InIface: "a/b"}}},
	} {
		if _, err := m.Plan(op); !errors.As(err, &ue) {
			t.Errorf("Plan(%+v) = %v, want a UsageError", op, err)
		}
	}
	_, err := m.Plan(Op{Kind: OpLoad, Rules: []model.Rule{{Action: model.ActionDrop, Label: "ok"}, {Action: model.ActionDrop, Label: "bad", InIface: "a/b"}}})
	if !strings.Contains(err.Error(), `rule 2 ("bad"): iif: interface name cannot contain '/'`) {
		t.Errorf("load error does not name the rule: %v", err)
	}
	if len(b.calls) != 0 {
		t.Errorf("invalid input reached the backend: %v", b.calls)
	}
}

func TestManagerLoad(t *testing.T) {
	b := &memBackend{}
	m := &Manager{Backend: b, Revert: time.Second}
	rules, err := LoadFile("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Plan(Op{Kind: OpLoad, Rules: rules})
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
	b.failAdd = true
	p, _ = m.Plan(Op{Kind: OpLoad, Rules: rules[:2]})
	if _, err := m.Apply(p); err == nil {
		t.Error("failed load returned no error")
	}
	again, _ := b.List()
	if len(again) != 3 {
		t.Errorf("failed load changed the rules: %+v", again)
	}
}
