package ui

import (
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// fakeRecorder is a RecordControl that only remembers its state.
type fakeRecorder struct {
	on      bool
	stopped error
}

func (f *fakeRecorder) Toggle() (string, error) {
	f.on = !f.on
	if f.on {
		return "recording a snapshot every 10s into /var/tmp, keeping 360 (R stops)", nil
	}
	return "recorder stopped: 3 snapshots in /var/tmp", nil
}

func (f *fakeRecorder) Recording() (bool, error) { return f.on, f.stopped }

// TestRecordToggle: R starts the recorder (the header says REC and the
// status line where it writes), R again stops it.
func TestRecordToggle(t *testing.T) {
	rec := &fakeRecorder{}
	opts := goldenOpts()
	opts.Controls.Recorder = rec
	a := New(fixtureStore(), opts)
	defer a.Close()
	a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	_, cmd := a.Update(press("R"))
	if cmd == nil {
		t.Fatal("R returned no command")
	}
	a.Update(cmd())
	if !rec.on || !strings.Contains(a.View().Content, " REC ") || !strings.Contains(a.View().Content, "recording a snapshot every 10s") {
		t.Fatalf("after R: on=%v\n%s", rec.on, a.View().Content)
	}
	_, cmd = a.Update(press("R"))
	a.Update(cmd())
	if rec.on || strings.Contains(a.View().Content, " REC ") || !strings.Contains(a.View().Content, "recorder stopped") {
		t.Fatalf("after R again: on=%v\n%s", rec.on, a.View().Content)
	}
}

// TestRecordStoppedByItself: when the recorder stops on its own (a full
// disk), the header says REC STOPPED and the status line why, once.
func TestRecordStoppedByItself(t *testing.T) {
	rec := &fakeRecorder{stopped: errors.New("record: not enough free space on /var/tmp: 1.0 MiB free, the floor is 64.0 MiB (--min-free) and a snapshot takes 17.0 KiB: recording stopped")}
	opts := goldenOpts()
	opts.Controls.Recorder = rec
	store := fixtureStore()
	a := New(store, opts)
	defer a.Close()
	a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	v := a.View().Content
	if !strings.Contains(v, " REC STOPPED ") || !strings.Contains(v, "recorder: record: not enough free space") {
		t.Fatalf("screen:\n%s", v)
	}
}
