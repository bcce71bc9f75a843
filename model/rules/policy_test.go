package rules

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name                  string
		hook, verdict, family string
		want                  Policy
		wantErr               string
	}{
		{"both by default", "input", "drop", "", Policy{model.RuleFamilyBoth, model.HookInput, model.ActionDrop}, ""},
		{"case folded", "FORWARD", "Accept", "IPv6", Policy{model.FamilyIPv6, model.HookForward, model.ActionAccept}, ""},
		{"unknown hook", "ingress", "drop", "", Policy{}, `hook: unknown hook "ingress"`},
		{"reject is no policy", "input", "reject", "ipv4", Policy{}, `verdict: a policy is accept or drop, not "reject"`},
		{"bad family", "input", "drop", "ipx", Policy{}, `family: unknown family "ipx"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePolicy(tt.hook, tt.verdict, tt.family)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	if got := (Policy{model.RuleFamilyBoth, model.HookInput, model.ActionDrop}).String(); got != "drop at ipv4+ipv6 input" {
		t.Errorf("String() = %q", got)
	}
}

// FuzzParsePolicy: any arguments give a valid policy or an error, never a
// panic; a policy it returns validates again and names one or two
// families.
func FuzzParsePolicy(f *testing.F) {
	f.Add("input", "drop", "")
	f.Add("postrouting", "accept", "ipv6")
	f.Add("", "", "both")
	f.Fuzz(func(t *testing.T, hook, verdict, family string) {
		p, err := ParsePolicy(hook, verdict, family)
		if err != nil {
			return
		}
		if err := ValidatePolicy(p); err != nil {
			t.Fatalf("ParsePolicy(%q, %q, %q) = %+v, which does not validate: %v", hook, verdict, family, p, err)
		}
		if n := len(p.Families()); n != 1 && n != 2 {
			t.Fatalf("%+v: %d families", p, n)
		}
	})
}
