package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"netlens/collectors/sockets"
	"netlens/model"
)

// topLine is the part of a `netlens top --json` line (cli.topInterval)
// the integration test reads.
type topLine struct {
	Source    string              `json:"source"`
	Processes []model.ProcessRate `json:"processes"`
	Sockets   []struct {
		Rate model.SocketRate `json:"rate"`
	} `json:"sockets"`
}

// TestIntegrationTopCommand runs `netlens top` in a namespace where socat
// sends about 1 MB/s over loopback to another socat.
func TestIntegrationTopCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace; run as root as CI does")
	}
	requireTools(t, "socat")
	ns := fmt.Sprintf("nltop-%d", time.Now().UnixNano()%1e6)
	mustRun := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	mustRun("ip", "netns", "add", ns)
	t.Cleanup(func() {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, pid := range strings.Fields(string(out)) {
			_ = exec.Command("kill", "-9", pid).Run()
		}
		_ = exec.Command("ip", "netns", "del", ns).Run()
	})
	mustRun("ip", "-n", ns, "link", "set", "lo", "up")
	script := `socat -u TCP-LISTEN:47801,reuseaddr OPEN:/dev/null &
sleep 0.3
i=0; while [ $i -lt 2000 ]; do head -c 20000 /dev/zero; sleep 0.02; i=$((i+1)); done | socat -u - TCP:127.0.0.1:47801`
	sender := exec.Command("ip", "netns", "exec", ns, "sh", "-c", script)
	if err := sender.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sender.Process.Kill(); _ = sender.Wait() })
	time.Sleep(time.Second)
	for _, by := range []string{"process", "socket"} {
		out, err := exec.Command("ip", "netns", "exec", ns, netlensBinary(t), "top", "--json", "--count", "2", "--interval", "1s", "--by", by).Output()
		if err != nil {
			t.Fatalf("netlens top --by %s: %v", by, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 2 {
			t.Fatalf("--by %s: %d lines, want 2:\n%s", by, len(lines), out)
		}
		var iv topLine
		if err := json.Unmarshal([]byte(lines[1]), &iv); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(iv.Source, sockets.SourceSockDiag) {
			t.Fatalf("source %q", iv.Source)
		}
		var rx, tx float64
		for _, p := range iv.Processes {
			if p.Comm == "socat" {
				rx, tx = p.RxBps, p.TxBps
				if len(p.PIDs) != 2 {
					t.Errorf("socat PIDs %v, want the sender and the receiver", p.PIDs)
				}
			}
		}
		for _, s := range iv.Sockets {
			rx, tx = rx+s.Rate.RxBps, tx+s.Rate.TxBps
		}
		// Paced by the shell's sleep, so loosely: 20 kB every >= 20 ms.
		t.Logf("--by %s: rx %.0f B/s, tx %.0f B/s", by, rx, tx)
		if tx < 100e3 || tx > 1.1e6 || rx < 0.8*tx || rx > 1.2*tx {
			t.Errorf("--by %s: rx %.0f B/s, tx %.0f B/s; want equal and between 100 kB/s and 1.1 MB/s\n%s", by, rx, tx, out)
		}
	}
}
