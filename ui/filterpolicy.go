package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
	"netlens/model/rules"
)

// policyChoice is the default policy the P question is about: a hook,
// a family (or both) and a verdict.
type policyChoice struct {
	hook int // index in rules.Hooks
	fam  int // index in policyFamilies
	drop bool
}

var policyFamilies = []model.Family{model.RuleFamilyBoth, model.FamilyIPv4, model.FamilyIPv6}

func (c policyChoice) policy() rules.Policy {
	v := model.ActionAccept
	if c.drop {
		v = model.ActionDrop
	}
	return rules.Policy{Family: policyFamilies[c.fam], Hook: rules.Hooks[c.hook], Verdict: v}
}

// currentPolicy returns the policy the backend reports for one hook and
// family, "" when it reports none.
func (p *filtersPage) currentPolicy(f model.Family, hook string) model.RuleAction {
	if p.snap.Rules == nil {
		return ""
	}
	for _, h := range p.snap.Rules.Hooks {
		if h.Family == f && h.Hook == hook {
			return h.Policy
		}
	}
	return ""
}

// openPolicy asks which default policy to set: input for both families
// to start with, and the verdict the input hook does not have (drop when
// it accepts).
func (p *filtersPage) openPolicy() {
	c := policyChoice{hook: max(0, indexOf(rules.Hooks, model.HookInput))}
	c.drop = p.currentPolicy(model.FamilyIPv4, model.HookInput) != model.ActionDrop ||
		p.currentPolicy(model.FamilyIPv6, model.HookInput) != model.ActionDrop
	p.pol, p.mode = c, modePolicy
	p.setMsg("", false)
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// policyKey handles the policy question: left/right (h/l) the hook, f the
// family, a accept, d drop, space or v toggles, enter sets it through the
// same plan, guard and revert deadline as a rule change, esc cancels.
func (p *filtersPage) policyKey(msg tea.KeyPressMsg) tea.Cmd {
	c := &p.pol
	n := len(rules.Hooks)
	switch msg.String() {
	case "left", "h":
		c.hook = (c.hook + n - 1) % n
	case "right", "l", "tab":
		c.hook = (c.hook + 1) % n
	case "f":
		c.fam = (c.fam + 1) % len(policyFamilies)
	case "a":
		c.drop = false
	case "d":
		c.drop = true
	case "space", "v":
		c.drop = !c.drop
	case "enter":
		p.mode = modeRules
		return p.start(rules.Op{Kind: rules.OpPolicy, Policy: c.policy()})
	case "esc", "q", "n":
		p.mode = modeRules
		p.setMsg("policy unchanged", false)
	}
	return nil
}

// policyView is the policy question: every hook's policy per family, the
// one chosen marked, and the keys.
func (p *filtersPage) policyView() string {
	s, w := p.Styles, p.Width
	c := p.pol
	lines := []string{
		s.PaneTitle.Render(fitString(" Default policy: what a packet no rule accepts, drops or rejects gets", w)),
		"",
		s.TableHeader.Render(fitString("   hook          ipv4            ipv6", w)),
	}
	chosen := c.policy()
	for i, h := range rules.Hooks {
		cell := func(f model.Family) string {
			v := string(p.currentPolicy(f, h))
			if v == "" {
				v = "?"
			}
			if i == c.hook && (chosen.Family == f || chosen.Family == model.RuleFamilyBoth) {
				v += "->" + string(chosen.Verdict)
			}
			return fitCells(v, len(v), 16, false, false)
		}
		mark := "  "
		if i == c.hook {
			mark = "> "
		}
		line := " " + mark + fitCells(h, len(h), 13, false, false) + " " + cell(model.FamilyIPv4) + cell(model.FamilyIPv6)
		if i == c.hook {
			lines = append(lines, s.Selected.Render(fitString(line, w)))
		} else {
			lines = append(lines, fitString(line, w))
		}
	}
	lines = append(lines, "",
		fitString(" set: "+chosen.String(), w),
		s.Dim.Render(fitString(" A DROP policy is guarded and undone at its deadline unless c keeps it.", w)),
		"",
		s.FilterPrompt.Render(fitString(" left/right hook  f family  a accept  d drop  enter sets it  esc cancels", w)))
	return fixHeight(lines, p.pageH)
}

// policySummary is the default policies on the Filters tab's summary
// line: "; policy DROP at in4 out6, else accept", "; policy accept" (every
// hook and family), or "" when the backend reports none.
func policySummary(hooks []model.HookVerdicts) string {
	var drops []string
	known := false
	for _, h := range hooks {
		if h.Policy != "" {
			known = true
		}
		if h.Policy == model.ActionDrop {
			fam := "4"
			if h.Family == model.FamilyIPv6 {
				fam = "6"
			}
			drops = append(drops, hookAbbrev[h.Hook]+fam)
		}
	}
	switch {
	case len(drops) > 0:
		return "; policy DROP at " + strings.Join(drops, " ") + ", else accept"
	case known:
		return "; policy accept"
	}
	return ""
}
