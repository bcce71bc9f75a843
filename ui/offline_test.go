package ui

import (
	"net/netip"
	"testing"
	"time"

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
