package nflog

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

// udp4 is an IPv4 UDP datagram 10.0.0.1:5353 -> 10.0.0.2:53, 4 bytes of data.
func udp4() []byte {
	b := []byte{0x45, 0, 0, 32, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x14, 0xe9, 0, 53, 0, 12, 0, 0, 'd', 'a', 't', 'a'}
	return b
}

// tcp6 is an IPv6 TCP SYN [2001:db8::1]:40000 -> [2001:db8::2]:22 behind a
// hop-by-hop header.
func tcp6() []byte {
	b := []byte{0x60, 0, 0, 0, 0, 28, 0, 64}
	b = append(b, netip.MustParseAddr("2001:db8::1").AsSlice()...)
	b = append(b, netip.MustParseAddr("2001:db8::2").AsSlice()...)
	b = append(b, 6, 0, 0, 0, 0, 0, 0, 0) // hop-by-hop: next tcp, 8 bytes
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp, 40000)
	binary.BigEndian.PutUint16(tcp[2:], 22)
	tcp[12], tcp[13] = 0x50, 0x02
	return append(b, tcp...)
}

func packetMsg(t testing.TB, attrs []netlink.Attribute) []byte {
	t.Helper()
	ab, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{2, 0, 0x4e, 0x4c}, ab...)
}

func TestParsePacket(t *testing.T) {
	ts := make([]byte, 16)
	binary.BigEndian.PutUint64(ts, 1764748800)
	binary.BigEndian.PutUint64(ts[8:], 250000)
	tests := []struct {
		name  string
		attrs []netlink.Attribute
		want  Packet
	}{
		{"udp4 at input", []netlink.Attribute{
			{Type: attrPacketHdr, Data: []byte{0x08, 0x00, 1, 0}},
			{Type: attrPrefix, Data: []byte("netlens 7 count\x00")},
			{Type: attrIfindexIn, Data: []byte{0, 0, 0, 3}},
			{Type: attrTimestamp, Data: ts},
			{Type: attrSeq, Data: []byte{0, 0, 0, 9}},
			{Type: attrCTInfo, Data: []byte{0, 0, 0, 2}},
			{Type: attrPayload, Data: udp4()},
		}, Packet{Hook: 1, HWProtocol: 0x0800, Prefix: "netlens 7 count", InIf: 3, Seq: 9, HasSeq: true,
			Time: time.Unix(1764748800, 250000000), CTState: "new", Payload: udp4(),
			Tuple: Tuple{Family: 4, Proto: 17, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
				SrcPort: 5353, DstPort: 53, HasPorts: true, Len: 32}}},
		{"tcp6 syn at output", []netlink.Attribute{
			{Type: attrPacketHdr, Data: []byte{0x86, 0xdd, 3, 0}},
			{Type: attrIfindexOut, Data: []byte{0, 0, 0, 1}},
			{Type: attrCTInfo, Data: []byte{0, 0, 0, 3}},
			{Type: attrPayload, Data: tcp6()},
		}, Packet{Hook: 3, HWProtocol: 0x86dd, OutIf: 1, CTState: "established", Payload: tcp6(),
			Tuple: Tuple{Family: 6, Proto: 6, Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"),
				SrcPort: 40000, DstPort: 22, HasPorts: true, Len: 68, TCPFlags: 0x02}}},
		{"cut payload keeps the addresses", []netlink.Attribute{
			{Type: attrPacketHdr, Data: []byte{0x08, 0x00, 0, 0}},
			{Type: attrPayload, Data: udp4()[:22]},
		}, Packet{HWProtocol: 0x0800, Payload: udp4()[:22], PayloadError: "17 header cut short",
			Tuple: Tuple{Family: 4, Proto: 17, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Len: 32}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePacket(packetMsg(t, tt.attrs))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for name, b := range map[string][]byte{
		"no nfgenmsg":     {2, 0},
		"no packet hdr":   packetMsg(t, []netlink.Attribute{{Type: attrPayload, Data: udp4()}}),
		"short hdr":       packetMsg(t, []netlink.Attribute{{Type: attrPacketHdr, Data: []byte{8}}}),
		"attribute cut":   append(packetMsg(t, []netlink.Attribute{{Type: attrPacketHdr, Data: []byte{8, 0, 1, 0}}}), 8, 0, 9, 0),
		"length too long": {2, 0, 0, 1, 0xff, 0, 1, 0, 8, 0, 1, 0},
	} {
		if p, err := parsePacket(b); err == nil {
			t.Errorf("%s: parsed as %+v", name, p)
		}
	}
}

// FuzzParsePacket feeds the decoder arbitrary messages, bad attributes
// and payloads included: no panic, and a tuple only from an IP payload.
func FuzzParsePacket(f *testing.F) {
	f.Add(packetMsg(f, []netlink.Attribute{{Type: attrPacketHdr, Data: []byte{8, 0, 1, 0}}, {Type: attrPayload, Data: udp4()}}))
	f.Add(packetMsg(f, []netlink.Attribute{{Type: attrPacketHdr, Data: []byte{0x86, 0xdd, 3, 0}}, {Type: attrPayload, Data: tcp6()},
		{Type: attrPrefix, Data: []byte("netlens 1 drop")}, {Type: attrTimestamp, Data: make([]byte, 16)}}))
	f.Add([]byte{2, 0, 0, 1, 5, 0, 1, 0, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePacket(b)
		if err != nil {
			return
		}
		if p.Tuple.Family != 0 && (len(p.Payload) == 0 || p.Payload[0]>>4 != p.Tuple.Family) {
			t.Fatalf("tuple of family %d from payload %x", p.Tuple.Family, p.Payload)
		}
		if _, err := ParseTuple(p.Payload); (err == nil) != (p.PayloadError == "") {
			t.Fatalf("ParseTuple and PayloadError disagree: %v / %q", err, p.PayloadError)
		}
	})
}
