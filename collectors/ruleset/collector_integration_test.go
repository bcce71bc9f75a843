package ruleset

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"

	"netlens/control/filter/nft"
	"netlens/model"
)

// nsRun runs a command in network namespace ns and returns its output.
func nsRun(t testing.TB, ns string, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return string(out)
}

// testNS makes a network namespace with lo up, deleted at the end, and
// returns its name and an open descriptor of it.
func testNS(t testing.TB) (string, int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and nftables tables")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft(8), the oracle (apt-get install -y nftables)")
	}
	ns := fmt.Sprintf("nlrs-%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	nsRun(t, ns, "ip", "link", "set", "lo", "up")
	f, err := os.Open(filepath.Join("/run/netns", ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return ns, int(f.Fd())
}

// nftJSON is what nft -j list ruleset says of the chains and rules.
type nftJSON struct {
	Nftables []struct {
		Chain *struct {
			Family, Table, Name, Type, Hook, Policy string
			Prio                                    int32
		} `json:"chain"`
		Rule *struct {
			Family, Table, Chain string
			Handle               uint64
			Expr                 []map[string]json.RawMessage
		} `json:"rule"`
	} `json:"nftables"`
}

type oracleRule struct {
	counter        bool
	packets, bytes uint64
}

// oracle reads the ruleset with nft -j: the chains by family, table and
// name, the rules by family, table and handle.
func oracle(t *testing.T, ns string) (map[string]model.NFTChain, map[ruleKeyText]oracleRule) {
	t.Helper()
	var j nftJSON
	if err := json.Unmarshal([]byte(nsRun(t, ns, "nft", "-j", "list", "ruleset")), &j); err != nil {
		t.Fatal(err)
	}
	chains, rules := map[string]model.NFTChain{}, map[ruleKeyText]oracleRule{}
	for _, o := range j.Nftables {
		if c := o.Chain; c != nil {
			chains[c.Family+" "+c.Table+" "+c.Name] = model.NFTChain{Family: c.Family, Table: c.Table, Name: c.Name, Type: c.Type, Hook: c.Hook, Priority: c.Prio, Policy: c.Policy}
		}
		if r := o.Rule; r != nil {
			var or oracleRule
			for _, e := range r.Expr {
				if raw, ok := e["counter"]; ok && !or.counter {
					var c struct{ Packets, Bytes uint64 }
					if err := json.Unmarshal(raw, &c); err != nil {
						t.Fatal(err)
					}
					or = oracleRule{true, c.Packets, c.Bytes}
				}
			}
			rules[ruleKeyText{r.Family, r.Table, r.Handle}] = or
		}
	}
	return chains, rules
}

type ruleKeyText struct {
	family, table string
	handle        uint64
}

// TestIntegrationRulesetMatchesNft loads a ruleset with nft -f in a
// namespace (an inet filter table with a base chain and a regular one, an
// ip nat table, and netlens's own table, which must be left out), sends
// UDP to a counted drop rule, and compares every chain and every rule's
// counter with nft -j list ruleset; a second reading after three more
// packets has their delta and rate.
func TestIntegrationRulesetMatchesNft(t *testing.T) {
	ns, fd := testNS(t)
	if nft.TableName != OwnTable {
		t.Fatalf("OwnTable %q, the nft backend's table %q", OwnTable, nft.TableName)
	}
	file := filepath.Join(t.TempDir(), "rules.nft")
	ruleset := `table inet fw {
	set blocked { type ipv4_addr; elements = { 10.9.0.1, 10.9.0.2 } }
	chain input {
		type filter hook input priority filter; policy accept;
		ct state established,related counter accept
		udp dport 7100 counter drop
		ip saddr @blocked drop
		tcp dport 7101 jump guard
		counter
	}
	chain guard {
		counter return
	}
}
table ip nat {
	chain post { type nat hook postrouting priority srcnat; policy accept; oifname "eth9" counter masquerade; }
}
table inet netlens {
	chain mine { counter; }
}
`
	if err := os.WriteFile(file, []byte(ruleset), 0o644); err != nil {
		t.Fatal(err)
	}
	nsRun(t, ns, "nft", "-f", file)
	send := func(n int) {
		nsRun(t, ns, "bash", "-c", fmt.Sprintf("for i in $(seq %d); do echo x > /dev/udp/127.0.0.1/7100; done", n))
	}
	send(5)
	var now time.Time = time.Unix(1000, 0)
	c := New(Options{NetNS: fd, Now: func() time.Time { return now }})
	got, err := c.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	chains, rules := oracle(t, ns)
	delete(chains, "inet netlens mine")
	if got.Tables != 2 || len(got.Chains) != len(chains) {
		t.Fatalf("%d tables, %d chains; want 2 and %d (%v)", got.Tables, len(got.Chains), len(chains), chains)
	}
	var dropRule *model.NFTRule
	n := 0
	for i := range got.Chains {
		ch := &got.Chains[i]
		want, ok := chains[ch.Family+" "+ch.Table+" "+ch.Name]
		if !ok {
			t.Errorf("chain %s %s %s: nft has none", ch.Family, ch.Table, ch.Name)
			continue
		}
		if ch.Type != want.Type || ch.Hook != want.Hook || ch.Priority != want.Priority || ch.Policy != want.Policy {
			t.Errorf("chain %s: type %q hook %q prio %d policy %q; nft: %q %q %d %q", ch.Name, ch.Type, ch.Hook, ch.Priority, ch.Policy,
				want.Type, want.Hook, want.Priority, want.Policy)
		}
		for j := range ch.Rules {
			r := &ch.Rules[j]
			n++
			o, ok := rules[ruleKeyText{ch.Family, ch.Table, r.Handle}]
			if !ok {
				t.Errorf("rule %s %s handle %d: nft has none", ch.Table, ch.Name, r.Handle)
				continue
			}
			if r.Counter != o.counter || r.Packets != o.packets || r.Bytes != o.bytes {
				t.Errorf("rule %s handle %d (%s): counter %v %d packets %d bytes; nft: %v %d %d", ch.Name, r.Handle, r.Text,
					r.Counter, r.Packets, r.Bytes, o.counter, o.packets, o.bytes)
			}
			if r.Delta != 0 || r.Rate != 0 {
				t.Errorf("rule %d: delta %d rate %v on the first reading", r.Handle, r.Delta, r.Rate)
			}
			if r.Verdict == "drop" && strings.Contains(r.Text, "7100") {
				dropRule = r
			}
		}
	}
	if want := len(rules) - 1; n != want { // netlens's own rule left out
		t.Errorf("%d rules, want %d", n, want)
	}
	if dropRule == nil || dropRule.Packets != 5 {
		t.Fatalf("the udp dport 7100 drop rule: %+v, want 5 packets", dropRule)
	}
	// Three more in two seconds: a delta of 3, 1.5 a second.
	send(3)
	now = now.Add(2 * time.Second)
	got, err = c.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range got.Chains {
		for _, r := range ch.Rules {
			if r.Handle == dropRule.Handle && ch.Table == "fw" && (r.Packets != 8 || r.Delta != 3 || r.Rate != 1.5) {
				t.Errorf("after 3 more: %d packets, delta %d, rate %v; want 8, 3, 1.5", r.Packets, r.Delta, r.Rate)
			}
		}
	}
}

// TestIntegrationRulesetEmpty: a namespace without nftables tables reads
// as none, and netlens's table alone is left out.
func TestIntegrationRulesetEmpty(t *testing.T) {
	ns, fd := testNS(t)
	c := New(Options{NetNS: fd})
	got, err := c.Read(context.Background())
	if err != nil || got.Tables != 0 || len(got.Chains) != 0 || got.Chains == nil {
		t.Fatalf("empty namespace: %+v, %v", got, err)
	}
	nsRun(t, ns, "nft", "add table inet netlens; add chain inet netlens x { type filter hook input priority 0; }")
	if got, err = c.Read(context.Background()); err != nil || got.Tables != 0 || len(got.Chains) != 0 {
		t.Fatalf("with netlens's table alone: %+v, %v", got, err)
	}
}

// TestIntegrationRulesetUnprivileged: without CAP_NET_ADMIN the read
// fails naming what it needs (the Filters tab shows it).
func TestIntegrationRulesetUnprivileged(t *testing.T) {
	if os.Getenv("NETLENS_RULESET_CHILD") == "1" { // the child, as nobody
		_, err := New(Options{}).Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), "needs CAP_NET_ADMIN") {
			fmt.Println("BAD", err)
			os.Exit(1)
		}
		fmt.Println("OK", err)
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to nobody")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
		exe, "-test.run=^TestIntegrationRulesetUnprivileged$")
	cmd.Env = append(os.Environ(), "NETLENS_RULESET_CHILD=1")
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK nftables: list tables: needs CAP_NET_ADMIN") {
		t.Errorf("as nobody: %v: %s", err, out)
	}
}

