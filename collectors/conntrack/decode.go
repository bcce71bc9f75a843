package conntrack

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"netlens/model"
)

// The dump path decodes ctnetlink attributes itself, straight into
// model.Flow, from one reused receive buffer: decoding through
// github.com/ti-mo/conntrack allocates a Flow and several attribute
// decoders per entry, which made a 100,000-entry dump twice as slow as
// `conntrack -L` (collectors/conntrack/bench/RESULTS.md). Events, which
// come one at a time, still go through ti-mo; a differential fuzz test
// keeps both decoders equal.

// ctnetlink attributes (enum ctattr_type and nested enums in
// include/uapi/linux/netfilter/nfnetlink_conntrack.h).
const (
	ctaTupleOrigA     = 1  // CTA_TUPLE_ORIG
	ctaTupleReplyA    = 2  // CTA_TUPLE_REPLY
	ctaStatusA        = 3  // CTA_STATUS
	ctaProtoinfoA     = 4  // CTA_PROTOINFO
	ctaHelpA          = 5  // CTA_HELP
	ctaTimeoutA       = 7  // CTA_TIMEOUT
	ctaMarkA          = 8  // CTA_MARK
	ctaCountersOrigA  = 9  // CTA_COUNTERS_ORIG
	ctaCountersReplyA = 10 // CTA_COUNTERS_REPLY
	ctaIDA            = 12 // CTA_ID
	ctaZoneA          = 18 // CTA_ZONE
	ctaTimestampA     = 20 // CTA_TIMESTAMP

	ctaTupleIPA    = 1 // CTA_TUPLE_IP
	ctaTupleProtoA = 2 // CTA_TUPLE_PROTO

	ctaIPv4SrcA = 1 // CTA_IP_V4_SRC
	ctaIPv4DstA = 2 // CTA_IP_V4_DST
	ctaIPv6SrcA = 3 // CTA_IP_V6_SRC
	ctaIPv6DstA = 4 // CTA_IP_V6_DST

	ctaProtoNumA        = 1 // CTA_PROTO_NUM
	ctaProtoSrcPortA    = 2 // CTA_PROTO_SRC_PORT
	ctaProtoDstPortA    = 3 // CTA_PROTO_DST_PORT
	ctaProtoICMPIDA     = 4 // CTA_PROTO_ICMP_ID
	ctaProtoICMPTypeA   = 5 // CTA_PROTO_ICMP_TYPE
	ctaProtoICMPCodeA   = 6 // CTA_PROTO_ICMP_CODE
	ctaProtoICMPv6IDA   = 7 // CTA_PROTO_ICMPV6_ID
	ctaProtoICMPv6TypeA = 8 // CTA_PROTO_ICMPV6_TYPE
	ctaProtoICMPv6CodeA = 9 // CTA_PROTO_ICMPV6_CODE

	ctaProtoinfoTCPA      = 1 // CTA_PROTOINFO_TCP
	ctaProtoinfoTCPStateA = 1 // CTA_PROTOINFO_TCP_STATE

	ctaHelpNameA = 1 // CTA_HELP_NAME

	ctaCountersPacketsA   = 1 // CTA_COUNTERS_PACKETS (u64)
	ctaCountersBytesA     = 2 // CTA_COUNTERS_BYTES (u64)
	ctaCounters32PacketsA = 3 // CTA_COUNTERS32_PACKETS
	ctaCounters32BytesA   = 4 // CTA_COUNTERS32_BYTES

	ctaTimestampStartA = 1 // CTA_TIMESTAMP_START

	nlaTypeMask = 0x3fff // ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)

	nfnlSubsysCTNetlink = 1 // NFNL_SUBSYS_CTNETLINK
	nfgenmsgLen         = 4 // sizeof(struct nfgenmsg)
)

// attrs iterates over the netlink attributes in b, calling fn with each
// type (flags masked off) and payload. It stops at the first malformed
// attribute and reports it.
func attrs(b []byte, fn func(typ uint16, v []byte) error) error {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		if l < 4 || l > len(b) {
			return fmt.Errorf("%w: attribute length %d of %d bytes", ErrDecode, l, len(b))
		}
		// ctnetlink's attribute types all fit in a byte; like
		// ti-mo/conntrack, look at the low byte only.
		if err := fn(uint16(uint8(binary.NativeEndian.Uint16(b[2:])&nlaTypeMask)), b[4:l]); err != nil {
			return err
		}
		l = (l + 3) &^ 3
		if l >= len(b) {
			return nil
		}
		b = b[l:]
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrDecode, len(b))
	}
	return nil
}

