package exporter

import (
	"bytes"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
	"netlens/snapshot/snapshottest"
)

// fakeNamespaces is a NamespaceSource whose view the test changes.
type fakeNamespaces struct {
	mu sync.Mutex
	v  NamespacesView
}

func (f *fakeNamespaces) Snapshot() model.Snapshot { return snapshottest.Full() }

func (f *fakeNamespaces) Namespaces() NamespacesView {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.v
}

func nsSnap(noPorts uint64) model.Snapshot {
	s := model.NewStore("h", "k", snapshottest.T0)
	s.Publish(model.CountersUpdate{Collector: "counters", At: snapshottest.T0, Counters: []model.RawCounter{
		{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "NoPorts", Kind: model.KindCounter, Value: noPorts}}})
	return s.Snapshot()
}

// TestNamespacesExposition: with --netns all every netns series carries
// netns and container labels, sockets are counted per namespace, the
// host-wide series carry neither, a namespace gone between scrapes is
// gone from the next, and promtool finds nothing to say.
func TestNamespacesExposition(t *testing.T) {
	src := &fakeNamespaces{v: NamespacesView{
		Namespaces: []Namespace{
			{Inode: 1, NetNS: "inode:1", Snap: nsSnap(5)},
			{Inode: 2, NetNS: "blue", Container: "web-1", Snap: nsSnap(300)},
		},
		Sockets: []model.Socket{
			{Proto: model.ProtoTCP, State: model.StateListen, NetNS: 1},
			{Proto: model.ProtoTCP, State: model.StateListen, NetNS: 2},
			{Proto: model.ProtoTCP, State: model.StateListen, NetNS: 2},
			{Proto: model.ProtoUDP, State: model.StateClose, NetNS: 3}, // not exported
		},
		Unexported: map[string]int{UnexportedOverCap: 1},
		Kernel:     "k",
	}}
	srv := httptest.NewServer(Handler(src, Options{Version: "test"}))
	defer srv.Close()
	body := get(t, srv.URL+"/metrics", nil)
	got := map[string]string{}
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "netlens_drops_total") || strings.HasPrefix(l, "netlens_sockets") ||
			strings.HasPrefix(l, "netlens_build_info") || strings.HasPrefix(l, "netlens_netns_unexported") {
			k, v, _ := strings.Cut(l, " ")
			got[k] = v
		}
	}
	want := map[string]string{
		`netlens_drops_total{container="",group="Udp",instance="",layer="transport",name="NoPorts",netns="inode:1",source="/proc/net/snmp"}`:   "5",
		`netlens_drops_total{container="web-1",group="Udp",instance="",layer="transport",name="NoPorts",netns="blue",source="/proc/net/snmp"}`: "300",
		`netlens_sockets{container="",netns="inode:1",proto="tcp",state="LISTEN"}`:                                                             "1",
		`netlens_sockets{container="web-1",netns="blue",proto="tcp",state="LISTEN"}`:                                                           "2",
		`netlens_build_info{kernel="k",version="test"}`:                                                                                        "1",
		`netlens_netns_unexported{reason="not_enterable"}`:                                                                                     "0",
		`netlens_netns_unexported{reason="over_cap"}`:                                                                                          "1",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("series (-want +got):\n%s", d)
	}
	if promtool, err := exec.LookPath("promtool"); err != nil {
		t.Error("promtool not found: install the Debian package prometheus (make test-deps)")
	} else {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}

	src.mu.Lock()
	src.v.Namespaces = src.v.Namespaces[:1]
	src.mu.Unlock()
	if body := get(t, srv.URL+"/metrics", nil); strings.Contains(body, `netns="blue"`) {
		t.Errorf("a namespace gone is still exported:\n%s", body)
	}
}
