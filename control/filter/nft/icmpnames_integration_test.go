package nft

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
	modelrules "netlens/model/rules"
)

var describeLine = regexp.MustCompile(`^\s*([a-z0-9-]+)\s+(\d+)\s*$`)

// nftSymbols parses `nft describe P F`: nft's symbol table of a payload
// field, name to number.
func (l *lab) nftSymbols(t *testing.T, what ...string) map[string]uint8 {
	t.Helper()
	out := map[string]uint8{}
	for _, line := range strings.Split(l.ns.Run(t, "nft", append([]string{"describe"}, what...)...), "\n") {
		if m := describeLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[2])
			out[m[1]] = uint8(n)
		}
	}
	return out
}

// nftMatches loads rules (one per line, nft syntax) into the chain
// oracle/c in one batch and returns, per rule in order, the right-hand
// sides of its matches as `nft -j` (numeric: -n) prints them.
func (l *lab) nftMatches(t *testing.T, rules []string, numeric bool) [][]string {
	t.Helper()
	var b strings.Builder
	b.WriteString("add table inet oracle\nadd chain inet oracle c\nflush chain inet oracle c\n")
	for _, r := range rules {
		b.WriteString("add rule inet oracle c " + r + "\n")
	}
	f := filepath.Join(t.TempDir(), "rules.nft")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	l.ns.Run(t, "nft", "-f", f)
	args := []string{"-j", "list", "chain", "inet", "oracle", "c"}
	if numeric {
		args = append([]string{"-n"}, args...)
	}
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Expr []struct {
					Match *struct {
						Right json.RawMessage `json:"right"`
					} `json:"match"`
				} `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(l.ns.Run(t, "nft", args...)), &doc); err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, it := range doc.Nftables {
		if it.Rule == nil {
			continue
		}
		var vals []string
		for _, e := range it.Rule.Expr {
			if e.Match == nil {
				continue
			}
			var s string
			if json.Unmarshal(e.Match.Right, &s) != nil {
				s = string(e.Match.Right) // a number
			}
			vals = append(vals, s)
		}
		out = append(out, vals)
	}
	if len(out) != len(rules) {
		t.Fatalf("nft lists %d rules, %d loaded", len(out), len(rules))
	}
	return out
}

// TestIntegrationICMPNamesNft: netlens's ICMP and ICMPv6 type and code
// names are nft(8)'s, both ways, with nft as the oracle: its symbol
// tables (`nft describe`) equal netlens's; every number 0-255, as type
// and as code, displays as `nft -j` lists it; every name netlens knows
// means the number `nft -n -j` lists for it; and a netlens rule with
// names lists in nft as nft's own rule typed with those names.
func TestIntegrationICMPNamesNft(t *testing.T) {
	l := newLab(t)
	for _, p := range []struct {
		name string
		num  uint8
	}{{"icmp", 1}, {"icmpv6", 58}} {
		t.Run(p.name, func(t *testing.T) {
			if diff := cmp.Diff(l.nftSymbols(t, p.name, "type"), modelrules.ICMPTypeNames(p.num)); diff != "" {
				t.Errorf("type names (-nft +netlens):\n%s", diff)
			}
			if diff := cmp.Diff(l.nftSymbols(t, p.name, "code"), modelrules.ICMPCodeNames(p.num)); diff != "" {
				t.Errorf("code names (-nft +netlens):\n%s", diff)
			}
			// number -> name
			var byNum []string
			for n := range 256 {
				byNum = append(byNum, fmt.Sprintf("%s type %d %s code %d", p.name, n, p.name, n))
			}
			for n, m := range l.nftMatches(t, byNum, false) {
				want := strings.Join(m, "/")
				if got := modelrules.DisplayICMP(fmt.Sprintf("%d/%d", n, n), p.num); got != want {
					t.Errorf("%s %d/%d: netlens shows %q, nft %q", p.name, n, n, got, want)
				}
			}
			// name -> number
			var names, byName []string
			for name := range modelrules.ICMPTypeNames(p.num) {
				names = append(names, name)
				byName = append(byName, p.name+" type "+name)
			}
			for name := range modelrules.ICMPCodeNames(p.num) {
				names = append(names, "0/"+name)
				byName = append(byName, p.name+" code "+name)
			}
			for i, m := range l.nftMatches(t, byName, true) {
				got, err := modelrules.ParseICMP(names[i], p.num)
				num := got.Type
				if strings.HasPrefix(names[i], "0/") {
					num = got.Code
				}
				if err != nil || len(m) != 1 || strconv.Itoa(int(num)) != m[0] {
					t.Errorf("%s: netlens parses %q as %d (%v), nft as %v", p.name, names[i], num, err, m)
				}
			}
		})
	}
	l.ns.Run(t, "nft", "delete", "table", "inet", "oracle")

	// a rule with names, through the backend, is nft's rule with them
	for _, tt := range []struct {
		proto, icmp, nft, summary string
	}{
		{"icmp", "destination-unreachable/port-unreachable", "icmp type destination-unreachable icmp code port-unreachable counter drop", "destination-unreachable/port-unreachable"},
		{"icmp", "time-exceeded/1", "icmp type time-exceeded icmp code host-unreachable counter drop", "time-exceeded/host-unreachable"},
		{"icmpv6", "nd-neighbor-solicit", "icmpv6 type nd-neighbor-solicit counter drop", "nd-neighbor-solicit"},
		{"icmpv6", "1/admin-prohibited", "icmpv6 type destination-unreachable icmpv6 code admin-prohibited counter drop", "destination-unreachable/admin-prohibited"},
	} {
		r := l.add(t, model.Rule{Proto: tt.proto, ICMP: tt.icmp, Action: model.ActionDrop})
		l.nftShows(t, tt.nft)
		if got := modelrules.Summary(r); !strings.HasSuffix(got, " type "+tt.summary) {
			t.Errorf("rule %q reads back as %q, want ... type %s", tt.icmp, got, tt.summary)
		}
		if err := l.b.Delete(r.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
}