func be16(v []byte) (uint16, error) {
	if len(v) != 2 {
		return 0, fmt.Errorf("%w: u16 of %d bytes", ErrDecode, len(v))
	}
	return binary.BigEndian.Uint16(v), nil
}

func be32(v []byte) (uint32, error) {
	if len(v) != 4 {
		return 0, fmt.Errorf("%w: u32 of %d bytes", ErrDecode, len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

func be64(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: u64 of %d bytes", ErrDecode, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func u8(v []byte) (uint8, error) {
	if len(v) != 1 {
		return 0, fmt.Errorf("%w: u8 of %d bytes", ErrDecode, len(v))
	}
	return v[0], nil
}

// decodeTuple decodes a CTA_TUPLE_* payload.
func decodeTuple(b []byte, t *model.FlowTuple, proto *uint8) error {
	var src, dst netip.Addr
	var sport, dport uint16
	var icmp model.ICMPKey
	isICMP := false // as ti-mo/conntrack: set by an ICMP protocol number
	err := attrs(b, func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case ctaTupleIPA:
			return attrs(v, func(typ uint16, v []byte) error {
				var a netip.Addr
				var ok bool
				switch typ {
				case ctaIPv4SrcA, ctaIPv4DstA:
					if len(v) == 4 {
						a, ok = netip.AddrFrom4([4]byte(v)), true
					}
				case ctaIPv6SrcA, ctaIPv6DstA:
					if len(v) == 16 {
						a, ok = netip.AddrFrom16([16]byte(v)), true
					}
				default:
					return nil
				}
				if !ok {
					return fmt.Errorf("%w: address of %d bytes", ErrDecode, len(v))
				}
				if typ == ctaIPv4SrcA || typ == ctaIPv6SrcA {
					src = a
				} else {
					dst = a
				}
				return nil
			})
		case ctaTupleProtoA:
			return attrs(v, func(typ uint16, v []byte) error {
				var err error
				switch typ {
				case ctaProtoNumA:
					*proto, err = u8(v)
					isICMP = isICMP || *proto == 1 || *proto == 58
				case ctaProtoSrcPortA:
					sport, err = be16(v)
				case ctaProtoDstPortA:
					dport, err = be16(v)
				case ctaProtoICMPIDA, ctaProtoICMPv6IDA:
					icmp.ID, err = be16(v)
				case ctaProtoICMPTypeA, ctaProtoICMPv6TypeA:
					icmp.Type, err = u8(v)
				case ctaProtoICMPCodeA, ctaProtoICMPv6CodeA:
					icmp.Code, err = u8(v)
				}
				return err
			})
		}
		return err
	})
	if err != nil {
		return err
	}
	if !src.IsValid() || !dst.IsValid() {
		return fmt.Errorf("%w: tuple without addresses", ErrDecode)
	}
	if isICMP {
		t.Src, t.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		// A fresh key, so that icmp itself stays on the stack: no
		// allocation for the tuples of other protocols.
		t.ICMP = new(model.ICMPKey)
		*t.ICMP = icmp
		return nil
	}
	t.Src, t.Dst = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	return nil
}

func decodeCounters(b []byte, packets, bytes *uint64) error {
	return attrs(b, func(typ uint16, v []byte) error {
		var err error
		var x uint32
		switch typ {
		case ctaCountersPacketsA:
			*packets, err = be64(v)
		case ctaCountersBytesA:
			*bytes, err = be64(v)
		case ctaCounters32PacketsA:
			x, err = be32(v)
			*packets = uint64(x)
		case ctaCounters32BytesA:
			x, err = be32(v)
			*bytes = uint64(x)
		}
		return err
	})
}

// decodeFlow decodes the attributes of a ctnetlink conntrack message (b
// is the payload after the nfgenmsg header) into f, seen at now, as
// toModel does for ti-mo's decoding. It is what the fuzzers call.
func decodeFlow(b []byte, now time.Time, f *model.Flow) error {
	*f = model.Flow{FirstSeen: now, Updated: now}
	var protoO, protoR uint8
	var haveOrig, haveReply bool
	err := attrs(b, func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case ctaTupleOrigA:
			haveOrig = true
			return decodeTuple(v, &f.Orig, &protoO)
		case ctaTupleReplyA:
			haveReply = true
			return decodeTuple(v, &f.Reply, &protoR)
		case ctaStatusA:
			var s uint32
			s, err = be32(v)
			f.Status = model.FlowStatus(s)
		case ctaProtoinfoA:
			return attrs(v, func(typ uint16, v []byte) error {
				if typ != ctaProtoinfoTCPA {
					return nil
				}
				return attrs(v, func(typ uint16, v []byte) error {
					if typ != ctaProtoinfoTCPStateA {
						return nil
					}
					s, err := u8(v)
					f.TCPState = model.TCPState(s)
					return err
				})
			})
		case ctaHelpA:
			return attrs(v, func(typ uint16, v []byte) error {
				if typ == ctaHelpNameA {
					f.Helper = string(bytes.TrimRight(v, "\x00")) // as netlink's nlenc.String
				}
				return nil
			})
		case ctaTimeoutA:
			var s uint32
			s, err = be32(v)
			f.Timeout = time.Duration(s) * time.Second
		case ctaMarkA:
			f.Mark, err = be32(v)
		case ctaCountersOrigA:
			err = decodeCounters(v, &f.OrigPackets, &f.OrigBytes)
		case ctaCountersReplyA:
			err = decodeCounters(v, &f.ReplyPackets, &f.ReplyBytes)
		case ctaIDA:
			f.ID, err = be32(v)
		case ctaZoneA:
			f.Zone, err = be16(v)
		case ctaTimestampA:
			return attrs(v, func(typ uint16, v []byte) error {
				if typ != ctaTimestampStartA {
					return nil
				}
				ns, err := be64(v)
				if ns != 0 && ns < 1<<63 {
					f.Start = time.Unix(0, int64(ns)).UTC()
				}
				return err
			})
		}
		return err
	})
	if err != nil {
		return err
	}
	if !haveOrig || !haveReply {
		return fmt.Errorf("%w: flow without both tuples", ErrDecode)
	}
	f.ProtoNum = protoO
	f.Proto = model.FlowProto(protoO)
	f.Family = model.FamilyIPv4
	if f.Orig.Src.Addr().Is6() {
		f.Family = model.FamilyIPv6
	}
	f.CountersKnown = f.OrigPackets != 0 || f.OrigBytes != 0 || f.ReplyPackets != 0 || f.ReplyBytes != 0
	f.SetNAT()
	return nil
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// nlError returns the error an NLMSG_ERROR payload carries (nil for an
// ACK), with the kernel's extended ACK message when it sent one.
func nlError(flags uint16, payload []byte) error {
	if len(payload) < 4 {
		return fmt.Errorf("%w: short NLMSG_ERROR", ErrDecode)
	}
	e := int32(binary.NativeEndian.Uint32(payload))
	if e == 0 {
		return nil
	}
	errno := syscall.Errno(-e)
	const (
		flagCapped  = 0x100 // NLM_F_CAPPED
		flagAckTLVs = 0x200 // NLM_F_ACK_TLVS
		attrMsg     = 1     // NLMSGERR_ATTR_MSG
	)
	if flags&flagAckTLVs == 0 || len(payload) < 4+unix.NLMSG_HDRLEN {
		return errno
	}
	off := 4 + unix.NLMSG_HDRLEN
	if flags&flagCapped == 0 {
		off = 4 + int(binary.NativeEndian.Uint32(payload[4:]))
	}
	if off > len(payload) {
		return errno
	}
	msg := ""
	_ = attrs(payload[off:], func(typ uint16, v []byte) error {
		if typ == attrMsg {
			msg = string(trimNUL(v))
		}
		return nil
	})
	if msg == "" {
		return errno
	}
	return fmt.Errorf("%w (%s)", errno, msg)
}
