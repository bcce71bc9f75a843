package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildOnce builds the static netlens binary the end-to-end tests run.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "netlens-e2e-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "netlens")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	os.Chmod(dir, 0o755)
	return bin, nil
})

func netlensBinary(t testing.TB) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// tmuxSession is a real terminal: a tmux server of the test's own, one
// window of a fixed size running a command.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (make test-deps installs it)")
	}
}

// startTmux starts shellCmd (run by sh -c) in a new tmux session of w x h
// cells with the given extra environment.
func startTmux(t *testing.T, w, h int, env []string, shellCmd string) *tmuxSession {
	t.Helper()
	requireTmux(t)
	s := &tmuxSession{t: t, socket: fmt.Sprintf("netlens-test-%d-%d", os.Getpid(), time.Now().UnixNano()), name: "t"}
	args := []string{"-L", s.socket, "-f", "/dev/null", "new-session", "-d", "-s", s.name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h)}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, shellCmd)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	s.tmux("set-option", "-g", "remain-on-exit", "on")
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// keys sends tmux key names ("Tab", "Enter", "q", "C-c").
func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...)
}

// literal types text as is.
func (s *tmuxSession) literal(text string) {
	s.t.Helper()
	s.tmux("send-keys", "-t", s.name, "-l", text)
}

// screen returns the visible pane as text.
func (s *tmuxSession) screen() string {
	s.t.Helper()
	return s.tmux("capture-pane", "-p", "-t", s.name)
}

// waitFor waits until the screen satisfies ok, and returns it.
func (s *tmuxSession) waitFor(what string, timeout time.Duration, ok func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var scr string
	for time.Now().Before(deadline) {
		scr = s.screen()
		if ok(scr) {
			return scr
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("timed out after %s waiting for %s; screen:\n%s", timeout, what, scr)
	return ""
}

func (s *tmuxSession) waitText(text string, timeout time.Duration) string {
	s.t.Helper()
	return s.waitFor(fmt.Sprintf("%q", text), timeout, func(scr string) bool { return strings.Contains(scr, text) })
}

// paneDead reports whether the command in the pane has exited, and its status.
func (s *tmuxSession) paneDead() (bool, string) {
	out := strings.Fields(s.tmux("display-message", "-p", "-t", s.name, "#{pane_dead} #{pane_dead_status}"))
	if len(out) == 0 {
		return false, ""
	}
	status := ""
	if len(out) > 1 {
		status = out[1]
	}
	return out[0] == "1", status
}

// addTCPDropRule opens the Filters tab's form (the tab must be shown) and
// submits a rule dropping TCP to port on input (the form's defaults for
// hooks, family and action), labelled label when not empty. The form's
// fields, in order: hooks, family, proto, src, dst, sport, dport, iif,
// oif, action, priority, label, enabled.
func (s *tmuxSession) addTCPDropRule(port, label string) {
	s.t.Helper()
	s.keys("a")
	s.waitText("Add a rule", 5*time.Second)
	s.keys("Down", "Down")
	s.literal("tcp")
	s.keys("Down", "Down", "Down", "Down")
	s.literal(port)
	if label != "" {
		s.keys("Down", "Down", "Down", "Down", "Down")
		s.literal(label)
	}
	s.keys("Enter")
}

// deleteNetlensTable removes the nftables table netlens made in ns when
// the test ends.
func deleteNetlensTable(t testing.TB, ns string) {
	t.Cleanup(func() { exec.Command("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "netlens").Run() })
}

// requireTools skips t when a tool it runs is not installed.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test-deps installs it)", tool)
		}
	}
}

// tcpConnects tries n TCP connects to 127.0.0.1:port inside ns, each
// bounded to 1 s, and returns how many succeeded.
func tcpConnects(ns, port string, n int) int {
	ok := 0
	for range n {
		if exec.Command("ip", "netns", "exec", ns, "socat", "-T1", "/dev/null", "TCP:127.0.0.1:"+port+",connect-timeout=1").Run() == nil {
			ok++
		}
	}
	return ok
}

// dropPortViaForm is the start of the filter toggle tests: the listener
// on port (in ns) is on screen and takes connects; the Filters tab's form
// adds a drop rule for it (rule 1, labelled label), which is applied and
// stops them.
func (s *tmuxSession) dropPortViaForm(ns, port, label string) {
	s.t.Helper()
	s.waitFor("the listener", 10*time.Second, func(scr string) bool { return strings.Contains(scr, ":"+port) })
	if got := tcpConnects(ns, port, 2); got != 2 {
		s.t.Fatalf("before any rule: %d of 2 connects succeeded", got)
	}
	s.keys("4")
	s.waitText("backend nft:", 10*time.Second)
	s.addTCPDropRule(port, label)
	s.waitText("add rule 1: applied; press c to keep it", 10*time.Second)
	if got := tcpConnects(ns, port, 2); got != 0 {
		s.t.Fatalf("with the drop rule: %d of 2 connects succeeded", got)
	}
}

// startFilterTUI runs, in a namespace of its own, a TCP listener on port
// and netlens with the nftables backend and no SSH_CONNECTION, in tmux at
// 120x40; the shell prints "EXIT=<status>" when netlens ends. The netlens
// nft table is removed when the test ends. extra are more arguments of
// netlens (no quotes in them).
func startFilterTUI(t *testing.T, port string, extra ...string) (*tmuxSession, string) {
	t.Helper()
	bin := netlensBinary(t)
	ns := testNetns(t)
	script := fmt.Sprintf(`socat TCP-LISTEN:%s,reuseaddr,fork /dev/null &
env -u SSH_CONNECTION %s --filter-backend nft %s
echo "EXIT=$?"
kill %%1
sleep 60`, port, bin, strings.Join(extra, " "))
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s sh -c '%s'", ns, strings.ReplaceAll(script, "'", `'\''`)))
	deleteNetlensTable(t, ns)
	return s, ns
}
