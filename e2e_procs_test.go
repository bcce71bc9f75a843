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

	"netlens/internal/netnstest"
)

// startPacedTraffic runs, in namespace ns, a socat receiver on port and a
// sender (a copy of socat named nlsend, so that it is a process of its
// own name) writing about 1 MB/s to it for up to two minutes. With a
// container ID, both run in a cgroup of Docker's shape
// (docker-ID.scope) that the test makes.
func startPacedTraffic(t *testing.T, ns string, port int, container string) {
	t.Helper()
	requireTools(t, "socat")
	dir := t.TempDir()
	socat, err := exec.LookPath("socat")
	if err != nil {
		t.Fatal(err)
	}
	send := filepath.Join(dir, "nlsend")
	if out, err := exec.Command("cp", socat, send).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	script := fmt.Sprintf(`socat -u TCP-LISTEN:%d,reuseaddr OPEN:/dev/null &
sleep 0.3
i=0; while [ $i -lt 6000 ]; do head -c 20000 /dev/zero; sleep 0.02; i=$((i+1)); done | %s -u - TCP:127.0.0.1:%d`, port, send, port)
	cmd := exec.Command("ip", "netns", "exec", ns, "sh", "-c", script)
	if container != "" {
		// The shell joins the cgroup before it starts anything (nsenter,
		// not ip netns exec, which mounts a /sys without the cgroup
		// tree); when the test ends, cgroup.kill ends all it started.
		cmd = exec.Command("nsenter", "--net=/run/netns/"+ns, "sh", "-c", script)
		var dir string
		dir = netnstest.MakeCgroup(t, fmt.Sprintf("/netlens-test-%d.slice/docker-%s.scope", os.Getpid(), container), func() {
			_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0o644)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		cmd.Args[len(cmd.Args)-1] = "echo $$ > " + filepath.Join(dir, "cgroup.procs") + " || exit 1\n" + script
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// procRow matches a row of the process view: name, container (when the
// column shows: "-" or a 12-digit ID), PIDs, connections, Rx/s, Tx/s
// (rates as the TUI prints them: "-", "512", "12.5k", "1.0M").
func procRow(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + name + `\s+(?:(-|[0-9a-f]{12})\s+)?\d[\d,+]*\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)`)
}

// rateOf parses a rate cell ("1.0M", "980.5k", "512") into bytes per second.
func rateOf(s string) float64 {
	mult := 1.0
	switch s[len(s)-1] {
	case 'k':
		mult, s = 1e3, s[:len(s)-1]
	case 'M':
		mult, s = 1e6, s[:len(s)-1]
	case 'G':
		mult, s = 1e9, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return v * mult
}

// checkProcessView presses P in a session showing netlens in a namespace
// with startPacedTraffic running, and waits for the sender's and the
// receiver's rows to carry the paced rate (and the container's short ID,
// when they run in one), and for the sparkline.
func checkProcessView(t *testing.T, s *tmuxSession, container string) {
	t.Helper()
	s.waitText("[sockets]", 20*time.Second)
	s.keys("P")
	s.waitText("[processes]", 5*time.Second)
	ok := func(scr string) bool {
		snd, rcv := procRow("nlsend").FindStringSubmatch(scr), procRow("socat").FindStringSubmatch(scr)
		if snd == nil || rcv == nil {
			return false
		}
		if container != "" && (snd[1] != container[:12] || rcv[1] != container[:12]) {
			return false
		}
		tx, rx := rateOf(snd[4]), rateOf(rcv[3])
		// About 1 MB/s, paced by a shell loop: loosely.
		return tx > 100e3 && tx < 1.5e6 && rx > 100e3 && rx < 1.5e6
	}
	scr := s.waitFor("nlsend sending and socat receiving about 1 MB/s", 20*time.Second, ok)
	// The process view sorts by total rate: the two busy processes first.
	rows := regexp.MustCompile(`(?m)^(nlsend|socat)\s`).FindAllStringIndex(scr, -1)
	if len(rows) != 2 {
		t.Fatalf("want the nlsend and socat rows:\n%s", scr)
	}
	// A few refreshes later the sparkline has several samples.
	scr = s.waitFor("a sparkline of several samples", 10*time.Second, func(scr string) bool {
		m := regexp.MustCompile(`(?m)^nlsend\s.*\s([.:\-=+*#@]{3,})\s*$`).FindStringSubmatch(scr)
		return m != nil
	})
	t.Logf("process view:\n%s", scr)
	s.keys("Enter")
	s.waitText("TCP connections (1 with a rate this refresh)", 5*time.Second)
	s.keys("P")
	s.waitText("[sockets]", 5*time.Second)
}

// TestIntegrationE2EProcessViewTmux shows the process view (P) of the
// real binary in a real terminal while two processes in a container's
// cgroup move data over loopback: their rows name the container.
func TestIntegrationE2EProcessViewTmux(t *testing.T) {
	requireTmux(t)
	ns := testNetns(t)
	// The two processes run in a cgroup shaped like a Docker container's.
	container := strings.Repeat("c0ffee42", 8)
	startPacedTraffic(t, ns, 47811, container)
	bin := netlensBinary(t)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("exec ip netns exec %s %s --ascii", ns, bin))
	checkProcessView(t, s, container)
	s.keys("q")
}

// TestIntegrationE2EProcessViewSSH is the same over a real SSH session to
// the real sshd on loopback.
func TestIntegrationE2EProcessViewSSH(t *testing.T) {
	requireTmux(t)
	sshd := startSSHD(t)
	ns := testNetns(t)
	startPacedTraffic(t, ns, 47812, "")
	bin := netlensBinary(t)
	remote := fmt.Sprintf("exec ip netns exec %s %s --ascii", ns, bin)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, "exec "+sshd.sshCommand("root", nil, remote))
	checkProcessView(t, s, "")
	s.keys("q")
}
