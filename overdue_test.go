package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIntegrationOverduePending: in a namespace whose pending nft change
// is overdue (its revert helper was killed), `netlens snapshot` changes
// nothing (the ruleset stays byte-identical) and reports the overdue
// change on stderr and in the filters status; the TUI started there
// reverts it and says so in the Filters tab.
func TestIntegrationOverduePending(t *testing.T) {
	requireTmux(t)
	requireTools(t, "nft")
	bin := netlensBinary(t)
	ns := testNetns(t)
	deleteNetlensTable(t, ns)
	inNS := func(args ...string) *exec.Cmd {
		return exec.Command("ip", append([]string{"netns", "exec", ns, "env", "-u", "SSH_CONNECTION"}, args...)...)
	}
	ruleset := func() string {
		out, err := inNS("nft", "list", "ruleset").Output()
		if err != nil {
			t.Fatalf("nft list ruleset: %v", err)
		}
		return string(out)
	}
	if out, err := inNS(bin, "rules", "add", "--filter-backend", "nft", "--action", "drop", "--proto", "tcp", "--dport", "47794",
		"--label", "overdue", "--revert", "5s").CombinedOutput(); err != nil {
		t.Fatalf("rules add: %v: %s", err, out)
	}
	added := time.Now()
	// Kill the revert helper (`netlens rules revert-watch`) before its
	// deadline: nothing undoes the change at the deadline now.
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	killed := 0
	for _, pid := range strings.Fields(string(out)) {
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		if strings.Contains(string(cmdline), "revert-watch") {
			if err := exec.Command("kill", "-9", pid).Run(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("killed %d revert helpers, want 1", killed)
	}
	time.Sleep(time.Until(added.Add(5*time.Second + 4*time.Second))) // past the deadline and its 3 s grace
	before := ruleset()
	if !strings.Contains(before, "dport 47794") {
		t.Fatalf("the rule is gone before the snapshot:\n%s", before)
	}

	file := filepath.Join(t.TempDir(), "snap.json")
	cmd := inNS(bin, "snapshot", "-o", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("snapshot: %v: %s", err, stderr.String())
	}
	if after := ruleset(); after != before {
		t.Errorf("snapshot changed the ruleset:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if !strings.Contains(stderr.String(), "netlens snapshot: filters: OVERDUE: change ") {
		t.Errorf("snapshot did not report the overdue change on stderr: %q", stderr.String())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var snap struct {
		Collectors []struct{ Name, State, Note string }
	}
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatal(err)
	}
	note := ""
	for _, c := range snap.Collectors {
		if c.Name == "filters" {
			note = c.Note
		}
	}
	if !strings.HasPrefix(note, "OVERDUE: change ") {
		t.Errorf("the filters status does not say OVERDUE: %q", note)
	}

	// The TUI holds the filter control: it reverts, and says so.
	script := "env -u SSH_CONNECTION " + bin + " --filter-backend nft\necho EXIT=$?\nsleep 60"
	s := startTmux(t, 160, 40, []string{"TERM=xterm-256color"}, "ip netns exec "+ns+" sh -c '"+script+"'")
	s.waitText("4 Filters", 10*time.Second)
	s.keys("4")
	scr := s.waitText("its revert helper did not", 15*time.Second)
	if after := ruleset(); strings.Contains(after, "dport 47794") {
		t.Errorf("the TUI did not revert the overdue change:\n%s", after)
	}
	if !strings.Contains(scr, "revert log") || !strings.Contains(scr, "netlens (pid ") {
		t.Errorf("the Filters tab does not say who reverted:\n%s", scr)
	}
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}