type countPub struct{ n int }

func (p *countPub) Publish(model.Update) { p.n++ }

// TestIntegrationRulesetDuty: a ruleset whose read took 100 ms is read
// again only 2 s later (5% of a core), and the note says how often.
func TestIntegrationRulesetDuty(t *testing.T) {
	_, fd := testNS(t)
	now := time.Unix(1000, 0)
	c := New(Options{NetNS: fd, Now: func() time.Time { return now }})
	var pub countPub
	if err := c.Collect(context.Background(), &pub); err != nil || pub.n != 1 {
		t.Fatalf("first collect: %v, %d updates", err, pub.n)
	}
	c.mu.Lock()
	c.cost = 100 * time.Millisecond // as if the read had been slow
	c.mu.Unlock()
	for _, step := range []struct {
		after time.Duration
		want  int
	}{{time.Second, 1}, {1900 * time.Millisecond, 1}, {2100 * time.Millisecond, 2}} {
		now = time.Unix(1000, 0).Add(step.after)
		if err := c.Collect(context.Background(), &pub); err != nil || pub.n != step.want {
			t.Errorf("%v after: %v, %d updates, want %d", step.after, err, pub.n, step.want)
		}
	}
}

// TestIntegrationRulesetCtDirection: a chain google/nftables v0.3.0
// cannot decode at all (a ct key with a direction: it reads the u8
// NFTA_CT_DIRECTION as a u32 and fails the chain's dump) comes whole,
// since the collector decodes the rules itself, and the other chains are
// read as usual.
func TestIntegrationRulesetCtDirection(t *testing.T) {
	ns, fd := testNS(t)
	nsRun(t, ns, "nft", "add table inet t; add chain inet t odd; add rule inet t odd ct original ip saddr 10.0.0.1 counter; "+
		"add chain inet t plain; add rule inet t plain udp dport 9 counter drop")
	c := New(Options{NetNS: fd})
	got, err := c.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]model.NFTChain{}
	for _, ch := range got.Chains {
		byName[ch.Name] = ch
	}
	odd, plain := byName["odd"], byName["plain"]
	if len(odd.Rules) != 1 || odd.Rules[0].Text != "ct original ip saddr 10.0.0.1 counter" || odd.Unreadable != "" {
		t.Errorf("chain odd: %+v", odd)
	}
	if len(plain.Rules) != 1 || plain.Rules[0].Text != "udp dport 9 counter drop" || plain.Unreadable != "" {
		t.Errorf("chain plain: %+v", plain)
	}
	if c.Note() != "" {
		t.Errorf("note %q, want none", c.Note())
	}
}

