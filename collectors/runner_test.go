package collectors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"netlens/model"
)

type fakeCollector struct {
	name string
	runs atomic.Int32
	fn   func(ctx context.Context) error
}

func (f *fakeCollector) Name() string { return f.name }
func (f *fakeCollector) Collect(ctx context.Context, pub Publisher) error {
	f.runs.Add(1)
	return f.fn(ctx)
}

func TestRunnerStatusesAndIsolation(t *testing.T) {
	store := model.NewStore("h", "k", time.Now())
	ok := &fakeCollector{name: "ok", fn: func(context.Context) error { return nil }}
	perm := &fakeCollector{name: "perm", fn: func(context.Context) error {
		return fmt.Errorf("needs CAP_NET_ADMIN: %w", ErrPermission)
	}}
	unsup := &fakeCollector{name: "unsup", fn: func(context.Context) error { return fmt.Errorf("no conntrack: %w", ErrNotSupported) }}
	broken := &fakeCollector{name: "broken", fn: func(context.Context) error { return errors.New("boom") }}
	panicky := &fakeCollector{name: "panicky", fn: func(context.Context) error { panic("oops") }}
	stuck := &fakeCollector{name: "stuck", fn: func(context.Context) error { time.Sleep(time.Hour); return nil }}
	r := NewRunner(store,
		Spec{ok, 10 * time.Millisecond}, Spec{perm, 10 * time.Millisecond}, Spec{unsup, 10 * time.Millisecond},
		Spec{broken, 10 * time.Millisecond}, Spec{panicky, 10 * time.Millisecond}, Spec{stuck, 10 * time.Millisecond})
	r.MinTimeout = 50 * time.Millisecond
	r.RetryInterval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	r.Run(ctx)
	time.Sleep(300 * time.Millisecond)
	cancel()
	r.Wait()

	snap := store.Snapshot()
	want := map[string]model.CollectorState{
		"ok": model.StateOK, "perm": model.StateNoPermission, "unsup": model.StateNotSupported,
		"broken": model.StateError, "panicky": model.StateError, "stuck": model.StateError,
	}
	for name, state := range want {
		st, found := snap.Status(name)
		if !found || st.State != state {
			t.Errorf("%s: got %+v, want state %s", name, st, state)
		}
	}
	if st, _ := snap.Status("perm"); st.Reason != "needs CAP_NET_ADMIN: permission denied" {
		t.Errorf("perm reason %q", st.Reason)
	}
	if st, _ := snap.Status("stuck"); st.Reason == "" {
		t.Errorf("stuck has no reason")
	}
	if n := ok.runs.Load(); n < 5 {
		t.Errorf("ok collector ran %d times beside a stuck one; want >= 5", n)
	}
	if n := perm.runs.Load(); n != 1 {
		t.Errorf("no-permission collector retried %d times within RetryInterval", n)
	}
	if n := stuck.runs.Load(); n != 1 {
		t.Errorf("stuck collector started %d times while still running", n)
	}
}

func TestOnce(t *testing.T) {
	store := model.NewStore("h", "k", time.Now())
	c := &fakeCollector{name: "c", fn: func(context.Context) error { return nil }}
	NewRunner(store, Spec{c, time.Second}).Once(context.Background(), time.Second)
	if st, _ := store.Snapshot().Status("c"); st.State != model.StateOK || st.LastSuccess.IsZero() {
		t.Fatalf("status %+v", st)
	}
}

type notingCollector struct {
	fakeCollector
	note string
}

func (n *notingCollector) Note() string   { return n.note }
func (n *notingCollector) Source() string { return "/proc/net" }

