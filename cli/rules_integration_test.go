package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"netlens/control/filter/nft"
	"netlens/internal/filtertest"
	"netlens/internal/netnstest"
)

// TestMain doubles as the nft revert helper, as the netlens binary does
// with `netlens rules revert-watch FILE`.
func TestMain(m *testing.M) { filtertest.Main(m) }

// inNFTNamespace runs fn with an nft backend in a new network namespace
// with nftables, and fails t with fn's error; it returns the namespace
// (to read the table with nft(8) after).
func inNFTNamespace(t *testing.T, fn func(b *nft.Backend) error) *netnstest.NS {
	t.Helper()
	ns, opt := filtertest.NFTNamespace(t)
	var ferr error
	ns.Do(t, func() {
		b, err := nft.New(opt)
		if err != nil {
			ferr = err
			return
		}
		ferr = fn(b)
	})
	if ferr != nil {
		t.Fatal(ferr)
	}
	return ns
}

func TestIntegrationCLINft(t *testing.T) {
	dir := t.TempDir()
	ns := inNFTNamespace(t, func(b *nft.Backend) error {
		r := runCLI(t, b, nil, "", "add", "--action", "accept", "--proto", "tcp", "--dport", "22", "--label", "keep ssh")
		if r.err != nil {
			return r.err
		}
		r = runCLI(t, b, nil, "", "add", "--action", "count", "--src", "2001:db8::/32", "--hook", "input,output", "--label", "v6", "--no-revert")
		if r.err != nil {
			return r.err
		}
		if r = runCLI(t, b, nil, "", "save", filepath.Join(dir, "rules.json")); r.err != nil {
			return r.err
		}
		saved, _ := os.ReadFile(filepath.Join(dir, "rules.json"))
		bad := strings.Replace(string(saved), `"label": "v6"`, `"label": "v6", "sport": {"min": 9, "max": 1}`, 1)
		os.WriteFile(filepath.Join(dir, "bad.json"), []byte(bad), 0o600)
		before, _ := b.List()
		r = runCLI(t, b, nil, "", "load", filepath.Join(dir, "bad.json"))
		if !isUsage(r.err) || !strings.Contains(r.err.Error(), `rule 2 ("v6")`) {
			return fmt.Errorf("bad load: %v", r.err)
		}
		after, _ := b.List()
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("a bad load changed the rules")
		}
		// the disable of the accept is drop-capable only with a drop
		// behind it; here it is not, so it applies at once.
		if r = runCLI(t, b, nil, "", "disable", fmt.Sprint(after[0].ID)); r.err != nil || !strings.HasSuffix(r.out, ": done\n") {
			return fmt.Errorf("disable: %v %s", r.err, r.out)
		}
		if r = runCLI(t, b, nil, "", "load", filepath.Join(dir, "rules.json")); r.err != nil {
			return r.err
		}
		final, _ := b.List()
		if len(final) != 2 || !final[0].Enabled || final[0].Label != "keep ssh" || final[1].Label != "v6" {
			t.Errorf("after loading the saved file: %+v", final)
		}
		// nft keeps the saved ids (the exporter's id labels too).
		for i := range final {
			if i < len(after) && final[i].ID != after[i].ID {
				t.Errorf("rule %q: id %d after load, %d when saved", final[i].Label, final[i].ID, after[i].ID)
			}
		}
		// Two rules with one id: refused, nothing changed.
		dup := strings.Replace(string(saved), fmt.Sprintf(`"id": %d,`, after[1].ID), fmt.Sprintf(`"id": %d,`, after[0].ID), 1)
		os.WriteFile(filepath.Join(dir, "dup.json"), []byte(dup), 0o600)
		if r = runCLI(t, b, nil, "", "load", filepath.Join(dir, "dup.json")); r.err == nil || !strings.Contains(r.err.Error(), fmt.Sprintf("id %d is rule 1's too", after[0].ID)) {
			t.Errorf("load with a duplicate id: %v", r.err)
		}
		if again, _ := b.List(); fmt.Sprint(again) != fmt.Sprint(final) {
			t.Errorf("a load with a duplicate id changed the rules")
		}
		return nil
	})
	out := ns.Run(t, "nft", "list", "table", "inet", "netlens")
	if !strings.Contains(out, `comment "keep ssh"`) || !strings.Contains(out, "ip6 saddr 2001:db8::/32") {
		t.Errorf("nft list:\n%s", out)
	}
}

// TestIntegrationSnapshotSchema publishes real nft rules (one of them
// foreign, added with nft(8)) through the collector and validates the
// snapshot against docs/snapshot.schema.json.

