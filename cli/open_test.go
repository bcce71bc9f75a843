package cli

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/diff"
	"netlens/model"
	"netlens/snapshot"
	"netlens/ui"
)

// TestOpenDiffChanged: what --open A --diff B draws as changed is what
// netlens diff reports: a flow that appeared as well as the fixture's
// socket, sysctl and rule.
func TestOpenDiffChanged(t *testing.T) {
	a, err := snapshot.ReadFile("../ui/testdata/offline-a.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := snapshot.ReadFile("../ui/testdata/offline-b.json")
	if err != nil {
		t.Fatal(err)
	}
	nf := b.Flows[0]
	nf.Orig.Src = netip.MustParseAddrPort("10.0.0.3:40000")
	b.Flows = append(append([]model.Flow{}, b.Flows...), nf)
	r, err := diff.Compare(a, b, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := &ui.Changed{
		Sockets: map[ui.SocketID]bool{{Proto: model.ProtoTCP, Local: netip.MustParseAddrPort("0.0.0.0:8080"), Remote: netip.MustParseAddrPort("0.0.0.0:0")}: true},
		Sysctls: map[string]bool{"net.ipv4.ip_forward": true},
		Rules:   map[uint32]bool{2: true},
		Flows:   map[ui.FlowID]bool{{Proto: nf.Proto, Src: nf.Orig.Src, Dst: nf.Orig.Dst}: true},
	}
	if d := cmp.Diff(want, changed(r)); d != "" {
		t.Errorf("changed (-want +got):\n%s", d)
	}
	if got, want := summary(r), "5 changes: +1 socket, 1 drop counter, 1 sysctl, +1 rule, +1 flow (netlens diff lists them)"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}
