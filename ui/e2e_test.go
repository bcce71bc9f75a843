package ui

import (
	"bytes"
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

// tmuxSession drives a program in a tmux server of its own.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) capture() string { return s.run("capture-pane", "-p", "-t", "e2e") }

func (s *tmuxSession) keys(ks ...string) { s.run(append([]string{"send-keys", "-t", "e2e"}, ks...)...) }

// waitFor waits up to 20s for the screen to contain want.
func (s *tmuxSession) waitFor(want string) string {
	s.t.Helper()
	return s.waitUntil("show "+strconv.Quote(want), func(scr string) bool { return strings.Contains(scr, want) })
}

// waitGone waits up to 20s for the screen to lose text.
func (s *tmuxSession) waitGone(text string) {
	s.t.Helper()
	s.waitUntil("lose "+strconv.Quote(text), func(scr string) bool { return !strings.Contains(scr, text) })
}

func (s *tmuxSession) waitUntil(what string, ok func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		scr := s.capture()
		if ok(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen did not %s:\n%s", what, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// buildDemo builds ui/internal/uidemo once per test binary.
func buildDemo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "uidemo")
	cmd := exec.Command("go", "build", "-o", bin, "./internal/uidemo")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build uidemo: %v\n%s", err, out)
	}
	return bin
}

