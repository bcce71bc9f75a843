package filter

import (
	"cmp"
	"context"
	"fmt"
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

// recoverPending lets b revert an overdue change itself. Only the control
// side calls it (`netlens rules`, RecoverLoop in the TUI): reading rules
// (the filters collector, a snapshot) never changes them.
func recoverPending(b Backend) (bool, error) {
	if r, ok := b.(recoverer); ok {
		return r.Recover()
	}
	return false, nil
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
// collector status and stderr.
func OverdueNote(over []model.PendingChange) string {
	if len(over) == 0 {
		return ""
	}
	p := over[0]
	return fmt.Sprintf("OVERDUE: change %d passed its revert deadline at %s and was not undone (its revert helper died?); "+
		"netlens (the TUI) or `netlens rules list` reverts it", p.Txn, p.RevertAt.Local().Format(time.DateTime))
}

// RecoverLoop is the control side's safety net for reverts: every
// interval until ctx is done it lets b revert an overdue change whose
// helper died (each revert, and each failure, goes to b's revert log,
// which `rules list` and the Filters tab show), and calls after when it
// did. The process that holds the filter control (the TUI) runs it; it
// returns when ctx is done.
func RecoverLoop(ctx context.Context, b Backend, every time.Duration, after func()) {
	if _, ok := b.(recoverer); !ok {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if ok, _ := recoverPending(b); ok && after != nil {
			after()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
