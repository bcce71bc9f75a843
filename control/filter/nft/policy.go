package nft

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/nftables"

	"netlens/model"
	"netlens/model/rules"
)

// A default policy of DROP for one hook and family is one nftables rule,
// the last of the hook's base chain: "meta nfproto ipv4 counter drop
// comment "netlens default policy"", marked by its own user data TLV.
// The base chains themselves keep "policy accept" (an inet chain's
// policy cannot tell the families apart); a packet no netlens rule
// decided reaches the policy rule, as it would reach a chain policy.
// Its counter is the packets the policy dropped (HookVerdicts.Dropped).
const (
	udataPolicy        = 0x50 // netlens default policy: version, family (4 or 6)
	policyComment      = "netlens default policy"
	udataPolicyVersion = 1
)

// policyKey is one hook (a base chain's name) of one family.
type policyKey struct {
	Family model.Family `json:"family"`
	Hook   string       `json:"hook"`
}

func encodePolicyUserData(f model.Family) []byte {
	fam := byte(4)
	if f == model.FamilyIPv6 {
		fam = 6
	}
	c := append([]byte(policyComment), 0)
	ud := append([]byte{udataComment, byte(len(c))}, c...)
	return append(ud, udataPolicy, 2, udataPolicyVersion, fam)
}

// decodePolicyUserData returns the family of a policy rule's user data,
// or "" when it is not one. It never trusts lengths.
func decodePolicyUserData(ud []byte) model.Family {
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			break
		}
		v := ud[2 : 2+n]
		if typ == udataPolicy && n >= 2 && v[0] == udataPolicyVersion {
			switch v[1] {
			case 4:
				return model.FamilyIPv4
			case 6:
				return model.FamilyIPv6
			}
		}
		ud = ud[2+n:]
	}
	return ""
}

// dropPolicies returns the hooks and families whose policy is DROP.
func dropPolicies(copies []copyRule) []policyKey {
	var out []policyKey
	for _, cp := range copies {
		if cp.policy != "" {
			out = append(out, policyKey{cp.policy, cp.chain})
		}
	}
	return out
}

// queuePolicies queues what makes the DROP policies exactly want: the
// policy rules not wanted are deleted, the missing ones appended to their
// chains (after every rule queued before them).
func queuePolicies(c *nftables.Conn, copies []copyRule, want []policyKey) error {
	have := map[policyKey]bool{}
	for _, cp := range copies {
		if cp.policy == "" {
			continue
		}
		k := policyKey{cp.policy, cp.chain}
		if slices.Contains(want, k) && !have[k] {
			have[k] = true
			continue
		}
		if err := c.DelRule(cpRule(cp)); err != nil {
			return err
		}
	}
	for _, k := range want {
		if have[k] {
			continue
		}
		hi := slices.Index(hookChains, k.Hook)
		if hi < 0 {
			return fmt.Errorf("unknown hook %q", k.Hook)
		}
		ex, err := encodeRule(model.Rule{Family: k.Family, Action: model.ActionDrop}, 0, 0)
		if err != nil {
			return err
		}
		c.AddRule(&nftables.Rule{Table: table, Chain: baseChain(hi), Exprs: ex, UserData: encodePolicyUserData(k.Family)})
		have[k] = true
	}
	return nil
}

// SetPolicy sets the default policy of one hook for one family, or for
// both (model.RuleFamilyBoth) in one transaction: netlens's nftables
// table has one change pending at a time. A non-zero revert makes it
// commit-confirmed like any change of the backend (the revert helper puts
// back the policies with the rules). Setting the policy it has is no
// change (txn 0).
func (b *Backend) SetPolicy(p rules.Policy, revert time.Duration) (uint32, time.Time, error) {
	if err := rules.ValidatePolicy(p); err != nil {
		return 0, time.Time{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	copies, err := b.readCopies()
	if err != nil {
		return 0, time.Time{}, err
	}
	cur := dropPolicies(copies)
	want := slices.Clone(cur)
	for _, f := range p.Families() {
		k := policyKey{f, p.Hook}
		want = slices.DeleteFunc(want, func(w policyKey) bool { return w == k })
		if p.Verdict == model.ActionDrop {
			want = append(want, k)
		}
	}
	if samePolicies(cur, want) {
		return 0, time.Time{}, nil
	}
	if err := b.change("policy", copies, revert, nil, func(c *nftables.Conn) error {
		return queuePolicies(c, copies, want)
	}); err != nil {
		return 0, time.Time{}, err
	}
	if revert == 0 {
		return 0, time.Time{}, nil
	}
	st, err := b.pending()
	if err != nil || st == nil {
		return 0, time.Time{}, fmt.Errorf("nft policy: applied, but its pending state is gone: %v", err)
	}
	return st.Txn, st.Deadline, nil
}

// PolicyBothFamilies marks SetPolicy as taking model.RuleFamilyBoth.
func (b *Backend) PolicyBothFamilies() {}

func samePolicies(a, b []policyKey) bool {
	if len(a) != len(b) {
		return false
	}
	for _, k := range a {
		if !slices.Contains(b, k) {
			return false
		}
	}
	return true
}

// Verdicts returns the default policy of every hook and family (nftables
// keeps no per-hook verdict counters: Seen and Accepted stay 0; Dropped is
// what a DROP policy dropped, its rule's counter).
func (b *Backend) Verdicts() ([]model.HookVerdicts, error) {
	copies, err := b.readCopies()
	if err != nil {
		return nil, err
	}
	var out []model.HookVerdicts
	for _, f := range []model.Family{model.FamilyIPv4, model.FamilyIPv6} {
		for _, h := range hookChains {
			v := model.HookVerdicts{Family: f, Hook: h, Policy: model.ActionAccept}
			for _, cp := range copies {
				if cp.policy == f && cp.chain == h {
					v.Policy = model.ActionDrop
					v.Dropped += cp.rule.Packets
				}
			}
			out = append(out, v)
		}
	}
	return out, nil
}
