package collectors

import (
	"context"
	"errors"
	"time"

	"netlens/model"
)

// Staged runs one collector first and the others once its first run has
// ended: after a namespace switch the TUI waits for the sockets
// collector's first dump, and the others' starts (the eBPF drop tracer
// loads its programs) would share the CPU with it. Its methods must not
// be called concurrently with each other.
type Staged struct {
	runners []*Runner
	started chan struct{} // closed once the rest are started (or will not be)
}

// RunStaged starts the collector of specs named lead at once and the
// others when its first run has ended (its status in store is no longer
// pending), ctx is done, or bound has passed. Without such a collector,
// or without others, all start at once. Cancel ctx, then Wait.
func RunStaged(ctx context.Context, store *model.Store, specs []Spec, lead string, bound time.Duration) *Staged {
	var first, rest []Spec
	for _, sp := range specs {
		if sp.Collector.Name() == lead {
			first = append(first, sp)
		} else {
			rest = append(rest, sp)
		}
	}
	if len(first) == 0 || len(rest) == 0 {
		first, rest = specs, nil
	}
	s := &Staged{started: make(chan struct{})}
	r := NewRunner(store, first...)
	s.runners = append(s.runners, r)
	r.Run(ctx)
	if len(rest) == 0 {
		close(s.started)
		return s
	}
	r2 := NewRunner(store, rest...)
	s.runners = append(s.runners, r2)
	go func() {
		defer close(s.started)
		waitFirstRun(ctx, store, lead, bound)
		if ctx.Err() == nil {
			r2.Run(ctx)
		}
	}()
	return s
}

// Wait waits for the collectors (see Runner.Wait), the ones not started
// yet included (they are closed without running).
func (s *Staged) Wait() error {
	<-s.started
	var errs []error
	for _, r := range s.runners {
		errs = append(errs, r.Wait())
	}
	return errors.Join(errs...)
}

// Started is closed once every collector has been started (or will not
// be: the context is done).
func (s *Staged) Started() <-chan struct{} { return s.started }

// Retire is Wait without waiting: cancel the context given to
// RunStaged, switch the Store (model.NetNSUpdate with Switch: the
// collectors' late updates are dropped from then on) and start the next
// namespace's collectors at once. Retire waits for these collectors on
// its own goroutine and closes them once their calls in flight have
// returned; the channel receives Wait's error then.
func (s *Staged) Retire() <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	return done
}

// waitFirstRun waits until the Store's status of the collector name is no
// longer pending, ctx is done, or bound has passed.
func waitFirstRun(ctx context.Context, store *model.Store, name string, bound time.Duration) {
	sub, unsub := store.Subscribe()
	defer unsub()
	t := time.NewTimer(bound)
	defer t.Stop()
	for {
		if c, ok := store.Status(name); ok && c.State != model.StatePending {
			return
		}
		select {
		case <-sub:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
