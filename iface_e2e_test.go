package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestIntegrationE2EInterfacesTab drives the real binary in tmux on a
// namespace holding a veth pair and a bridge: the Interfaces tab lists
// them with their kind and master, the veth's receive rate shows the
// traffic sent into it, the filter keeps it alone, enter opens it in
// full with the driver's statistics (ethtool -S: peer_ifindex), its tc
// objects and its sysctls, and esc goes back.
func TestIntegrationE2EInterfacesTab(t *testing.T) {
	requireTmux(t)
	bin := netlensBinary(t)
	a, b := testNetns(t), testNetns(t)
	for _, args := range [][]string{
		{"-n", a, "link", "add", "nlva", "type", "veth", "peer", "name", "nlvb"},
		{"-n", a, "link", "set", "nlvb", "netns", b},
		{"-n", a, "addr", "add", "10.79.0.1/24", "dev", "nlva"},
		{"-n", a, "link", "set", "nlva", "up"},
		{"-n", b, "addr", "add", "10.79.0.2/24", "dev", "nlvb"},
		{"-n", b, "link", "set", "nlvb", "up"},
		{"-n", a, "link", "add", "nlbr0", "type", "bridge"},
		{"-n", a, "link", "add", "nlvc", "type", "veth", "peer", "name", "nlvd"},
		{"-n", a, "link", "set", "nlvc", "master", "nlbr0"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("%s --netns %s; echo EXIT=$?; sleep 60", bin, a))
	s.waitText("Connections", 15*time.Second)
	s.keys("6")
	s.waitFor("the veth, the bridge and its port", 15*time.Second, func(scr string) bool {
		return regexp.MustCompile(`nlva\s+veth\s+up\s+10\.79\.0\.1/24`).MatchString(scr) &&
			regexp.MustCompile(`nlbr0\s+bridge\s+down`).MatchString(scr) &&
			regexp.MustCompile(`nlvc\s+veth\s+down\s+nlbr0`).MatchString(scr)
	})

	// Traffic into nlva for a few seconds (bounded): its Rx b/s moves.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			select {
			case <-stop:
				return
			default:
			}
			exec.Command("ip", "netns", "exec", b, "ping", "-c", "20", "-i", "0.01", "-s", "1000", "-W", "1", "-q", "10.79.0.1").Run()
		}
	}()
	rx := regexp.MustCompile(`nlva\s+veth\s+up\s+\S+\s+\S*\s*noqueue\s+(\d[\d.]*[kM])\s`)
	s.waitFor("nlva receiving", 20*time.Second, func(scr string) bool { return rx.MatchString(scr) })
	close(stop)
	<-done

	s.keys("/")
	s.literal("nlva")
	s.keys("Enter")
	s.waitFor("nlva alone", 5*time.Second, func(scr string) bool {
		return strings.Contains(scr, "1 of ") && !strings.Contains(scr, "nlbr0 ")
	})
	s.keys("Enter")
	scr := s.waitText("[interface] nlva", 5*time.Second)
	for _, want := range []string{"nlva  index", "-- counters (ip -s -s link) --", "rx_packets"} {
		if !strings.Contains(scr, want) {
			t.Errorf("the full view lacks %q:\n%s", want, scr)
		}
	}
	s.keys("End")
	s.waitFor("the end of the full view", 5*time.Second, func(scr string) bool {
		return strings.Contains(scr, "ipv4.rp_filter") || strings.Contains(scr, "-- sysctls")
	})
	// The driver's statistics (veth's peer_ifindex) are between the
	// counters and the sysctls: page down from the top until they show
	// (where depends on the terminal's height and the counters' count).
	s.keys("Home")
	s.waitFor("the top of the full view", 5*time.Second, func(scr string) bool { return strings.Contains(scr, "lines 1-") })
	for page := 0; !strings.Contains(s.screen(), "peer_ifindex"); page++ {
		if page == 4 {
			t.Fatalf("no peer_ifindex (ethtool -S) in four pages of the full view:\n%s", s.screen())
		}
		before := regexp.MustCompile(`lines \d+-`).FindString(s.screen())
		s.keys("PageDown")
		s.waitFor("the next page", 5*time.Second, func(scr string) bool {
			return regexp.MustCompile(`lines \d+-`).FindString(scr) != before || strings.Contains(scr, "peer_ifindex")
		})
	}
	s.keys("Escape")
	s.waitFor("back to the list", 5*time.Second, func(scr string) bool {
		return !strings.Contains(scr, "[interface] nlva") && strings.Contains(scr, "filter: nlva")
	})
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}
