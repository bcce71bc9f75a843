package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"netlens/internal/netnstest"
)

// TestIntegrationE2EFlowCountersOnDemand: the TUI dumps the conntrack
// table for its counters only while the Flows or Joined view is shown
// (or the recorder runs). In a real terminal, with a sender moving about
// 1 MB/s through conntrack in a namespace:
//   - from the sockets view, past conntrack's 10 s refresh, a snapshot
//     saved with s has the flow's bytes as of the save: between what
//     conntrack -L said just before and just after;
//   - the Flows view, opened then, shows counters as fresh as its
//     refresh (no "counters as of" note once a collection has run).
func TestIntegrationE2EFlowCountersOnDemand(t *testing.T) {
	requireTmux(t)
	requireTools(t, "nft", "conntrack")
	ns := testNetns(t)
	in := func(args ...string) string {
		return netnstest.Run(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
	}
	in("sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1")
	in("nft", "add table inet t; add chain inet t out { type filter hook output priority 0; }; add rule inet t out ct state new counter")
	const port = 47817
	startPacedTraffic(t, ns, port, "")
	// The paced flow's bytes, sender to listener, as conntrack -L has them.
	bytesRe := regexp.MustCompile(`dport=` + strconv.Itoa(port) + ` packets=\d+ bytes=(\d+)`)
	ctBytes := func() uint64 {
		m := bytesRe.FindStringSubmatch(in("conntrack", "-L", "-p", "tcp", "--dport", strconv.Itoa(port)))
		if m == nil {
			return 0
		}
		n, _ := strconv.ParseUint(m[1], 10, 64)
		return n
	}
	dir := t.TempDir()
	s := startTmux(t, 140, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("exec ip netns exec %s %s --ascii --snapshot-dir %s", ns, netlensBinary(t), dir))
	s.waitText("[sockets]", 20*time.Second)
	started := time.Now()
	for ctBytes() == 0 {
		if time.Since(started) > 10*time.Second {
			t.Fatal("no conntrack entry with bytes for the paced flow")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Past the refresh, on the sockets view: no dump since the first.
	time.Sleep(time.Until(started.Add(16 * time.Second)))
	before := ctBytes()
	s.keys("s")
	scr := s.waitText("snapshot saved: ", 10*time.Second)
	after := ctBytes()
	m := regexp.MustCompile(`snapshot saved: (\S+\.json)`).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no path on screen:\n%s", scr)
	}
	raw, err := os.ReadFile(filepath.Join(dir, filepath.Base(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	var snap struct {
		Flows []struct {
			Orig      struct{ Dst string } `json:"orig"`
			OrigBytes uint64               `json:"orig_bytes"`
		} `json:"flows"`
		Conntrack struct {
			Dumps    uint64    `json:"dumps"`
			LastDump time.Time `json:"last_dump"`
		} `json:"conntrack"`
	}
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	var got uint64
	for _, f := range snap.Flows {
		if strings.HasSuffix(f.Orig.Dst, ":"+strconv.Itoa(port)) {
			got = f.OrigBytes
		}
	}
	t.Logf("snapshot: %d bytes (conntrack -L %d before s, %d after); dumps %d, last %v", got, before, after, snap.Conntrack.Dumps, snap.Conntrack.LastDump.Format(time.TimeOnly))
	if got < before || got > after {
		t.Errorf("the snapshot's counters are not the save's: %d bytes, conntrack -L said %d before and %d after", got, before, after)
	}

	// The Flows view: fresh counters within a collection (2 s) and a dump.
	s.keys("v")
	s.waitText("[flows]", 5*time.Second)
	scr = s.waitFor("the flows view's counters refreshed", 10*time.Second, func(scr string) bool {
		return strings.Contains(scr, "[flows]") && !strings.Contains(scr, "counters as of")
	})
	t.Logf("flows view:\n%s", scr)
}
