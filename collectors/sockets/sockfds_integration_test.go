package sockets

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sockHolder starts a process in namespace ns holding conns loopback
// TCP connections to a listener of its own (2*conns+1 sockets) and a
// few UDP sockets. Each line written to the returned writer makes it
// close a tenth of its connections and open as many new ones, then
// answer "ok".
func sockHolder(t testing.TB, ns string, conns int) (io.Writer, *bufio.Reader) {
	t.Helper()
	script := fmt.Sprintf(`import socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4096)
conns, udps = [], []
def connect():
    c = socket.create_connection(l.getsockname()); s, _ = l.accept(); conns.append((c, s))
for _ in range(%d): connect()
for _ in range(5):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); udps.append(u)
print("ready", flush=True)
for line in sys.stdin:
    for c, s in conns[:len(conns)//10]: c.close(); s.close()
    n = len(conns)//10; del conns[:n]
    for _ in range(n): connect()
    print("ok", flush=True)
`, conns)
	cmd := exec.Command("ip", "netns", "exec", ns, "/usr/bin/python3", "-c", script)
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewReader(outp)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("socket holder: %q %v", line, err)
	}
	return in, out
}

// ownersNetns makes a namespace for an owners test compared with ss
// (its name, and the namespace open), removed when the test ends.
func ownersNetns(t *testing.T, name string) (string, *os.File) {
	t.Helper()
	requireRoot(t)
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("needs ss (apt-get install iproute2)")
	}
	ns := fmt.Sprintf("nlsk-%s-%d", name, os.Getpid())
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	nsf, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsf.Close() })
	return ns, nsf
}

// TestIntegrationOwnersBPFMatchProc checks the owners of a cache filled
// by the BPF task_file iterator against a cache of the /proc walk alone
// and against `ss -tanp`, at a few thousand sockets in a namespace, and
// after a tenth of the connections are replaced twice (the /proc walk
// then keeps the iterator's cache up to date).
func TestIntegrationOwnersBPFMatchProc(t *testing.T) {
	ns, nsf := ownersNetns(t, "bpf")
	ctl, ack := sockHolder(t, ns, 1500)

	c := New(Options{NetNS: int(nsf.Fd()), NoOwners: true, NoTCPInfo: true})
	defer c.Close()
	viaBPF, viaProc := newOwners("/proc"), newOwners("/proc")
	viaProc.procOnly = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := range 3 {
		if round > 0 {
			fmt.Fprintln(ctl, "churn")
			if line, err := ack.ReadString('\n'); err != nil || line != "ok\n" {
				t.Fatalf("socket holder: %q %v", line, err)
			}
		}
		socks, _, err := c.Sockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(socks) < 3001 {
			t.Fatalf("round %d: %d sockets, want at least 3001", round, len(socks))
		}
		a, b := slices.Clone(socks), slices.Clone(socks)
		if err := viaBPF.refresh(ctx, a); err != nil {
			t.Fatal(err)
		}
		// The iterator fills the empty cache; the /proc walk takes it
		// from there.
		if want := map[bool]string{true: OwnersViaBPF, false: OwnersViaProc}[round == 0]; viaBPF.stats.Via != want {
			t.Fatalf("round %d: owners listed via %q, want %q (%s)", round, viaBPF.stats.Via, want, viaBPF.noBPF)
		}
		if err := viaProc.refresh(ctx, b); err != nil {
			t.Fatal(err)
		}
		if viaProc.stats.Via != OwnersViaProc {
			t.Fatalf("procOnly cache listed via %q", viaProc.stats.Via)
		}
		owned := 0
		for i := range a {
			if diff := cmp.Diff(b[i].Procs, a[i].Procs); diff != "" {
				t.Fatalf("round %d: %v %v: owners (-/proc +bpf)\n%s", round, a[i].Local, a[i].Remote, diff)
			}
			if len(a[i].Procs) > 0 {
				owned++
			}
		}
		if owned < 3001 {
			t.Errorf("round %d: %d of %d sockets owned", round, owned, len(a))
		}
		// ss -tanp (with UDP and raw sockets: -tuwanp) as the oracle:
		// the same owners (pid, name, fd) for every socket.
		out := run(t, "ip", "netns", "exec", ns, "ss", "-tuwanpH")
		lines, err := parseSS(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(canon(lines), canon(ssLinesOf(a, true))); diff != "" {
			t.Errorf("round %d: ss -tanp (-ss +netlens)\n%s", round, diff)
		}
	}
}
