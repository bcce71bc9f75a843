package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"netlens/internal/netnstest"
	"netlens/model"
	"netlens/recorder"
	"netlens/snapshot"
)

// TestIntegrationE2ETCPInfoDetail: the TUI reads its sockets counters
// only, so the Connections detail pane asks the kernel for the selected
// socket's tcp_info. In a real terminal, with a sender moving about
// 1 MB/s in a namespace: the sender's pane shows its congestion control
// and MSS as `ss -tin` does, its RTT, and its rates; a snapshot saved
// with s holds the socket's whole tcp_info, as netlens snapshot has it.
func TestIntegrationE2ETCPInfoDetail(t *testing.T) {
	requireTmux(t)
	ns := testNetns(t)
	const port = 47813
	startPacedTraffic(t, ns, port, "")
	dir, recDir := t.TempDir(), t.TempDir()
	bin := netlensBinary(t)
	s := startTmux(t, 140, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("exec ip netns exec %s %s --ascii --snapshot-dir %s --record-dir %s --record-interval 1s", ns, bin, dir, recDir))
	s.waitText("[sockets]", 20*time.Second)
	s.waitText("nlsend", 20*time.Second) // the owners are known
	s.keys("/")
	s.literal("nlsend")
	s.keys("Enter")
	s.waitText("filter: nlsend", 5*time.Second)
	s.keys("Enter") // the detail pane

	ss := func() (cong, mss string) {
		out := netnstest.Run(t, "ip", "netns", "exec", ns, "ss", "-tinH", "state", "established", "dport", "=", fmt.Sprint(port))
		m := regexp.MustCompile(`\b(cubic|reno|bbr)\b.*\bmss:(\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("ss -tin: no congestion control and mss:\n%s", out)
		}
		return m[1], m[2]
	}
	// The kernel's MSS for a loopback socket moves while it sends (59904
	// and 60928 seen in one run), so what netlens shows is checked against
	// the values ss read around it.
	cong, mss := ss()
	seen := map[string]bool{mss: true}
	sample := func() {
		c, m := ss()
		if c != cong {
			t.Fatalf("ss -tin: congestion control changed from %s to %s", cong, c)
		}
		seen[m] = true
	}
	pane := regexp.MustCompile(`(?m)^(\w+)  rtt ([\d.]+)/([\d.]+) ms.*\bcwnd \d+.*\bmss (\d+)`)
	scr := s.waitFor("the sender's tcp_info in the detail pane", 10*time.Second, func(scr string) bool {
		m := pane.FindStringSubmatch(scr)
		if m != nil && !seen[m[4]] {
			sample()
		}
		return m != nil && m[1] == cong && seen[m[4]] && strings.Contains(scr, "acked ")
	})
	if strings.Contains(scr, "asking the kernel") || strings.Contains(scr, "no tcp_info") {
		t.Fatalf("the pane says it has no tcp_info:\n%s", scr)
	}
	// Its rates: about 1 MB/s sent.
	s.waitFor("the sender's rate in the pane", 10*time.Second, func(scr string) bool {
		m := regexp.MustCompile(`tx ([\d.]+[kM]?)B/s`).FindStringSubmatch(scr)
		return m != nil && rateOf(m[1]) > 100e3
	})
	t.Logf("detail pane:\n%s", scr)

	// A snapshot saved from the TUI has the socket's tcp_info.
	sample()
	s.keys("s")
	scr = s.waitText("snapshot saved: ", 10*time.Second)
	m := regexp.MustCompile(`snapshot saved: (\S+\.json)`).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no path on screen:\n%s", scr)
	}
	sample()
	b, err := os.ReadFile(filepath.Join(dir, filepath.Base(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	var snap struct {
		Sockets []struct {
			Proto  string `json:"proto"`
			State  string `json:"state"`
			Remote string `json:"remote"`
			TCP    *struct {
				Congestion string `json:"congestion"`
				SndMSS     uint32 `json:"snd_mss"`
				BytesAcked uint64 `json:"bytes_acked"`
			} `json:"tcp"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatal(err)
	}
	found, withInfo, established := false, 0, 0
	for _, sk := range snap.Sockets {
		if sk.Proto != "tcp" || sk.State != "ESTAB" {
			continue
		}
		established++
		if sk.TCP != nil {
			withInfo++
		}
		if strings.HasSuffix(sk.Remote, fmt.Sprintf(":%d", port)) {
			found = true
			if sk.TCP == nil || sk.TCP.Congestion != cong || !seen[fmt.Sprint(sk.TCP.SndMSS)] || sk.TCP.BytesAcked == 0 {
				t.Errorf("the sender in the snapshot: tcp_info %+v, want %s, an mss ss read around it (%v), bytes acked", sk.TCP, cong, seen)
			}
		}
	}
	if !found || withInfo != established {
		t.Errorf("snapshot: sender found %v; %d of %d established TCP sockets with tcp_info", found, withInfo, established)
	}

	// The flight recorder's snapshots have it too.
	sample()
	s.keys("R")
	s.waitText("recording a snapshot every 1s", 5*time.Second)
	var files []string
	for deadline := time.Now().Add(10 * time.Second); len(files) < 2 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		sample()
		files, _ = recorder.Files(recDir)
	}
	s.keys("R")
	s.waitText("recorder stopped", 5*time.Second)
	sample()
	if len(files) < 2 {
		t.Fatalf("the recorder wrote %d files in 10 s", len(files))
	}
	rec, err := snapshot.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	found = false
	for _, sk := range rec.Sockets {
		if sk.Proto == model.ProtoTCP && sk.Remote.Port() == port && sk.State == model.StateEstablished {
			found = true
			if sk.TCP == nil || sk.TCP.Congestion != cong || !seen[fmt.Sprint(sk.TCP.SndMSS)] {
				t.Errorf("the sender in the recorder's snapshot: tcp_info %+v, want %s, an mss ss read around it (%v)", sk.TCP, cong, seen)
			}
		}
	}
	if !found {
		t.Errorf("the recorder's snapshot %s lacks the sender", files[len(files)-1])
	}
	s.keys("q")
}
