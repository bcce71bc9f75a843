package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func runNetlens(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(netlensBinary(t), args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	code = exitCode(t, cmd.Run())
	return o.String(), e.String(), code
}

// exitCode is the exit status a command's Run or Output error says: 0
// for nil, the status of an *exec.ExitError; any other error (the
// command did not run) fails the test.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return 0
}

func TestCLIUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		noStdout bool
	}{
		{name: "version", args: []string{"version"}, stdout: "netlens "},
		{name: "root help", args: []string{"--help"}, stdout: "Usage:\n  netlens [flags]"},
		{name: "snapshot help", args: []string{"snapshot", "--help"}, stdout: "netlens snapshot [flags]"},
		{name: "version help", args: []string{"version", "--help"}, stdout: "netlens version"},
		{name: "unknown subcommand", args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`, noStdout: true},
		{name: "unknown flag", args: []string{"--frobnicate"}, code: 2, stderr: "unknown flag: --frobnicate", noStdout: true},
		{name: "unknown snapshot flag", args: []string{"snapshot", "--bogus"}, code: 2, stderr: "unknown flag: --bogus", noStdout: true},
		{name: "bad flag value", args: []string{"--refresh", "soon"}, code: 2, stderr: "invalid argument", noStdout: true},
		{name: "refresh too short", args: []string{"--refresh", "1ms"}, code: 2, stderr: "too short", noStdout: true},
		{name: "drops help", args: []string{"drops", "--help"}, stdout: "netlens drops [flags]"},
		{name: "drops interval too short", args: []string{"drops", "--interval", "1ms"}, code: 2, stderr: "too short", noStdout: true},
		{name: "drops unknown drop source", args: []string{"drops", "--drop-source", "bogus"}, code: 2, stderr: `drop source "bogus"`, noStdout: true},
		{name: "tui unknown drop source", args: []string{"--drop-source", "bogus"}, code: 2, stderr: `drop source "bogus"`, noStdout: true},
		{name: "flows help", args: []string{"flows", "--help"}, stdout: "netlens flows [flags]"},
		{name: "top help", args: []string{"top", "--help"}, stdout: "netlens top [--json]"},
		{name: "top bad grouping", args: []string{"top", "--by", "host"}, code: 2, stderr: "want process or socket", noStdout: true},
		{name: "top interval too short", args: []string{"top", "--interval", "1ms"}, code: 2, stderr: "too short", noStdout: true},
		{name: "top negative count", args: []string{"top", "--count", "-1"}, code: 2, stderr: "cannot be negative", noStdout: true},
		{name: "capture needs a source", args: []string{"capture"}, code: 2, stderr: "needs --count", noStdout: true},
		{name: "capture ring too large", args: []string{"capture", "-i", "lo", "--count", "1", "--ring-mib", "4096"}, code: 2, stderr: "--ring-mib 4096: want 1 to 1024 MiB", noStdout: true},
		{name: "capture negative ring", args: []string{"capture", "-i", "lo", "--count", "1", "--ring-mib", "-1"}, code: 2, stderr: "--ring-mib -1", noStdout: true},
		{name: "capture bad filter", args: []string{"capture", "--pcap", "/dev/null", "--filter", "port nonsense("}, code: 2, noStdout: true},
		{name: "rules help", args: []string{"rules", "--help"}, stdout: "netlens rules"},
		{name: "rules unknown backend", args: []string{"rules", "list", "--filter-backend", "bogus"}, code: 2, stderr: "unknown filter backend", noStdout: true},
		{name: "pcap and capture together", args: []string{"--pcap", "x.pcap", "--capture", "lo"}, code: 2, stderr: "exclude each other", noStdout: true},
		{name: "revert too short", args: []string{"--revert", "1s"}, code: 2, stderr: "--revert 1s: must be between 5s and 1h", noStdout: true},
		{name: "revert too long", args: []string{"--revert", "2h"}, code: 2, stderr: "must be between 5s and 1h", noStdout: true},
		{name: "rules revert too short", args: []string{"rules", "list", "--revert", "1ms"}, code: 2, stderr: "--revert 1ms: must be between 5s and 1h", noStdout: true},
		{name: "rules revert too long", args: []string{"rules", "add", "--action", "count", "--revert", "2h"}, code: 2, stderr: "must be between 5s and 1h", noStdout: true},
		{name: "rules unknown subcommand", args: []string{"rules", "delet", "5"}, code: 2, stderr: `unknown command "delet" for "netlens rules"; did you mean del?`, noStdout: true},
		{name: "rules bogus", args: []string{"rules", "bogus"}, code: 2, stderr: `unknown command "bogus"`, noStdout: true},
		{name: "rules alone", args: []string{"rules"}, stdout: "Available Commands:"},
		{name: "sysctl unknown subcommand", args: []string{"sysctl", "sett"}, code: 2, stderr: `unknown command "sett" for "netlens sysctl"; did you mean set?`, noStdout: true},
		{name: "help of an unknown topic", args: []string{"help", "frobnicate"}, code: 2, stderr: `unknown help topic "frobnicate"`, noStdout: true},
		{name: "help of an unknown subcommand", args: []string{"help", "rules", "delet"}, code: 2, stderr: `unknown help topic "rules delet"`, noStdout: true},
		{name: "help of a command", args: []string{"help", "rules"}, stdout: "netlens rules [flags]"},
		{name: "completion of an unknown shell", args: []string{"completion", "tcsh"}, code: 2, stderr: `unknown command "tcsh" for "netlens completion"`, noStdout: true},
		{name: "completion bash", args: []string{"completion", "bash"}, stdout: "bash completion"},
		{name: "snapshot timeout 0", args: []string{"snapshot", "--timeout", "0"}, code: 2, stderr: "--timeout 0s: must be positive", noStdout: true},
		{name: "snapshot timeout negative", args: []string{"snapshot", "--timeout", "-1s"}, code: 2, stderr: "--timeout -1s: must be positive", noStdout: true},
		{name: "drops takes no --no-owners", args: []string{"drops", "--no-owners"}, code: 2, stderr: "unknown flag: --no-owners", noStdout: true},
		{name: "drops takes no --filter-backend", args: []string{"drops", "--filter-backend", "nft"}, code: 2, stderr: "unknown flag: --filter-backend", noStdout: true},
		{name: "flows takes no --filter-backend", args: []string{"flows", "--filter-backend", "nft"}, code: 2, stderr: "unknown flag: --filter-backend", noStdout: true},
		{name: "flows takes no --no-owners", args: []string{"flows", "--no-owners"}, code: 2, stderr: "unknown flag: --no-owners", noStdout: true},
		{name: "version takes no --no-owners", args: []string{"version", "--no-owners"}, code: 2, stderr: "unknown flag: --no-owners", noStdout: true},
		{name: "capture unknown interface", args: []string{"capture", "-i", "bogus0", "--count", "1"}, code: 1, stderr: "netlens: capture: no interface bogus0 (there are: ", noStdout: true},
		{name: "drops help gives exit codes", args: []string{"drops", "--help"}, stdout: "Exit status: 0"},
		{name: "flows help gives exit codes", args: []string{"flows", "--help"}, stdout: "Exit status: 0"},
		{name: "capture help gives exit codes", args: []string{"capture", "--help"}, stdout: "Exit status: 0"},
		{name: "rules help gives exit codes", args: []string{"rules", "--help"}, stdout: "Exit status: 0"},
		{name: "root help gives exit codes", args: []string{"--help"}, stdout: "Exit status: 0"},
		{name: "snapshot help gives exit codes", args: []string{"snapshot", "--help"}, stdout: "Exit status: 0 when"},
		{name: "extra argument", args: []string{"version", "x"}, code: 2, stderr: "takes no arguments", noStdout: true},
		{name: "netns help", args: []string{"netns", "--help"}, stdout: "netlens netns [flags]"},
		{name: "netns extra argument", args: []string{"netns", "x"}, code: 2, stderr: "takes no arguments", noStdout: true},
		{name: "bad netns selector", args: []string{"--netns", "pid:zero", "flows"}, code: 2, stderr: "pid:zero", noStdout: true},
		{name: "diff one file", args: []string{"diff", "a.json"}, code: 2, stderr: "diff needs two snapshot files", noStdout: true},
		{name: "diff missing files", args: []string{"diff", "/nonexistent/a.json", "/nonexistent/b.json"}, code: 2, stderr: "no such file", noStdout: true},
		{name: "record needs dir", args: []string{"record"}, code: 2, stderr: "record needs --dir", noStdout: true},
		{name: "record interval too short", args: []string{"record", "--dir", ".", "--interval", "1ms"}, code: 2, stderr: "too short", noStdout: true},
		{name: "record keep 0", args: []string{"record", "--dir", ".", "--keep", "0"}, code: 2, stderr: "--keep must be at least 1", noStdout: true},
		{name: "diff without open", args: []string{"--diff", "b.json"}, code: 2, stderr: "--diff needs --open", noStdout: true},
		{name: "sysctl set no-revert with revert", args: []string{"sysctl", "set", "net.ipv4.ip_forward=1", "--no-revert", "--revert", "10s"}, code: 2, stderr: "--no-revert and --revert exclude each other", noStdout: true},
		{name: "rules no-revert with revert", args: []string{"rules", "add", "--action", "count", "--no-revert", "--revert", "10s"}, code: 2, stderr: "--no-revert and --revert exclude each other", noStdout: true},
		{name: "capture negative count", args: []string{"capture", "-i", "lo", "--count", "-1", "--duration", "1s"}, code: 2, stderr: "--count -1 --duration 1s: want a number of packets and a time, not negative", noStdout: true},
		{name: "serve max-instances zero", args: []string{"serve", "--max-instances", "0"}, code: 2, stderr: "--max-instances 0: want at least 1", noStdout: true},
		{name: "tui pcap missing", args: []string{"--pcap", "/nonexistent.pcap"}, code: 1, stderr: "open /nonexistent.pcap: no such file or directory", noStdout: true},
		{name: "tui pcap not a pcap", args: []string{"--pcap", "README.md"}, code: 1, stderr: "read README.md: not a pcap or pcapng file", noStdout: true},
		{name: "capture pcap not a pcap", args: []string{"capture", "--pcap", "README.md"}, code: 1, stderr: "read README.md: not a pcap or pcapng file", noStdout: true},
		{name: "record negative max-bytes", args: []string{"record", "--dir", ".", "--max-bytes", "-5"}, code: 2, stderr: "--max-bytes -5: want a number of bytes, or 0 for no limit", noStdout: true},
		{name: "tui record keep 0", args: []string{"--record-keep", "0"}, code: 2, stderr: "--record-keep must be at least 1", noStdout: true},
		{name: "tui record interval too short", args: []string{"--record-interval", "1ms"}, code: 2, stderr: "--record-interval 1ms is too short", noStdout: true},
		{name: "tui record negative max-bytes", args: []string{"--record-max-bytes", "-1"}, code: 2, stderr: "--record-max-bytes -1", noStdout: true},
		{name: "drops negative count", args: []string{"drops", "--count", "-1"}, code: 2, stderr: "--count -1: want a number of samples, or 0", noStdout: true},
		{name: "drops trace negative count", args: []string{"drops", "--trace", "--count", "-1"}, code: 2, stderr: "--count -1", noStdout: true},
		{name: "open missing file", args: []string{"--open", "/nonexistent.json"}, code: 2, stderr: "no such file", noStdout: true},
		{name: "serve bad listen", args: []string{"serve", "--listen", "256.0.0.1:1"}, code: 2, stderr: "--listen 256.0.0.1:1", noStdout: true},
		{name: "serve refresh too short", args: []string{"serve", "--refresh", "1ms"}, code: 2, stderr: "too short", noStdout: true},
		{name: "sysctl help gives exit codes", args: []string{"sysctl", "--help"}, stdout: "Exit status: 0"},
		{name: "sysctl set without value", args: []string{"sysctl", "set", "net.ipv4.ip_forward"}, code: 2, stderr: "want NAME=VALUE", noStdout: true},
		{name: "sysctl set outside net", args: []string{"sysctl", "set", "kernel.panic=1"}, code: 2, stderr: "only net.* sysctls", noStdout: true},
		{name: "sysctl set revert too short", args: []string{"sysctl", "set", "net.ipv4.ip_forward=1", "--revert", "1s"}, code: 2, stderr: "must be between 5s and 1h", noStdout: true},
		{name: "sysctl set two args", args: []string{"sysctl", "set", "a=1", "b=2"}, code: 2, stderr: "accepts 1 arg", noStdout: true},
		{name: "serve max-netns zero", args: []string{"serve", "--netns", "all", "--max-netns", "0"}, code: 2, stderr: "--max-netns 0: want at least 1", noStdout: true},
		{name: "serve netns all bad web config", args: []string{"serve", "--netns", "all", "--listen", "127.0.0.1:0", "--web.config.file", "/nonexistent"}, code: 1, stderr: "--web.config.file /nonexistent", noStdout: true},
		{name: "netns all outside serve", args: []string{"snapshot", "--netns", "all"}, code: 2, stderr: "--netns all (every namespace) is for netlens serve", noStdout: true},
		{name: "drops trace with another drop source", args: []string{"drops", "--trace", "--drop-source", "netdm"}, code: 2, stderr: "--drop-source netdm does not apply", noStdout: true},
		{name: "drops trace unknown drop source", args: []string{"drops", "--trace", "--drop-source", "bogus"}, code: 2, stderr: `drop source "bogus"`, noStdout: true},
		{name: "capture interface and pcap", args: []string{"capture", "-i", "lo", "--count", "1", "--pcap", "/dev/null"}, code: 2, stderr: "exclude each other", noStdout: true},
		{name: "netns help gives exit codes", args: []string{"netns", "--help"}, stdout: "Exit status: 0"},
		{name: "version help gives exit codes", args: []string{"version", "--help"}, stdout: "Exit status: 0"},
		{name: "diff with netns", args: []string{"diff", "--netns", "nosuch", "a.json", "b.json"}, code: 2, stderr: "--netns does not apply", noStdout: true},
		{name: "open with netns", args: []string{"--open", "a.json", "--netns", "inode:1"}, code: 2, stderr: "--netns does not apply", noStdout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runNetlens(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, errOut)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout %q does not contain %q", out, tt.stdout)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.stderr)
			}
			if strings.HasPrefix(tt.name, "unknown") && !strings.Contains(errOut, "Usage:") {
				t.Errorf("usage error without usage: %q", errOut)
			}
			if tt.noStdout && out != "" {
				t.Errorf("stdout not empty: %q", out)
			}
		})
	}
}

// TestTUINeedsTerminal: the TUI (live or --open) started without a
// terminal (stdin /dev/null, no controlling terminal: cron, ssh without
// -t) exits 1 saying it needs one and what to use instead (it said
// "bubbletea: error opening TTY: ...").
func TestTUINeedsTerminal(t *testing.T) {
	for _, args := range [][]string{{"--filter-backend", "none"}, {"--open", "ui/testdata/offline-a.json"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := exec.Command(netlensBinary(t), args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no controlling terminal
			var o, e bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &e
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want 1; stderr %q", err, e.String())
			}
			if want := "netlens: the TUI needs a terminal"; !strings.HasPrefix(e.String(), want) || !strings.Contains(e.String(), "netlens snapshot") {
				t.Errorf("stderr %q, want %q... naming the commands for scripts", e.String(), want)
			}
		})
	}
}

func validateSnapshot(t *testing.T, b []byte) map[string]any {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("docs/snapshot.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not JSON: %v\n%.500s", err, b)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("snapshot does not validate: %v", err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func collectorStates(m map[string]any) map[string]string {
	states := map[string]string{}
	cs, _ := m["collectors"].([]any)
	for _, c := range cs {
		c := c.(map[string]any)
		r, _ := c["reason"].(string)
		states[c["name"].(string)] = c["state"].(string) + " " + r
	}
	return states
}

func TestSnapshotCommand(t *testing.T) {
	out, errOut, code := runNetlens(t, "snapshot")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m := validateSnapshot(t, []byte(out))
	states := collectorStates(m)
	for _, name := range []string{"sockets", "counters", "sysctl", "qdisc", "links", "conntrack", "filters", "nftables"} {
		if !strings.HasPrefix(states[name], "ok") {
			t.Errorf("collector %s: %q", name, states[name])
		}
	}
	// Drop reasons come from one source: the eBPF tracer where it is
	// permitted (as root on this kernel), else the drop monitor, which
	// exists only where the kernel has it; where it does not, the
	// snapshot says so.
	if st, ok := states["droptrace"]; ok {
		if !strings.HasPrefix(st, "ok") {
			t.Errorf("collector droptrace: %q", st)
		}
		if dt, _ := m["drop_trace"].(map[string]any); dt["supported"] != true {
			t.Errorf("drop_trace: %v", dt)
		}
	} else if st := states["dropmon"]; !strings.HasPrefix(st, "ok") && !strings.Contains(st, "kernel has no drop monitor") {
		t.Errorf("collector dropmon: %q", st)
	}
	if n := len(m["counters"].([]any)); n < 100 {
		t.Errorf("only %d counters", n)
	}
	if n := len(m["sysctls"].([]any)); n < 100 {
		t.Errorf("only %d sysctls", n)
	}
	// Every interface, lo first (index 1), with its counters.
	if ifs, _ := m["interfaces"].([]any); len(ifs) == 0 || ifs[0].(map[string]any)["name"] != "lo" {
		t.Errorf("interfaces: %.300v, want lo first", m["interfaces"])
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "snap.json")
	if _, errOut, code := runNetlens(t, "snapshot", "-o", file); code != 0 {
		t.Fatalf("snapshot -o: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	validateSnapshot(t, b)
}

// TestSnapshotNoCollectorSucceeded: a snapshot in which no collector
// succeeded (each given 1ns) exits 1, and the file is still written with
// every status filled.
func TestSnapshotNoCollectorSucceeded(t *testing.T) {
	file := filepath.Join(t.TempDir(), "snap.json")
	_, errOut, code := runNetlens(t, "snapshot", "--timeout", "1ns", "-o", file)
	if code != 1 || !strings.Contains(errOut, "no collector succeeded") {
		t.Errorf("exit %d, stderr %q; want 1 and \"no collector succeeded\"", code, errOut)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	states := collectorStates(validateSnapshot(t, b))
	if len(states) == 0 {
		t.Fatal("no collector statuses")
	}
	for name, st := range states {
		if !strings.HasPrefix(st, "error timed out after 1ns") {
			t.Errorf("%s: %q, want a timeout", name, st)
		}
	}
}

// TestIntegrationFilterBackendByName: a backend asked for by name that is
// unavailable (here the kernel module, which this kernel cannot load)
// exits 1 with the reason and how to load it; auto falls back.
func TestIntegrationFilterBackendByName(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/sys/module/netlens"); err == nil {
		t.Fatal("the netlens module is loaded here; this test needs it absent")
	}
	for _, args := range [][]string{
		{"rules", "list", "--filter-backend", "kmod"},
		{"snapshot", "--filter-backend", "kmod", "-o", os.DevNull},
	} {
		_, errOut, code := runNetlens(t, args...)
		if code != 1 || !strings.Contains(errOut, "--filter-backend kmod: kmod:") || !strings.Contains(errOut, "modprobe netlens") {
			t.Errorf("%q: exit %d, stderr %q; want 1, the reason and how to load the module", args, code, errOut)
		}
	}
	if out, errOut, code := runNetlens(t, "rules", "list", "--filter-backend", "auto"); code != 0 || !strings.Contains(out, "backend: ") {
		t.Errorf("auto: exit %d, %q %q; want the fallback", code, out, errOut)
	}
}

func TestSnapshotCommandBadPath(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{
		filepath.Join(dir, "missing", "snap.json"),
		filepath.Join("/proc", "snap.json"), // not writable, even for root
	} {
		out, errOut, code := runNetlens(t, "snapshot", "-o", path)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", path, code)
		}
		if lines := strings.Count(strings.TrimSpace(errOut), "\n") + 1; lines != 1 || !strings.Contains(errOut, path) {
			t.Errorf("%s: want a one-line error naming the path, got %q", path, errOut)
		}
		if out != "" {
			t.Errorf("%s: stdout %q", path, out)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s exists", path)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("leftovers: %v", ents)
	}
}

// TestRecordDirKernelFS: `record --dir /proc` (or /sys) exits 1 at
// once with a one-line error saying no file can be created there, even
// for root, whose permission bits pass (it used to start, and fail at
// its first snapshot).
func TestRecordDirKernelFS(t *testing.T) {
	for _, tt := range []struct{ dir, fs string }{{"/proc", "proc"}, {"/sys", "sysfs"}} {
		t.Run(tt.dir, func(t *testing.T) {
			out, errOut, code := runNetlens(t, "record", "--dir", tt.dir, "--interval", "1s")
			want := "netlens: record: " + tt.dir + ": not writable: permission denied"
			if os.Geteuid() == 0 {
				want = "netlens: record: " + tt.dir + ": cannot create a file there: a " + tt.fs + " file system, not storage ("
			}
			if code != 1 || !strings.HasPrefix(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 1 and %q... on one line", code, errOut, want)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
		})
	}
}

// TestIntegrationSnapshotAsNobody runs `netlens snapshot` with no
// privileges: it still writes a valid snapshot, and every collector that
// could not run says why.
func TestIntegrationSnapshotAsNobody(t *testing.T) {
	requireRoot(t)
	bin := netlensBinary(t)
	dir, err := os.MkdirTemp("", "netlens-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	file := filepath.Join(dir, "nobody.json")
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
		bin, "snapshot", "-o", file)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("snapshot as nobody: %v: %s", err, out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := validateSnapshot(t, b)
	states := collectorStates(m)
	for name, st := range states {
		state, reason, _ := strings.Cut(st, " ")
		if state != "ok" && reason == "" {
			t.Errorf("collector %s is %s without a reason", name, state)
		}
	}
	if !strings.HasPrefix(states["sockets"], "ok") || !strings.HasPrefix(states["counters"], "ok") {
		t.Errorf("sockets and counters must work without privileges: %v", states)
	}
	if len(m["sockets"].([]any)) == 0 {
		t.Errorf("no sockets as nobody")
	}
	t.Logf("collector states as nobody: %v", states)
}

// TestIntegrationDropsCommand runs `netlens drops --json` in a namespace
// while UDP datagrams go to a closed port there: a sample shows Udp
// NoPorts moving by them at the transport layer.
func TestIntegrationDropsCommand(t *testing.T) {
	bin := netlensBinary(t)
	ns := testNetns(t)
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "drops", "--json", "--interval", "1s", "--count", "4")
	lines, moved := dropsNoPorts(t, cmd, func() {
		send := exec.Command("ip", "netns", "exec", ns, "/usr/bin/python3", "-c",
			"import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(20): s.sendto(b'x',('127.0.0.1',9))")
		if b, err := send.CombinedOutput(); err != nil {
			t.Fatalf("send: %v: %s", err, b)
		}
	})
	if len(lines) != 4 {
		t.Fatalf("want 4 JSON lines, got %d:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if moved != 20 {
		t.Errorf("Udp NoPorts moved by %d over the samples, want 20:\n%s", moved, strings.Join(lines, "\n"))
	}
}

// dropsNoPorts runs cmd, a `netlens drops --json --interval 1s --count
// N` reading a namespace, calls send once its first sample is out, and
// returns its JSON lines and how far Udp NoPorts moved over them (each
// time at the transport layer). The baseline is then read before send,
// and send has N-1 intervals to land before the last sample whatever the
// load: a fixed wait after the start (1.5 s) could end before the
// baseline of a slow start, or leave a slow sender after the last
// sample.
func dropsNoPorts(t *testing.T, cmd *exec.Cmd, send func()) (lines []string, moved uint64) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if lines = append(lines, sc.Text()); len(lines) == 1 {
			send()
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("drops: %v: %s", err, errOut.String())
	}
	for _, line := range lines {
		var s struct {
			Counters []struct {
				Layer, Group, Name string
				Delta              uint64
			}
		}
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		for _, c := range s.Counters {
			if c.Group == "Udp" && c.Name == "NoPorts" {
				if c.Layer != "transport" {
					t.Errorf("Udp NoPorts at layer %q", c.Layer)
				}
				moved += c.Delta
			}
		}
	}
	return lines, moved
}

// TestDropsInterrupted: Ctrl-C before the first sample is a normal end of
// `netlens drops`: exit 0, nothing on stderr.
func TestDropsInterrupted(t *testing.T) {
	cmd := exec.Command(netlensBinary(t), "drops", "--interval", "10s")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the baseline is taken, the first sample is 10s away
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || e.Len() != 0 {
			t.Errorf("drops interrupted before its first sample: %v, stderr %q; want exit 0 and nothing", err, e.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatal("drops did not end 15s after SIGINT")
	}
}

// TestIntegrationDropsExplicitSourceUnavailable runs `netlens drops` as
// nobody with a drop source named that needs privileges: it fails (exit
// 1) naming the source and what it lacks, instead of printing counters
// and exiting 0; auto, on the same account, still samples.
func TestIntegrationDropsExplicitSourceUnavailable(t *testing.T) {
	requireRoot(t)
	bin := netlensBinary(t)
	run := func(src string) (string, string, int) {
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
			bin, "drops", "--drop-source", src, "--interval", "100ms", "--count", "1")
		cmd.Dir = "/"
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		code := exitCode(t, cmd.Run())
		return o.String(), e.String(), code
	}
	for _, tt := range []struct{ src, want string }{
		{"ebpf", "--drop-source ebpf: the eBPF drop tracer cannot run here"},
		{"netdm", "--drop-source netdm: the kernel's drop monitor cannot run here"},
	} {
		out, errOut, code := run(tt.src)
		if code != 1 || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("drops --drop-source %s as nobody: exit %d, stdout %q, stderr %q; want exit 1, no output, stderr naming %q",
				tt.src, code, out, errOut, tt.want)
		}
	}
	if out, errOut, code := run("auto"); code != 0 || out == "" {
		t.Errorf("drops --drop-source auto as nobody: exit %d, stdout %q, stderr %q; want a sample and exit 0", code, out, errOut)
	}
}
