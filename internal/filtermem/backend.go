// Package filtermem is an in-memory filter backend for tests of the
// filter control, the filters collector and `netlens rules`. Its fields
// are exported for tests to inspect and to inject failures.
package filtermem

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"syscall"
	"time"

	"netlens/model"
	"netlens/model/rules"
)

// Backend is an in-memory filter backend (it satisfies
// control/filter.Backend): one pending transaction at a time, holding the
// rules to restore.
type Backend struct {
	Mu      sync.Mutex
	Rules   []model.Rule
	next    uint32
	txn     uint32
	prev    []model.Rule
	FailAdd bool     // Replace fails on the second rule
	Calls   []string // the changes asked for, in order
	// Policies are the default policies set ("ipv4/input" -> drop), for
	// SetPolicy; the previous ones are restored by Revert.
	Policies   map[string]model.RuleAction
	prevPolicy map[string]model.RuleAction
	policyTxn  uint32 // pending policy change
	policyAt   time.Time
}

func (m *Backend) Name() string     { return "mem" }
func (m *Backend) ReadOnly() string { return "" }
func (m *Backend) Close() error     { return nil }
func (m *Backend) List() ([]model.Rule, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	out := slices.Clone(m.Rules)
	rules.SortRules(out)
	return out, nil
}

// Verdicts reports the policies set (nil when none was).
func (m *Backend) Verdicts() ([]model.HookVerdicts, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	if m.Policies == nil {
		return nil, nil
	}
	var out []model.HookVerdicts
	for _, f := range []model.Family{model.FamilyIPv4, model.FamilyIPv6} {
		for _, h := range rules.Hooks {
			pol := m.Policies[string(f)+"/"+h]
			if pol == "" {
				pol = model.ActionAccept
			}
			out = append(out, model.HookVerdicts{Family: f, Hook: h, Policy: pol})
		}
	}
	return out, nil
}

// SetPolicy sets one family's policy of a hook; with a revert it is the
// pending transaction (one at a time, as for rules).
func (m *Backend) SetPolicy(p rules.Policy, revert time.Duration) (uint32, time.Time, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	m.Calls = append(m.Calls, fmt.Sprintf("policy %s revert=%v", p, revert))
	prev := maps.Clone(m.Policies)
	if prev == nil {
		prev = map[string]model.RuleAction{}
	}
	if m.Policies == nil {
		m.Policies = map[string]model.RuleAction{}
	}
	m.Policies[string(p.Family)+"/"+p.Hook] = p.Verdict
	if revert == 0 {
		return 0, time.Time{}, nil
	}
	m.prev, m.prevPolicy = slices.Clone(m.Rules), prev
	m.txn++
	m.policyTxn, m.policyAt = m.txn, time.Unix(1000, 0).Add(revert)
	return m.txn, m.policyAt, nil
}

// PendingList reports a pending policy change (rules.PendingLister).
func (m *Backend) PendingList() []model.PendingChange {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	if m.policyTxn == 0 {
		return nil
	}
	return []model.PendingChange{{Txn: m.policyTxn, RevertAt: m.policyAt}}
}

func (m *Backend) arm(prev []model.Rule, revert time.Duration, ids ...uint32) {
	if revert > 0 {
		m.prev = prev
		m.txn++
		for i := range m.Rules {
			if slices.Contains(ids, m.Rules[i].ID) {
				m.Rules[i].PendingTxn, m.Rules[i].RevertAt = m.txn, time.Unix(1000, 0).Add(revert)
			}
		}
	}
}

func (m *Backend) Add(r model.Rule, revert time.Duration) (model.Rule, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	prev := slices.Clone(m.Rules)
	m.Calls = append(m.Calls, fmt.Sprintf("add revert=%v", revert))
	m.next++
	r.ID = m.next
	m.Rules = append(m.Rules, r)
	m.arm(prev, revert, r.ID)
	return m.Rules[len(m.Rules)-1], nil
}

func (m *Backend) idx(id uint32) int {
	return slices.IndexFunc(m.Rules, func(r model.Rule) bool { return r.ID == id })
}

func (m *Backend) Change(id uint32, r model.Rule, revert time.Duration) (model.Rule, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	prev := slices.Clone(m.Rules)
	m.Calls = append(m.Calls, fmt.Sprintf("change %d revert=%v", id, revert))
	i := m.idx(id)
	if i < 0 {
		return model.Rule{}, syscall.ENOENT
	}
	r.ID = id
	m.Rules[i] = r
	m.arm(prev, revert, id)
	return m.Rules[i], nil
}

func (m *Backend) SetEnabled(id uint32, on bool, revert time.Duration) (model.Rule, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	prev := slices.Clone(m.Rules)
	m.Calls = append(m.Calls, fmt.Sprintf("enable %d %v revert=%v", id, on, revert))
	i := m.idx(id)
	if i < 0 {
		return model.Rule{}, syscall.ENOENT
	}
	m.Rules[i].Enabled = on
	m.arm(prev, revert, id)
	return m.Rules[i], nil
}

func (m *Backend) Delete(id uint32, revert time.Duration) error {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	m.Calls = append(m.Calls, fmt.Sprintf("delete %d revert=%v", id, revert))
	i := m.idx(id)
	if i < 0 {
		return syscall.ENOENT
	}
	m.Rules = slices.Delete(m.Rules, i, i+1)
	return nil
}

func (m *Backend) Replace(rules []model.Rule, revert time.Duration) error {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	prev := slices.Clone(m.Rules)
	m.Calls = append(m.Calls, fmt.Sprintf("replace %d revert=%v", len(rules), revert))
	if m.FailAdd && len(rules) > 1 {
		return fmt.Errorf("rule 2 refused")
	}
	var ids []uint32
	m.Rules = nil
	for _, r := range rules {
		m.next++
		r.ID = m.next
		ids = append(ids, r.ID)
		m.Rules = append(m.Rules, r)
	}
	m.arm(prev, revert, ids...)
	return nil
}

func (m *Backend) Confirm(txn uint32) error {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	m.Calls = append(m.Calls, fmt.Sprintf("confirm %d", txn))
	if txn != m.txn || txn == 0 {
		return fmt.Errorf("unknown txn %d", txn)
	}
	for i := range m.Rules {
		m.Rules[i].PendingTxn, m.Rules[i].RevertAt = 0, time.Time{}
	}
	m.policyTxn, m.prevPolicy = 0, nil
	return nil
}

// revert plays the deadline passing without a confirm.
// Revert undoes the pending transaction, as its deadline passing would.
func (m *Backend) Revert() {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	m.Rules = m.prev
	if m.prevPolicy != nil {
		m.Policies, m.prevPolicy = m.prevPolicy, nil
	}
	m.policyTxn = 0
}

func (m *Backend) Watch(ctx context.Context, changed func()) error {
	<-ctx.Done()
	return nil
}
