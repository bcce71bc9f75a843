package kmod

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/netlink"
)

func samplePacket() Packet {
	return Packet{RuleID: 7, Hook: 1, InIf: 1, Verdict: ActionCount, Family: FamilyIPv4, Proto: 6,
		Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.2"), SrcPort: 40000, DstPort: 22,
		HasPorts: true, Len: 60, TCPFlags: TCPSyn, CTState: CTNew, Time: time.Unix(1700000000, 5)}
}

// packetAttrs encodes p as the module's netlens_log_fill does.
func packetAttrs(p Packet) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(uint16(attrRuleID), p.RuleID)
	ae.Uint8(uint16(attrPktHook), p.Hook)
	ae.Uint32(uint16(attrPktIIF), p.InIf)
	ae.Uint32(uint16(attrPktOIF), p.OutIf)
	ae.Uint8(uint16(attrPktVerdict), uint8(p.Verdict))
	ae.Uint8(uint16(attrPktFamily), uint8(p.Family))
	ae.Uint8(uint16(attrPktProto), p.Proto)
	ae.Bytes(uint16(attrPktSrc), p.Src.AsSlice())
	ae.Bytes(uint16(attrPktDst), p.Dst.AsSlice())
	if p.HasPorts {
		ae.Uint16(uint16(attrPktSport), p.SrcPort)
		ae.Uint16(uint16(attrPktDport), p.DstPort)
	}
	if p.Proto == 6 {
		ae.Uint8(uint16(attrPktTCPFlags), p.TCPFlags)
	}
	if p.HasICMP {
		ae.Uint8(uint16(attrPktICMPType), p.ICMPType)
		ae.Uint8(uint16(attrPktICMPCode), p.ICMPCode)
	}
	ae.Uint8(uint16(attrPktCTState), uint8(p.CTState))
	ae.Uint32(uint16(attrPktLen), p.Len)
	ae.Uint64(uint16(attrPktTimeNS), uint64(p.Time.UnixNano()))
	b, _ := ae.Encode()
	return b
}

func TestParsePacket(t *testing.T) {
	icmp := samplePacket()
	icmp.Proto, icmp.HasPorts, icmp.SrcPort, icmp.DstPort, icmp.TCPFlags = 58, false, 0, 0, 0
	icmp.HasICMP, icmp.ICMPType, icmp.Family = true, 128, FamilyIPv6
	icmp.Src, icmp.Dst = netip.MustParseAddr("::1"), netip.MustParseAddr("2001:db8::1")
	for _, want := range []Packet{samplePacket(), icmp} {
		got, err := parsePacket(packetAttrs(want))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
	if _, err := parsePacket(nil); err == nil {
		t.Error("an event without a rule id is accepted")
	}
}
