package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestIntegrationE2ECaptureFromTUI starts a capture from the Capture tab
// of netlens started without --capture: c opens the form, the veth is
// picked from the links, "udp port 53" typed, enter starts it. 20
// datagrams to port 53 and 20 to port 54 go out of the veth; the tab
// counts 20; c stops it; w writes pcapng, and tshark reads exactly 20
// packets from the file.
func TestIntegrationE2ECaptureFromTUI(t *testing.T) {
	requireTmux(t)
	requireTools(t, "tshark")
	bin := netlensBinary(t)
	ns, peer := testNetns(t), testNetns(t)
	for _, args := range [][]string{
		{"link", "add", "ce0", "netns", ns, "type", "veth", "peer", "name", "cp0", "netns", peer},
		{"-n", ns, "addr", "add", "10.79.0.1/24", "dev", "ce0"},
		{"-n", peer, "addr", "add", "10.79.0.2/24", "dev", "cp0"},
		{"-n", ns, "link", "set", "ce0", "up"},
		{"-n", peer, "link", "set", "cp0", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	// Resolve the neighbour before the capture: nothing but the test's
	// datagrams goes out afterwards.
	if out, err := exec.Command("ip", "netns", "exec", ns, "ping", "-c1", "-W2", "10.79.0.2").CombinedOutput(); err != nil {
		t.Fatalf("ping: %v: %s", err, out)
	}
	dir := t.TempDir()
	script := fmt.Sprintf(`%s --filter-backend none --snapshot-dir %s
echo "EXIT=$?"
sleep 60`, bin, dir)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s sh -c '%s'", ns, strings.ReplaceAll(script, "'", `'\''`)))
	s.waitText("5 Capture", 10*time.Second)
	s.keys("5")
	s.waitText("Press c to start one here", 10*time.Second)
	s.keys("c")
	s.waitText("Start a capture", 5*time.Second)
	s.waitText("< any >", 5*time.Second)
	// The form opens on the filter; up goes to the interface, where a
	// letter picks the first link starting with it.
	s.keys("Up")
	s.literal("c")
	s.waitText("< ce0 >", 5*time.Second)
	s.keys("Down")
	s.literal("udp port")
	s.waitText("! port needs a value", 5*time.Second) // validated as typed
	s.literal(" 53")
	s.keys("Down", "C-u")
	s.literal("2m")
	s.waitFor("the form valid", 5*time.Second, func(scr string) bool { return !strings.Contains(scr, "invalid, enter refused") })
	s.keys("Enter")
	s.waitText("capture started on ce0", 10*time.Second)
	s.waitText("Capture live on ce0", 10*time.Second)
	send := `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for port in (53, 54):
    for i in range(20):
        s.sendto(b"netlens", ("10.79.0.2", port))
`
	if out, err := exec.Command("ip", "netns", "exec", ns, "/usr/bin/python3", "-c", send).CombinedOutput(); err != nil {
		t.Fatalf("send: %v: %s", err, out)
	}
	scr := s.waitFor("20 packets counted", 10*time.Second, func(scr string) bool { return regexp.MustCompile(`total\s+20 pkts`).MatchString(scr) })
	if !strings.Contains(scr, "running") || !regexp.MustCompile(`cpu \d+\.\d% \(`).MatchString(scr) {
		t.Fatalf("the running capture or its CPU use is not shown:\n%s", scr)
	}
	s.keys("c")
	scr = s.waitText("capture stopped", 10*time.Second)
	if !regexp.MustCompile(`stopped\s+0 pkt/s`).MatchString(scr) && !strings.Contains(scr, "stopped") {
		t.Fatalf("not shown as stopped:\n%s", scr)
	}
	s.keys("w")
	scr = s.waitText("wrote ", 10*time.Second)
	m := regexp.MustCompile(`wrote (\S+\.pcapng): (\d+) packets`).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no pcapng path on screen:\n%s", scr)
	}
	path := m[1]
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, filepath.Base(path))
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "udp.dstport").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	ports := strings.Fields(string(out))
	if len(ports) != 20 || m[2] != "20" {
		t.Fatalf("tshark reads %d packets (%q), the tab wrote %s; want 20", len(ports), ports, m[2])
	}
	for _, p := range ports {
		if p != "53" {
			t.Fatalf("tshark reads a packet to port %s: the filter let it in", p)
		}
	}
	t.Logf("the tab counted 20; tshark reads 20 packets to port 53 from %s", path)
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}

// TestIntegrationE2ECaptureNeedsCapNetRaw: started by nobody, c on the
// Capture tab opens the form, and starting says the capture needs
// CAP_NET_RAW instead of failing silently or crashing.
func TestIntegrationE2ECaptureNeedsCapNetRaw(t *testing.T) {
	requireTmux(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	script := fmt.Sprintf(`setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all %s --filter-backend none --snapshot-dir /tmp
echo "EXIT=$?"
sleep 60`, bin)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s sh -c '%s'", ns, strings.ReplaceAll(script, "'", `'\''`)))
	s.waitText("5 Capture", 10*time.Second)
	s.keys("5")
	s.waitText("Press c to start one here", 10*time.Second)
	s.keys("c")
	s.waitText("< any >", 5*time.Second)
	s.keys("Enter")
	scr := s.waitText("capture not started", 10*time.Second)
	if !strings.Contains(scr, "needs CAP_NET_RAW") {
		t.Fatalf("the refusal does not name CAP_NET_RAW:\n%s", scr)
	}
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}
