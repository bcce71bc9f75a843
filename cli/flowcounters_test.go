package cli

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"netlens/internal/netnstest"
	"netlens/model"
)

// TestWithFreshFlows: a snapshot saved from the TUI while no view wanted
// the flows' counters gets them dumped again, equal to conntrack -L's;
// one whose counters are recent is left as it is.
func TestWithFreshFlows(t *testing.T) {
	ns := netnstest.New(t, "nlfresh")
	for _, tool := range []string{"nft", "conntrack"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install -y nftables conntrack)", tool)
		}
	}
	ns.Run(t, "sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1")
	ns.Run(t, "nft", "add table inet t; add chain inet t out { type filter hook output priority 0; }; add rule inet t out ct state new counter")
	fd := ns.FD(t)

	// One TCP connection in the namespace, 20,000 bytes written.
	var ln net.Listener
	var conn net.Conn
	ns.Do(t, func() {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Error(err)
			return
		}
		if conn, err = net.Dial("tcp", ln.Addr().String()); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
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
	for _, line := range strings.Split(ns.Run(t, "conntrack", "-L", "-p", "tcp", "--sport", fmt.Sprint(port)), "\n") {
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
	got, err := withFreshFlows(t.Context(), fd, old, now)
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
	if got, err := withFreshFlows(t.Context(), fd, recent, now); err != nil || got.Flows != nil || got.Conntrack.Dumps != 3 {
		t.Errorf("recent counters dumped again: %d flows, %+v, %v", len(got.Flows), got.Conntrack, err)
	}
}
