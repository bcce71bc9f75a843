package cli

import (
	"context"
	"strings"
	"testing"

	"netlens/model"
)

// TestSnapshotStatus: a snapshot interrupted (Ctrl-C, SIGTERM from
// timeout(1)) before every collector ran fails (exit 1) naming those
// that had not, although the file is written; one that was not
// interrupted, or whose collectors had all run, succeeds when one did.
func TestSnapshotStatus(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	partial := model.Snapshot{Collectors: []model.CollectorStatus{
		{Name: "counters", State: model.StateOK},
		{Name: "sockets", State: model.StatePending, Reason: "first run not finished yet"},
		{Name: "droptrace", State: model.StatePending, Reason: "first run not finished yet"},
	}}
	full := model.Snapshot{Collectors: []model.CollectorStatus{{Name: "counters", State: model.StateOK}, {Name: "conntrack", State: model.StateNoPermission}}}
	if err := snapshotStatus(done, partial); ExitCode(err) != 1 || !strings.Contains(err.Error(), "interrupted") || !strings.Contains(err.Error(), "sockets, droptrace") {
		t.Errorf("interrupted with collectors pending: %v, want exit 1 naming sockets, droptrace", err)
	}
	if err := snapshotStatus(done, full); err != nil {
		t.Errorf("interrupted once every collector had run: %v, want success", err)
	}
	if err := snapshotStatus(context.Background(), partial); err != nil {
		t.Errorf("not interrupted (a collector past --timeout stays pending): %v, want success", err)
	}
}
