package cli

import (
	"context"
	"os"
	"path/filepath"
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

// TestOutDirWarning: the TUI says at start which output directory s and
// R cannot write, and what to do; R's error names the flag.
func TestOutDirWarning(t *testing.T) {
	ok := t.TempDir()
	missing := filepath.Join(ok, "missing")
	// /proc and /sys: no file can be created there, even by root, whose
	// permission bits pass (there was no warning, and s failed when
	// pressed).
	procWhy, sysWhy := "not writable: permission denied", "not writable: permission denied"
	if os.Geteuid() == 0 {
		procWhy = "cannot create a file there: a proc file system, not storage (no such file or directory)"
		sysWhy = "cannot create a file there: a sysfs file system, not storage (permission denied)"
	}
	tests := []struct {
		name      string
		snap, rec string
		want      string // "" for none
	}{
		{"both fine", ok, "", ""},
		{"record dir fine", ok, ok, ""},
		{"snapshot dir missing, R uses it", missing, "", "--snapshot-dir " + missing + ": no such directory: s and R cannot save there (create it or make it writable, or restart with another --snapshot-dir)"},
		{"snapshot dir missing", missing, ok, "--snapshot-dir " + missing + ": no such directory: s cannot save there"},
		{"record dir missing", ok, missing, "--record-dir " + missing + ": no such directory: R cannot record there"},
		{"snapshot dir /proc", "/proc", "", "--snapshot-dir /proc: " + procWhy + ": s and R cannot save there"},
		{"record dir /sys", ok, "/sys", "--record-dir /sys: " + sysWhy + ": R cannot record there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outDirWarning(options{snapshotDir: tt.snap, record: recorder.Options{Dir: tt.rec}})
			if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
				t.Errorf("outDirWarning = %q, want %q", got, tt.want)
			}
		})
	}
	rc := tuiRecorder(context.Background(), newStore(), options{snapshotDir: ok, record: recorder.Options{Dir: missing}})
	if _, err := rc.Toggle(); err == nil || err.Error() != "--record-dir "+missing+": no such directory" {
		t.Errorf("R into a missing --record-dir: %v", err)
	}
	rc = tuiRecorder(context.Background(), newStore(), options{snapshotDir: "/proc"})
	if _, err := rc.Toggle(); err == nil || err.Error() != "--snapshot-dir /proc: "+procWhy {
		t.Errorf("R into --snapshot-dir /proc: %v", err)
	}
}
