package model

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSampledUDPRates(t *testing.T) {
	ap := netip.MustParseAddrPort
	udp := func(local, remote string) Socket {
		return Socket{Proto: ProtoUDP, Local: ap(local), Remote: ap(remote)}
	}
	flow := func(a, b string, ab, ba float64) CaptureFlow {
		return CaptureFlow{Key: CaptureFlowKey{Proto: ProtoUDP, A: ap(a), B: ap(b)}, PayloadPerSecAToB: ab, PayloadPerSecBToA: ba}
	}
	live := func(flows ...CaptureFlow) *CaptureStats {
		return &CaptureStats{Source: "live", Running: true, UDPFlows: flows}
	}
	tests := []struct {
		name  string
		socks []Socket
		cap   *CaptureStats
		want  map[int]SocketRate
	}{
		{
			name:  "no capture",
			socks: []Socket{udp("10.0.0.1:5000", "10.0.0.2:6000")},
			cap:   nil,
		},
		{
			name:  "a file is not live",
			socks: []Socket{udp("10.0.0.1:5000", "10.0.0.2:6000")},
			cap:   &CaptureStats{Source: "file", UDPFlows: []CaptureFlow{flow("10.0.0.1:5000", "10.0.0.2:6000", 100, 0)}},
		},
		{
			name: "connected sender and wildcard receiver",
			socks: []Socket{
				udp("10.0.0.1:5000", "10.0.0.2:6000"),
				udp("0.0.0.0:6000", "0.0.0.0:0"),
				{Proto: ProtoTCP, Local: ap("10.0.0.1:5000")},
			},
			cap: live(flow("10.0.0.1:5000", "10.0.0.2:6000", 1e6, 20)),
			want: map[int]SocketRate{
				0: {Known: true, Sampled: true, TxBps: 1e6, RxBps: 20},
				1: {Known: true, Sampled: true, RxBps: 1e6, TxBps: 20},
			},
		},
		{
			name: "the most specific socket takes the flow",
			socks: []Socket{
				udp("0.0.0.0:53", "0.0.0.0:0"),
				udp("10.0.0.1:53", "0.0.0.0:0"),
				udp("[::]:53", "[::]:0"),
			},
			cap: live(
				flow("10.0.0.1:53", "10.0.0.9:40000", 300, 100),
				flow("10.0.0.5:53", "10.0.0.9:40001", 30, 10),
				flow("[fd00::1]:53", "[fd00::9]:40002", 3, 1),
			),
			want: map[int]SocketRate{
				0: {Known: true, Sampled: true, TxBps: 30, RxBps: 10},
				1: {Known: true, Sampled: true, TxBps: 300, RxBps: 100},
				2: {Known: true, Sampled: true, TxBps: 3, RxBps: 1},
			},
		},
		{
			name:  "a connected socket ignores other peers",
			socks: []Socket{udp("10.0.0.1:5000", "10.0.0.2:6000")},
			cap:   live(flow("10.0.0.1:5000", "10.0.0.3:6000", 1e6, 0)),
			want:  map[int]SocketRate{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SampledUDPRates(tt.socks, tt.cap)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SampledUDPRates (-want +got)\n%s", diff)
			}
		})
	}
}
