package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestIntegrationE2ENFTablesView drives the real binary in tmux inside a
// namespace whose ruleset a firewall wrote (an inet table with a
// counted drop rule on a UDP port and an anonymous set): on the Filters
// tab, v shows the rule as nft lists it with the packets it dropped,
// which equal nft -j's counter, and the base chain's policy row.
func TestIntegrationE2ENFTablesView(t *testing.T) {
	requireTmux(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	file := filepath.Join(t.TempDir(), "fw.nft")
	if err := os.WriteFile(file, []byte(`table inet fw {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport { 22, 80, 443 } counter accept
		udp dport 7400 counter drop
	}
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	in := func(name string, args ...string) []byte {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, out)
		}
		return out
	}
	in("nft", "-f", file)
	in("bash", "-c", "for i in $(seq 7); do echo x > /dev/udp/127.0.0.1/7400; done")
	// The oracle: nft's own counter of the drop rule.
	var j struct {
		Nftables []struct {
			Rule *struct {
				Expr []map[string]json.RawMessage
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(in("nft", "-j", "list", "chain", "inet", "fw", "input"), &j); err != nil {
		t.Fatal(err)
	}
	var packets []uint64
	for _, o := range j.Nftables {
		if o.Rule == nil {
			continue
		}
		for _, e := range o.Rule.Expr {
			if raw, ok := e["counter"]; ok {
				var c struct{ Packets uint64 }
				json.Unmarshal(raw, &c)
				packets = append(packets, c.Packets)
			}
		}
	}
	if len(packets) != 2 || packets[1] != 7 {
		t.Fatalf("nft's counters %v, want the drop rule's at 7", packets)
	}
	s := startTmux(t, 140, 30, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s %s --refresh 1s; echo EXIT=$?; sleep 60", ns, bin))
	s.waitText("Connections", 15*time.Second)
	s.keys("4")
	s.waitText("backend", 10*time.Second)
	s.keys("v")
	drop := regexp.MustCompile(`inet fw\s+input\s+input 0\s+\d+ udp dport 7400 counter drop\s+drop\s+(\d+)\s`)
	scr := s.waitFor("the drop rule's row", 15*time.Second, func(scr string) bool { return drop.MatchString(scr) })
	if m := drop.FindStringSubmatch(scr); m[1] != fmt.Sprint(packets[1]) {
		t.Errorf("the drop rule counted %s packets, nft says %d:\n%s", m[1], packets[1], scr)
	}
	for _, re := range []string{`tcp dport \{ 22, 80, 443 \} counter accept\s+accept\s+0\s`, `policy \(what no rule decided\)\s+accept`,
		`1 table, 1 chain, 2 rules \(read only\)`} {
		if !regexp.MustCompile(re).MatchString(scr) {
			t.Errorf("no %s:\n%s", re, scr)
		}
	}
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}
