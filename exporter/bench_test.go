package exporter

import (
	"fmt"
	"io"
	"net/http/httptest"
	"net/netip"
	"testing"

	"netlens/model"
	"netlens/snapshot/snapshottest"
)

// bigSnapshot is the fixture with n sockets and m flows added.
func bigSnapshot(n, m int) model.Snapshot {
	snap := snapshottest.Full()
	socks := make([]model.Socket, 0, n)
	for i := range n {
		socks = append(socks, model.Socket{Proto: model.ProtoTCP, Family: model.FamilyIPv4,
			Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(1024+i%60000)),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(i >> 16), 1}), 17000),
			State:  model.SockState(1 + i%11)})
	}
	flows := make([]model.Flow, m)
	for i := range flows {
		flows[i] = model.Flow{ID: uint32(i), Proto: model.ProtoUDP, ProtoNum: 17}
	}
	snap.Sockets, snap.Flows = socks, flows
	return snap
}

// BenchmarkScrape is one /metrics request (text format) at 100k sockets
// and 65k flows, in-process.
func BenchmarkScrape(b *testing.B) {
	for _, size := range []struct{ socks, flows int }{{0, 0}, {100_000, 65_536}} {
		b.Run(fmt.Sprintf("sockets=%d/flows=%d", size.socks, size.flows), func(b *testing.B) {
			h := Handler(fixed(bigSnapshot(size.socks, size.flows)), Options{})
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
				io.Copy(io.Discard, w.Body)
			}
		})
	}
}

// BenchmarkScrapeNamespaces is one /metrics request (text format) of
// serve --netns all at 64 namespaces (the default --max-netns), each
// with the fixture's counters, and 100k sockets spread over them,
// in-process.
func BenchmarkScrapeNamespaces(b *testing.B) {
	const nss = 64
	big := bigSnapshot(100_000, 0)
	src := &fakeNamespaces{v: NamespacesView{Sockets: big.Sockets, Kernel: "k"}}
	for i := range src.v.Sockets {
		src.v.Sockets[i].NetNS = uint64(1 + i%nss)
	}
	for i := range nss {
		snap := snapshottest.Full()
		snap.Sockets = nil
		src.v.Namespaces = append(src.v.Namespaces, Namespace{Inode: uint64(1 + i), NetNS: fmt.Sprintf("inode:%d", 1+i), Container: fmt.Sprintf("c%d", i), Snap: snap})
	}
	h := Handler(src, Options{})
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		io.Copy(io.Discard, w.Body)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b.ReportMetric(float64(w.Body.Len()), "bytes/scrape")
}
