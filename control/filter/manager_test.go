package filter

import (
	"errors"
	"strings"
	"testing"
	"time"

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
