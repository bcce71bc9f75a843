package sockets

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// sockEnv is a pair of network namespaces joined by a veth pair, with
// helper processes holding sockets in the first.
type sockEnv struct {
	t      *testing.T
	nsA    string // where the sockets under test live
	nsB    string // the far end of the veth pair
	bin    string // the test binary, readable and executable by nobody
	nobody []string
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	for _, tool := range []string{"ip", "ss", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install iproute2 util-linux): %v", tool, err)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newSockEnv(t *testing.T) *sockEnv {
	requireRoot(t)
	e := &sockEnv{t: t, nsA: fmt.Sprintf("nlsk-a-%d", os.Getpid()), nsB: fmt.Sprintf("nlsk-b-%d", os.Getpid())}
	e.nobody = []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
	for _, ns := range []string{e.nsA, e.nsB} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "link", "add", "vnlsk0", "netns", e.nsA, "type", "veth", "peer", "name", "vnlsk1", "netns", e.nsB)
	run(t, "ip", "-n", e.nsA, "addr", "add", "10.77.0.1/24", "dev", "vnlsk0")
	run(t, "ip", "-n", e.nsA, "addr", "add", "fd77::1/64", "dev", "vnlsk0", "nodad")
	run(t, "ip", "-n", e.nsB, "addr", "add", "10.77.0.2/24", "dev", "vnlsk1")
	run(t, "ip", "-n", e.nsB, "addr", "add", "fd77::2/64", "dev", "vnlsk1", "nodad")
	run(t, "ip", "-n", e.nsA, "link", "set", "vnlsk0", "up")
	run(t, "ip", "-n", e.nsB, "link", "set", "vnlsk1", "up")

	// A copy of the test binary that nobody may run (go test keeps its
	// own in a 0700 directory).
	dir, err := os.MkdirTemp("", "nlsk-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	e.bin = filepath.Join(dir, "sockets.test")
	if err := os.WriteFile(e.bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	e.helper(e.nsA, "server", false)
	e.helper(e.nsA, "client", false)
	e.helper(e.nsB, "remote", false)
	e.helper(e.nsA, "nobody", true)
	return e
}

// helper starts a helper process in ns and waits for it to be ready. It
// is stopped (stdin closed, then killed) when the test ends.
func (e *sockEnv) helper(ns, role string, asNobody bool) {
	t := e.t
	t.Helper()
	args := []string{"netns", "exec", ns}
	if asNobody {
		args = append(args, e.nobody...)
	}
	args = append(args, e.bin, "-test.run=^$")
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+role)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopHelper(stdin, cmd) })
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		if line != "READY\n" {
			t.Fatalf("helper %s: %q", role, line)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("helper %s: not ready after 15s", role)
	}
}

// ss runs `ss -tuwanpH` in namespace A, as nobody if asked, reading
// /proc/net instead of sock_diag if procNet.
func (e *sockEnv) ss(asNobody, procNet bool) []ssLine {
	t := e.t
	t.Helper()
	args := []string{"netns", "exec", e.nsA}
	if asNobody {
		args = append(args, e.nobody...)
	}
	if procNet {
		args = append(args, "env", "PROC_ROOT=/proc")
	}
	args = append(args, "ss", "-tuwanpH")
	out := run(t, "ip", args...)
	lines, err := parseSS(strings.NewReader(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return lines
}

// collectIn runs the collector as a process inside namespace A.
func (e *sockEnv) collectIn(asNobody bool, source string) collectResult {
	t := e.t
	t.Helper()
	args := []string{"netns", "exec", e.nsA}
	if asNobody {
		args = append(args, e.nobody...)
	}
	args = append(args, e.bin, "-test.run=^$")
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), helperEnv+"=collect", "NETLENS_SOCK_SOURCE="+source)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("collect helper: %v\n%s", err, stderr.String())
	}
	var res collectResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("collect helper output: %v\n%s", err, out)
	}
	return res
}

