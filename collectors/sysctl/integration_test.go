package sysctl

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/model"
)

// The namespace helpers below mirror procnet's integration_test.go; test
// files cannot be shared across packages without a common test package.

type netns struct{ name string }

func newNetns(t *testing.T, suffix string) netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN) to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8) from iproute2 (apt-get install -y iproute2)")
	}
	ns := netns{fmt.Sprintf("nlsc-%d-%s", os.Getpid(), suffix)}
	if out, err := exec.Command("ip", "netns", "add", ns.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns.name).Run() })
	return ns
}

// run runs a command inside the namespace and returns its standard output.
func (ns netns) run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name, name}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// do runs fn on an OS thread that has joined the namespace, so that
// /proc/sys/net is the namespace's.
func (ns netns) do(t *testing.T, fn func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		fd, err := unix.Open("/run/netns/"+ns.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- err // the thread stays locked and dies with the goroutine
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// volatile are entries whose value may change between two reads.
var volatile = map[string]bool{"net.netfilter.nf_conntrack_count": true}

// TestIntegrationSysctlOracle compares the collector with
// `sysctl -a --deprecated --pattern '^net'` (procps) in a namespace that
// has interfaces whose names contain dots: same names, same values (after
// the same whitespace normalisation), nothing missing on either side.
func TestIntegrationSysctlOracle(t *testing.T) {
	if _, err := exec.LookPath("sysctl"); err != nil {
		t.Skip("needs sysctl(8) from procps (apt-get install -y procps)")
	}
	ns := newNetns(t, "oracle")
	ns.run(t, "ip", "link", "add", "nl0.7", "type", "veth", "peer", "name", "nl0.7.100")
	ns.run(t, "sysctl", "-qw", "net.ipv4.tcp_rmem=4096 65536 1048576", "net.ipv4.conf.nl0/7.rp_filter=2")

	var got []model.Sysctl
	var st Stats
	ns.do(t, func() {
		c := NewCollector("/proc/sys")
		var r recorder
		if err := c.Collect(context.Background(), &r); err != nil {
			t.Error(err)
			return
		}
		got = r.updates[0].(model.SysctlsUpdate).Sysctls
		st = c.Stats()
	})
	if t.Failed() {
		return
	}
	oracle := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(ns.run(t, "sysctl", "-a", "--deprecated", "--pattern", "^net")))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " = ")
		if !ok {
			name, ok = strings.CutSuffix(sc.Text(), " =")
			if !ok {
				t.Fatalf("sysctl line %q", sc.Text())
			}
		}
		v := string(normalize(nil, []byte(val)))
		if prev, ok := oracle[name]; ok { // a multi-line value: one line per line
			v = strings.TrimSpace(prev + " " + v)
		}
		oracle[name] = v
	}
	ours := map[string]string{}
	for _, e := range got {
		ours[e.Name] = e.Value
	}
	for name, v := range oracle {
		g, ok := ours[name]
		switch {
		case !ok:
			t.Errorf("sysctl prints %s = %q; netlens does not have it", name, v)
		case g != v && !volatile[name]:
			t.Errorf("%s: netlens %q, sysctl %q", name, g, v)
		}
	}
	for name := range ours {
		if _, ok := oracle[name]; !ok {
			t.Errorf("netlens has %s, sysctl -a does not", name)
		}
	}
	for name, want := range map[string]string{
		"net.ipv4.tcp_rmem":                      "4096 65536 1048576",
		"net.ipv4.conf.nl0/7.rp_filter":          "2",
		"net.ipv6.conf.nl0/7/100.disable_ipv6":   "0",
		"net.ipv4.neigh.nl0/7/100.gc_stale_time": "60",
	} {
		if ours[name] != want {
			t.Errorf("%s = %q, want %q", name, ours[name], want)
		}
	}
	t.Logf("%d entries equal to sysctl -a; unreadable, as sysctl -a also leaves them out: %v", len(ours), st.Unreadable)
}

// TestIntegrationSysctlChurn walks /proc/sys/net while interfaces are
// created and deleted in the namespace: no walk may fail, and the entries
// of lo must be there every time.
func TestIntegrationSysctlChurn(t *testing.T) {
	ns := newNetns(t, "churn")
	const churns = 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := range churns {
			name := fmt.Sprintf("ch%d", n%4)
			_ = exec.Command("ip", "netns", "exec", ns.name, "ip", "link", "add", name, "type", "veth", "peer", "name", name+".p").Run()
			_ = exec.Command("ip", "netns", "exec", ns.name, "ip", "link", "del", name).Run()
		}
	}()
	walks := 0
	ns.do(t, func() {
		c := NewCollector("/proc/sys")
		deadline := time.After(20 * time.Second)
		for {
			select {
			case <-done:
				return
			case <-deadline:
				t.Error("the churn did not finish in 20 s")
				return
			default:
			}
			walks++
			var r recorder
			if err := c.Collect(context.Background(), &r); err != nil {
				t.Errorf("walk %d: %v", walks, err)
				return
			}
			found := false
			for _, e := range r.updates[0].(model.SysctlsUpdate).Sysctls {
				found = found || e.Name == "net.ipv4.conf.lo.rp_filter"
			}
			if !found {
				t.Errorf("walk %d: net.ipv4.conf.lo.rp_filter missing", walks)
			}
		}
	})
	<-done
	t.Logf("%d walks while %d veth pairs came and went", walks, churns)
}
