package cli

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"netlens/control/filter"
	"netlens/control/filter/nft"
	"netlens/internal/filtertest"
	"netlens/internal/netnstest"
	"netlens/model"
)

// TestIntegrationGuardInNetNS: with --netns, the lockout guard checks
// the established connections of the namespace the rule goes into, not
// netlens's own: a drop of ports 8000-8999 in namespace a warns of a's
// connection to 10.77.0.1:8080 and of no connection of the host's (one
// is made on 127.0.0.1 to a port in that range). The session of
// SSH_CONNECTION is checked where it can pass: its server address is
// one of a's, else not.
func TestIntegrationGuardInNetNS(t *testing.T) {
	a, opt := filtertest.NFTNamespace(t)
	b := netnstest.New(t, "nlgb")
	netnstest.Veth(t, a, b, "ga", "10.77.0.1", "gb", "10.77.0.2")
	fd := a.FD(t)

	var ln net.Listener
	a.Do(t, func() {
		var err error
		if ln, err = net.Listen("tcp4", "10.77.0.1:8080"); err != nil {
			t.Fatal(err)
		}
	})
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	b.Do(t, func() {
		c, err := net.Dial("tcp4", "10.77.0.1:8080")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	})
	// The host's own connection, on a port the rule names too.
	var hostLn net.Listener
	var err error
	for p := 8100; p < 9000 && hostLn == nil; p++ {
		hostLn, err = net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p))
	}
	if hostLn == nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	hostPort := hostLn.Addr().(*net.TCPAddr).Port
	hc, err := net.Dial("tcp4", hostLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()

	t.Setenv("SSH_CONNECTION", "192.0.2.9 5555 192.0.2.1 22")
	in := defaultGuard(context.Background(), fd)
	if in.SSH != nil {
		t.Errorf("a session to 192.0.2.1, not an address of the namespace, is kept: %+v", in.SSH)
	}
	if !slices.Contains(in.LocalAddrs, netip.MustParseAddr("10.77.0.1")) {
		t.Errorf("LocalAddrs %v: want the namespace's 10.77.0.1", in.LocalAddrs)
	}
	for _, host := range filter.LocalAddrs() {
		if !host.IsLoopback() && slices.Contains(in.LocalAddrs, host) {
			t.Errorf("LocalAddrs %v has the host's %v", in.LocalAddrs, host)
		}
	}
	found := false
	for _, s := range in.Sockets {
		if s.State == model.StateEstablished && s.Local.Port() == uint16(hostPort) {
			t.Errorf("the host's socket %v <-> %v is among the namespace's", s.Local, s.Remote)
		}
		found = found || (s.State == model.StateEstablished && s.Local == netip.MustParseAddrPort("10.77.0.1:8080"))
	}
	if !found {
		t.Errorf("no established socket on 10.77.0.1:8080 among %d sockets", len(in.Sockets))
	}
	t.Setenv("SSH_CONNECTION", "10.77.0.2 5555 10.77.0.1 22")
	if in := defaultGuard(context.Background(), fd); in.SSH == nil {
		t.Error("a session to 10.77.0.1, the namespace's address, is not checked")
	}

	// The whole command, as `netlens --netns A rules add` wires it.
	t.Setenv("SSH_CONNECTION", "")
	opt.NetNS = fd
	be, err := nft.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	cmd := RulesCmd(RulesConfig{
		Open:  func(filter.Options) (filter.Backend, error) { return be, nil },
		NetNS: func() int { return fd },
	})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"add", "--action", "drop", "--proto", "tcp", "--dport", "8000-8999", "--no-revert"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("rules add: %v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), "10.77.0.1:8080") {
		t.Errorf("no warning of the namespace's connection to 10.77.0.1:8080:\nstdout: %s\nstderr: %s", out.String(), errOut.String())
	}
	if strings.Contains(errOut.String(), ":"+strconv.Itoa(hostPort)) {
		t.Errorf("a warning of the host's connection on port %d:\n%s", hostPort, errOut.String())
	}
}
