package filter

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"netlens/model"
)

// memBackend is an in-memory Backend for tests: one pending transaction
// at a time, holding the rules to restore.
type memBackend struct {
	mu      sync.Mutex
	rules   []model.Rule
	next    uint32
	txn     uint32
	prev    []model.Rule
	failAdd bool // Replace fails on the second rule
	calls   []string
}

var _ Backend = (*memBackend)(nil)

func (m *memBackend) Name() string     { return "mem" }
func (m *memBackend) ReadOnly() string { return "" }
func (m *memBackend) Close() error     { return nil }
func (m *memBackend) List() ([]model.Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.rules)
	SortRules(out)
	return out, nil
}
func (m *memBackend) Verdicts() ([]model.HookVerdicts, error) { return nil, nil }

func (m *memBackend) arm(prev []model.Rule, revert time.Duration, ids ...uint32) {
	if revert > 0 {
		m.prev = prev
		m.txn++
		for i := range m.rules {
			if slices.Contains(ids, m.rules[i].ID) {
				m.rules[i].PendingTxn, m.rules[i].RevertAt = m.txn, time.Unix(1000, 0).Add(revert)
			}
		}
	}
}

func (m *memBackend) Add(r model.Rule, revert time.Duration) (model.Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := slices.Clone(m.rules)
	m.calls = append(m.calls, fmt.Sprintf("add revert=%v", revert))
	m.next++
	r.ID = m.next
	m.rules = append(m.rules, r)
	m.arm(prev, revert, r.ID)
	return m.rules[len(m.rules)-1], nil
}

func (m *memBackend) idx(id uint32) int {
	return slices.IndexFunc(m.rules, func(r model.Rule) bool { return r.ID == id })
}

func (m *memBackend) Change(id uint32, r model.Rule, revert time.Duration) (model.Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := slices.Clone(m.rules)
	m.calls = append(m.calls, fmt.Sprintf("change %d revert=%v", id, revert))
	i := m.idx(id)
	if i < 0 {
		return model.Rule{}, syscall.ENOENT
	}
	r.ID = id
	m.rules[i] = r
	m.arm(prev, revert, id)
	return m.rules[i], nil
}

func (m *memBackend) SetEnabled(id uint32, on bool, revert time.Duration) (model.Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := slices.Clone(m.rules)
	m.calls = append(m.calls, fmt.Sprintf("enable %d %v revert=%v", id, on, revert))
	i := m.idx(id)
	if i < 0 {
		return model.Rule{}, syscall.ENOENT
	}
	m.rules[i].Enabled = on
	m.arm(prev, revert, id)
	return m.rules[i], nil
}

func (m *memBackend) Delete(id uint32, revert time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, fmt.Sprintf("delete %d revert=%v", id, revert))
	i := m.idx(id)
	if i < 0 {
		return syscall.ENOENT
	}
	m.rules = slices.Delete(m.rules, i, i+1)
	return nil
}

func (m *memBackend) Replace(rules []model.Rule, revert time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := slices.Clone(m.rules)
	m.calls = append(m.calls, fmt.Sprintf("replace %d revert=%v", len(rules), revert))
	if m.failAdd && len(rules) > 1 {
		return fmt.Errorf("rule 2 refused")
	}
	var ids []uint32
	m.rules = nil
	for _, r := range rules {
		m.next++
		r.ID = m.next
		ids = append(ids, r.ID)
		m.rules = append(m.rules, r)
	}
	m.arm(prev, revert, ids...)
	return nil
}

func (m *memBackend) Confirm(txn uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, fmt.Sprintf("confirm %d", txn))
	if txn != m.txn || txn == 0 {
		return fmt.Errorf("unknown txn %d", txn)
	}
	for i := range m.rules {
		m.rules[i].PendingTxn, m.rules[i].RevertAt = 0, time.Time{}
	}
	return nil
}

// revert plays the deadline passing without a confirm.
func (m *memBackend) revert() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rules = m.prev
}

func (m *memBackend) Watch(ctx context.Context, changed func()) error {
	<-ctx.Done()
	return nil
}