// TestEndToEndTmux runs the TUI (on the synthetic store of uidemo) in a
// real terminal: tmux at 100x30. It switches tabs, filters, saves a
// snapshot, shrinks the terminal below 80x24 and back, quits, and checks
// that the program exited 0 and wrote only ASCII; then it checks the
// bytes written under TERM=linux and NO_COLOR.
func TestEndToEndTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; -short")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (apt-get install tmux)")
	}
	bin := buildDemo(t)

	start := func(t *testing.T, env string) (*tmuxSession, string, string) {
		dir := t.TempDir()
		s := &tmuxSession{t: t, socket: fmt.Sprintf("netlens-ui-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())}
		t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
		exitFile := filepath.Join(dir, "exit")
		rawFile := filepath.Join(dir, "raw")
		// The pane starts a shell-less sleep so that the output pipe is in
		// place before netlens draws its first byte.
		script := fmt.Sprintf("sleep 0.3; env -u TMUX %s %s -sockets 200 -churn 0 -snapshot-dir %s; echo $? > %s; sleep 30",
			env, bin, dir, exitFile)
		s.run("new-session", "-d", "-s", "e2e", "-x", "100", "-y", "30", script)
		s.run("pipe-pane", "-t", "e2e", "-o", "cat > "+rawFile)
		return s, dir, rawFile
	}
	waitExit := func(t *testing.T, dir string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			b, err := os.ReadFile(filepath.Join(dir, "exit"))
			if err == nil && len(b) > 0 {
				if got := strings.TrimSpace(string(b)); got != "0" {
					t.Fatalf("exit status %s", got)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("netlens did not exit after q")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// quitASCII presses q, waits for exit status 0 and returns what the
	// program wrote, which must be ASCII only, except, when blocks is
	// set, the block elements of the Drops tab's sparklines (U+2581 to
	// U+2588, drawn where TERM and the locale allow: DetectGlyphs).
	quitASCII := func(t *testing.T, s *tmuxSession, dir, raw string, blocks bool) []byte {
		t.Helper()
		s.keys("q")
		waitExit(t, dir)
		out, err := os.ReadFile(raw)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.IndexFunc(out, func(r rune) bool { return r > 0x7e && !(blocks && r >= 0x2581 && r <= 0x2588) }); i >= 0 {
			t.Errorf("non-ASCII output at byte %d: %q", i, out[max(i-20, 0):min(i+20, len(out))])
		}
		return out
	}

	t.Run("session", func(t *testing.T) {
		s, dir, raw := start(t, "TERM=xterm-256color LC_ALL= LANG=C.UTF-8")
		s.waitFor("1 Connections")
		s.waitFor("200 sockets: 200 ESTAB")
		s.keys("2")
		s.waitFor("counters moved since start")
		s.keys("3")
		s.waitFor("sysctls, 2 watched")
		s.keys("5")
		s.waitFor("Capture is off")
		s.keys("6")
		s.waitFor("0 interfaces, 0 up")
		// Tab wraps round from the last tab (IPsec).
		s.keys("7")
		s.waitFor("[SAs 0]")
		s.keys("tab")
		s.waitFor("200 sockets")
		// The flows view says why conntrack is down; v comes back round.
		s.keys("v")
		s.waitFor("needs CAP_NET_ADMIN")
		s.waitFor("cap_net_admin+ep")
		s.keys("v")
		s.waitFor("[joined] 200 sockets")
		s.keys("v")
		s.waitFor("[sockets] 200 sockets")
		s.keys("/", "10.1.0.42:", "Enter")
		scr := s.waitFor("1 of 200 shown")
		if !strings.Contains(scr, "10.1.0.42:20042") || strings.Contains(scr, "10.1.0.43:") {
			t.Fatalf("filter did not narrow the table:\n%s", scr)
		}
		s.keys("Escape")
		// Wait for the escape to land alone: ESC and the next key in one
		// read are alt+key.
		s.waitGone("filter: 10.1.0.42")
		s.keys("s")
		scr = s.waitFor("snapshot saved: ")
		m := regexp.MustCompile(`snapshot saved: (\S+)`).FindStringSubmatch(scr)
		if m == nil {
			t.Fatalf("no path:\n%s", scr)
		}
		if _, err := os.Stat(m[1]); err != nil {
			t.Fatalf("snapshot file: %v", err)
		}
		s.run("resize-window", "-t", "e2e", "-x", "70", "-y", "20")
		s.waitFor("need 80x24, have 70x20")
		s.run("resize-window", "-t", "e2e", "-x", "100", "-y", "30")
		s.waitFor("200 sockets")
		quitASCII(t, s, dir, raw, true)
	})

	// A conntrack table that is full: the banner on every tab, the flows
	// and the netfilter section, on the Linux console's 16 colours.
	t.Run("table full", func(t *testing.T) {
		dir := t.TempDir()
		s := &tmuxSession{t: t, socket: fmt.Sprintf("netlens-ui-e2e-full-%d-%d", os.Getpid(), time.Now().UnixNano())}
		t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
		script := fmt.Sprintf("sleep 0.3; env -u TMUX TERM=linux %s -sockets 100 -flows 100 -table-full -churn 0 -snapshot-dir %s; echo $? > %s; sleep 30",
			bin, dir, filepath.Join(dir, "exit"))
		s.run("new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24", script)
		s.waitFor("CONNTRACK TABLE FULL 262144/262144")
		s.keys("v")
		s.waitFor("[flows] 110 flows")
		s.keys("v")
		s.waitFor("[joined] 100 sockets, 100 with a conntrack flow")
		s.keys("2")
		scr := s.waitFor("rate/s  drop")
		if !regexp.MustCompile(`Netfilter\s+conntrack 262144/262144 .*TABLE FULL`).MatchString(scr) || !strings.Contains(scr, "counters moved since start") {
			t.Fatalf("drops tab:\n%s", scr)
		}
		s.keys("q")
		waitExit(t, dir)
	})

	colour := regexp.MustCompile(`\x1b\[[0-9;]*m`)
	// The Linux console gets no block elements even in a UTF-8 locale;
	// NO_COLOR is about colours only, so it keeps them.
	for _, tt := range []struct {
		name, env string
		blocks    bool
		ok        func(sgr string) bool
	}{
		{"TERM=linux", "TERM=linux LC_ALL= LANG=C.UTF-8", false, func(sgr string) bool { return !strings.Contains(sgr, "38;") && !strings.Contains(sgr, "48;") }},
		{"NO_COLOR", "TERM=xterm-256color LC_ALL= LANG=C.UTF-8 NO_COLOR=1", true, func(sgr string) bool {
			return !regexp.MustCompile(`[\[;](3[0-8]|4[0-8]|9[0-7]|10[0-7])[;m]`).MatchString(sgr)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, dir, raw := start(t, tt.env)
			s.waitFor("1 Connections")
			s.keys("2", "a")
			s.waitFor("counters (")
			// Wait for a sample that moved: its sparkline is drawn.
			time.Sleep(2500 * time.Millisecond)
			s.keys("3", "?")
			s.waitFor("reverse sort")
			out := quitASCII(t, s, dir, raw, tt.blocks)
			if hasBlocks := bytes.ContainsRune(out, 0x2588); hasBlocks != tt.blocks {
				t.Errorf("%s: full block drawn %v, want %v", tt.name, hasBlocks, tt.blocks)
			}
			seqs := colour.FindAllString(string(out), -1)
			if len(seqs) == 0 {
				t.Fatal("no SGR sequences at all")
			}
			for _, sgr := range seqs {
				if !tt.ok(sgr) {
					t.Fatalf("%s: unexpected %q", tt.name, sgr)
				}
			}
		})
	}
}
