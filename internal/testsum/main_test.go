package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const events = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: needs /dev/net/tun\n"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"pass","Package":"p"}
{"Action":"skip","Package":"q"}
`

func TestReport(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		text    string // a text suite's output, if any
		allow   string
		ok      bool
		summary string
	}{
		{"skip not allowed", events, "", "", false, "tests: 1 passed, 0 failed, 1 skipped (0 on the allow-list)"},
		{"skip allowed", events, "", "# no tun device in this CI\np TestB\n", true, "tests: 1 passed, 0 failed, 1 skipped (1 on the allow-list)"},
		{"failure", events + `{"Action":"fail","Package":"p","Test":"TestC"}` + "\n", "", "p TestB # why", false, "tests: 1 passed, 1 failed, 1 skipped (1 on the allow-list)"},
		{"build failure", `{"Action":"fail","Package":"r"}` + "\n", "", "", false, "tests: 0 passed, 0 failed, 0 skipped (0 on the allow-list)"},
		{"vm suite", `{"Action":"pass","Package":"p","Test":"TestA"}` + "\n", "booting\n--- PASS: module-load (0.10s)\n--- FAIL: rmmod (1.00s): busy\n", "", false, "tests: 2 passed, 1 failed, 0 skipped (0 on the allow-list)"},
		{"vm suite that did not run", `{"Action":"pass","Package":"p","Test":"TestA"}` + "\n", "insmod: can't insert drop_monitor.ko\n", "", false, "tests: 1 passed, 0 failed, 0 skipped (0 on the allow-list)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			allow := filepath.Join(dir, "allow")
			os.WriteFile(allow, []byte(tt.allow), 0o644)
			allowed, err := allowList(allow)
			if err != nil {
				t.Fatal(err)
			}
			tl := newTally()
			if err := readJSON(strings.NewReader(tt.json), tl, &strings.Builder{}); err != nil {
				t.Fatal(err)
			}
			if tt.text != "" {
				tl.addText("vm", strings.NewReader(tt.text))
			}
			var out strings.Builder
			ok := tl.report(&out, allowed)
			if ok != tt.ok || !strings.Contains(out.String(), tt.summary) {
				t.Errorf("ok %v, want %v; report:\n%s\nwant %q", ok, tt.ok, out.String(), tt.summary)
			}
			if !tt.ok && !strings.Contains(out.String(), "testsum: FAIL") {
				t.Errorf("a failing report does not say FAIL:\n%s", out.String())
			}
		})
	}
}

// TestAllowListInRepoIsEmpty: CI allows no skip.
func TestAllowListInRepoIsEmpty(t *testing.T) {
	allowed, err := allowList("../../.ci/skip-allow")
	if err != nil {
		t.Fatal(err)
	}
	if len(allowed) != 0 {
		t.Errorf(".ci/skip-allow allows %d skips; CI has every capability and allows none", len(allowed))
	}
}