func TestStatusCarriesSourceAndNote(t *testing.T) {
	store := model.NewStore("h", "k", time.Now())
	ok := &notingCollector{fakeCollector{name: "ok", fn: func(context.Context) error { return nil }}, "owners of 3 of 9 processes unreadable"}
	bad := &notingCollector{fakeCollector{name: "bad", fn: func(context.Context) error { return errors.New("boom") }}, "stale note"}
	NewRunner(store, Spec{ok, time.Second}, Spec{bad, time.Second}).Once(context.Background(), time.Second)
	snap := store.Snapshot()
	if st, _ := snap.Status("ok"); st.Note != ok.note || st.Source != "/proc/net" {
		t.Errorf("ok: %+v", st)
	}
	if st, _ := snap.Status("bad"); st.Note != "" || st.Reason != "boom" {
		t.Errorf("a failed run must carry its reason, not a note: %+v", st)
	}
}

func TestUntilNext(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		now   string
		every time.Duration
		want  time.Duration
	}{
		{"2026-11-21T08:00:00.015Z", time.Second, 985 * time.Millisecond}, // a run that took 15 ms
		{"2026-11-21T08:00:00Z", time.Second, time.Second},                // on the grid: the next slot
		{"2026-11-21T08:00:01.2Z", 2 * time.Second, 800 * time.Millisecond},
		{"2026-11-21T08:00:03.5Z", 10 * time.Second, 6500 * time.Millisecond},
		{"2026-11-21T08:00:03.5Z", 0, 0},
	}
	for _, tt := range tests {
		if got := untilNext(at(tt.now), tt.every); got != tt.want {
			t.Errorf("untilNext(%s, %v) = %v, want %v", tt.now, tt.every, got, tt.want)
		}
	}
}

// stuckCollector ignores its context: Collect returns when release is
// closed. It records whether Close ran while a Collect was running.
type stuckCollector struct {
	release     chan struct{}
	running     atomic.Int32
	closed      atomic.Bool
	closedEarly atomic.Bool
}

func (c *stuckCollector) Name() string { return "stuck" }

func (c *stuckCollector) Collect(ctx context.Context, pub Publisher) error {
	c.running.Add(1)
	defer c.running.Add(-1)
	<-c.release
	return nil
}

func (c *stuckCollector) Close() error {
	if c.running.Load() > 0 {
		c.closedEarly.Store(true)
	}
	c.closed.Store(true)
	return nil
}

// TestWaitForAbandonedCollect: a Collect that ignores the cancel is
// waited for (bounded by WaitBound) before its collector is closed; one
// still running after the bound is named in Wait's error and not closed.
func TestWaitForAbandonedCollect(t *testing.T) {
	for _, tt := range []struct {
		name      string
		releaseIn time.Duration // after the cancel
		wantErr   bool
	}{
		{"returns within the bound", 300 * time.Millisecond, false},
		{"still running after the bound", 5 * time.Second, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &stuckCollector{release: make(chan struct{})}
			store := model.NewStore("h", "k", time.Now())
			r := NewRunner(store, Spec{Collector: c, Interval: time.Hour})
			r.WaitBound = time.Second
			ctx, cancel := context.WithCancel(context.Background())
			r.Run(ctx)
			for deadline := time.Now().Add(5 * time.Second); c.running.Load() == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("Collect did not start")
				}
			}
			cancel()
			timer := time.AfterFunc(tt.releaseIn, func() { close(c.release) })
			defer timer.Stop()
			start := time.Now()
			err := r.Wait()
			took := time.Since(start)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "not closed: stuck") {
					t.Errorf("Wait = %v, want it to name the stuck collector", err)
				}
				if c.closed.Load() {
					t.Errorf("a collector whose Collect is running was closed")
				}
				if took < time.Second || took > 3*time.Second {
					t.Errorf("Wait took %v, want about WaitBound (1s)", took)
				}
				return
			}
			if err != nil {
				t.Errorf("Wait: %v", err)
			}
			if c.closedEarly.Load() || !c.closed.Load() {
				t.Errorf("closed while Collect ran: %v; closed at all: %v", c.closedEarly.Load(), c.closed.Load())
			}
		})
	}
}
