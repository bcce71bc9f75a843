package filter

import (
	"context"
	"time"
)

// recoverer is implemented by backends whose reverts need a process
// (nft): Recover reverts a change whose deadline passed without its
// helper doing it, and says whether it did.
type recoverer interface {
	Recover() (bool, error)
}

// RecoverPending lets b revert an overdue change itself. Only the control
// side calls it (Manager.Plan, `netlens rules`, and RecoverLoop in the
// TUI): reading the rules (the filters collector, a snapshot) never
// writes.
func RecoverPending(b Backend) error {
	_, err := recoverOverdue(b)
	return err
}

func recoverOverdue(b Backend) (bool, error) {
	if r, ok := b.(recoverer); ok {
		return r.Recover()
	}
	return false, nil
}

// RecoverLoop is the control side's safety net for reverts: at once and
// then every interval until ctx is done it lets b revert an overdue
// change whose helper died (each revert, and each failure, goes to b's
// revert log, which `rules list` and the Filters tab show), and calls
// after when it did. The process that holds the filter control (the TUI)
// runs it; it returns when ctx is done, at once for a backend that needs
// no process to revert (kmod, read-only).
func RecoverLoop(ctx context.Context, b Backend, every time.Duration, after func()) {
	if _, ok := b.(recoverer); !ok {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if ok, _ := recoverOverdue(b); ok && after != nil {
			after()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
