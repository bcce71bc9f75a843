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
