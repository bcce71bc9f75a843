package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// netlensProcs returns the pids of processes running bin.
func netlensProcs(bin string) []int {
	out, _ := exec.Command("pgrep", "-f", "^"+regexp.QuoteMeta(bin)).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// TestIntegrationSSHSession runs netlens over a real SSH session on
// loopback, drives every tab with keys, then kills the ssh client and
// checks that netlens exits on the hang-up, leaving no process behind, and
// that the next session works with a sane terminal.
func TestIntegrationSSHSession(t *testing.T) {
	requireTmux(t)
	sshd := startSSHD(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	dir, err := os.MkdirTemp("", "netlens-ssh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command("ip", "netns", "exec", ns, "sh", "-c", "socat TCP-LISTEN:47779,reuseaddr,fork /dev/null >/dev/null 2>&1 &").CombinedOutput(); err != nil {
		t.Fatalf("listener: %v: %s", err, out)
	}
	remote := fmt.Sprintf("exec ip netns exec %s %s --snapshot-dir %s", ns, bin, dir)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, "exec "+sshd.sshCommand("root", nil, remote))

	s.waitFor("the listener over ssh", 15*time.Second, func(scr string) bool {
		return regexp.MustCompile(`tcp\s+0\.0\.0\.0:47779.*LISTEN.*socat`).MatchString(scr)
	})
	s.keys("o") // next sort column
	s.waitFor("a new sort", 5*time.Second, func(scr string) bool { return !strings.Contains(scr, "sort local") })
	s.keys("2")
	s.waitText("counters moved since start", 5*time.Second)
	s.keys("a") // all counters
	s.waitFor("all counters", 5*time.Second, func(scr string) bool { return regexp.MustCompile(`\d+ counters`).MatchString(scr) })
	s.keys("3")
	s.waitText("net.core.somaxconn", 5*time.Second)
	s.keys("/")
	s.literal("rp_filter")
	s.keys("Enter")
	scr := s.waitText("filter: rp_filter", 5*time.Second)
	if strings.Contains(scr, "somaxconn") {
		t.Errorf("filter let somaxconn through:\n%s", scr)
	}
	s.keys("p")
	s.waitText("PAUSED", 5*time.Second)
	s.keys("p")
	s.waitText("LIVE", 5*time.Second)
	s.keys("s")
	s.waitText("snapshot saved: ", 10*time.Second)
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("snapshot dir: %v", ents)
	}
	s.keys("?")
	s.waitText("esc closes this help", 5*time.Second)
	s.keys("Escape")

	if n := len(netlensProcs(bin)); n != 1 {
		t.Fatalf("%d netlens processes before the hang-up, want 1", n)
	}
	// Kill the ssh client: the connection drops, sshd hangs up the pty.
	pid := strings.TrimSpace(s.tmux("display-message", "-p", "-t", s.name, "#{pane_pid}"))
	if out, err := exec.Command("kill", "-9", pid).CombinedOutput(); err != nil {
		t.Fatalf("kill ssh %s: %v: %s", pid, err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(netlensProcs(bin)) > 0 {
		if time.Now().After(deadline) {
			out, _ := exec.Command("ps", "-ef").Output()
			t.Fatalf("netlens still runs 10s after the hang-up: %v\n%s", netlensProcs(bin), out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The next session: netlens starts again, quits cleanly, and the
	// terminal it leaves is sane (canonical mode, echo).
	remote = fmt.Sprintf("%s --snapshot-dir %s; echo EXIT=$?; stty -a | grep -o -- '-*icanon' | head -1; stty -a | grep -o -- ' -*echo ' | head -1; echo DONE", bin, dir)
	s2 := startTmux(t, 80, 24, []string{"TERM=xterm-256color"}, sshd.sshCommand("root", nil, remote)+"; sleep 60")
	s2.waitText("Connections", 15*time.Second)
	s2.keys("q")
	scr = s2.waitText("DONE", 10*time.Second)
	if !strings.Contains(scr, "EXIT=0") || strings.Contains(scr, "-icanon") || strings.Contains(scr, "-echo") || !strings.Contains(scr, "icanon") {
		t.Fatalf("next session not clean:\n%s", scr)
	}
}

// TestIntegrationSSHUnprivileged logs in as an ordinary user: every tab
// /proc allows works, and panes that need a capability name it.
func TestIntegrationSSHUnprivileged(t *testing.T) {
	requireTmux(t)
	sshd := startSSHD(t)
	bin := netlensBinary(t)
	dir, err := os.MkdirTemp("", "netlens-ssh-user")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	remote := fmt.Sprintf("id -un; %s --snapshot-dir %s; echo EXIT=$?; sleep 60", bin, dir)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, "exec "+sshd.sshCommand(testUser, nil, remote))
	s.waitText("Connections", 15*time.Second)
	// Our own ssh session is visible to us, without its (root) owner; the
	// filter brings it onto the screen however many sockets the host has.
	s.keys("/")
	s.literal(fmt.Sprintf("127.0.0.1:%d", sshd.port))
	s.keys("Enter")
	s.waitFor("the sshd listener", 10*time.Second, func(scr string) bool {
		return regexp.MustCompile(fmt.Sprintf(`tcp\s+127\.0\.0\.1:%d\s.*LISTEN`, sshd.port)).MatchString(scr)
	})
	for _, tab := range []struct{ key, want string }{{"2", "counters moved"}, {"3", "net.core.somaxconn"}} {
		s.keys(tab.key)
		s.waitText(tab.want, 5*time.Second)
	}
	s.keys("s")
	s.waitText("snapshot saved: ", 10*time.Second)
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("snapshot dir: %v", ents)
	}
	fi, _ := os.Stat(filepath.Join(dir, ents[0].Name()))
	t.Logf("snapshot as %s: %s (%d bytes)", testUser, ents[0].Name(), fi.Size())
}

// TestIntegrationSSHLockoutGuard is the operator's case: over SSH, adding
// a rule that would drop the SSH session itself is stopped by the lockout
// guard, which names the session; cancelling leaves the rules as they
// were. (netlens runs in a namespace of the test's, so even an applied
// rule could not cut this session; the guard judges by SSH_CONNECTION.)
func TestIntegrationSSHLockoutGuard(t *testing.T) {
	requireTmux(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nftables is not installed (make test-deps installs it)")
	}
	sshd := startSSHD(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	deleteNetlensTable(t, ns)
	remote := fmt.Sprintf("echo SSH_CONNECTION=$SSH_CONNECTION; exec ip netns exec %s %s --filter-backend nft", ns, bin)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, "exec "+sshd.sshCommand("root", nil, remote))
	s.waitText("Connections", 15*time.Second)
	s.keys("4")
	s.waitText("backend nft", 10*time.Second)

	// A drop rule for TCP to the sshd port, on input.
	s.addTCPDropRule(fmt.Sprint(sshd.port), "would cut ssh")
	scr := s.waitText("LOCKOUT GUARD", 10*time.Second)
	if !strings.Contains(scr, "YOUR OWN SSH SESSION would be cut") || !strings.Contains(scr, fmt.Sprintf(":%d", sshd.port)) {
		t.Fatalf("the guard does not name the session:\n%s", scr)
	}
	// Cancel: nothing is applied.
	s.keys("Escape")
	s.waitFor("the guard to close", 5*time.Second, func(scr string) bool { return !strings.Contains(scr, "LOCKOUT GUARD") })
	time.Sleep(500 * time.Millisecond)
	out, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "ruleset").CombinedOutput()
	if strings.Contains(string(out), "would cut ssh") || strings.Contains(string(out), fmt.Sprint(sshd.port)) {
		t.Fatalf("a cancelled change reached nftables:\n%s", out)
	}

	s.keys("q")
}

// TestIntegrationSSHToggleRule: over a real SSH session, a drop rule
// added through the form stops connections to its port, space turns it
// off at once (the keys arrive faster than a refresh) and they flow
// again; nft agrees at each step.
func TestIntegrationSSHToggleRule(t *testing.T) {
	requireTmux(t)
	requireTools(t, "nft", "socat")
	sshd := startSSHD(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	deleteNetlensTable(t, ns)
	const port = "47791"
	lis := exec.Command("ip", "netns", "exec", ns, "socat", "TCP-LISTEN:"+port+",reuseaddr,fork", "/dev/null")
	if err := lis.Start(); err != nil {
		t.Fatalf("socat listener: %v", err)
	}
	t.Cleanup(func() { lis.Process.Kill(); lis.Wait() })
	connects := func(n int) int { return tcpConnects(ns, port, n) }
	nftRule := func() string {
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "netlens").CombinedOutput()
		if err != nil {
			t.Fatalf("nft list table: %v\n%s", err, out)
		}
		return string(out)
	}

	remote := fmt.Sprintf("exec ip netns exec %s %s --filter-backend nft", ns, bin)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, "exec "+sshd.sshCommand("root", nil, remote))
	s.waitText("Connections", 15*time.Second)
	s.dropPortViaForm(ns, port, "ssh toggle")
	s.keys("c")
	s.waitText("confirmed: add rule 1 is kept", 10*time.Second)
	// No wait for the table: space right after the confirm, as a user
	// types it.
	s.keys("Space")
	s.waitText("disable rule 1: done", 10*time.Second)
	s.waitFor("the rule off", 10*time.Second, func(scr string) bool {
		return regexp.MustCompile(`1 off\s+in\s+any\s+tcp \* -> \*:` + port).MatchString(scr)
	})
	if got := connects(2); got != 2 {
		t.Fatalf("rule disabled: %d of 2 connects succeeded", got)
	}
	// nft keeps a rule that is off, with its counter, in the table's
	// unhooked chain; the tab's packets equal that counter.
	r := nftRule()
	in, _, _ := strings.Cut(r[strings.Index(r, "chain input {"):], "}")
	m := regexp.MustCompile(`(?s)chain disabled \{.*tcp dport ` + port + ` counter packets (\d+) bytes \d+ drop comment "ssh toggle"`).FindStringSubmatch(r)
	if strings.Contains(in, port) || m == nil {
		t.Fatalf("nft does not hold the rule off:\n%s", r)
	}
	s.waitFor("the tab's packets to equal nft's ("+m[1]+")", 10*time.Second, func(scr string) bool {
		return regexp.MustCompile(`1 off\s+in\s+any\s+tcp \* -> \*:` + port + `\s+drop\s+` + m[1] + `\s`).MatchString(scr)
	})
	s.keys("q")
	s.waitFor("netlens and ssh to exit", 10*time.Second, func(string) bool { dead, _ := s.paneDead(); return dead })
}
