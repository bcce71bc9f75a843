package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"netlens/collectors/sockets"
)

// churn starts testdata/churn.py in netns ns: n sockets of which rate
// change per second. Writing "pause\n" / "go\n" to the returned writer
// stops and restarts the changes.
func churn(tb testing.TB, ns string, n, rate int) io.Writer {
	tb.Helper()
	return churnFor(tb, ns, n, rate, 300)
}

// churnFor is churn for seconds instead of 300.
func churnFor(tb testing.TB, ns string, n, rate, seconds int) io.Writer {
	tb.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "/usr/bin/python3", "testdata/churn.py", fmt.Sprint(n), fmt.Sprint(rate), fmt.Sprint(seconds))
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		tb.Fatalf("churn.py: %q %v", line, err)
	}
	return in
}

// redrawBytes measures, at 120x40 with n sockets of which rate change per
// second: the bytes of a full repaint of the screen (ctrl+l), the mean bytes
// per refresh in steady state, and the bytes written while nothing changes.
//
// keys are typed once the screen is up (e.g. "ooo" sorts by Recv-Q, which
// brings the changing rows onto the screen).
func redrawBytes(tb testing.TB, n, rate int, steady time.Duration, keys string) (full, perRefresh float64, idle, paused int) {
	tb.Helper()
	bin := netlensBinary(tb)
	ns := testNetns(tb)
	ctl := churn(tb, ns, n, rate)
	p, err := startPTY(120, 40, []string{"TERM=xterm-256color", "COLORTERM="}, "ip", "netns", "exec", ns, bin, "--refresh", "1s", "--no-mouse")
	if err != nil {
		tb.Fatal(err)
	}
	defer p.stop()
	p.waitQuiet(1500*time.Millisecond, 10*time.Second) // start-up and first frames
	for _, k := range keys {
		p.send(string(k))
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)

	// Steady state: rate rows change per second.
	start := p.written()
	time.Sleep(steady)
	perRefresh = float64(p.written()-start) / steady.Seconds()

	// Idle: nothing changes; the screen must not be written to. The
	// last changes reach it over the next two refreshes (the rates of the
	// last sends, then none), later than 2 s when the machine is loaded:
	// wait until it has been still for 2.5 refreshes.
	fmt.Fprintln(ctl, "pause")
	p.waitQuiet(2500*time.Millisecond, 15*time.Second)
	start = p.written()
	time.Sleep(5 * time.Second)
	idle = p.written() - start

	// Paused: changes happen, the screen stays still.
	fmt.Fprintln(ctl, "go")
	p.send("p")
	p.waitQuiet(1500*time.Millisecond, 10*time.Second) // the frame that says so
	start = p.written()
	time.Sleep(4 * time.Second)
	paused = p.written() - start
	p.send("p")
	fmt.Fprintln(ctl, "pause")
	p.waitQuiet(2500*time.Millisecond, 15*time.Second)

	// Full repaint of the same (now still) frame.
	start = p.written()
	p.send("\x0c") // ctrl+l
	end := p.waitQuiet(1500*time.Millisecond, 5*time.Second)
	full = float64(end - start)
	return full, perRefresh, idle, paused
}

// TestIntegrationScreenIdleWritesNothing checks the bandwidth behaviour
// that is not a matter of speed: a screen on which nothing changes, and a
// paused screen, write no bytes at all; a changing one writes less than a
// full repaint.
func TestIntegrationScreenIdleWritesNothing(t *testing.T) {
	requireRoot(t)
	full, perRefresh, idle, paused := redrawBytes(t, 1000, 50, 3*time.Second, "")
	t.Logf("120x40, 1000 sockets, 50 change/s: full repaint %.0f B, steady %.0f B/refresh (%.1f%%), idle %d B/5s, paused %d B/4s",
		full, perRefresh, 100*perRefresh/full, idle, paused)
	if idle != 0 {
		t.Errorf("idle screen wrote %d bytes in 5s, want 0", idle)
	}
	if paused != 0 {
		t.Errorf("paused screen wrote %d bytes in 4s, want 0", paused)
	}
	if full < 2000 {
		t.Errorf("full repaint only %.0f bytes: ctrl+l did not repaint", full)
	}
}

// BenchmarkScreenBytes reports the bytes netlens writes to the terminal
// per refresh at 120x40 with 1,000 sockets of which 50 (5%) change per
// second, against a full repaint of the same frame. Run with -benchtime=1x.
func BenchmarkScreenBytes(b *testing.B) {
	requireRoot(b)
	for _, bc := range []struct{ name, keys string }{
		{"sort=local", ""},     // the default view: changes spread over 1,000 rows
		{"sort=recv-q", "ooo"}, // the changing rows are the ones on screen
	} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				full, perRefresh, idle, paused := redrawBytes(b, 1000, 50, 20*time.Second, bc.keys)
				b.ReportMetric(full, "B/full-repaint")
				b.ReportMetric(perRefresh, "B/refresh")
				b.ReportMetric(100*perRefresh/full, "%-of-full")
				b.ReportMetric(float64(idle), "B/idle-5s")
				b.ReportMetric(float64(paused), "B/paused-4s")
			}
		})
	}
}

