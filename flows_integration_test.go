package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestIntegrationFlowsCommand fills a namespace's conntrack table with
// 5,000 UDP entries (loopback datagrams to as many ports, tracked by an
// nft ct rule) and checks `netlens flows` against conntrack -L: --json
// lists every entry (as many as conntrack -L prints lines), compact
// unless --indent, each entry once; --limit lists fewer and says so, in JSON and on
// standard error. (make bench checks the same at 100,000 entries.)
func TestIntegrationFlowsCommand(t *testing.T) {
	const n = 5000
	bin := netlensBinary(t)
	ns := testNetns(t)
	run := func(name string, args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, e.String())
		}
		return o.String(), e.String()
	}
	run("nft", "add table inet nlflows { chain out { type filter hook output priority 0; ct state new counter; }; }")
	run("/usr/bin/python3", "-c", `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(20000, 20000 + `+strconv.Itoa(n)+`):
    s.sendto(b"x", ("127.0.0.1", p))`)

	ctOut, _ := run("conntrack", "-L")
	want := strings.Count(ctOut, "\n")
	if want < n {
		t.Fatalf("conntrack -L lists %d entries, want at least %d", want, n)
	}

	out, _ := run(bin, "flows", "--json")
	var flows []map[string]any
	if err := json.Unmarshal([]byte(out), &flows); err != nil {
		t.Fatalf("flows --json: %v", err)
	}
	if len(flows) != want {
		t.Errorf("flows --json lists %d entries, conntrack -L %d", len(flows), want)
	}
	// Each datagram of the dump is in it once (the reader packs several
	// into one buffer): every port sent to, once.
	seen := map[string]int{}
	for _, f := range flows {
		if orig, ok := f["orig"].(map[string]any); ok {
			if dst, _ := orig["dst"].(string); strings.HasPrefix(dst, "127.0.0.1:") {
				seen[strings.TrimPrefix(dst, "127.0.0.1:")]++
			}
		}
	}
	for p := 20000; p < 20000+n; p++ {
		if c := seen[strconv.Itoa(p)]; c != 1 {
			t.Errorf("flows --json lists the entry to 127.0.0.1:%d %d times, want once", p, c)
			break
		}
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("flows --json is not compact: %d lines", strings.Count(out, "\n"))
	}
	if out, _ := run(bin, "flows", "--json", "--indent"); !strings.Contains(out, "\n  {\n    \"id\": ") {
		t.Errorf("flows --json --indent is not indented: %.200s", out)
	}

	out, errOut := run(bin, "flows", "--json", "--limit", "10")
	var limited struct {
		Limit     int              `json:"limit"`
		Truncated bool             `json:"truncated"`
		Count     int              `json:"count"`
		Flows     []map[string]any `json:"flows"`
	}
	if err := json.Unmarshal([]byte(out), &limited); err != nil {
		t.Fatalf("flows --json --limit 10: %v", err)
	}
	if limited.Limit != 10 || !limited.Truncated || limited.Count < n || len(limited.Flows) != 10 {
		t.Errorf("flows --json --limit 10: limit %d truncated %v count %d, %d flows", limited.Limit, limited.Truncated, limited.Count, len(limited.Flows))
	}
	if !strings.Contains(errOut, "10 of ") {
		t.Errorf("flows --json --limit 10: standard error does not say so: %q", errOut)
	}

	out, errOut = run(bin, "flows", "--limit", "10")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 11 || lines[10] != "netlens: 10 flow entries shown." {
		t.Errorf("flows --limit 10: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	if !strings.Contains(errOut, "10 of ") || !strings.Contains(errOut, "--limit 10") {
		t.Errorf("flows --limit 10: standard error does not say it is truncated: %q", errOut)
	}

	out, _ = run(bin, "flows", "--json", "--limit", "100000")
	if err := json.Unmarshal([]byte(out), &limited); err != nil || limited.Truncated || len(limited.Flows) != want {
		t.Errorf("flows --json --limit 100000: truncated %v, %d flows, want %d (%v)", limited.Truncated, len(limited.Flows), want, err)
	}
}
