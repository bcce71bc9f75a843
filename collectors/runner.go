package collectors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"netlens/model"
)

// Runner runs each collector on its own goroutine and interval, and
// records its status in the Store. A collector that fails, hangs or
// panics does not hold up the others: each run is bounded by a timeout
// (its interval, at least MinTimeout) and recovered.
//
// A collector that reports not-supported or no-permission is retried at
// a slower pace (RetryInterval), since those states rarely change.
//
// Everything the Runner and its collectors publish goes through a
// model.ScopedPublisher taken when the Runner is made: once the Store
// has switched namespace (model.NetNSUpdate with Switch), the Runner's
// updates are dropped, so a Runner being stopped after a switch, whose
// calls are still ending, puts nothing into the new namespace's Store.
//
// A Runner is safe for concurrent use; Run may be called once.
type Runner struct {
	store *model.Store
	pub   *model.ScopedPublisher
	specs []Spec
	// Now returns the current time; tests replace it.
	Now func() time.Time
	// RetryInterval is how often a collector that lacks a capability is retried.
	RetryInterval time.Duration
	// MinTimeout is the smallest per-run timeout.
	MinTimeout time.Duration
	// WaitBound bounds how long Wait waits for Collect calls that are
	// still running once the loops have ended (calls that ignore their
	// context).
	WaitBound time.Duration

	wg     sync.WaitGroup // the loops
	calls  sync.WaitGroup // every Collect call, including abandoned ones
	busyMu sync.Mutex
	busy   map[string]bool // collectors whose last Collect has not returned
}

// NewRunner returns a Runner publishing into store, in its current
// namespace generation (see Runner).
func NewRunner(store *model.Store, specs ...Spec) *Runner {
	r := &Runner{store: store, pub: store.Scoped(), specs: specs, Now: time.Now, RetryInterval: 30 * time.Second, MinTimeout: 2 * time.Second,
		WaitBound: 5 * time.Second, busy: map[string]bool{}}
	for _, s := range specs {
		r.pub.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: s.Collector.Name(), State: model.StatePending, Reason: "first run not finished yet", Interval: s.Interval}})
	}
	return r
}

// Run starts every collector and returns at once. The collectors stop when
// ctx is done; Wait waits for them.
func (r *Runner) Run(ctx context.Context) {
	for _, s := range r.specs {
		r.wg.Add(1)
		go r.loop(ctx, s)
	}
}

// Wait waits for the collector loops to end (cancel the context given to
// Run first), then for every Collect call still running — those a timeout
// or the cancel abandoned — for at most WaitBound, and closes the
// collectors that hold resources: nothing still uses them, nor the
// namespace file they were given. A collector whose Collect is still
// running after WaitBound is not closed (that would race with the call)
// and is named in the error; its goroutine is left to end on its own.
// Wait must not be called concurrently with Run or Once.
func (r *Runner) Wait() error {
	r.wg.Wait()
	done := make(chan struct{})
	go func() {
		r.calls.Wait()
		close(done)
	}()
	t := time.NewTimer(r.WaitBound)
	defer t.Stop()
	var stuck []string
	select {
	case <-done:
	case <-t.C:
		stuck = r.busyNames()
	}
	for _, s := range r.specs {
		if slices.Contains(stuck, s.Collector.Name()) {
			continue
		}
		if c, ok := s.Collector.(Closer); ok {
			_ = c.Close()
		}
	}
	if len(stuck) > 0 {
		return fmt.Errorf("collectors still running %v after the end, left running and not closed: %s",
			r.WaitBound, strings.Join(stuck, ", "))
	}
	return nil
}

// busyNames returns the collectors whose Collect has not returned.
func (r *Runner) busyNames() []string {
	r.busyMu.Lock()
	defer r.busyMu.Unlock()
	var out []string
	for name, b := range r.busy {
		if b {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Once runs every collector once, concurrently, and waits for all of them
// (each bounded by timeout). It is what `netlens snapshot` uses.
func (r *Runner) Once(ctx context.Context, timeout time.Duration) {
	var wg sync.WaitGroup
	for _, s := range r.specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runOne(ctx, s, timeout)
		}()
	}
	wg.Wait()
}

func (r *Runner) loop(ctx context.Context, s Spec) {
	defer r.wg.Done()
	for {
		state := r.runOne(ctx, s, max(s.Interval, r.MinTimeout))
		wait := s.Interval
		if state == model.StateNoPermission || state == model.StateNotSupported {
			wait = max(wait, r.RetryInterval)
		}
		t := time.NewTimer(untilNext(time.Now(), wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// untilNext returns the time from now to the next multiple of every
// (counted from the Unix epoch): runs start on that grid, as a ticker's
// would, and in phase with every other collector of the same interval,
// so that the collectors of one refresh wake the process once, together,
// rather than drifting apart by their run times. A run that overran its
// slot waits for the next one.
func untilNext(now time.Time, every time.Duration) time.Duration {
	if every <= 0 {
		return 0
	}
	return every - time.Duration(now.UnixNano()%int64(every))
}

// runOne runs one collection and records its status. The collection runs
// on its own goroutine so that one which ignores its context cannot stall
// the loop: after the timeout the status says so and the loop goes on
// (the stuck call is abandoned, the next run waits for it to return, and
// Wait waits for it, bounded).
func (r *Runner) runOne(ctx context.Context, s Spec, timeout time.Duration) model.CollectorState {
	name := s.Collector.Name()
	prev, _ := r.snapshotStatus(name)
	if prev.busy {
		return model.StateError
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := r.Now()
	done := make(chan error, 1)
	r.setBusy(name, true)
	r.calls.Add(1)
	go func() {
		defer r.calls.Done()
		defer r.setBusy(name, false)
		defer func() {
			if p := recover(); p != nil {
				done <- panicError{p}
			}
		}()
		done <- s.Collector.Collect(cctx, r.pub)
	}()
	var err error
	select {
	case err = <-done:
	case <-cctx.Done():
		if ctx.Err() != nil {
			return model.StatePending
		}
		err = errTimeout{timeout}
	}
	st := prev.status
	st.Name = name
	st.Interval = s.Interval
	st.LastRun = start
	st.LastDuration = r.Now().Sub(start)
	st.State = Classify(err)
	st.Reason = ""
	if err != nil {
		st.Reason = err.Error()
		st.Errors++
	} else {
		st.LastSuccess = start
	}
	if src, ok := s.Collector.(Sourcer); ok {
		st.Source = src.Source()
	}
	st.Note = ""
	if n, ok := s.Collector.(Noter); ok && err == nil {
		st.Note = n.Note()
	}
	r.pub.Publish(model.StatusUpdate{Status: st})
	return st.State
}

type runState struct {
	status model.CollectorStatus
	busy   bool
}

func (r *Runner) setBusy(name string, b bool) {
	r.busyMu.Lock()
	r.busy[name] = b
	r.busyMu.Unlock()
}

func (r *Runner) snapshotStatus(name string) (runState, bool) {
	r.busyMu.Lock()
	b := r.busy[name]
	r.busyMu.Unlock()
	st, ok := r.store.Status(name)
	return runState{status: st, busy: b}, ok
}

type panicError struct{ v any }

func (p panicError) Error() string { return fmt.Sprintf("collector panicked: %v", p.v) }

type errTimeout struct{ d time.Duration }

func (e errTimeout) Error() string { return "timed out after " + e.d.String() }
