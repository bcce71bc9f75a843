package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"netlens/recorder"
)

// TestRecordControl: the TUI's R control starts a recorder of the
// Store, and stops it (the files it wrote stay).
func TestRecordControl(t *testing.T) {
	dir := t.TempDir()
	store := newStore()
	rc := tuiRecorder(context.Background(), store, options{snapshotDir: dir, record: recorder.Options{Interval: 50 * time.Millisecond, Keep: 3, MinFree: 1}})
	msg, err := rc.Toggle()
	if err != nil || !strings.Contains(msg, "recording a snapshot every 50ms into "+dir) {
		t.Fatalf("start: %q, %v", msg, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		files, _ := recorder.Files(dir)
		if len(files) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d files after 10 s", len(files))
		}
	}
	if on, _ := rc.Recording(); !on {
		t.Fatal("not recording")
	}
	msg, err = rc.Toggle()
	if err != nil || msg != "recorder stopped: 3 snapshots in "+dir {
		t.Fatalf("stop: %q, %v", msg, err)
	}
	if on, stopped := rc.Recording(); on || stopped != nil {
		t.Fatalf("after stop: on %v, stopped %v", on, stopped)
	}
}
