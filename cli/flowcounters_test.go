package cli

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/model"
)

// TestWithFreshFlows: a snapshot saved from the TUI while no view wanted
// the flows' counters gets them dumped again, equal to conntrack -L's;
// one whose counters are recent is left as it is.
func TestWithFreshFlows(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and nftables rules")
	}
	for _, tool := range []string{"ip", "nft", "conntrack"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	name := fmt.Sprintf("nlfresh%d", os.Getpid())
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"netns", "exec", name}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run("ip", "link", "set", "lo", "up")
	run("sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1")
	run("nft", "add table inet t; add chain inet t out { type filter hook output priority 0; }; add rule inet t out ct state new counter")
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// One TCP connection in the namespace, 20,000 bytes written.
	var ln net.Listener
	var conn net.Conn
	inNS := func(fn func() error) {
		t.Helper()
		done := make(chan error)
		go func() {
			runtime.LockOSThread() // the thread is left in the namespace and dies with the goroutine
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				done <- err
				return
			}
			done <- fn()
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	inNS(func() (err error) {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return err
		}
		conn, err = net.Dial("tcp", ln.Addr().String())
		return err
	})
	defer ln.Close()
	defer conn.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := conn.Write(make([]byte, 20000)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 20000)
	if _, err := srv.Read(buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	port := conn.LocalAddr().(*net.TCPAddr).Port
	var want uint64
	for _, line := range strings.Split(run("conntrack", "-L", "-p", "tcp", "--sport", fmt.Sprint(port)), "\n") {
		// src=... dst=... sport=P dport=Q packets=N bytes=B (the original direction first)
		if i := strings.Index(line, " bytes="); i >= 0 {
			fmt.Sscanf(line[i+len(" bytes="):], "%d", &want)
			break
		}
	}
	if want < 20000 {
		t.Fatalf("conntrack -L: %d bytes for sport %d", want, port)
	}

	now := time.Now()
	old := model.Snapshot{Conntrack: model.ConntrackStats{Dumps: 3, LastDump: now.Add(-time.Minute), FlowsLimit: 100}}
	got, err := withFreshFlows(t.Context(), int(f.Fd()), old, now)
	if err != nil {
		t.Fatal(err)
	}
	var bytes uint64
	for _, fl := range got.Flows {
		if fl.ProtoNum == 6 && int(fl.Orig.Src.Port()) == port {
			bytes = fl.OrigBytes
		}
	}
	st := got.Conntrack
	if bytes != want || st.Dumps != 4 || !st.LastDump.After(now.Add(-time.Second)) || st.FlowsHeld != len(got.Flows) || st.FlowsLimit != 100 {
		t.Errorf("fresh flows: %d bytes (conntrack -L %d), stats %+v", bytes, want, st)
	}
	recent := model.Snapshot{Conntrack: model.ConntrackStats{Dumps: 3, LastDump: now.Add(-time.Second)}}
	if got, err := withFreshFlows(t.Context(), int(f.Fd()), recent, now); err != nil || got.Flows != nil || got.Conntrack.Dumps != 3 {
		t.Errorf("recent counters dumped again: %d flows, %+v, %v", len(got.Flows), got.Conntrack, err)
	}
}
