package ui

import (
	"slices"
	"testing"
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
