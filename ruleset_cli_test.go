package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"netlens/model"
)

// TestIntegrationRulesRuleset runs `netlens rules ruleset` in a namespace
// with a firewall's table: its JSON gives each chain's hook and policy
// and the drop rule's packets as `nft -j list ruleset` counts them; the
// text lists the rule as nft does with its counter; --interval counts the
// packets sent in between; without CAP_NET_ADMIN it fails with exit 1
// and says why.
func TestIntegrationRulesRuleset(t *testing.T) {
	ns := testNetns(t)
	bin := netlensBinary(t)
	file := filepath.Join(t.TempDir(), "fw.nft")
	if err := os.WriteFile(file, []byte(`table inet fw {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport 9 counter drop
		tcp dport { 22, 80 } counter accept
	}
	chain helper {
		counter return
	}
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	nsRun := func(args ...string) (string, error) {
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := nsRun("nft", "-f", file); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
	send := func(n int) {
		for range n {
			if out, err := nsRun("bash", "-c", "echo x > /dev/udp/127.0.0.1/9"); err != nil {
				t.Fatalf("send: %v: %s", err, out)
			}
		}
	}
	send(4)

	// JSON against nft -j.
	out, err := nsRun(bin, "rules", "ruleset", "--json")
	if err != nil {
		t.Fatalf("rules ruleset --json: %v: %s", err, out)
	}
	var got model.NFTables
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	nftOut, err := nsRun("nft", "-j", "list", "ruleset")
	if err != nil {
		t.Fatal(err)
	}
	// nft -j's counter of the rule with handle h in chain input.
	var nftJ struct {
		Nftables []struct {
			Rule *struct {
				Chain  string           `json:"chain"`
				Handle uint64           `json:"handle"`
				Expr   []map[string]any `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(nftOut), &nftJ); err != nil {
		t.Fatal(err)
	}
	nftCounter := func(h uint64) (packets, bytes float64, ok bool) {
		for _, o := range nftJ.Nftables {
			if o.Rule == nil || o.Rule.Chain != "input" || o.Rule.Handle != h {
				continue
			}
			for _, e := range o.Rule.Expr {
				if c, is := e["counter"].(map[string]any); is {
					return c["packets"].(float64), c["bytes"].(float64), true
				}
			}
		}
		return 0, 0, false
	}
	var input *model.NFTChain
	for i := range got.Chains {
		if got.Chains[i].Table == "fw" && got.Chains[i].Name == "input" {
			input = &got.Chains[i]
		}
	}
	if got.Tables != 1 || len(got.Chains) != 2 || input == nil || input.Hook != "input" || input.Policy != "accept" || len(input.Rules) != 2 {
		t.Fatalf("ruleset: %+v", got)
	}
	r := input.Rules[0]
	p, b, ok := nftCounter(r.Handle)
	if r.Text != "udp dport 9 counter drop" || !r.Drops() || !ok || float64(r.Packets) != p || float64(r.Bytes) != b || r.Packets != 4 {
		t.Errorf("the drop rule: %+v, nft -j counts %v packets, %v bytes (%v)", r, p, b, ok)
	}

	// Text: the rule as nft lists it, with its counter.
	out, err = nsRun(bin, "rules", "ruleset")
	if err != nil {
		t.Fatalf("rules ruleset: %v: %s", err, out)
	}
	for _, want := range []string{"table inet fw\n", "  chain input  type filter hook input priority 0  policy accept\n",
		"udp dport 9 counter drop  [packets 4 bytes ", "tcp dport { 22, 80 } counter accept  [packets 0 bytes 0]", "  chain helper\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}

	// --interval: the packets sent in between.
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "rules", "ruleset", "--interval", "2s")
	var buf strings.Builder
	cmd.Stdout = &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	send(5)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("--interval: %v: %s", err, buf.String())
	}
	if !regexp.MustCompile(`udp dport 9 counter drop  \[packets 9 bytes \d+, \+5 in 2s, 2\.\d/s\]`).MatchString(buf.String()) {
		t.Errorf("--interval 2s with 5 packets sent:\n%s", buf.String())
	}

	// Without privileges.
	out, err = nsRun("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", bin, "rules", "ruleset")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out, "needs CAP_NET_ADMIN") {
		t.Errorf("unprivileged: %v: %s", err, out)
	}
	// A bad interval is a usage error.
	if out, err := nsRun(bin, "rules", "ruleset", "--interval", "-1s"); err == nil || err.(*exec.ExitError).ExitCode() != 2 {
		t.Errorf("--interval -1s: %v: %s", err, out)
	}
}

// TestIntegrationRulesRulesetNetns runs `netlens --netns NAME rules
// ruleset` from the host namespace on a namespace whose rules match a
// veth by index (iif, oif, an anonymous set of them), the veth's index
// one the host has no device of: each rule's text is the one nft lists in
// that namespace, the device named as it names it.
func TestIntegrationRulesRulesetNetns(t *testing.T) {
	ns := testNetns(t)
	peer := testNetns(t)
	bin := netlensBinary(t)
	idx := 0
	for i := 5000 + os.Getpid()%1000; i < 7000; i++ {
		if _, err := net.InterfaceByIndex(i); err != nil {
			idx = i
			break
		}
	}
	if idx == 0 {
		t.Fatal("no free interface index from 5000")
	}
	nsRun := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
		return string(out)
	}
	nsRun("ip", "link", "add", "nlv-cli", "index", strconv.Itoa(idx), "type", "veth", "peer", "name", "nlv-cli-p", "netns", peer)
	nsRun("nft", `add table inet fw; add chain inet fw in { type filter hook input priority 0; policy accept; }; `+
		`add rule inet fw in iif "nlv-cli" accept; add rule inet fw in iif { "lo", "nlv-cli" } tcp dport { 22, 80 } accept; `+
		`add chain inet fw out { type filter hook output priority 0; policy accept; }; add rule inet fw out oif != "nlv-cli" udp dport 9 drop`)
	nft := nsRun("nft", "-a", "list", "ruleset")

	// From the host, --netns: not under ip netns exec.
	out, err := exec.Command(bin, "--netns", ns, "rules", "ruleset", "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("--netns %s rules ruleset --json: %v: %s", ns, err, out)
	}
	var got model.NFTables
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	n := 0
	for _, ch := range got.Chains {
		for _, r := range ch.Rules {
			n++
			if want := fmt.Sprintf("%s # handle %d\n", r.Text, r.Handle); !strings.Contains(nft, want) {
				t.Errorf("chain %s handle %d: %q not as nft lists it:\n%s", ch.Name, r.Handle, r.Text, nft)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d rules, want 3: %+v", n, got)
	}
	out, err = exec.Command(bin, "--netns", ns, "rules", "ruleset").CombinedOutput()
	if err != nil {
		t.Fatalf("--netns %s rules ruleset: %v: %s", ns, err, out)
	}
	for _, want := range []string{`iif "nlv-cli" accept`, `iif { "lo", "nlv-cli" } tcp dport { 22, 80 } accept`, `oif != "nlv-cli" udp dport 9 drop`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}
