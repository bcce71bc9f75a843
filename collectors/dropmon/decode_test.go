package dropmon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

// packetAlert encodes a NET_DM_CMD_PACKET_ALERT body the way
// net_dm_packet_report_fill() does (attribute order and types included).
func packetAlert(reason, symbol string, pc uint64) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Uint16(uint16(attrOrigin), uint16(originSW))
	ae.Uint64(uint16(attrPC), pc)
	if reason != "" {
		ae.String(uint16(attrReason), reason)
	}
	if symbol != "" {
		ae.String(uint16(attrSymbol), symbol)
	}
	ae.Nested(uint16(attrInPort), func(nae *netlink.AttributeEncoder) error {
		nae.Uint32(0, 2) // NET_DM_ATTR_PORT_NETDEV_IFINDEX
		nae.String(1, "eth0")
		return nil
	})
	ae.Uint64(uint16(attrTimestamp), 1700000000000000000)
	ae.Uint32(uint16(attrOrigLen), 98)
	ae.Uint16(uint16(attrProto), 0x0800)
	ae.Bytes(uint16(attrPayload), []byte{0x45})
	b, err := ae.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

// summaryAlert encodes a NET_DM_CMD_ALERT body: struct net_dm_alert_msg in
// an attribute of type 0, as the summary mode's reset_per_cpu_data() and
// trace_drop_common() build it. entries may lie about the points.
func summaryAlert(entries uint32, points ...[2]uint64) []byte {
	v := make([]byte, sizeofAlertHeader+len(points)*sizeofDropPoint)
	ne.PutUint32(v, entries)
	for i, p := range points {
		o := sizeofAlertHeader + i*sizeofDropPoint
		ne.PutUint64(v[o:], p[0])
		ne.PutUint32(v[o+8:], uint32(p[1]))
	}
	b, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: 0, Data: v}})
	if err != nil {
		panic(err)
	}
	return b
}

