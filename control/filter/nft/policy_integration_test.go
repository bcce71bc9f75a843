package nft

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
	modelrules "netlens/model/rules"
)

func (l *lab) policies(t *testing.T) map[string]model.RuleAction {
	t.Helper()
	vs, err := l.b.Verdicts()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]model.RuleAction{}
	for _, v := range vs {
		if v.Policy == model.ActionDrop {
			out[string(v.Family)+" "+v.Hook] = v.Policy
		}
	}
	return out
}

// TestIntegrationPolicyDrop: a DROP policy at ipv4 input is the last rule
// of the input chain (nft lists it as "meta nfproto ipv4 counter drop");
// it drops what no rule accepts and not what an ACCEPT rule takes, a rule
// added afterwards still goes before it, its counter is the policy's
// Dropped; unconfirmed, the revert helper puts the accept policy back at
// the deadline, confirmed it stays past it; both families go in one
// transaction.
func TestIntegrationPolicyDrop(t *testing.T) {
	l := newLab(t)
	tcp, _ := l.listen(t)
	addr := tcp.Addr().String()
	_, port, _ := strings.Cut(addr, ":")
	dropIn4 := modelrules.Policy{Family: model.FamilyIPv4, Hook: model.HookInput, Verdict: model.ActionDrop}
	txn, at, err := l.b.SetPolicy(dropIn4, 3*time.Second)
	if err != nil || txn == 0 {
		t.Fatalf("SetPolicy: txn %d, %v", txn, err)
	}
	if got := l.connects(t, addr, 2); got != 0 {
		t.Errorf("%d of 2 connects went through a DROP policy", got)
	}
	if diff := cmp.Diff(map[string]model.RuleAction{"ipv4 input": model.ActionDrop}, l.policies(t)); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	if _, _, err := l.b.SetPolicy(modelrules.Policy{Family: model.FamilyIPv6, Hook: model.HookInput, Verdict: model.ActionDrop}, time.Second); !errors.Is(err, ErrPending) {
		t.Errorf("a second change while one is pending: %v, want ErrPending", err)
	}
	if rs, _ := l.b.List(); len(rs) != 0 {
		t.Errorf("the policy rule is listed as a rule: %+v", rs)
	}
	lines := l.ruleLines(t, TableName, "input")
	if len(lines) != 1 || lines[0] != `meta nfproto ipv4 counter drop comment "netlens default policy"` {
		t.Errorf("nft lists the input chain as %q", lines)
	}
	time.Sleep(time.Until(at) + 1500*time.Millisecond)
	if got := l.connects(t, addr, 2); got != 2 {
		t.Errorf("after the deadline %d of 2 connects went through", got)
	}
	if p := l.policies(t); len(p) != 0 {
		t.Errorf("policies after the revert: %v", p)
	}
	if lines := l.ruleLines(t, TableName, "input"); len(lines) != 0 {
		t.Errorf("input chain after the revert: %q", lines)
	}

	// confirmed, for both families at once; an ACCEPT rule added later
	// goes before the policy
	txn, at, err = l.b.SetPolicy(modelrules.Policy{Family: model.RuleFamilyBoth, Hook: model.HookInput, Verdict: model.ActionDrop}, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.b.Confirm(txn); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(at) + 1500*time.Millisecond)
	if diff := cmp.Diff(map[string]model.RuleAction{"ipv4 input": model.ActionDrop, "ipv6 input": model.ActionDrop}, l.policies(t)); diff != "" {
		t.Errorf("confirmed policies past the deadline (-want +got):\n%s", diff)
	}
	if got := l.connects(t, addr, 3); got != 0 {
		t.Errorf("%d of 3 connects went through the confirmed DROP policy", got)
	}
	// an allowlist: the port, and the answers (loopback: the SYN-ACK
	// comes in at input too)
	acc := l.add(t, model.Rule{Proto: "tcp", DstPorts: model.PortRange{Min: parsePort(t, port), Max: parsePort(t, port)}, Action: model.ActionAccept})
	est := l.add(t, model.Rule{CTState: []string{"established", "related"}, Action: model.ActionAccept})
	if got := l.connects(t, addr, 2); got != 2 {
		t.Errorf("%d of 2 connects went through the ACCEPT rules before the DROP policy", got)
	}
	lines = l.ruleLines(t, TableName, "input")
	if len(lines) != 4 || !strings.HasSuffix(lines[0], "accept") || !strings.HasSuffix(lines[1], "accept") ||
		!strings.Contains(lines[2], "ipv4 counter drop") || !strings.Contains(lines[3], "ipv6 counter drop") {
		t.Errorf("input chain, want the accept rules then the two policies: %q", lines)
	}
	vs, _ := l.b.Verdicts()
	for _, v := range vs {
		// each SYN dropped once, retransmissions within 200 ms aside
		if v.Family == model.FamilyIPv4 && v.Hook == model.HookInput && v.Dropped < 3 {
			t.Errorf("ipv4 input policy dropped %d, want >= 3", v.Dropped)
		}
	}
	if _, _, err := l.b.SetPolicy(modelrules.Policy{Family: model.RuleFamilyBoth, Hook: model.HookInput, Verdict: model.ActionAccept}, 0); err != nil {
		t.Fatal(err)
	}
	if p := l.policies(t); len(p) != 0 {
		t.Errorf("policies after accept: %v", p)
	}
	for _, id := range []uint32{acc.ID, est.ID} {
		if err := l.b.Delete(id, 0); err != nil {
			t.Fatal(err)
		}
	}
}

func parsePort(t *testing.T, s string) uint16 {
	t.Helper()
	var n uint16
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("port %q", s)
		}
		n = n*10 + uint16(c-'0')
	}
	return n
}
