package sysctl

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

func TestParseJournal(t *testing.T) {
	data, err := os.ReadFile("testdata/journal.log")
	if err != nil {
		t.Fatal(err)
	}
	mod := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	got := parseJournal(bytes.NewReader(data), mod)
	want := []model.SysctlChange{
		{At: time.Date(2026, 12, 3, 0, 47, 25, 0, time.UTC), Txn: 7, Name: "net.ipv4.tcp_keepalive_time", Old: "7200", New: "600", UID: 0, User: "root", By: "netlens (pid 29139)", Outcome: "applied", RevertAt: time.Date(2026, 12, 3, 0, 47, 30, 0, time.UTC)},
		{At: mod, By: "revert helper", Outcome: model.SysctlFailed, Message: "panic: runtime error"},
		{At: time.Date(2026, 12, 3, 0, 47, 30, 0, time.UTC), Txn: 7, Name: "net.ipv4.tcp_keepalive_time", Old: "600", New: "7200", By: "revert helper (pid 29147)", Outcome: "reverted", Message: "written back at the deadline"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseJournal (-want +got):\n%s", diff)
	}
}

func FuzzParseJournal(f *testing.F) {
	if data, err := os.ReadFile("testdata/journal.log"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("{}\n\n{\"outcome\":\"x\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := parseJournal(bytes.NewReader(data), time.Time{})
		if len(got) > JournalEntries {
			t.Fatalf("%d entries, more than %d", len(got), JournalEntries)
		}
		for _, e := range got {
			if e.Outcome == "" {
				t.Fatalf("an entry without an outcome: %+v", e)
			}
		}
	})
}
