package cli

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
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
		Sockets:      map[ui.SocketID]bool{{Proto: model.ProtoTCP, Local: netip.MustParseAddrPort("0.0.0.0:8080"), Remote: netip.MustParseAddrPort("0.0.0.0:0")}: true},
		Sysctls:      map[string]bool{"net.ipv4.ip_forward": true},
		Rules:        map[uint32]bool{2: true},
		Flows:        map[ui.FlowID]bool{{Proto: nf.Proto, Src: nf.Orig.Src, Dst: nf.Orig.Dst}: true},
		Procs:        map[string]bool{"web": true},
		CaptureFlows: map[model.CaptureFlowKey]bool{}, CaptureHosts: map[netip.Addr]bool{},
	}
	if d := cmp.Diff(want, changed(r)); d != "" {
		t.Errorf("changed (-want +got):\n%s", d)
	}
	if got, want := summary(r), "5 changes: +1 socket, 1 drop counter, 1 sysctl, +1 rule, +1 flow (netlens diff lists them)"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

// TestCaptureChanged: captured flows and hosts that appeared or whose
// packets grew are changed; those that stood still or went are not.
func TestCaptureChanged(t *testing.T) {
	k := func(port uint16) model.CaptureFlowKey {
		return model.CaptureFlowKey{Proto: model.ProtoUDP, A: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port), B: netip.MustParseAddrPort("10.0.0.2:53")}
	}
	h := func(last byte) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, last}) }
	a := model.CaptureStats{
		TopFlows: []model.CaptureFlow{{Key: k(1), PacketsAToB: 5}, {Key: k(2), PacketsAToB: 5}, {Key: k(3), PacketsAToB: 5}},
		TopHosts: []model.CaptureHost{{Addr: h(1), PacketsSent: 5}, {Addr: h(2), PacketsRecv: 5}, {Addr: h(3), PacketsSent: 1}},
	}
	b := model.CaptureStats{
		TopFlows: []model.CaptureFlow{{Key: k(1), PacketsAToB: 5}, {Key: k(2), PacketsAToB: 5, PacketsBToA: 1}, {Key: k(4), PacketsAToB: 1}},
		TopHosts: []model.CaptureHost{{Addr: h(1), PacketsSent: 5}, {Addr: h(2), PacketsRecv: 6}, {Addr: h(4), PacketsSent: 1}},
	}
	c := &ui.Changed{CaptureFlows: map[model.CaptureFlowKey]bool{}, CaptureHosts: map[netip.Addr]bool{}}
	captureChanged(c, a, b)
	want := &ui.Changed{CaptureFlows: map[model.CaptureFlowKey]bool{k(2): true, k(4): true}, CaptureHosts: map[netip.Addr]bool{h(2): true, h(4): true}}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestOpenDiffOtherHost: --open A --diff B of two hosts is refused
// (exit 2) naming both, without the hint of netlens diff's --force, a
// flag the TUI does not have.
func TestOpenDiffOtherHost(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../ui/testdata/offline-b.json")
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(other, bytes.Replace(data, []byte(`"host": "`), []byte(`"host": "other-`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	err = runOpen(context.Background(), options{}, "../ui/testdata/offline-a.json", other)
	if ExitCode(err) != 2 || !strings.Contains(err.Error(), `"other-web-1"`) || strings.Contains(err.Error(), "(--force") {
		t.Errorf("err %v (exit %d), want exit 2 naming both hosts, without --force as if the TUI had it", err, ExitCode(err))
	}
}
