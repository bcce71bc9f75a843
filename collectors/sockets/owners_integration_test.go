package sockets

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ownersScript holds conns loopback TCP connections and answers "ok" to
// each command on stdin: "churn" replaces a tenth of them, "fork" starts
// a child holding every socket too, "exec" makes that child exec sleep
// (keeping the sockets, under a new name), "kill" ends it.
const ownersScript = `import os, signal, socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4096)
conns, child = [], 0
def connect():
    c = socket.create_connection(l.getsockname()); s, _ = l.accept(); conns.append((c, s))
for _ in range(%d): connect()
def become_sleep(*_):
    for c, s in conns: os.set_inheritable(c.fileno(), True); os.set_inheritable(s.fileno(), True)
    os.set_inheritable(l.fileno(), True)
    os.execv("/bin/sleep", ["sleep", "600"])
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "churn":
        n = len(conns)//10
        for c, s in conns[:n]: c.close(); s.close()
        del conns[:n]
        for _ in range(n): connect()
    elif cmd == "fork":
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            signal.signal(signal.SIGUSR1, become_sleep)
            os.close(r); os.close(w)
            while True: signal.pause()
        os.close(w); os.close(r)
    elif cmd == "exec":
        os.kill(child, signal.SIGUSR1)
        for _ in range(200):
            if open("/proc/%%d/comm" %% child).read().strip() == "sleep": break
            signal.sigtimedwait([], 0.01)
    elif cmd == "kill":
        os.kill(child, signal.SIGKILL); os.waitpid(child, 0); child = 0
    print("ok", flush=True)
`

// TestIntegrationOwnersSameTableMatchSS checks the owner cache's skip
// path (a table the same as the last one's costs no lookup per socket)
// against ss -tanp as each change that can leave the table as it was
// happens: a new process inheriting every socket (fork), that process
// exec'ing (a new name, within statEvery refreshes), and exiting; and
// after connections are replaced (a new table: the full path).
func TestIntegrationOwnersSameTableMatchSS(t *testing.T) {
	ns, nsf := ownersNetns(t, "same")
	cmd := exec.Command("ip", "netns", "exec", ns, "/usr/bin/python3", "-c", fmt.Sprintf(ownersScript, 300))
	ctl, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close(); cmd.Process.Kill(); cmd.Wait() })
	ack := bufio.NewReader(outp)
	if line, err := ack.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("socket holder: %q %v", line, err)
	}

	c := New(Options{NetNS: int(nsf.Fd())})
	defer c.Close()
	c.owners = newOwners("/proc")
	c.owners.procOnly = true // the /proc walk from the start: every refresh is the path under test
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// check refreshes until the owners equal ss -tanp's (at most tries
	// refreshes) and returns the stats of the last refresh.
	check := func(step string, tries int) OwnerStats {
		t.Helper()
		var diff string
		for i := 0; i < tries; i++ {
			socks, st, err := c.Sockets(ctx)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := parseSS(strings.NewReader(run(t, "ip", "netns", "exec", ns, "ss", "-tuwanpH")))
			if err != nil {
				t.Fatal(err)
			}
			if diff = cmp.Diff(canon(lines), canon(ssLinesOf(socks, true))); diff == "" {
				t.Logf("%s: owners as ss's after %d refreshes (%+v)", step, i+1, st.Owners)
				return st.Owners
			}
		}
		t.Fatalf("%s: after %d refreshes, ss -tanp (-ss +netlens)\n%s", step, tries, diff)
		return OwnerStats{}
	}
	send := func(cmd string) {
		t.Helper()
		fmt.Fprintln(ctl, cmd)
		if line, err := ack.ReadString('\n'); err != nil || line != "ok\n" {
			t.Fatalf("socket holder, %s: %q %v", cmd, line, err)
		}
	}
	check("start", 2)
	for i := range 3 {
		// Other processes of the host may open and close sockets
		// meanwhile: not of this table, they do not matter.
		if st := check("unchanged", 1); !st.SameTable {
			t.Errorf("unchanged table, refresh %d: not the skip path", i)
		}
	}
	send("fork")
	if st := check("fork: a child holds every socket too", 1); st.SameTable {
		t.Error("a new process holding the sockets was taken for no change")
	}
	check("after fork", 1)
	send("exec")
	check("the child exec'd (new name)", statEvery+1)
	send("kill")
	if st := check("the child exited", 1); st.SameTable {
		t.Error("an exited owner was taken for no change")
	}
	send("churn")
	if st := check("a tenth of the connections replaced", 1); st.SameTable {
		t.Error("a new table was taken for the last one")
	}
	if st := check("unchanged again", 1); !st.SameTable {
		t.Error("unchanged table after churn: not the skip path")
	}
}
