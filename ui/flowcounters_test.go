package ui

import (
	"slices"
	"testing"
	"time"

	"netlens/model"
)

// fakeDemand records what Controls.FlowCounters is told.
type fakeDemand struct{ told []bool }

func (f *fakeDemand) Want(on bool) { f.told = append(f.told, on) }

// TestFlowCountersWanted: the flows' counters are wanted while the
// Connections tab's Flows or Joined view is active or the recorder
// runs, and the control is told only when that changes.
func TestFlowCountersWanted(t *testing.T) {
	d := &fakeDemand{}
	rec := &fakeRecorder{}
	opts := goldenOpts()
	opts.Controls.FlowCounters = d
	opts.Controls.Recorder = rec
	a := newTestApp(t, fixtureStore(), opts, 120, 40)
	check := func(step string, want ...bool) {
		t.Helper()
		if !slices.Equal(d.told, want) {
			t.Fatalf("%s: told %v, want %v", step, d.told, want)
		}
	}
	check("sockets view at start", false)
	send(a, "j", "k")
	check("keys in the sockets view", false)
	send(a, "v")
	check("flows view", false, true)
	send(a, "v")
	check("joined view", false, true)
	send(a, "2")
	check("Drops tab", false, true, false)
	send(a, "1")
	check("back on Connections, joined view", false, true, false, true)
	send(a, "v")
	check("sockets view again", false, true, false, true, false)
	rec.on = true
	send(a, "j")
	check("recorder on", false, true, false, true, false, true)
	send(a, "v")
	check("recorder on, flows view", false, true, false, true, false, true)
	rec.on = false
	send(a, "v", "v")
	check("recorder off, sockets view", false, true, false, true, false, true, false)
}

// TestCountersAge: the flows view says how old its counters are when the
// last dump is older than staleCounters, and says nothing otherwise or
// when the kernel keeps no counters.
func TestCountersAge(t *testing.T) {
	taken := t0.Add(time.Hour)
	for _, tc := range []struct {
		age  time.Duration
		acct bool
		want string
	}{
		{65 * time.Second, true, "; counters as of 1m5s ago"},
		{12 * time.Second, true, ""},
		{65 * time.Second, false, ""},
	} {
		snap := model.Snapshot{TakenAt: taken, Conntrack: model.ConntrackStats{Accounting: tc.acct, LastDump: taken.Add(-tc.age)}}
		if got := countersAge(&snap); got != tc.want {
			t.Errorf("age %v acct %v: %q, want %q", tc.age, tc.acct, got, tc.want)
		}
	}
	var never model.Snapshot
	never.TakenAt, never.Conntrack.Accounting = taken, true
	if got := countersAge(&never); got != "" {
		t.Errorf("no dump yet: %q", got)
	}
}
