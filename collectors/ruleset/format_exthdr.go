package ruleset

import (
	"strconv"

	"github.com/google/nftables/expr"
)

// The exthdr expression loads a field of a TCP option, an IPv4 option,
// an SCTP chunk or an IPv6 extension header, or says whether the packet
// has one. Its fields are named here as nft 1.0.6 names them (its
// src/tcpopt.c, src/ipopt.c, src/sctp_chunk.c and src/exthdr.c).

// The exthdr ops google/nftables does not name (include/uapi/linux/
// netfilter/nf_tables.h, enum nft_exthdr_op).
const (
	exthdrOpIPv4 expr.ExthdrOp = 2 // NFT_EXTHDR_OP_IPV4
	exthdrOpSCTP expr.ExthdrOp = 3 // NFT_EXTHDR_OP_SCTP
)

// exthdrPresent is NFT_EXTHDR_F_PRESENT: the load says whether the option
// is there (exists, missing), not what it holds.
const exthdrPresent = 1

// optDesc is an option or chunk nft names, with its fields by byte offset
// and length (a field of a TCP option past the first 8 bytes is in a
// later SACK block: nft numbers the option, sack1 left).
type optDesc struct {
	name   string
	fields []field
}

// optFields are an option's fields: the ones every option of its kind has
// (kind, length), then its own.
func optFields(common []field, own ...field) []field {
	return append(common[:len(common):len(common)], own...)
}

var (
	optKind    = []field{{"kind", 0, 1, kindBEInt}}
	optKindLen = []field{{"kind", 0, 1, kindBEInt}, {"length", 1, 1, kindBEInt}}
	ipoptHdr   = []field{{"type", 0, 1, kindBEInt}, {"length", 1, 1, kindBEInt}}
	ipoptRoute = optFields(ipoptHdr, field{"ptr", 2, 1, kindBEInt}, field{"addr", 3, 4, kindBEInt})
	chunkHdr   = []field{{"type", 0, 1, kindBEInt}, {"flags", 1, 1, kindBEInt}, {"length", 2, 2, kindBEInt}}
	chunkInit  = optFields(chunkHdr, field{"init-tag", 4, 4, kindBEInt}, field{"a-rwnd", 8, 4, kindBEInt},
		field{"num-outbound-streams", 12, 2, kindBEInt}, field{"num-inbound-streams", 14, 2, kindBEInt},
		field{"initial-tsn", 16, 4, kindBEInt})
)

// tcpOptions are the TCP options nft names, by kind (TCPOPT_KIND_*). The
// mptcp subtype is a bit field (bitfields).
var tcpOptions = map[uint8]optDesc{
	0:  {"eol", optKind},
	1:  {"nop", optKind},
	2:  {"maxseg", optFields(optKindLen, field{"size", 2, 2, kindBEInt})},
	3:  {"window", optFields(optKindLen, field{"count", 2, 1, kindBEInt})},
	4:  {"sack-perm", optKindLen},
	5:  {"sack", optFields(optKindLen, sackBlocks()...)},
	8:  {"timestamp", optFields(optKindLen, field{"tsval", 2, 4, kindBEInt}, field{"tsecr", 6, 4, kindBEInt})},
	19: {"md5sig", optKindLen},
	30: {"mptcp", optKindLen},
	34: {"fastopen", optKindLen},
}

// sackBlocks are the left and right edges of a SACK option's four blocks.
func sackBlocks() []field {
	var fl []field
	for off := uint32(2); off < 34; off += 8 {
		fl = append(fl, field{"left", off, 4, kindBEInt}, field{"right", off + 4, 4, kindBEInt})
	}
	return fl
}

// ipOptions are the IPv4 options nft names, by type (IPOPT_*).
var ipOptions = map[uint8]optDesc{
	7:   {"rr", ipoptRoute},
	131: {"lsrr", ipoptRoute},
	137: {"ssrr", ipoptRoute},
	148: {"ra", optFields(ipoptHdr, field{"value", 2, 2, kindBEInt})},
}

// sctpChunks are the SCTP chunks nft names, by type (SCTP_CHUNK_TYPE_*).
var sctpChunks = map[uint8]optDesc{
	0: {"data", optFields(chunkHdr, field{"tsn", 4, 4, kindBEInt}, field{"stream", 8, 2, kindBEInt},
		field{"ssn", 10, 2, kindBEInt}, field{"ppid", 12, 4, kindBEInt})},
	1: {"init", chunkInit},
	2: {"init-ack", chunkInit},
	3: {"sack", optFields(chunkHdr, field{"cum-tsn-ack", 4, 4, kindBEInt}, field{"a-rwnd", 8, 4, kindBEInt},
		field{"num-gap-ack-blocks", 12, 2, kindBEInt}, field{"num-dup-tsns", 14, 2, kindBEInt})},
	4:   {"heartbeat", chunkHdr},
	5:   {"heartbeat-ack", chunkHdr},
	6:   {"abort", chunkHdr},
	7:   {"shutdown", optFields(chunkHdr, field{"cum-tsn-ack", 4, 4, kindBEInt})},
	8:   {"shutdown-ack", chunkHdr},
	9:   {"error", chunkHdr},
	10:  {"cookie-echo", chunkHdr},
	11:  {"cookie-ack", chunkHdr},
	12:  {"ecne", optFields(chunkHdr, field{"lowest-tsn", 4, 4, kindBEInt})},
	13:  {"cwr", optFields(chunkHdr, field{"lowest-tsn", 4, 4, kindBEInt})},
	14:  {"shutdown-complete", chunkHdr},
	128: {"asconf-ack", optFields(chunkHdr, field{"seqno", 4, 4, kindBEInt})},
	192: {"forward-tsn", optFields(chunkHdr, field{"new-cum-tsn", 4, 4, kindBEInt})},
	193: {"asconf", optFields(chunkHdr, field{"seqno", 4, 4, kindBEInt})},
}