// match compares netlens with ss a few times: queues can move while the
// two read (a window probe, a timer), so a difference must persist.
func match(t *testing.T, oracle func() []ssLine, collect func() []model.Socket) []model.Socket {
	t.Helper()
	var diff string
	var socks []model.Socket
	for try := 1; try <= 3; try++ {
		want := canon(oracle())
		socks = collect()
		if diff = cmp.Diff(want, canon(ssLinesOf(socks, true))); diff == "" {
			if len(want) < 20 {
				t.Fatalf("ss lists only %d sockets; the helpers did not set up", len(want))
			}
			t.Logf("%d sockets agree with ss (try %d)", len(want), try)
			if testing.Verbose() {
				t.Logf("\n%s", strings.Join(want, "\n"))
			}
			return socks
		}
		t.Logf("try %d differs (-ss +netlens):\n%s", try, diff)
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("netlens vs ss -tuwanpH (-want +got)\n%s", diff)
	return nil
}

func findSocket(socks []model.Socket, proto model.Proto, local string) *model.Socket {
	ap := netip.MustParseAddrPort(local)
	for i := range socks {
		if socks[i].Proto == proto && socks[i].Local == ap {
			return &socks[i]
		}
	}
	return nil
}

func TestIntegrationSocketsMatchSS(t *testing.T) {
	e := newSockEnv(t)
	time.Sleep(300 * time.Millisecond) // let queues settle
	nsFile, err := os.Open("/run/netns/" + e.nsA)
	if err != nil {
		t.Fatal(err)
	}
	defer nsFile.Close()
	inProcess := func(source string) func() []model.Socket {
		c := New(Options{NetNS: int(nsFile.Fd()), Source: source})
		t.Cleanup(func() { c.Close() })
		return func() []model.Socket {
			var pub nopPublisher
			if err := c.Collect(context.Background(), &pub); err != nil {
				t.Fatal(err)
			}
			return pub.u.(model.SocketsUpdate).Sockets
		}
	}

	var diagSocks []model.Socket
	t.Run("sock_diag", func(t *testing.T) {
		c := New(Options{NetNS: int(nsFile.Fd())})
		defer c.Close()
		var first Stats
		diagSocks = match(t, func() []ssLine { return e.ss(false, false) }, func() []model.Socket {
			socks, st, err := c.Sockets(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if first.Owners.Readlinks == 0 {
				first = st
			}
			return socks
		})
		checkScenario(t, diagSocks, true)
		// The owner cache is incremental: a second refresh resolves only
		// what changed on the host meanwhile, not every fd again. (When
		// the BPF iterator filled the cache, the first /proc refresh
		// after it lists the processes it did not report, with readlinks:
		// the full pass to compare with.)
		if first.Owners.Via == OwnersViaBPF {
			if _, first, err = c.Sockets(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		_, again, err := c.Sockets(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("owner refresh: first %+v, again %+v", first.Owners, again.Owners)
		if again.Owners.Readlinks*2 > first.Owners.Readlinks {
			t.Errorf("second refresh resolved %d fd links, the first %d", again.Owners.Readlinks, first.Owners.Readlinks)
		}
		if st := c.Stats(); st.Source != c.Source() || !strings.HasPrefix(st.Source, SourceSockDiag) || st.Sockets != len(diagSocks) {
			t.Errorf("stats %+v, source %q", st, c.Source())
		}
	})
	t.Run("proc_net", func(t *testing.T) {
		socks := match(t, func() []ssLine { return e.ss(false, true) }, inProcess(SourceProcNet))
		checkScenario(t, socks, false)
		// Both sources see the same drops on the flooded UDP socket.
		if a, b := findSocket(diagSocks, model.ProtoUDP, "0.0.0.0:7010"), findSocket(socks, model.ProtoUDP, "0.0.0.0:7010"); a != nil && b != nil && a.Drops != b.Drops {
			t.Errorf("drops: sock_diag %d, /proc/net %d", a.Drops, b.Drops)
		}
	})
	t.Run("process_in_netns", func(t *testing.T) {
		var res collectResult
		match(t, func() []ssLine { return e.ss(false, false) }, func() []model.Socket {
			res = e.collectIn(false, "")
			return res.Sockets
		})
		if res.State != model.StateOK || !strings.HasPrefix(res.Source, SourceSockDiag) || res.Stats.Owners.Unreadable != 0 {
			t.Errorf("root in netns: state %s, source %q, stats %+v", res.State, res.Source, res.Stats)
		}
	})
	t.Run("nobody", func(t *testing.T) {
		// Unprivileged users may dump sock_diag of their namespace; they
		// only see the owners of their own processes, as ss -p does.
		var res collectResult
		socks := match(t, func() []ssLine { return e.ss(true, false) }, func() []model.Socket {
			res = e.collectIn(true, "")
			return res.Sockets
		})
		if res.State != model.StateOK || !strings.HasPrefix(res.Source, SourceSockDiag) {
			t.Errorf("nobody: state %s (%s), source %q", res.State, res.Err, res.Source)
		}
		if res.Stats.Owners.Unreadable == 0 || !strings.Contains(res.Note, "processes unreadable (needs root or CAP_SYS_PTRACE)") {
			t.Errorf("nobody: unreadable processes not reported: %+v, note %q", res.Stats.Owners, res.Note)
		}
		t.Logf("nobody: source %q, note %q", res.Source, res.Note)
		s := findSocket(socks, model.ProtoUDP, fmt.Sprintf("127.0.0.1:%d", portNobody))
		if s == nil || len(s.Procs) != 1 || s.Procs[0].Comm != "nlsk-nobody" {
			t.Errorf("nobody's own socket: %+v", s)
		}
		if s := findSocket(socks, model.ProtoTCP, fmt.Sprintf("127.0.0.1:%d", portFlood)); s == nil || len(s.Procs) != 0 {
			t.Errorf("root's listener seen by nobody: %+v", s)
		}
	})
	t.Run("nobody_proc_net", func(t *testing.T) {
		var res collectResult
		match(t, func() []ssLine { return e.ss(true, true) }, func() []model.Socket {
			res = e.collectIn(true, SourceProcNet)
			return res.Sockets
		})
		if res.State != model.StateOK || res.Source != SourceProcNet {
			t.Errorf("nobody /proc/net: state %s (%s), source %q", res.State, res.Err, res.Source)
		}
	})
}

// checkScenario checks that the table holds what the helpers set up, so
// that an agreement with ss is not an agreement on too little.
func checkScenario(t *testing.T, socks []model.Socket, diag bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range socks {
		var comms []string
		for _, p := range s.Procs {
			comms = append(comms, p.Comm)
		}
		key := fmt.Sprintf("%s %s %s", s.Proto, s.Family, s.State)
		seen[key] = true
		switch {
		case s.Proto == model.ProtoTCP && s.State == model.StateListen && s.Local.Port() == portDual:
			if strings.Join(comms, ",") != "nlsk-holder,nlsk-server" && strings.Join(comms, ",") != "nlsk-server,nlsk-holder" {
				t.Errorf("shared listener owners %v, want server and holder", comms)
			}
		case s.Proto == model.ProtoTCP && s.State == model.StateListen && s.Local.Port() == portBacklog:
			if s.RecvQ != 1 {
				t.Errorf("backlog listener recv-q %d, want 1", s.RecvQ)
			}
		case s.Proto == model.ProtoTCP && s.Local.Port() == portFlood && s.State == model.StateEstablished:
			if s.RecvQ == 0 || s.SendQ == 0 {
				t.Errorf("flooded server end: recv-q %d send-q %d, want both > 0", s.RecvQ, s.SendQ)
			}
		case s.Proto == model.ProtoUDP && s.Local.Port() == portUDP && s.State == model.StateClose:
			if !s.HasDrops || s.Drops == 0 || s.RecvQ == 0 {
				t.Errorf("flooded udp socket: drops %d (known %v), recv-q %d", s.Drops, s.HasDrops, s.RecvQ)
			}
		case s.Proto == model.ProtoUDP && s.Local.Port() == portUDPDev && diag:
			if s.Interface != "vnlsk0" {
				t.Errorf("device-bound udp socket: interface %q", s.Interface)
			}
		}
	}
	for _, k := range []string{
		"tcp ipv4 LISTEN", "tcp ipv6 LISTEN", "tcp ipv4 ESTAB", "tcp ipv6 ESTAB", "tcp ipv4 TIME-WAIT",
		"udp ipv4 UNCONN", "udp ipv6 UNCONN", "udp ipv4 ESTAB", "udp ipv6 ESTAB", "raw ipv4 UNCONN", "raw ipv6 UNCONN",
	} {
		if !seen[k] {
			t.Errorf("no %s socket", k)
		}
	}
}
