package ui

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"netlens/model"
	"netlens/snapshot"
)

// offlineStore is what netlens --open shows: a Store holding the
// snapshot read from testdata/offline-b.json.
func offlineStore(t *testing.T) (*model.Store, Options) {
	t.Helper()
	snap, err := snapshot.ReadFile("testdata/offline-b.json")
	if err != nil {
		t.Fatal(err)
	}
	opts := goldenOpts()
	opts.SaveSnapshot = nil
	opts.Now = func() time.Time { return snap.TakenAt }
	opts.Offline = &Offline{File: "testdata/offline-b.json"}
	return model.NewStoreFrom(snap), opts
}

// TestGoldenOffline: every tab of a snapshot opened from a file, and
// sorting, filtering and details on it.
func TestGoldenOffline(t *testing.T) {
	for _, tt := range []struct {
		name string
		keys []string
	}{
		{"Connections", []string{"1"}},
		{"Drops", []string{"2"}},
		{"Sysctl", []string{"3"}},
		{"Filters", []string{"4"}},
		{"Capture", []string{"5"}},
		{"Sorted", []string{"1", "o", "o"}},
		{"Filtered", []string{"1", "/", "8", "0", "8", "0", "enter"}},
		{"Details", []string{"2", "enter"}},
		{"Record", []string{"R"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, opts := offlineStore(t)
			runGoldenOpts(t, store, opts, 120, 40, colorprofile.ANSI256, keys(tt.keys...)...)
		})
	}
}

// TestGoldenOfflineDiff: --open A --diff B: the header names both times
// and the Drops tab's moved view holds what moved between them.
func TestGoldenOfflineDiff(t *testing.T) {
	a, err := snapshot.ReadFile("testdata/offline-a.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := snapshot.ReadFile("testdata/offline-b.json")
	if err != nil {
		t.Fatal(err)
	}
	opts := goldenOpts()
	opts.SaveSnapshot = nil
	opts.Now = func() time.Time { return b.TakenAt }
	opts.Offline = &Offline{File: "b", Base: "a", BaseAt: a.TakenAt, Summary: "4 changes: +1 socket, 1 drop counter, 1 sysctl, +1 rule (netlens diff lists them)",
		Changed: &Changed{
			Sockets: map[SocketID]bool{{model.ProtoTCP, netip.MustParseAddrPort("0.0.0.0:8080"), netip.MustParseAddrPort("0.0.0.0:0")}: true},
			Sysctls: map[string]bool{"net.ipv4.ip_forward": true},
			Rules:   map[uint32]bool{2: true},
		}}
	for _, tab := range []string{"1", "2", "3", "4"} {
		t.Run("tab"+tab, func(t *testing.T) {
			runGoldenOpts(t, snapshot.DiffStore(a, b), opts, 120, 40, colorprofile.ANSI256, keys(tab)...)
		})
	}
}

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
	opts.Recorder = rec
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
	opts.Recorder = rec
	store := fixtureStore()
	a := New(store, opts)
	defer a.Close()
	a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	v := a.View().Content
	if !strings.Contains(v, " REC STOPPED ") || !strings.Contains(v, "recorder: record: not enough free space") {
		t.Fatalf("screen:\n%s", v)
	}
}
