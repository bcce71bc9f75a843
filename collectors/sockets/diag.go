package sockets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"netlens/model"
)

// Netlink and sock_diag constants from include/uapi/linux/netlink.h,
// sock_diag.h and inet_diag.h.
const (
	familySockDiag = 4 // NETLINK_SOCK_DIAG

	msgError            = 0x2 // NLMSG_ERROR
	msgDone             = 0x3 // NLMSG_DONE
	msgSockDiagByFamily = 20  // SOCK_DIAG_BY_FAMILY

	flagRequest  = 0x1   // NLM_F_REQUEST
	flagMulti    = 0x2   // NLM_F_MULTI
	flagDumpIntr = 0x10  // NLM_F_DUMP_INTR
	flagDump     = 0x300 // NLM_F_DUMP (NLM_F_ROOT|NLM_F_MATCH)
	flagCapped   = 0x100 // NLM_F_CAPPED (in NLMSG_ERROR)
	flagAckTLVs  = 0x200 // NLM_F_ACK_TLVS (in NLMSG_ERROR)

	nlmsgerrAttrMsg = 1 // NLMSGERR_ATTR_MSG

	nlmsgHdrLen = 16 // sizeof(struct nlmsghdr)
	diagReqLen  = 56 // sizeof(struct inet_diag_req_v2)
	diagMsgLen  = 72 // sizeof(struct inet_diag_msg)
)

// ipProto is an IP protocol number as sock_diag takes it in sdiag_protocol.
type ipProto uint8

// IP protocols with an inet_diag handler that netlens dumps.
const (
	protoTCP     ipProto = 6   // IPPROTO_TCP
	protoUDP     ipProto = 17  // IPPROTO_UDP
	protoUDPLite ipProto = 136 // IPPROTO_UDPLITE
	protoRAW     ipProto = 255 // IPPROTO_RAW (raw_diag; sdiag_raw_protocol 0 matches every raw protocol)
)

func (p ipProto) model() model.Proto {
	switch p {
	case protoTCP:
		return model.ProtoTCP
	case protoUDP:
		return model.ProtoUDP
	case protoUDPLite:
		return model.ProtoUDPLite
	default:
		return model.ProtoRAW
	}
}

// Address families (include/linux/socket.h).
const (
	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6
)

// diagAttr is an inet_diag reply attribute type (enum in inet_diag.h).
type diagAttr uint16

// Reply attributes netlens reads.
const (
	attrInfo      diagAttr = 2  // INET_DIAG_INFO: struct tcp_info (TCP)
	attrCong      diagAttr = 4  // INET_DIAG_CONG: congestion control name, NUL-terminated
	attrSKMemInfo diagAttr = 7  // INET_DIAG_SKMEMINFO: __u32[SK_MEMINFO_VARS]
	attrShutdown  diagAttr = 8  // INET_DIAG_SHUTDOWN: __u8
	attrProtocol  diagAttr = 10 // INET_DIAG_PROTOCOL: __u8
)

// skMemInfoDrops is the index of sk_drops in INET_DIAG_SKMEMINFO
// (SK_MEMINFO_DROPS in include/uapi/linux/sock_diag.h).
const skMemInfoDrops = 8

// allStates is the idiag_states mask of `ss -a`: every TCP state from
// TCP_ESTABLISHED to TCP_NEW_SYN_RECV (bits 0..12). Later states such as
// TCP_BOUND_INACTIVE are left out, as ss leaves them out.
const allStates = 1<<13 - 1

// ErrMalformed is wrapped by errors for kernel data that cannot be decoded:
// a short sock_diag message, lengths that do not add up, a /proc/net line
// with missing or non-numeric fields.
var ErrMalformed = errors.New("malformed kernel data")

// extensions is the idiag_ext mask of the attributes requested for
// proto: INET_DIAG_SKMEMINFO for every protocol, and for TCP also
// INET_DIAG_INFO (struct tcp_info) and INET_DIAG_CONG. Other protocols
// have no tcp_info (udp_diag answers INET_DIAG_INFO with an empty
// attribute), so it is not asked of them.
func extensions(proto ipProto) uint8 {
	ext := uint8(1) << (uint8(attrSKMemInfo) - 1)
	if proto == protoTCP {
		ext |= 1<<(uint8(attrInfo)-1) | 1<<(uint8(attrCong)-1)
	}
	return ext
}