// BenchmarkTUICPU reports the CPU time the TUI uses over 60 s at a 1 s
// refresh with 10,000 sockets (500 of them changing per second), as a
// percentage of one core: user+system time of the process from
// /proc/PID/stat. Run with -benchtime=1x.
func BenchmarkTUICPU(b *testing.B) {
	requireRoot(b)
	bin := netlensBinary(b)
	ns := testNetns(b)
	churn(b, ns, 10000, 500)
	for range b.N {
		p, err := startPTY(120, 40, []string{"TERM=xterm-256color"}, "ip", "netns", "exec", ns, bin, "--refresh", "1s", "--no-mouse")
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Second) // start-up, owner cache warm-up
		t0, c0 := time.Now(), cpuTicks(b, p.cmd.Process.Pid)
		time.Sleep(60 * time.Second)
		t1, c1 := time.Now(), cpuTicks(b, p.cmd.Process.Pid)
		p.stop()
		const hz = 100 // USER_HZ
		pct := 100 * float64(c1-c0) / hz / t1.Sub(t0).Seconds()
		b.ReportMetric(pct, "%-of-one-core")
	}
}

// BenchmarkTUICPURates is BenchmarkTUICPU run twice at once, side by
// side on the same loaded machine: the TUI with tcp_info and rates, and
// the TUI with --no-tcp-info, each in its own namespace with the same
// churn (10,000 sockets, 500 changing a second), both at 120x40 with a
// 1 s refresh; CPU time of each whole process from /proc/PID/stat over
// the same 60 s. With $NETLENS_CPUPROFILE_DIR set, each writes a Go CPU
// profile there (rates.pprof, norates.pprof). Run with -benchtime=1x.
// With $NETLENS_TCP_SOURCE=sock_diag in the environment (BenchmarkTUICPU
// too), the TUI reads TCP from sock_diag instead of the TCP iterator.
func BenchmarkTUICPURates(b *testing.B) {
	requireRoot(b)
	bin := netlensBinary(b)
	type side struct {
		name  string
		bin   string
		flags []string
		env   []string
		ns    string
		p     *ptyRun
		c0    uint64
	}
	sides := []*side{{name: "rates", bin: bin}, {name: "norates", bin: bin, flags: []string{"--no-tcp-info"}}}
	// TUICPU_AB="OLD NEW" runs two binaries side by side instead, both
	// with rates: a before/after at the same moment.
	if ab := strings.Fields(os.Getenv("TUICPU_AB")); len(ab) == 2 {
		sides = []*side{{name: "a", bin: ab[0]}, {name: "b", bin: ab[1]}}
	}
	// TUICPU_TCP=1 runs the binary twice, both with rates: TCP sockets
	// from the BPF TCP iterator (the default as root) and from sock_diag
	// (NETLENS_TCP_SOURCE=sock_diag).
	if os.Getenv("TUICPU_TCP") != "" {
		sides = []*side{{name: "iter", bin: bin}, {name: "sockdiag", bin: bin, env: []string{sockets.TCPSourceEnv + "=" + sockets.TCPSourceSockDiag}}}
	}
	for _, sd := range sides {
		sd.ns = testNetns(b)
		churn(b, sd.ns, 10000, 500)
	}
	dir := os.Getenv("NETLENS_CPUPROFILE_DIR")
	for range b.N {
		for _, sd := range sides {
			args := append([]string{"netns", "exec", sd.ns, sd.bin, "--refresh", "1s", "--no-mouse"}, sd.flags...)
			if dir != "" {
				args = append(args, "--cpuprofile", filepath.Join(dir, sd.name+".pprof"))
			}
			p, err := startPTY(120, 40, append([]string{"TERM=xterm-256color"}, sd.env...), "ip", args...)
			if err != nil {
				b.Fatal(err)
			}
			sd.p = p
		}
		time.Sleep(10 * time.Second) // start-up, owner cache warm-up
		t0 := time.Now()
		for _, sd := range sides {
			sd.c0 = cpuTicks(b, sd.p.cmd.Process.Pid)
		}
		time.Sleep(60 * time.Second)
		t1 := time.Now()
		for _, sd := range sides {
			c1 := cpuTicks(b, sd.p.cmd.Process.Pid)
			const hz = 100 // USER_HZ
			pct := 100 * float64(c1-sd.c0) / hz / t1.Sub(t0).Seconds()
			b.Logf("%s %s: %.2f%% of one core, load average %s", sd.name, sd.bin, pct, loadavg())
			b.ReportMetric(pct, "%-of-one-core-"+sd.name)
		}
		for _, sd := range sides {
			sd.p.stop()
		}
	}
}

// cpuTicks returns utime+stime of pid in clock ticks.
func cpuTicks(tb testing.TB, pid int) uint64 {
	tb.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	u, _ := strconv.ParseUint(f[11], 10, 64)
	s, _ := strconv.ParseUint(f[12], 10, 64)
	return u + s
}
