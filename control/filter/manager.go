package filter

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"netlens/model"
	"netlens/model/rules"
)

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
// fails rules.Validate, an unknown rule id) is a rules.InvalidError.
func (m *Manager) Plan(op rules.Op) (rules.Plan, error) {
	if err := RecoverPending(m.Backend); err != nil {
		return rules.Plan{}, err
	}
	before, err := m.Backend.List()
	if err != nil {
		return rules.Plan{}, err
	}
	pb, err := m.policies()
	if err != nil {
		return rules.Plan{}, err
	}
	pa := pb
	p := rules.Plan{Op: op, Before: before}
	find := func() (int, error) {
		i := slices.IndexFunc(before, func(r model.Rule) bool { return r.ID == op.ID })
		if i < 0 {
			return 0, rules.InvalidError{Err: fmt.Errorf("no rule with id %d", op.ID)}
		}
		if before[i].Foreign && op.Kind != rules.OpDelete {
			return 0, rules.InvalidError{Err: fmt.Errorf("rule %d was not made by netlens: change it where it was made", op.ID)}
		}
		return i, nil
	}
	after := slices.Clone(before)
	switch op.Kind {
	case rules.OpAdd:
		if err := rules.Validate(op.Rule); err != nil {
			return rules.Plan{}, rules.InvalidError{Err: err}
		}
		r := rules.Normalize(op.Rule)
		r.ID = ^uint32(0) // after every existing rule of its priority
		p.Op.Rule = rules.Normalize(op.Rule)
		after = append(after, r)
	case rules.OpChange:
		i, err := find()
		if err != nil {
			return rules.Plan{}, err
		}
		if err := rules.Validate(op.Rule); err != nil {
			return rules.Plan{}, rules.InvalidError{Err: err}
		}
		r := rules.Normalize(op.Rule)
		r.ID = op.ID
		p.Op.Rule = r
		after[i] = r
	case rules.OpEnable, rules.OpDisable:
		i, err := find()
		if err != nil {
			return rules.Plan{}, err
		}
		after[i].Enabled = op.Kind == rules.OpEnable
	case rules.OpDelete:
		i, err := find()
		if err != nil {
			return rules.Plan{}, err
		}
		after = slices.Delete(after, i, i+1)
	case rules.OpLoad:
		after = nil
		// A backend that can keeps the ids the file has (what `rules
		// save` wrote), so that a save and load leaves rule ids, and the
		// id labels of the exporter's series, as they were. Rules
		// without one get theirs here, after the highest the file or
		// the backend has, in file order: the plan and its guard check
		// the order the backend will apply ((priority, id)).
		keeper, keepIDs := m.Backend.(loadKeepsIDs)
		var bound, next uint32
		if keepIDs {
			bound = keeper.ReplaceKeepsIDs()
			for _, r := range before {
				if !r.Foreign && r.ID < bound {
					next = max(next, r.ID)
				}
			}
		}
		ids := map[uint32]int{}
		for i, r := range op.Rules {
			if err := rules.Validate(r); err != nil {
				return rules.Plan{}, rules.InvalidError{Err: fmt.Errorf("rule %d%s: %w", i+1, labelOf(r), err)}
			}
			r = rules.Normalize(r)
			if !keepIDs {
				r.ID = 0
			}
			if r.ID != 0 {
				if r.ID >= bound {
					return rules.Plan{}, rules.InvalidError{Err: fmt.Errorf("rule %d%s: id %d out of range (1-%d)", i+1, labelOf(r), r.ID, bound-1)}
				}
				if j, dup := ids[r.ID]; dup {
					return rules.Plan{}, rules.InvalidError{Err: fmt.Errorf("rule %d%s: id %d is rule %d's too", i+1, labelOf(r), r.ID, j+1)}
				}
				ids[r.ID] = i
				next = max(next, r.ID)
			}
			r.Packets, r.Bytes, r.Rate, r.LastHit, r.PendingTxn, r.RevertAt = 0, 0, 0, time.Time{}, 0, time.Time{}
			after = append(after, r)
		}
		if keepIDs {
			for i := range after {
				if after[i].ID == 0 {
					if next+1 >= bound {
						return rules.Plan{}, rules.InvalidError{Err: fmt.Errorf("rule %d%s: no id left under %d for it (the file's ids go up to %d)", i+1, labelOf(after[i]), bound, next)}
					}
					next++
					after[i].ID = next
				}
			}
		}
		for _, r := range before {
			if r.Foreign { // Replace leaves foreign rules alone
				after = append(after, r)
			}
		}
		p.Op.Rules = after
	case rules.OpPolicy:
		if _, ok := m.Backend.(PolicySetter); !ok {
			return rules.Plan{}, fmt.Errorf("%s backend: %w", m.Backend.Name(), ErrNoPolicy)
		}
		if err := rules.ValidatePolicy(op.Policy); err != nil {
			return rules.Plan{}, rules.InvalidError{Err: err}
		}
		pa = pb.With(op.Policy)
	default:
		return rules.Plan{}, rules.InvalidError{Err: fmt.Errorf("unknown operation %q", op.Kind)}
	}
	rules.SortRules(after)
	p.After = after
	bs, as := State{Rules: before, Policies: pb}, State{Rules: after, Policies: pa}
	p.DropCapable = DropCapableState(bs, as)
	if p.DropCapable {
		p.Revert = m.revert()
		if m.Guard != nil {
			p.Impact = AssessState(bs, as, m.Guard())
		}
	}
	return p, nil
}