// memInfoOnly is the idiag_ext mask without tcp_info: INET_DIAG_SKMEMINFO
// alone (Options.NoTCPInfo).
func memInfoOnly(ipProto) uint8 { return uint8(1) << (uint8(attrSKMemInfo) - 1) }

// appendDumpRequest appends a SOCK_DIAG_BY_FAMILY dump request for
// family and proto, asking for the attributes of extensions(proto), to b.
func appendDumpRequest(b []byte, seq uint32, family uint8, proto ipProto) []byte {
	return appendDumpRequestExt(b, seq, family, proto, extensions(proto))
}

// appendDumpRequestExt is appendDumpRequest with the idiag_ext mask ext.
func appendDumpRequestExt(b []byte, seq uint32, family uint8, proto ipProto, ext uint8) []byte {
	var req [nlmsgHdrLen + diagReqLen]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))     // nlmsg_len
	ne.PutUint16(req[4:], msgSockDiagByFamily)  // nlmsg_type
	ne.PutUint16(req[6:], flagRequest|flagDump) // nlmsg_flags
	ne.PutUint32(req[8:], seq)                  // nlmsg_seq
	// nlmsg_pid 0: the kernel.
	r := req[nlmsgHdrLen:]
	r[0] = family                  // sdiag_family
	r[1] = uint8(proto)            // sdiag_protocol
	r[2] = ext                     // idiag_ext
	r[3] = 0                       // pad / sdiag_raw_protocol: any
	ne.PutUint32(r[4:], allStates) // idiag_states
	// id: zero, no filter.
	return append(b, req[:]...)
}

// dumpStatus is what a datagram of a dump said about the dump as a whole.
type dumpStatus struct {
	done        bool // NLMSG_DONE seen
	interrupted bool // NLM_F_DUMP_INTR seen: the table changed while dumping
}

// decodeDatagram decodes one datagram of a sock_diag dump reply: every
// SOCK_DIAG_BY_FAMILY message in it is decoded straight into a new element
// appended to out. Messages whose sequence number is not seq are skipped.
// Interface indexes are named through names (which may be nil). Each
// socket's tcp_info is stored in tcp (allocated alone when tcp is nil). An
// NLMSG_ERROR, or an NLMSG_DONE carrying an error, is returned as an error
// wrapping the errno (with the extended ACK message, if any). On error, out
// is returned as it was given. It never panics on malformed input.
func decodeDatagram(b []byte, seq uint32, proto model.Proto, names *ifNames, tcp *slab[model.TCPInfo], out []model.Socket) ([]model.Socket, dumpStatus, error) {
	var st dumpStatus
	start := len(out)
	ne := binary.NativeEndian
	for off := 0; len(b)-off >= nlmsgHdrLen; {
		l := int(ne.Uint32(b[off:]))
		typ := ne.Uint16(b[off+4:])
		flags := ne.Uint16(b[off+6:])
		mseq := ne.Uint32(b[off+8:])
		if l < nlmsgHdrLen || l > len(b)-off {
			return out[:start], st, fmt.Errorf("netlink message at offset %d: length %d with %d bytes left: %w", off, l, len(b)-off, ErrMalformed)
		}
		payload := b[off+nlmsgHdrLen : off+l]
		off += align4(l)
		if mseq != seq {
			continue
		}
		if flags&flagDumpIntr != 0 {
			st.interrupted = true
		}
		switch typ {
		case msgDone:
			st.done = true
			if len(payload) >= 4 {
				if errno := int32(ne.Uint32(payload)); errno < 0 {
					return out[:start], st, fmt.Errorf("sock_diag dump: %w", syscall.Errno(-errno))
				}
			}
			return out, st, nil
		case msgError:
			if err := decodeError(payload, flags); err != nil {
				return out[:start], st, err
			}
		case msgSockDiagByFamily:
			out = append(out, model.Socket{Proto: proto})
			if err := decodeDiagMsg(payload, names, tcp, &out[len(out)-1]); err != nil {
				return out[:start], st, err
			}
		}
	}
	return out, st, nil
}

