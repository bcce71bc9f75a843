package rules

import (
	"cmp"
	"slices"
	"time"

	"netlens/model"
)

// Pendinger is implemented by backends that can have a pending change no
// rule shows (nft: a pending delete).
type Pendinger interface {
	Pending() (txn uint32, revertAt time.Time, ok bool)
}

// PendingChanges returns the changes waiting for a confirm: those of
// rules, and b's own when b (a backend) is a Pendinger.
func PendingChanges(b any, rules []model.Rule) []model.PendingChange {
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
	if p, ok := b.(Pendinger); ok {
		if txn, at, ok := p.Pending(); ok {
			add(txn, at)
		}
	}
	slices.SortFunc(out, func(a, b model.PendingChange) int { return cmp.Compare(a.Txn, b.Txn) })
	return out
}

// JSONSafe gives every rule a non-nil rules.Hooks, so that JSON has a list
// (the schema requires one), and returns rules.
func JSONSafe(rules []model.Rule) []model.Rule {
	for i := range rules {
		if rules[i].Hooks == nil {
			rules[i].Hooks = []string{}
		}
	}
	return rules
}