// ip6Exthdrs are the IPv6 extension headers nft names, by next header.
var ip6Exthdrs = map[uint8]string{0: "hbh", 43: "rt", 44: "frag", 60: "dst", 135: "mh"}

// exactField is the field of fields at off that is size bytes long.
func exactField(fields []field, off, size uint32) (field, bool) {
	for _, fl := range fields {
		if fl.off == off && fl.size == size {
			return fl, true
		}
	}
	return field{}, false
}

// exthdr renders the exthdr matches and statements nft writes: tcp
// option maxseg size 1400, tcp option sack1 left 3, tcp option
// sack-perm exists, ip option lsrr ptr 4, sctp chunk init
// num-inbound-streams 1, exthdr frag exists, tcp option maxseg size set
// 1360.
func (f *formatter) exthdr(e *expr.Exthdr) {
	present := e.Flags&exthdrPresent != 0
	lhs, fl, bits := f.exthdrLHS(e, present)
	switch {
	case lhs == "" && bits != "" && e.SourceRegister == 0:
		// Maybe a bit field of the option (tcp option mptcp
		// subtype): the mask that follows says which.
		g := f.load(e.DestRegister, kindName(e), kindHex, int(e.Len))
		g.hdr, g.off = bits, e.Offset
	case lhs == "" && e.SourceRegister == 0:
		f.unknownLoad(e, e.DestRegister)
	case lhs == "":
		f.emit(kindName(e))
	case e.SourceRegister != 0:
		if v, ok := f.setValue(e.SourceRegister, fl.kind); ok && !present {
			f.emit(lhs + " set " + v)
		} else {
			f.emit(kindName(e))
		}
	default:
		f.load(e.DestRegister, lhs, fl.kind, int(fl.size))
	}
}

// exthdrLHS names an exthdr load: its left-hand side and field, or "" and
// the header name of the bit fields the load may be of ("" if none).
func (f *formatter) exthdrLHS(e *expr.Exthdr, present bool) (lhs string, fl field, bits string) {
	exists := field{kind: kindPresent, size: 1}
	switch e.Op {
	case expr.ExthdrOpTcpopt:
		// nft hides the transport protocol match before a tcp option.
		f.kill(&f.l4dep)
		opt, ok := tcpOptions[e.Type]
		switch {
		case !ok && present && e.Offset == 0:
			return "tcp option " + strconv.Itoa(int(e.Type)), exists, ""
		case !ok:
			// nft's raw option syntax, offset and length in bits.
			raw := "tcp option @" + strconv.Itoa(int(e.Type)) + "," + strconv.FormatUint(uint64(e.Offset)*8, 10) +
				"," + strconv.FormatUint(uint64(e.Len)*8, 10)
			if present {
				return raw, exists, ""
			}
			return raw, field{kind: kindBEInt, size: e.Len}, ""
		case present:
			return "tcp option " + opt.name, exists, ""
		}
		fl, ok := exactField(opt.fields, e.Offset, e.Len)
		if !ok {
			return "", field{}, bitfieldHdr("tcp option "+opt.name, e.Offset, e.Len)
		}
		lhs = "tcp option " + opt.name
		if n := e.Offset * 8 / 64; n > 0 {
			lhs += strconv.FormatUint(uint64(n), 10) // sack1 left
		}
		return lhs + " " + fl.name, fl, ""
	case exthdrOpIPv4:
		opt, ok := ipOptions[e.Type]
		if !ok {
			return "", field{}, ""
		}
		if f.l3 == "ip" {
			f.kill(&f.l3dep)
		}
		return optLHS("ip option "+opt.name, opt, e, present)
	case exthdrOpSCTP:
		opt, ok := sctpChunks[e.Type]
		if !ok {
			return "", field{}, ""
		}
		return optLHS("sctp chunk "+opt.name, opt, e, present)
	case expr.ExthdrOpIpv6:
		if name, ok := ip6Exthdrs[e.Type]; ok && present {
			if f.l3 == "ip6" {
				f.kill(&f.l3dep)
			}
			return "exthdr " + name, exists, ""
		}
	}
	return "", field{}, ""
}

// bitfieldHdr is hdr when it has a bit field a load of size bytes at off
// may be of, "" otherwise.
func bitfieldHdr(hdr string, off, size uint32) string {
	for _, bf := range bitfields {
		if bf.hdr == hdr && bf.off == off && uint32(len(bf.mask)) == size {
			return hdr
		}
	}
	return ""
}

// optLHS is an IPv4 option's or an SCTP chunk's left-hand side: name
// alone for its presence, name and field for a field; "" for a load that
// is no field of it.
func optLHS(name string, opt optDesc, e *expr.Exthdr, present bool) (string, field, string) {
	if present {
		return name, field{kind: kindPresent, size: 1}, ""
	}
	fl, ok := exactField(opt.fields, e.Offset, e.Len)
	if !ok {
		return "", field{}, ""
	}
	return name + " " + fl.name, fl, ""
}
