package rules

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"netlens/model"
)

// Pendinger is implemented by backends that can have a pending change no
// rule shows (nft: a pending delete).
type Pendinger interface {
	Pending() (txn uint32, revertAt time.Time, ok bool)
}

// PendingLister is implemented by backends that can have any number of
// pending changes no rule shows (kmod: default policy changes).
type PendingLister interface {
	PendingList() []model.PendingChange
}

// PendingChanges returns the changes waiting for a confirm: those of
// rules, and b's own when b (a backend) is a Pendinger or a
// PendingLister.
func PendingChanges(b any, rules []model.Rule) []model.PendingChange {
	return MergePending(BackendPending(b), rules)
}

// BackendPending returns b's own pending changes when b (a backend) is a
// Pendinger or a PendingLister. A reader that reads them before the
// rules (MergePending) never sees a change gone with the rules it left:
// a change reverted between the two reads is seen still pending.
func BackendPending(b any) []model.PendingChange {
	var out []model.PendingChange
	if p, ok := b.(Pendinger); ok {
		if txn, at, ok := p.Pending(); ok {
			out = append(out, model.PendingChange{Txn: txn, RevertAt: at})
		}
	}
	if p, ok := b.(PendingLister); ok {
		out = append(out, p.PendingList()...)
	}
	return out
}

// MergePending returns the changes of rules and own (BackendPending),
// each transaction once (the first seen, rules first), by transaction.
func MergePending(own []model.PendingChange, rules []model.Rule) []model.PendingChange {
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
	for _, pc := range own {
		add(pc.Txn, pc.RevertAt)
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

// OverdueGrace is how long past its deadline a pending change may stay
// before it is overdue: its revert helper (nft) or the kernel (kmod)
// should have undone it by then.
const OverdueGrace = 3 * time.Second

// Overdue returns the changes of st still pending OverdueGrace after
// their deadline: a revert that did not happen (the nft helper died).
func Overdue(st *model.RulesState, now time.Time) []model.PendingChange {
	if st == nil {
		return nil
	}
	var out []model.PendingChange
	for _, p := range st.Pending {
		if now.Sub(p.RevertAt) > OverdueGrace {
			out = append(out, p)
		}
	}
	return out
}

// OverdueNote says what an overdue change means and who fixes it, for a
// collector status and stderr; "" when there is none.
func OverdueNote(over []model.PendingChange) string {
	if len(over) == 0 {
		return ""
	}
	p := over[0]
	return fmt.Sprintf("OVERDUE: change %d passed its revert deadline at %s and was not undone (its revert helper died?); "+
		"netlens (the TUI) or `netlens rules list` reverts it", p.Txn, p.RevertAt.Local().Format(time.DateTime))
}

// Eventer is implemented by backends with a revert log (nft).
type Eventer interface {
	Events() []model.RulesEvent
}

// Events returns the latest entries of b's revert log when b (a backend)
// is an Eventer.
func Events(b any) []model.RulesEvent {
	if e, ok := b.(Eventer); ok {
		return e.Events()
	}
	return nil
}