// decodeError turns an NLMSG_ERROR payload into an error (nil for an ACK).
func decodeError(p []byte, flags uint16) error {
	if len(p) < 4 {
		return fmt.Errorf("netlink error message of %d bytes: %w", len(p), ErrMalformed)
	}
	errno := int32(binary.NativeEndian.Uint32(p))
	if errno == 0 {
		return nil
	}
	err := fmt.Errorf("sock_diag: %w", syscall.Errno(-errno))
	if flags&flagAckTLVs == 0 {
		return err
	}
	// The original request header follows the errno; its payload too
	// unless the error is capped.
	off := 4 + nlmsgHdrLen
	if flags&flagCapped == 0 && len(p) >= 4+4 {
		off = 4 + align4(int(binary.NativeEndian.Uint32(p[4:])))
	}
	if off > len(p) {
		return err
	}
	for a := p[off:]; len(a) >= 4; {
		l := int(binary.NativeEndian.Uint16(a))
		typ := binary.NativeEndian.Uint16(a[2:]) & 0x3fff
		if l < 4 || l > len(a) {
			break
		}
		if typ == nlmsgerrAttrMsg {
			msg := a[4:l]
			for len(msg) > 0 && msg[len(msg)-1] == 0 {
				msg = msg[:len(msg)-1]
			}
			return fmt.Errorf("sock_diag: %s: %w", msg, syscall.Errno(-errno))
		}
		a = a[min(align4(l), len(a)):]
	}
	return err
}

// decodeDiagMsg decodes an inet_diag_msg and its attributes into s,
// whose Proto is already set. A raw socket's local port is its protocol,
// as in ss.
//
// The queues are taken as the kernel fills idiag_rqueue and idiag_wqueue,
// which is what ss prints as Recv-Q and Send-Q: for a TCP listener the
// accept queue length and its limit (the listen backlog); for other TCP
// sockets the bytes not yet read and the bytes not yet acknowledged; for
// UDP and RAW the memory charged to the receive and send buffers.
// (/proc/net/tcp differs for listeners only: its tx_queue is 0.)
//
// A tcp_info, or a congestion control name, is stored in tcp (allocated
// alone when tcp is nil); s.TCP stays nil when the kernel sent neither.
func decodeDiagMsg(p []byte, names *ifNames, tcp *slab[model.TCPInfo], s *model.Socket) error {
	if len(p) < diagMsgLen {
		return fmt.Errorf("inet_diag_msg of %d bytes, want %d: %w", len(p), diagMsgLen, ErrMalformed)
	}
	ne := binary.NativeEndian
	family := p[0]
	s.State = model.SockState(p[1])
	sport := binary.BigEndian.Uint16(p[4:])
	dport := binary.BigEndian.Uint16(p[6:])
	switch family {
	case afInet:
		s.Family = model.FamilyIPv4
		s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[8:12])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[24:28])), dport)
	case afInet6:
		s.Family = model.FamilyIPv6
		s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(p[8:24])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(p[24:40])), dport)
	default:
		return fmt.Errorf("inet_diag_msg: address family %d: %w", family, ErrMalformed)
	}
	ifindex := ne.Uint32(p[40:])
	if ifindex != 0 {
		s.Interface = names.name(ifindex)
	}
	s.Cookie = uint64(ne.Uint32(p[48:]))<<32 | uint64(ne.Uint32(p[44:]))
	s.RecvQ = ne.Uint32(p[56:])
	s.SendQ = ne.Uint32(p[60:])
	s.UID = ne.Uint32(p[64:])
	s.Inode = uint64(ne.Uint32(p[68:]))
	for a := p[diagMsgLen:]; len(a) >= 4; {
		l := int(ne.Uint16(a))
		typ := diagAttr(ne.Uint16(a[2:]) & 0x3fff) // without NLA_F_NESTED, NLA_F_NET_BYTEORDER
		if l < 4 || l > len(a) {
			return fmt.Errorf("inet_diag attribute %d: length %d with %d bytes left: %w", typ, l, len(a), ErrMalformed)
		}
		v := a[4:l]
		switch {
		case typ == attrSKMemInfo && len(v) >= (skMemInfoDrops+1)*4:
			s.Drops = uint64(ne.Uint32(v[skMemInfoDrops*4:]))
			s.HasDrops = true
		case typ == attrInfo && s.Proto == model.ProtoTCP:
			if s.TCP == nil {
				s.TCP = tcp.alloc()
			}
			decodeTCPInfo(v, s.TCP)
		case typ == attrCong:
			if s.TCP == nil {
				s.TCP = tcp.alloc()
			}
			s.TCP.Congestion = congName(v)
		}
		a = a[min(align4(l), len(a)):]
	}
	if s.TCP != nil && *s.TCP == (model.TCPInfo{}) {
		s.TCP = nil // a short attribute: nothing known (a slot of the slab unused)
	}
	return nil
}

func align4(n int) int { return (n + 3) &^ 3 }
