package filter

import (
	"fmt"
	"slices"
	"syscall"
	"time"

	"netlens/model"
)

// OpKind is the kind of a change.
type OpKind string

// Kinds of change.
const (
	OpAdd     OpKind = "add"
	OpChange  OpKind = "change"
	OpEnable  OpKind = "enable"
	OpDisable OpKind = "disable"
	OpDelete  OpKind = "delete"
	OpLoad    OpKind = "load"
)

// Op is a change to the rules.
type Op struct {
	Kind OpKind
	// ID is the rule to change, enable, disable or delete.
	ID uint32
	// Rule is the rule to add, or the new fields of the rule to change.
	Rule model.Rule
	// Rules are the rules to load (they replace every rule).
	Rules []model.Rule
}

// Plan is a change checked against the current rules, before it is
// applied: what the rules become, whether the change can drop traffic,
// and what established connections it would cut.
type Plan struct {
	Op            Op
	Before, After []model.Rule
	// DropCapable changes are applied with a revert deadline of Revert.
	DropCapable bool
	Revert      time.Duration
	Impact      Impact
}

// NeedsSecondConfirm reports whether the UI must ask again before
// applying: the change would cut the operator's session or other
// established connections.
func (p Plan) NeedsSecondConfirm() bool { return p.Impact.Cuts() }

// Result is what applying a plan did.
type Result struct {
	// Rule is the rule added or changed (zero for delete and load).
	Rule model.Rule
	// Txn is the transaction to confirm before RevertAt, or 0. A load
	// through the kernel module opens one transaction per rule: Confirm(0)
	// confirms them all.
	Txn      uint32
	RevertAt time.Time
}

// Manager plans and applies changes with validation and the lockout
// guard. It is what the TUI and the CLI use. It is safe for concurrent
// use when its Backend is.
type Manager struct {
	Backend Backend
	// Revert is the revert deadline of drop-capable changes
	// (DefaultRevert when zero).
	Revert time.Duration
	// Guard returns what to check changes against (the SSH session,
	// sockets, flows); nil checks nothing.
	Guard func() GuardInput
	// Now is the clock (tests replace it).
	Now func() time.Time
}

func (m *Manager) revert() time.Duration {
	if m.Revert > 0 {
		return m.Revert
	}
	return DefaultRevert
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Plan validates op and works out its effect. Invalid input (a rule that
// fails Validate, an unknown rule id) is a UsageError.
func (m *Manager) Plan(op Op) (Plan, error) {
	if _, err := recoverPending(m.Backend); err != nil {
		return Plan{}, err
	}
	before, err := m.Backend.List()
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Op: op, Before: before}
	find := func() (int, error) {
		i := slices.IndexFunc(before, func(r model.Rule) bool { return r.ID == op.ID })
		if i < 0 {
			return 0, UsageError{fmt.Errorf("no rule with id %d: %w", op.ID, syscall.ENOENT)}
		}
		if before[i].Foreign && op.Kind != OpDelete {
			return 0, UsageError{fmt.Errorf("rule %d was not made by netlens: change it where it was made", op.ID)}
		}
		return i, nil
	}
	after := slices.Clone(before)
	switch op.Kind {
	case OpAdd:
		if err := Validate(op.Rule); err != nil {
			return Plan{}, UsageError{err}
		}
		r := Normalize(op.Rule)
		r.ID = ^uint32(0) // after every existing rule of its priority
		p.Op.Rule = Normalize(op.Rule)
		after = append(after, r)
	case OpChange:
		i, err := find()
		if err != nil {
			return Plan{}, err
		}
		if err := Validate(op.Rule); err != nil {
			return Plan{}, UsageError{err}
		}
		r := Normalize(op.Rule)
		r.ID = op.ID
		p.Op.Rule = r
		after[i] = r
	case OpEnable, OpDisable:
		i, err := find()
		if err != nil {
			return Plan{}, err
		}
		after[i].Enabled = op.Kind == OpEnable
	case OpDelete:
		i, err := find()
		if err != nil {
			return Plan{}, err
		}
		after = slices.Delete(after, i, i+1)
	case OpLoad:
		after = nil
		for i, r := range op.Rules {
			if err := Validate(r); err != nil {
				return Plan{}, UsageError{fmt.Errorf("rule %d%s: %w", i+1, labelOf(r), err)}
			}
			r = Normalize(r)
			r.ID, r.Packets, r.Bytes, r.Rate, r.LastHit, r.PendingTxn, r.RevertAt = 0, 0, 0, 0, time.Time{}, 0, time.Time{}
			after = append(after, r)
		}
		for _, r := range before {
			if r.Foreign { // Replace leaves foreign rules alone
				after = append(after, r)
			}
		}
		p.Op.Rules = after
	default:
		return Plan{}, UsageError{fmt.Errorf("unknown operation %q", op.Kind)}
	}
	SortRules(after)
	p.After = after
	p.DropCapable = DropCapable(before, after)
	if p.DropCapable {
		p.Revert = m.revert()
		if m.Guard != nil {
			p.Impact = Assess(before, after, m.Guard())
		}
	}
	return p, nil
}

func labelOf(r model.Rule) string {
	if r.Label == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", r.Label)
}

// Apply makes the planned change, commit-confirmed when it is
// drop-capable. The rules may have changed since Plan: the backend
// checks ids again, and the guard is the caller's to re-run if it wants.
func (m *Manager) Apply(p Plan) (Result, error) {
	var (
		res Result
		err error
		b   = m.Backend
	)
	switch p.Op.Kind {
	case OpAdd:
		res.Rule, err = b.Add(p.Op.Rule, p.Revert)
	case OpChange:
		res.Rule, err = b.Change(p.Op.ID, p.Op.Rule, p.Revert)
	case OpEnable, OpDisable:
		res.Rule, err = b.SetEnabled(p.Op.ID, p.Op.Kind == OpEnable, p.Revert)
	case OpDelete:
		err = b.Delete(p.Op.ID, p.Revert)
	case OpLoad:
		var rules []model.Rule
		for _, r := range p.Op.Rules {
			if !r.Foreign {
				rules = append(rules, r)
			}
		}
		err = b.Replace(rules, p.Revert)
	default:
		err = UsageError{fmt.Errorf("unknown operation %q", p.Op.Kind)}
	}
	if err != nil {
		return Result{}, err
	}
	res.Txn, res.RevertAt = res.Rule.PendingTxn, res.Rule.RevertAt
	if res.Txn == 0 && p.Revert > 0 {
		// delete and load: find the transaction.
		if rules, err := b.List(); err == nil {
			if pc := PendingChanges(b, rules); len(pc) > 0 {
				res.Txn, res.RevertAt = pc[0].Txn, pc[0].RevertAt
			}
		}
		if res.RevertAt.IsZero() {
			res.RevertAt = m.now().Add(p.Revert)
		}
	}
	return res, nil
}

// Confirm keeps the pending change txn; txn 0 confirms every pending
// change.
func (m *Manager) Confirm(txn uint32) error {
	if txn != 0 {
		return m.Backend.Confirm(txn)
	}
	rules, err := m.Backend.List()
	if err != nil {
		return err
	}
	pcs := PendingChanges(m.Backend, rules)
	for _, pc := range pcs {
		if err := m.Backend.Confirm(pc.Txn); err != nil {
			return err
		}
	}
	if len(pcs) == 0 {
		return fmt.Errorf("nothing to confirm: no change is pending")
	}
	return nil
}
