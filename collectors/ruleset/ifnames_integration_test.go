package ruleset

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// freeIndex is an interface index the host has no device of, from start.
func freeIndex(t *testing.T, start int) int {
	t.Helper()
	for i := start; i < start+1000; i++ {
		if _, err := net.InterfaceByIndex(i); err != nil {
			return i
		}
	}
	t.Fatalf("no free interface index from %d", start)
	return 0
}

// TestIntegrationRulesetIfnamesInNamespace reads, from the host, the
// ruleset of a namespace whose rules name devices by index (iif, oif, an
// anonymous set of them) as `rules ruleset --netns` does (New with the
// namespace's descriptor), and checks each rule's text is what nft(8)
// lists in that namespace: a veth (its peer in a second namespace) whose
// index the host has no device of, a dummy whose index is a different
// device's on the host, and a device deleted after its rule was added,
// whose index nft prints as a number.
func TestIntegrationRulesetIfnamesInNamespace(t *testing.T) {
	ns, fd := testNS(t)
	peer, _ := testNS(t)
	vethIdx := freeIndex(t, 4000+os.Getpid()%1000)
	nsRun(t, ns, "ip", "link", "add", "nlv-a", "index", strconv.Itoa(vethIdx), "type", "veth", "peer", "name", "nlv-b", "netns", peer)
	nsRun(t, ns, "ip", "link", "set", "nlv-a", "up")
	// The host's device of the highest index, other than lo: the
	// namespace has a veth of that index under another name.
	hostIfs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	clash := net.Interface{}
	for _, ifc := range hostIfs {
		if ifc.Index > 1 && ifc.Index != vethIdx && ifc.Index > clash.Index {
			clash = ifc
		}
	}
	dummies := []string{"nl-gone"}
	if clash.Index > 0 {
		nsRun(t, ns, "ip", "link", "add", "nl-clash", "index", strconv.Itoa(clash.Index), "type", "veth", "peer", "name", "nl-clash-p", "netns", peer)
		dummies = append(dummies, "nl-clash")
	} else {
		t.Logf("the host has no device but lo: no index to share")
	}
	goneIdx := freeIndex(t, vethIdx+1)
	nsRun(t, ns, "ip", "link", "add", "nl-gone", "index", strconv.Itoa(goneIdx), "type", "veth", "peer", "name", "nl-gone-p", "netns", peer)

	rules := `table inet t {
	chain in {
		type filter hook input priority 0; policy accept;
		meta iif "nlv-a" accept
		iif != "nlv-a" counter
		iif { "lo", "nlv-a" } counter accept
		iif "nl-gone" drop
	}
	chain out {
		type filter hook output priority 0; policy accept;
		meta oif "nlv-a" counter accept
		oif "lo" accept
	}
}
`
	if len(dummies) == 2 {
		rules += "table ip c {\n\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n\t\tiif \"nl-clash\" oif \"nlv-a\" accept\n\t}\n}\n"
	}
	file := filepath.Join(t.TempDir(), "ifs.nft")
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	nsRun(t, ns, "nft", "-f", file)
	nsRun(t, ns, "ip", "link", "del", "nl-gone")

	want := parseNftList(t, nsRun(t, ns, "nft", "-a", "list", "ruleset"))
	got, err := New(Options{NetNS: fd}).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	texts := matchNft(t, got, want)
	// What nft shows must be what this test means: names of the
	// namespace, and the deleted device's index.
	all := strings.Join(texts, "\n")
	for _, s := range []string{`iif "nlv-a" accept`, `oif "nlv-a" counter accept`, `iif { "lo", "nlv-a" } counter accept`,
		fmt.Sprintf("iif %d drop", goneIdx)} {
		if !strings.Contains(all, s) {
			t.Errorf("no rule %q in\n%s", s, all)
		}
	}
	if len(dummies) == 2 && !strings.Contains(all, `iif "nl-clash" oif "nlv-a" accept`) {
		t.Errorf("no rule naming nl-clash (index %d, the host's %s) in\n%s", clash.Index, clash.Name, all)
	}
	t.Logf("compared %d rules with nft in the namespace; veth index %d, shared index %d (host %s), deleted %d",
		len(texts), vethIdx, clash.Index, clash.Name, goneIdx)
}
