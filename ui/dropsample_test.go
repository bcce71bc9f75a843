package ui

import (
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// fakeDropSample is a DropSampleControl that records its state.
type fakeDropSample struct {
	on  bool
	err error
}

func (f *fakeDropSample) Toggle() (string, error) {
	if f.err != nil {
		return "", f.err
	}
	f.on = !f.on
	if f.on {
		return "drop samples on: one drop in 100 per CPU", nil
	}
	return "drop samples off", nil
}

// TestDropSampleToggle: S in the Drops tab switches the tracer's sampled
// stream through the control and the status line says what it did; the
// key is in the tab's full help only when there is a control.
func TestDropSampleToggle(t *testing.T) {
	ds := &fakeDropSample{}
	opts := goldenOpts()
	opts.Controls.DropSample = ds
	a := New(fixtureStore(), opts)
	defer a.Close()
	pressS(t, a, "2")
	if !ds.on || !strings.Contains(a.View().Content, "drop samples on: one drop in 100 per CPU") {
		t.Fatalf("after S: on=%v\n%s", ds.on, a.View().Content)
	}
	pressS(t, a)
	if ds.on || !strings.Contains(a.View().Content, "drop samples off") {
		t.Fatalf("after S again: on=%v\n%s", ds.on, a.View().Content)
	}

	ds.err = errors.New("droptrace: tracer closed")
	pressS(t, a)
	if !strings.Contains(a.View().Content, "drop samples: droptrace: tracer closed") {
		t.Fatalf("after a failing S:\n%s", a.View().Content)
	}
	if !helpHas(a, "drop samples on/off") {
		t.Error("the Drops tab's full help lacks S")
	}
}

// TestDropSampleNoControl: without a control (no eBPF tracer, or a
// snapshot opened from a file) S says why it does nothing.
func TestDropSampleNoControl(t *testing.T) {
	a := New(fixtureStore(), goldenOpts())
	defer a.Close()
	pressS(t, a, "2")
	if !strings.Contains(a.View().Content, "drop samples: the sampled stream needs the eBPF drop tracer, live") {
		t.Fatalf("after S:\n%s", a.View().Content)
	}
	if helpHas(a, "drop samples on/off") {
		t.Error("the Drops tab's full help offers S without a control")
	}
}

// helpHas reports whether the current page's full help has a binding
// with help text desc.
func helpHas(a *App, desc string) bool {
	for _, col := range a.pages[a.active].FullHelp() {
		for _, b := range col {
			if b.Help().Desc == desc {
				return true
			}
		}
	}
	return false
}

// pressS presses keys (the first time: sized 120x40), then S, and runs
// the command S returns.
func pressS(t *testing.T, a *App, keys ...string) {
	t.Helper()
	if len(keys) > 0 {
		a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	}
	for _, k := range keys {
		a.Update(press(k))
	}
	_, cmd := a.Update(press("S"))
	if cmd == nil {
		t.Fatal("S returned no command")
	}
	a.Update(cmd())
}
