package sockets

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"netlens/internal/netnstest"
	"netlens/model"
)

// TestIntegrationOwnerContainer starts a process holding a TCP listener
// in a namespace, places it in a cgroup shaped like Docker's
// (docker-<64 hex>.scope), and checks that the owner cache names that
// container on the socket and that the process view groups by it.
func TestIntegrationOwnerContainer(t *testing.T) {
	ns := netnstest.New(t, "nlctr")
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(raw[:])
	cmd := ns.Command("/usr/bin/python3", "-c", `import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 7301)); s.listen()
c = socket.create_connection(("127.0.0.1", 7301)); a, _ = s.accept()
print("READY", flush=True); sys.stdin.read()`)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	netnstest.MoveToCgroup(t, cmd.Process.Pid, fmt.Sprintf("/netlens-test-%d.slice/docker-%s.scope", os.Getpid(), id),
		func() { stopHelper(stdin, cmd) })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		ready <- sc.Text()
	}()
	select {
	case l := <-ready:
		if l != "READY" {
			t.Fatalf("helper: %q", l)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("helper not ready after 15 s")
	}

	c := New(Options{NetNS: ns.FD(t)})
	defer c.Close()
	socks, _, err := c.Sockets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := id[:12]
	held := 0
	for _, s := range socks {
		if s.Proto != model.ProtoTCP || (s.Local.Port() != 7301 && s.Remote.Port() != 7301) {
			continue
		}
		if len(s.Procs) == 0 {
			t.Errorf("%s %s -> %s: no owner", s.State, s.Local, s.Remote)
			continue
		}
		held++
		for _, p := range s.Procs {
			if p.PID != cmd.Process.Pid || p.Container != want {
				t.Errorf("%s %s -> %s held by %+v, want pid %d in container %s", s.State, s.Local, s.Remote, p, cmd.Process.Pid, want)
			}
		}
	}
	if held != 3 {
		t.Errorf("%d sockets of port 7301 with an owner, want 3 (listener and both ends)", held)
	}
	found := false
	for _, r := range model.ProcessRates(socks, nil) {
		if r.Comm == "python3" {
			found = true
			if r.Container != want || r.Conns != 2 {
				t.Errorf("process row %+v, want container %s and 2 connections", r, want)
			}
		}
	}
	if !found {
		t.Error("no process row for python3")
	}
}
