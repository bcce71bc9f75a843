package droptrace

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// Sizes of struct flow_key and struct flow_val in bpf/droptrace.c; the
// generated objects' BTF is checked against them when the tracer loads.
const (
	keySize = 72
	valSize = 32
)

// rawKey and rawVal are a map key and value as the kernel stores them.
type (
	rawKey [keySize]byte
	rawVal [valSize]byte
)

// Flow flags (enum flow_flags in bpf/droptrace.c).
const (
	flagParsed   = 1 << 0 // FLOW_PARSED
	flagFragment = 1 << 1 // FLOW_FRAGMENT
	flagL4       = 1 << 2 // FLOW_L4
)

// Ethertypes and IP protocols the key carries.
const (
	ethPIP   = 0x0800 // ETH_P_IP
	ethPIPv6 = 0x86DD // ETH_P_IPV6

	protoICMP   = 1  // IPPROTO_ICMP
	protoTCP    = 6  // IPPROTO_TCP
	protoUDP    = 17 // IPPROTO_UDP
	protoICMPv6 = 58 // IPPROTO_ICMPV6
)

// flowKey is a decoded struct flow_key.
type flowKey struct {
	Location uint64
	Cookie   uint64
	Netns    uint32
	Reason   uint32
	Ifindex  uint32
	L3       uint16
	L4       uint8
	Flags    uint8
	Src, Dst netip.Addr
	// SPort and DPort are the ports, or ICMP type and code.
	SPort, DPort uint16
}

// flowVal is a decoded struct flow_val.
type flowVal struct {
	Packets, Bytes  uint64
	FirstNs, LastNs uint64
}

// byteOrder is the host's: the kernel stores map keys in it.
var byteOrder = binary.NativeEndian

// decodeKey decodes a struct flow_key. Addresses are IPv4 for ETH_P_IP
// keys and IPv6 for ETH_P_IPV6 keys that were parsed; otherwise zero.
func decodeKey(b []byte) (flowKey, error) {
	if len(b) != keySize {
		return flowKey{}, fmt.Errorf("flow key: %d bytes, want %d", len(b), keySize)
	}
	k := flowKey{
		Location: byteOrder.Uint64(b[0:]),
		Cookie:   byteOrder.Uint64(b[8:]),
		Netns:    byteOrder.Uint32(b[16:]),
		Reason:   byteOrder.Uint32(b[20:]),
		Ifindex:  byteOrder.Uint32(b[24:]),
		L3:       byteOrder.Uint16(b[28:]),
		L4:       b[30],
		Flags:    b[31],
		SPort:    byteOrder.Uint16(b[64:]),
		DPort:    byteOrder.Uint16(b[66:]),
	}
	if k.Flags&flagParsed != 0 {
		switch k.L3 {
		case ethPIP:
			k.Src = netip.AddrFrom4([4]byte(b[32:36]))
			k.Dst = netip.AddrFrom4([4]byte(b[48:52]))
		case ethPIPv6:
			k.Src = netip.AddrFrom16([16]byte(b[32:48]))
			k.Dst = netip.AddrFrom16([16]byte(b[48:64]))
		default:
			return flowKey{}, fmt.Errorf("flow key: parsed, but ethertype %#04x", k.L3)
		}
	}
	return k, nil
}

// encodeKey is decodeKey's inverse, for tests.
func encodeKey(k flowKey) rawKey {
	var b rawKey
	byteOrder.PutUint64(b[0:], k.Location)
	byteOrder.PutUint64(b[8:], k.Cookie)
	byteOrder.PutUint32(b[16:], k.Netns)
	byteOrder.PutUint32(b[20:], k.Reason)
	byteOrder.PutUint32(b[24:], k.Ifindex)
	byteOrder.PutUint16(b[28:], k.L3)
	b[30], b[31] = k.L4, k.Flags
	if k.Src.Is4() {
		s, d := k.Src.As4(), k.Dst.As4()
		copy(b[32:], s[:])
		copy(b[48:], d[:])
	} else if k.Src.Is6() {
		s, d := k.Src.As16(), k.Dst.As16()
		copy(b[32:], s[:])
		copy(b[48:], d[:])
	}
	byteOrder.PutUint16(b[64:], k.SPort)
	byteOrder.PutUint16(b[66:], k.DPort)
	return b
}

// decodeVal decodes a struct flow_val.
func decodeVal(b []byte) (flowVal, error) {
	if len(b) != valSize {
		return flowVal{}, fmt.Errorf("flow value: %d bytes, want %d", len(b), valSize)
	}
	return flowVal{
		Packets: byteOrder.Uint64(b[0:]),
		Bytes:   byteOrder.Uint64(b[8:]),
		FirstNs: byteOrder.Uint64(b[16:]),
		LastNs:  byteOrder.Uint64(b[24:]),
	}, nil
}

// l3Name names an ethertype: "ipv4", "ipv6", or "0x0806".
func l3Name(e uint16) string {
	switch e {
	case ethPIP:
		return "ipv4"
	case ethPIPv6:
		return "ipv6"
	}
	return fmt.Sprintf("0x%04x", e)
}

// l4Name names an IP protocol: "tcp", "udp", "icmp", "icmpv6", or the
// number; "" for none.
func l4Name(p uint8, parsed bool) string {
	switch {
	case !parsed:
		return ""
	case p == protoTCP:
		return "tcp"
	case p == protoUDP:
		return "udp"
	case p == protoICMP:
		return "icmp"
	case p == protoICMPv6:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}

// add sums two values of one flow (of two reads, or of two CPUs' slots
// of a per-CPU map): packets and bytes add up, first is the earliest
// set, last the latest.
func (v flowVal) add(o flowVal) flowVal {
	if o.Packets == 0 {
		return v
	}
	if v.Packets == 0 || o.FirstNs < v.FirstNs {
		v.FirstNs = o.FirstNs
	}
	v.LastNs = max(v.LastNs, o.LastNs)
	v.Packets += o.Packets
	v.Bytes += o.Bytes
	return v
}
