package collectors

import (
	"context"
	"errors"
	"fmt"
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
