package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
	"netlens/model/rules"
)

// policyStore has the nft backend's rules with its default policies: DROP
// at ipv6 input, accept elsewhere.
func policyStore() *model.Store {
	s := rulesStore()
	var hooks []model.HookVerdicts
	for _, f := range []model.Family{model.FamilyIPv4, model.FamilyIPv6} {
		for _, h := range rules.Hooks {
			v := model.HookVerdicts{Family: f, Hook: h, Policy: model.ActionAccept}
			if f == model.FamilyIPv6 && h == model.HookInput {
				v.Policy, v.Dropped = model.ActionDrop, 7
			}
			hooks = append(hooks, v)
		}
	}
	s.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: t0.Add(9 * time.Second), Rules: fixtureRules(), Hooks: hooks}})
	return s
}

// TestFiltersPolicyKey: P asks for a hook, family and verdict, shows the
// current policy of every hook and family, and enter sends one OpPolicy
// through the same FilterControl as a rule change: a drop-capable plan
// that cuts something asks the guard's second confirmation, and the
// applied change counts down until c keeps it.
func TestFiltersPolicyKey(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		want *rules.Policy // nil: nothing planned
	}{
		{"default: drop at input, both families", []string{"enter"}, &rules.Policy{Family: model.RuleFamilyBoth, Hook: model.HookInput, Verdict: model.ActionDrop}},
		{"hook, family and verdict chosen", []string{"right", "right", "f", "f", "a", "enter"},
			&rules.Policy{Family: model.FamilyIPv6, Hook: model.HookOutput, Verdict: model.ActionAccept}},
		{"left wraps, space toggles", []string{"left", "left", "f", "space", "enter"},
			&rules.Policy{Family: model.FamilyIPv4, Hook: model.HookPostRouting, Verdict: model.ActionAccept}},
		{"esc cancels", []string{"d", "esc"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctl := &fakeFilters{}
			a := filtersApp(t, policyStore(), ctl)
			runKeys(t, a, "P")
			scr := screen(a)
			for _, s := range []string{"Default policy", "> input", "accept->drop", "drop->drop", "set: drop at ipv4+ipv6 input", "enter sets it"} {
				if !strings.Contains(scr, s) {
					t.Fatalf("policy question lacks %q:\n%s", s, scr)
				}
			}
			runKeys(t, a, tt.keys...)
			if tt.want == nil {
				if len(ctl.ops) != 0 || !strings.Contains(screen(a), "policy unchanged") {
					t.Fatalf("cancelled, yet planned %v:\n%s", ctl.ops, screen(a))
				}
				return
			}
			want := []rules.Op{{Kind: rules.OpPolicy, Policy: *tt.want}}
			if diff := cmp.Diff(want, ctl.applied, cmpRules); diff != "" {
				t.Errorf("applied (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFiltersPolicyGuarded: a DROP policy that would cut the session asks
// the guard's second confirmation, names the policy, and once applied
// counts down until c keeps it.
func TestFiltersPolicyGuarded(t *testing.T) {
	clock := &fakeClock{now: fixedClock()}
	pol := rules.Policy{Family: model.FamilyIPv4, Hook: model.HookInput, Verdict: model.ActionDrop}
	plan := rules.Plan{DropCapable: true, Revert: 30 * time.Second, Impact: rules.Impact{
		Session: &rules.Hit{Kind: rules.HitSession, What: "tcp 192.168.100.200:51234 -> 10.20.0.5:22", Hook: "input", Dir: "in", Policy: &pol},
	}}
	ctl := &fakeFilters{plan: plan, res: rules.Result{Txn: 77, RevertAt: clock.now.Add(30 * time.Second)}}
	a := newTestApp(t, policyStore(), Options{Controls: Controls{Filters: ctl}, Now: clock.Now}, 120, 40)
	runKeys(t, a, "4", "P", "f", "enter")
	scr := screen(a)
	for _, s := range []string{"LOCKOUT GUARD", "the default policy drop at ipv4 input", "YOUR OWN SSH SESSION", "by the default policy"} {
		if !strings.Contains(scr, s) {
			t.Fatalf("guard prompt lacks %q:\n%s", s, scr)
		}
	}
	if len(ctl.applied) != 0 {
		t.Fatal("applied before the second confirmation")
	}
	runKeys(t, a, "Y")
	if diff := cmp.Diff([]rules.Op{{Kind: rules.OpPolicy, Policy: pol}}, ctl.applied, cmpRules); diff != "" {
		t.Fatalf("applied (-want +got):\n%s", diff)
	}
	if h := strings.SplitN(screen(a), "\n", 2)[0]; !strings.Contains(h, "REVERT IN 30s") {
		t.Fatalf("no countdown after a DROP policy:\n%s", screen(a))
	}
	runKeys(t, a, "c")
	if diff := cmp.Diff([]uint32{77}, ctl.confirms); diff != "" {
		t.Fatalf("confirms (-want +got):\n%s", diff)
	}
	// the verdict line shows the policies (nft keeps no verdict counters)
	if !strings.Contains(screen(a), "in evaluation order; policy DROP at in6, else accept") {
		t.Errorf("no policy on the verdict line:\n%s", screen(a))
	}
}

// TestFiltersPolicyReadOnly: P on a read-only backend says why.
func TestFiltersPolicyReadOnly(t *testing.T) {
	a := filtersApp(t, readOnlyStore(), &fakeFilters{})
	runKeys(t, a, "P")
	if !strings.Contains(screen(a), "cannot set a policy") {
		t.Fatalf("P on a read-only backend:\n%s", screen(a))
	}
}
