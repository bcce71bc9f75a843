package sysctl

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"netlens/internal/netnstest"
	"netlens/model"
)

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
	ns := netnstest.New(t, "nlsc-oracle")
	ns.Run(t, "ip", "link", "add", "nl0.7", "type", "veth", "peer", "name", "nl0.7.100")
	ns.Run(t, "sysctl", "-qw", "net.ipv4.tcp_rmem=4096 65536 1048576", "net.ipv4.conf.nl0/7.rp_filter=2")

	var got []model.Sysctl
	var st Stats
	ns.Do(t, func() {
		c := New("/proc/sys")
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
	sc := bufio.NewScanner(strings.NewReader(ns.Run(t, "sysctl", "-a", "--deprecated", "--pattern", "^net")))
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
	ns := netnstest.New(t, "nlsc-churn")
	const churns = 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := range churns {
			name := fmt.Sprintf("ch%d", n%4)
			_ = exec.Command("ip", "netns", "exec", ns.Name, "ip", "link", "add", name, "type", "veth", "peer", "name", name+".p").Run()
			_ = exec.Command("ip", "netns", "exec", ns.Name, "ip", "link", "del", name).Run()
		}
	}()
	walks := 0
	ns.Do(t, func() {
		c := New("/proc/sys")
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