func TestParsePacketAlert(t *testing.T) {
	tests := []struct {
		name    string
		b       []byte
		want    alert
		wantErr bool
	}{
		{"reason and symbol", packetAlert("NETFILTER_DROP", "nf_hook_slow+0x9c/0x140", 0xffffffff81a0b0c0),
			alert{Reason: "NETFILTER_DROP", Location: "nf_hook_slow+0x9c", Origin: "sw", Count: 1}, false},
		{"module symbol", packetAlert("NOT_SPECIFIED", "nft_do_chain+0x1c/0x600 [nf_tables]", 1),
			alert{Reason: "NOT_SPECIFIED", Location: "nft_do_chain+0x1c [nf_tables]", Origin: "sw", Count: 1}, false},
		{"before 5.18: no reason", packetAlert("", "udp_queue_rcv_one_skb+0x1a0/0x4e0", 1),
			alert{Location: "udp_queue_rcv_one_skb+0x1a0", Origin: "sw", Count: 1}, false},
		{"no symbol: the address", packetAlert("NO_SOCKET", "", 0xffffffff81000010),
			alert{Reason: "NO_SOCKET", Location: "0xffffffff81000010", Origin: "sw", Count: 1}, false},
		{"no location", func() []byte {
			b, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: uint16(attrReason), Data: []byte("X\x00")}})
			return b
		}(), alert{}, true},
		{"truncated attribute", packetAlert("NETFILTER_DROP", "f+0x1/0x2", 1)[:13], alert{}, true},
		// Sent by a real drop monitor (testdata/README.md).
		{"kernel: NO_SOCKET", mustRead("no-socket-packet-alert.bin"), alert{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x9a2", Origin: "sw", Count: 1}, false},
		{"kernel: NETFILTER_DROP", mustRead("netfilter-packet-alert.bin"), alert{Reason: "NETFILTER_DROP", Location: "nft_do_chain+0x580 [nf_tables]", Origin: "sw", Count: 1}, false},
		{"kernel: truncated", mustRead("broken-packet-alert-truncated.bin"), alert{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePacketAlert(tt.b)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseSummaryAlert(t *testing.T) {
	tests := []struct {
		name    string
		b       []byte
		want    []alert
		wantErr bool
	}{
		{"two points", summaryAlert(2, [2]uint64{0xffffffff81000010, 3}, [2]uint64{0xffffffff81000020, 1}),
			[]alert{{Location: "0xffffffff81000010", Origin: "sw", Count: 3}, {Location: "0xffffffff81000020", Origin: "sw", Count: 1}}, false},
		{"zero counts skipped", summaryAlert(1, [2]uint64{0xffffffff81000010, 0}), nil, false},
		{"claims more points than it holds", summaryAlert(5, [2]uint64{0x10, 1}),
			[]alert{{Location: "0x10", Origin: "sw", Count: 1}}, true},
		{"no body", []byte{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSummaryAlert(tt.b, nil)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func FuzzParsePacketAlert(f *testing.F) {
	f.Add(packetAlert("NETFILTER_DROP", "nf_hook_slow+0x9c/0x140", 0xffffffff81a0b0c0))
	f.Add(packetAlert("", "x+0x1/0x2 [m]", 0))
	f.Add(packetAlert("NO_SOCKET", "", 5)[:20])
	for _, n := range []string{"no-socket-packet-alert.bin", "netfilter-packet-alert.bin", "broken-packet-alert-truncated.bin"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		al, err := parsePacketAlert(b)
		if err == nil && (al.Location == "" || al.Count != 1) {
			t.Fatalf("bad alert %+v", al)
		}
	})
}

func FuzzParseSummaryAlert(f *testing.F) {
	f.Add(summaryAlert(2, [2]uint64{0xffffffff81000010, 3}, [2]uint64{0xffffffff81000020, 1}))
	f.Add(summaryAlert(9, [2]uint64{1, 1}))
	f.Add(readFixture(f, "summary-summary-alert.bin"))
	f.Add(readFixture(f, "broken-summary-alert-short.bin"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _ := parseSummaryAlert(b, nil)
		if len(out) > len(b)/sizeofDropPoint {
			t.Fatalf("%d points from %d bytes", len(out), len(b))
		}
	})
}

func FuzzParseStats(f *testing.F) {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(uint16(attrStats), func(nae *netlink.AttributeEncoder) error {
		nae.Uint64(statsDropped, 17)
		return nil
	})
	b, _ := ae.Encode()
	f.Add(b)
	f.Add(readFixture(f, "no-socket-stats-new.bin"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStats(b)
	})
}

// mustRead returns testdata/name; it panics when the file is missing.
func mustRead(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return b
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseRealKernelSummaryAndStats decodes summary alerts and stats
// replies a real drop monitor sent (testdata/README.md); its packet
// alerts are in TestParsePacketAlert.
func TestParseRealKernelSummaryAndStats(t *testing.T) {
	sum, err := parseSummaryAlert(readFixture(t, "summary-summary-alert.bin"), nil)
	if err != nil || len(sum) != 1 || sum[0].Count != 20 || !strings.HasPrefix(sum[0].Location, "0xffffffff") {
		t.Errorf("summary alert: %+v, %v", sum, err)
	}
	if sum, err := parseSummaryAlert(readFixture(t, "broken-summary-alert-short.bin"), nil); !errors.Is(err, ErrMalformed) || len(sum) != 1 {
		t.Errorf("short summary alert: %+v, %v", sum, err)
	}
	for _, f := range []string{"no-socket-stats-new.bin", "netfilter-stats-new.bin"} {
		if n, ok := parseStats(readFixture(t, f)); !ok || n != 0 {
			t.Errorf("%s: %d, %v", f, n, ok)
		}
	}
}

func BenchmarkParsePacketAlert(b *testing.B) {
	msg := mustRead("netfilter-packet-alert.bin")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parsePacketAlert(msg); err != nil {
			b.Fatal(err)
		}
	}
}
