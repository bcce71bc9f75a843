package rules

import (
	"fmt"
	"strings"

	"netlens/model"
)

// Policy is the default verdict of one hook and family: what a packet no
// rule decides (no ACCEPT, DROP or REJECT rule matched) gets. Every
// policy is ACCEPT until set.
type Policy struct {
	// Family is model.FamilyIPv4 or model.FamilyIPv6; in an OpPolicy
	// also model.RuleFamilyBoth (the change is made for each family).
	Family model.Family
	// Hook is model.HookInput, ...
	Hook string
	// Verdict is model.ActionAccept or model.ActionDrop.
	Verdict model.RuleAction
}

// String is "drop at ipv4 input" ("drop at ipv4+ipv6 input" for both
// families).
func (p Policy) String() string {
	fam := string(p.Family)
	if p.Family == model.RuleFamilyBoth {
		fam = "ipv4+ipv6"
	}
	return fmt.Sprintf("%s at %s %s", p.Verdict, fam, p.Hook)
}

// Families returns the families p applies to: both of them for
// model.RuleFamilyBoth.
func (p Policy) Families() []model.Family {
	if p.Family == model.RuleFamilyBoth {
		return []model.Family{model.FamilyIPv4, model.FamilyIPv6}
	}
	return []model.Family{p.Family}
}

// ParsePolicy reads the arguments of `netlens rules policy HOOK VERDICT`
// and its --family (ipv4, ipv6, or both, the default when ""). Errors
// name the argument at fault.
func ParsePolicy(hook, verdict, family string) (Policy, error) {
	p := Policy{Family: model.Family(strings.ToLower(family)), Hook: strings.ToLower(hook),
		Verdict: model.RuleAction(strings.ToLower(verdict))}
	if p.Family == "" {
		p.Family = model.RuleFamilyBoth
	}
	return p, ValidatePolicy(p)
}

// ValidatePolicy checks a policy to set: a known hook, a family (or
// both) and a verdict of accept or drop.
func ValidatePolicy(p Policy) error {
	var errs []FieldError
	if _, ok := HookNum(p.Hook); !ok {
		errs = append(errs, FieldError{Field: "hook", Msg: fmt.Sprintf("unknown hook %q (%s)", p.Hook, strings.Join(Hooks, ", "))})
	}
	switch p.Family {
	case model.FamilyIPv4, model.FamilyIPv6, model.RuleFamilyBoth:
	default:
		errs = append(errs, FieldError{Field: "family", Msg: fmt.Sprintf("unknown family %q (ipv4, ipv6 or both)", p.Family)})
	}
	switch p.Verdict {
	case model.ActionAccept, model.ActionDrop:
	default:
		errs = append(errs, FieldError{Field: "verdict", Msg: fmt.Sprintf("a policy is accept or drop, not %q", p.Verdict)})
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}
