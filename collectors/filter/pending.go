package filter

import (
	"cmp"
	"slices"
	"time"

	"netlens/model"
)

// pendinger is implemented by backends that can have a pending change no
// rule shows (nft: a pending delete).
type pendinger interface {
	Pending() (txn uint32, revertAt time.Time, ok bool)
}

// PendingChanges returns the changes of b waiting for a confirm: those of
// rules, and the backend's own.
func PendingChanges(b Backend, rules []model.Rule) []model.PendingChange {
	var out []model.PendingChange
	add := func(txn uint32, at time.Time) {
		if !slices.ContainsFunc(out, func(p model.PendingChange) bool { return p.Txn == txn }) {
			out = append(out, model.PendingChange{Txn: txn, RevertAt: at})
		}
	}
	for _, r := range rules {
		if r.PendingTxn != 0 {
			add(r.PendingTxn, r.RevertAt)
		}
	}
	if p, ok := b.(pendinger); ok {
		if txn, at, ok := p.Pending(); ok {
			add(txn, at)
		}
	}
	slices.SortFunc(out, func(a, b model.PendingChange) int { return cmp.Compare(a.Txn, b.Txn) })
	return out
}

// jsonSafe gives every rule a non-nil Hooks, so that JSON has a list
// (the schema requires one), and returns rules.
func jsonSafe(rules []model.Rule) []model.Rule {
	for i := range rules {
		if rules[i].Hooks == nil {
			rules[i].Hooks = []string{}
		}
	}
	return rules
}

// recoverer is implemented by backends whose reverts need a process
// (nft): Recover reverts a change whose deadline passed without its
// helper doing it.
type recoverer interface {
	Recover() (bool, error)
}

// recoverPending lets b revert an overdue change itself.
func recoverPending(b Backend) error {
	if r, ok := b.(recoverer); ok {
		_, err := r.Recover()
		return err
	}
	return nil
}

// eventer is implemented by backends with a revert log (nft).
type eventer interface {
	Events() []model.RulesEvent
}

// Events returns the latest entries of b's revert log, if it has one.
func Events(b Backend) []model.RulesEvent {
	if e, ok := b.(eventer); ok {
		return e.Events()
	}
	return nil
}