// TestIntegrationCLINftStatefulMatches: the CLI's --ct-state, --icmp,
// --tcp-flags and a leading ! reach nftables as nft(8) itself writes
// them, list back the same, and survive save and load.
func TestIntegrationCLINftStatefulMatches(t *testing.T) {
	dir := t.TempDir()
	ns := inNFTNamespace(t, func(b *nft.Backend) error {
		for _, args := range [][]string{
			{"add", "--action", "drop", "--ct-state", "new", "--proto", "tcp", "--dport", "8080", "--label", "ct"},
			{"add", "--action", "drop", "--proto", "icmp", "--icmp", "echo-request", "--label", "icmp"},
			{"add", "--action", "drop", "--proto", "tcp", "--tcp-flags", "syn/syn,ack", "--dport", "25", "--label", "syn"},
			{"add", "--action", "drop", "--src", "!10.0.0.0/8", "--proto", "udp", "--dport", "53", "--label", "neg"},
		} {
			if r := runCLI(t, b, nil, "", append(args, "--no-revert")...); r.err != nil {
				return fmt.Errorf("%q: %v", args, r.err)
			}
		}
		r := runCLI(t, b, nil, "", "list")
		for _, s := range []string{"tcp * -> *:8080 ct new", "icmp * -> * type echo-request", "flags syn/syn,ack", "!10.0.0.0/8"} {
			if !strings.Contains(r.out, s) {
				t.Errorf("list lacks %q:\n%s", s, r.out)
			}
		}
		path := filepath.Join(dir, "rules.json")
		if r = runCLI(t, b, nil, "", "save", path); r.err != nil {
			return r.err
		}
		before, _ := b.List()
		if r = runCLI(t, b, nil, "", "load", path, "--no-revert"); r.err != nil {
			return r.err
		}
		after, _ := b.List()
		if len(after) != len(before) {
			return fmt.Errorf("after load: %d rules, want %d", len(after), len(before))
		}
		for i := range before {
			if before[i].Label != after[i].Label || before[i].ICMP != after[i].ICMP || before[i].TCPFlags != after[i].TCPFlags ||
				fmt.Sprint(before[i].CTState, before[i].Negate) != fmt.Sprint(after[i].CTState, after[i].Negate) {
				t.Errorf("rule %d after save and load: %+v, want %+v", i, after[i], before[i])
			}
		}
		return nil
	})
	out := ns.Run(t, "nft", "list", "table", "inet", "netlens")
	for _, s := range []string{"ct state new tcp dport 8080", "icmp type echo-request", "tcp flags syn / syn,ack", "ip saddr != 10.0.0.0/8"} {
		if !strings.Contains(out, s) {
			t.Errorf("nft list lacks %q:\n%s", s, out)
		}
	}
}

// TestIntegrationCLINftPortZero: `rules add --dport 0` (or --sport 0,
// 0-0, 0-80) and a rules file with a port range from 0 exit 2 and leave
// the nftables table as it was; they made a rule of any port (`meta
// l4proto tcp ... drop`), which dropped every new TCP connection.
func TestIntegrationCLINftPortZero(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero.json")
	os.WriteFile(zero, []byte(`{"rules":[{"action":"drop","proto":"tcp","dport":{"min":0,"max":0}}]}`), 0o600)
	ns := inNFTNamespace(t, func(b *nft.Backend) error {
		if r := runCLI(t, b, nil, "", "add", "--action", "accept", "--proto", "tcp", "--dport", "22", "--label", "keep ssh", "--no-revert"); r.err != nil {
			return r.err
		}
		before, _ := b.List()
		for _, args := range [][]string{
			{"add", "--action", "drop", "--proto", "tcp", "--dport", "0"},
			{"add", "--action", "drop", "--proto", "tcp", "--sport", "0"},
			{"add", "--action", "drop", "--proto", "tcp", "--dport", "0-0"},
			{"add", "--action", "drop", "--proto", "tcp", "--dport", "0-80"},
			{"load", zero},
		} {
			r := runCLI(t, b, nil, "", append(args, "--no-revert")...)
			if ExitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "not a port to filter on: want 1-65535") {
				t.Errorf("%q: exit %d (%v), want 2 and the reason", args, ExitCode(r.err), r.err)
			}
		}
		if after, _ := b.List(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("refused adds changed the rules: %+v, was %+v", after, before)
		}
		return nil
	})
	out := ns.Run(t, "nft", "list", "table", "inet", "netlens")
	if strings.Contains(out, "drop") || !strings.Contains(out, "tcp dport 22") {
		t.Errorf("nft list: a drop rule, or the accept gone:\n%s", out)
	}
}

// TestIntegrationCLINftPolicy: `rules policy input drop` on the nft
// backend sets both families in one transaction with the revert deadline;
// `rules policy` and `rules list` show it; unconfirmed, it is back to
// accept after the deadline; confirmed, it stays; accept needs no
// deadline.
func TestIntegrationCLINftPolicy(t *testing.T) {
	inNFTNamespace(t, func(b *nft.Backend) error {
		inputRow := func() string {
			r := runCLI(t, b, nil, "", "policy")
			for _, line := range strings.Split(r.out, "\n") {
				if strings.HasPrefix(line, "input ") {
					return strings.Join(strings.Fields(line), " ")
				}
			}
			return r.out
		}
		r := runCLI(t, b, nil, "", "policy", "input", "drop", "--revert", "5s")
		if r.err != nil || !strings.Contains(r.out, "policy drop at ipv4+ipv6 input: applied; it is undone at") {
			return fmt.Errorf("policy input drop: %v %s", r.err, r.out)
		}
		if got := inputRow(); got != "input drop drop" {
			return fmt.Errorf("rules policy: %q", got)
		}
		if r = runCLI(t, b, nil, "", "list"); !strings.Contains(r.out, "policy: drop at ipv4 input\npolicy: drop at ipv6 input\npending: txn") {
			return fmt.Errorf("list:\n%s", r.out)
		}
		time.Sleep(6500 * time.Millisecond)
		if got := inputRow(); got != "input accept accept" {
			return fmt.Errorf("after the deadline: %q", got)
		}
		if r = runCLI(t, b, nil, "", "policy", "input", "drop", "--family", "ipv6", "--revert", "5s"); r.err != nil {
			return r.err
		}
		if r = runCLI(t, b, nil, "", "confirm"); r.err != nil {
			return r.err
		}
		time.Sleep(6 * time.Second)
		if got := inputRow(); got != "input accept drop" {
			return fmt.Errorf("confirmed, after the deadline: %q", got)
		}
		if r = runCLI(t, b, nil, "", "policy", "input", "accept"); r.err != nil || !strings.HasSuffix(r.out, ": done\n") {
			return fmt.Errorf("accept: %v %s", r.err, r.out)
		}
		return nil
	})
}