// policies returns the backend's dropping default policies (nil for a
// backend without policies).
func (m *Manager) policies() (Policies, error) {
	if _, ok := m.Backend.(PolicySetter); !ok {
		return nil, nil
	}
	vs, err := m.Backend.Verdicts()
	if err != nil {
		return nil, err
	}
	return PoliciesOf(vs), nil
}

// setPolicy sets p for each of its families: one transaction each when
// revert is not 0.
func (m *Manager) setPolicy(p rules.Policy, revert time.Duration) (rules.Result, error) {
	var res rules.Result
	ps, ok := m.Backend.(PolicySetter)
	if !ok {
		return res, fmt.Errorf("%s backend: %w", m.Backend.Name(), ErrNoPolicy)
	}
	var done []string
	fams := p.Families()
	if _, ok := ps.(bothFamilies); ok {
		fams = []model.Family{p.Family} // one transaction
	}
	for _, f := range fams {
		one := p
		one.Family = f
		txn, at, err := ps.SetPolicy(one, revert)
		if err != nil {
			if len(done) > 0 {
				err = fmt.Errorf("%w (already set: %s)", err, strings.Join(done, ", "))
			}
			return res, err
		}
		done = append(done, one.String())
		if txn != 0 {
			res.Txns = append(res.Txns, txn)
			res.RevertAt = at
		}
	}
	if len(res.Txns) > 0 {
		res.Txn = res.Txns[0]
	}
	if len(res.Txns) < 2 {
		res.Txns = nil
	}
	return res, nil
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
func (m *Manager) Apply(p rules.Plan) (rules.Result, error) {
	var (
		res rules.Result
		err error
		b   = m.Backend
	)
	switch p.Op.Kind {
	case rules.OpAdd:
		res.Rule, err = b.Add(p.Op.Rule, p.Revert)
	case rules.OpChange:
		res.Rule, err = b.Change(p.Op.ID, p.Op.Rule, p.Revert)
	case rules.OpEnable, rules.OpDisable:
		res.Rule, err = b.SetEnabled(p.Op.ID, p.Op.Kind == rules.OpEnable, p.Revert)
	case rules.OpDelete:
		err = b.Delete(p.Op.ID, p.Revert)
	case rules.OpPolicy:
		res, err = m.setPolicy(p.Op.Policy, p.Revert)
	case rules.OpLoad:
		var rules []model.Rule
		for _, r := range p.Op.Rules {
			if !r.Foreign {
				rules = append(rules, r)
			}
		}
		err = b.Replace(rules, p.Revert)
	default:
		err = rules.InvalidError{Err: fmt.Errorf("unknown operation %q", p.Op.Kind)}
	}
	if err != nil {
		return rules.Result{}, err
	}
	if p.Op.Kind != rules.OpPolicy {
		res.Txn, res.RevertAt = res.Rule.PendingTxn, res.Rule.RevertAt
	}
	if res.Txn == 0 && p.Revert > 0 {
		// delete and load: find the transaction.
		if rs, err := b.List(); err == nil {
			if pc := rules.PendingChanges(b, rs); len(pc) > 0 {
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
	rs, err := m.Backend.List()
	if err != nil {
		return err
	}
	pcs := rules.PendingChanges(m.Backend, rs)
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