// TestIntegrationRulesetSetCache: the elements of anonymous sets are
// fetched once, not at every Read; a rule replaced by one with another
// anonymous set, a set's name given to a new rule's set, and a table
// deleted and made again with the same names all show the new elements,
// each Read's text as nft lists it.
func TestIntegrationRulesetSetCache(t *testing.T) {
	ns, fd := testNS(t)
	nsRun(t, ns, "nft", "add table inet t; add chain inet t c { type filter hook input priority 0; policy accept; }; "+
		"add rule inet t c tcp dport { 22, 80 } accept; add rule inet t c ip saddr { 10.0.0.1, 10.0.0.2 } counter; "+
		"add rule inet t c udp dport 9 counter drop")
	c := New(Options{NetNS: fd})
	// read reads the ruleset, checks every rule against nft's listing and
	// the listings and fetches so far, and returns the handles of the
	// rules by their text's first words.
	read := func(step string, lists, fetches int) map[string]uint64 {
		t.Helper()
		got, err := c.Read(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		want := parseNftList(t, nsRun(t, ns, "nft", "-a", "list", "ruleset"))
		handles := map[string]uint64{}
		n := 0
		for _, ch := range got.Chains {
			for _, r := range ch.Rules {
				n++
				k := ruleKey{ch.Family, ch.Table, ch.Name, r.Handle}
				if r.Text != want[k] {
					t.Errorf("%s: %v:\n Text: %s\n  nft: %s", step, k, r.Text, want[k])
				}
				handles[strings.Join(strings.Fields(r.Text)[:2], " ")] = r.Handle
			}
		}
		if n != len(want) {
			t.Errorf("%s: %d rules, nft lists %d", step, n, len(want))
		}
		if c.sets.lists != lists || c.sets.fetches != fetches {
			t.Errorf("%s: %d listings and %d fetches in all, want %d and %d", step, c.sets.lists, c.sets.fetches, lists, fetches)
		}
		var names []string
		for _, sets := range c.sets.index {
			for name, s := range sets {
				names = append(names, fmt.Sprintf("%s=%d/%d", name, s.key.table, s.key.set))
			}
		}
		t.Logf("%s: sets %v", step, names)
		return handles
	}
	h := read("first read", 1, 2)
	tk := tableKey{nftables.TableFamilyINet, "t"}
	first := c.sets.index[tk]["__set0"].key
	nsRun(t, ns, "bash", "-c", "echo x > /dev/udp/127.0.0.1/9") // counters move, the ruleset does not
	read("second read", 1, 2)
	read("third read", 1, 2)

	nsRun(t, ns, "nft", fmt.Sprintf("replace rule inet t c handle %d tcp dport { 443, 8443 } accept", h["tcp dport"]))
	h = read("rule replaced", 2, 3)

	// Two transactions: the name the deleted rule's set had is free for
	// the next rule's.
	nsRun(t, ns, "nft", fmt.Sprintf("delete rule inet t c handle %d", h["ip saddr"]))
	nsRun(t, ns, "nft", "add rule inet t c ip saddr { 192.0.2.7, 192.0.2.9 } counter")
	read("set name given again", 3, 4)
	if k := c.sets.index[tk]["__set0"].key; k == first || k.table != first.table {
		t.Errorf("__set0 is set %v, was %v: the kernel did not give the name to the new rule's set", k, first)
	}

	nsRun(t, ns, "nft", "delete table inet t; add table inet t; add chain inet t c { type filter hook input priority 0; policy accept; }; "+
		"add rule inet t c tcp dport { 25, 587 } accept; add rule inet t c ip saddr { 10.9.9.9, 10.8.8.8 } counter")
	read("table made again", 4, 6)
	read("and read again", 4, 6)
	if len(c.sets.elems) != 2 {
		t.Errorf("%d sets' elements kept, want the 2 the ruleset has", len(c.sets.elems))
	}
}
