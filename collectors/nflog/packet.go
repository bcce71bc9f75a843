package nflog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mdlayher/netlink"
)

// Packet is one packet a "log group" statement sent.
type Packet struct {
	Hook         uint8  // NF_INET_* hook (NFULA_PACKET_HDR)
	HWProtocol   uint16 // ethertype of the packet (0x0800, 0x86dd)
	Prefix       string // the log statement's prefix
	InIf, OutIf  uint32 // ifindexes, 0 = none
	Seq          uint32 // per-group sequence number (NFULA_SEQ)
	HasSeq       bool
	Time         time.Time // NFULA_TIMESTAMP, or zero
	CTState      string    // new, established, related, untracked; "" unknown
	Payload      []byte    // the packet from its network header, copied
	Tuple        Tuple     // decoded from Payload
	PayloadError string    // why Tuple is incomplete, "" if it is not
}

// Tuple is what the packet log shows of a packet's headers.
type Tuple struct {
	Family             uint8 // 4 or 6; 0 when not IP
	Proto              uint8
	Src, Dst           netip.Addr
	SrcPort, DstPort   uint16
	HasPorts           bool
	Len                uint32 // total length from the IP header
	TCPFlags           uint8
	ICMPType, ICMPCode uint8
	HasICMP            bool
}

// ErrMessage is wrapped by the error of a message that is not a well-formed
// NFULNL_MSG_PACKET.
var ErrMessage = errors.New("malformed nfnetlink_log message")

// parseMessage decodes one netlink message of nfnetlink_log: an nfgenmsg
// header and the packet's attributes. It is pure and what the fuzzer
// calls; it copies what it keeps.
func parseMessage(m netlink.Message) (Packet, error) {
	if m.Header.Type != netlink.HeaderType(subsysULOG<<8|msgPacket) {
		return Packet{}, fmt.Errorf("%w: type %#x", ErrMessage, m.Header.Type)
	}
	return parsePacket(m.Data)
}

// parsePacket decodes the body of an NFULNL_MSG_PACKET: a 4-byte nfgenmsg,
// then attributes in network byte order.
func parsePacket(b []byte) (Packet, error) {
	var p Packet
	if len(b) < 4 {
		return p, fmt.Errorf("%w: %d bytes, no nfgenmsg", ErrMessage, len(b))
	}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return p, fmt.Errorf("%w: %v", ErrMessage, err)
	}
	ad.ByteOrder = binary.BigEndian
	hdr := false
	for ad.Next() {
		switch ad.Type() {
		case attrPacketHdr:
			v := ad.Bytes()
			if len(v) < 4 {
				return p, fmt.Errorf("%w: NFULA_PACKET_HDR of %d bytes", ErrMessage, len(v))
			}
			p.HWProtocol, p.Hook, hdr = binary.BigEndian.Uint16(v), v[2], true
		case attrPrefix:
			v := ad.Bytes()
			for i, c := range v {
				if c == 0 {
					v = v[:i]
					break
				}
			}
			p.Prefix = string(v)
		case attrIfindexIn:
			p.InIf = be32(ad.Bytes())
		case attrIfindexOut:
			p.OutIf = be32(ad.Bytes())
		case attrSeq:
			p.Seq, p.HasSeq = be32(ad.Bytes()), true
		case attrTimestamp:
			if v := ad.Bytes(); len(v) >= 16 {
				sec, usec := binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
				if sec < 1<<40 && usec < 1e6 {
					p.Time = time.Unix(int64(sec), int64(usec)*1000)
				}
			}
		case attrCTInfo:
			switch be32(ad.Bytes()) {
			case ctEstablished, ctEstablishedReply:
				p.CTState = "established"
			case ctRelated, ctRelatedReply:
				p.CTState = "related"
			case ctNew:
				p.CTState = "new"
			case ctUntracked:
				p.CTState = "untracked"
			}
		case attrPayload:
			p.Payload = append([]byte(nil), ad.Bytes()...)
		}
	}
	if err := ad.Err(); err != nil {
		return Packet{}, fmt.Errorf("%w: %v", ErrMessage, err)
	}
	if !hdr {
		return Packet{}, fmt.Errorf("%w: no NFULA_PACKET_HDR", ErrMessage)
	}
	p.Tuple, err = ParseTuple(p.Payload)
	if err != nil {
		p.PayloadError = err.Error()
	}
	return p, nil
}

// be32 reads a 4-byte big-endian value; 0 for any other length.
func be32(v []byte) uint32 {
	if len(v) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// ParseTuple reads the IPv4 or IPv6 header of b and the TCP, UDP,
// UDP-Lite, SCTP, ICMP or ICMPv6 header after it (IPv6 extension headers
// hop-by-hop, routing, destination options and fragment are skipped). It
// fills what it could read and says what it could not: a packet cut
// short (the copy range) still gives its addresses.
func ParseTuple(b []byte) (Tuple, error) {
	var t Tuple
	if len(b) < 1 {
		return t, errors.New("no payload")
	}
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return t, fmt.Errorf("ipv4 header cut at %d bytes", len(b))
		}
		ihl := int(b[0]&0x0f) * 4
		t.Family, t.Proto, t.Len = 4, b[9], uint32(binary.BigEndian.Uint16(b[2:]))
		t.Src, t.Dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		if ihl < 20 || len(b) < ihl {
			return t, fmt.Errorf("ipv4 header length %d of %d bytes", ihl, len(b))
		}
		if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
			return t, nil // a later fragment: no L4 header
		}
		l4 = b[ihl:]
	case 6:
		if len(b) < 40 {
			return t, fmt.Errorf("ipv6 header cut at %d bytes", len(b))
		}
		t.Family, t.Len = 6, 40+uint32(binary.BigEndian.Uint16(b[4:]))
		t.Src, t.Dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		next, rest := b[6], b[40:]
	ext:
		for range 8 { // bounded: at most 8 extension headers
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(rest) < 8 {
					return t, errors.New("ipv6 extension header cut short")
				}
				n := 8 + int(rest[1])*8
				if len(rest) < n {
					return t, errors.New("ipv6 extension header cut short")
				}
				next, rest = rest[0], rest[n:]
				continue
			case 44: // fragment
				if len(rest) < 8 {
					return t, errors.New("ipv6 fragment header cut short")
				}
				off := binary.BigEndian.Uint16(rest[2:]) &^ 7
				next, rest = rest[0], rest[8:]
				if off != 0 {
					t.Proto = next
					return t, nil
				}
				continue
			}
			break ext
		}
		t.Proto, l4 = next, rest
	default:
		return t, fmt.Errorf("not IP (version %d)", b[0]>>4)
	}
	switch t.Proto {
	case 6, 17, 136, 132: // tcp, udp, udplite, sctp
		if len(l4) < 4 {
			return t, fmt.Errorf("%d header cut short", t.Proto)
		}
		t.SrcPort, t.DstPort, t.HasPorts = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:]), true
		if t.Proto == 6 {
			if len(l4) < 14 {
				return t, errors.New("tcp header cut before its flags")
			}
			t.TCPFlags = l4[13]
		}
	case 1, 58: // icmp, icmpv6
		if len(l4) < 2 {
			return t, errors.New("icmp header cut short")
		}
		t.ICMPType, t.ICMPCode, t.HasICMP = l4[0], l4[1], true
	}
	return t, nil
}
