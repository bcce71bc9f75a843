package xfrm

import (
	"encoding/binary"
	"net/netip"
)

// The builders below encode the kernel's structures the way
// net/xfrm/xfrm_user.c fills them, for tests and fuzz seeds.

type saSpec struct {
	src, dst    netip.Addr
	spi         uint32
	proto       uint8
	mode        uint8
	reqid       uint32
	window      uint8
	stats       [3]uint32 // replay_window (out of window), replay, integrity_failed
	cur         [4]uint64 // bytes, packets, add_time, use_time
	hardAdd     uint64
	softAdd     uint64
	flags       uint8
	attrs       [][]byte
	selSrc      netip.Prefix
	selDst      netip.Prefix
	selProto    uint8
	selDport    uint16
	selDportSet bool
}

func family(a netip.Addr) uint16 {
	if a.Is4() {
		return afInet
	}
	return afInet6
}

func putAddr(b []byte, a netip.Addr) {
	if a.Is4() {
		x := a.As4()
		copy(b, x[:])
		return
	}
	x := a.As16()
	copy(b, x[:])
}

func buildSelector(b []byte, src, dst netip.Prefix, proto uint8, dport uint16, dportSet bool) {
	if dst.IsValid() {
		putAddr(b[0:], dst.Addr())
		b[42] = byte(dst.Bits())
		ne.PutUint16(b[40:], family(dst.Addr()))
	}
	if src.IsValid() {
		putAddr(b[16:], src.Addr())
		b[43] = byte(src.Bits())
	}
	if dportSet {
		binary.BigEndian.PutUint16(b[32:], dport)
		binary.BigEndian.PutUint16(b[34:], 0xffff)
	}
	b[44] = proto
}

func buildLimits(b []byte, softAdd, hardAdd uint64) {
	for i := range 4 {
		ne.PutUint64(b[8*i:], xfrmInf)
	}
	ne.PutUint64(b[32:], softAdd)
	ne.PutUint64(b[40:], hardAdd)
}

func buildSA(s saSpec) []byte {
	b := make([]byte, sizeofUsersaInfo)
	buildSelector(b, s.selSrc, s.selDst, s.selProto, s.selDport, s.selDportSet)
	putAddr(b[saID:], s.dst)
	binary.BigEndian.PutUint32(b[saID+16:], s.spi)
	b[saID+20] = s.proto
	putAddr(b[saSaddr:], s.src)
	buildLimits(b[saLft:], s.softAdd, s.hardAdd)
	for i, v := range s.cur {
		ne.PutUint64(b[saCurlft+8*i:], v)
	}
	for i, v := range s.stats {
		ne.PutUint32(b[saStats+4*i:], v)
	}
	ne.PutUint32(b[saReqID:], s.reqid)
	ne.PutUint16(b[saFamily:], family(s.dst))
	b[saMode] = s.mode
	b[saReplayWindow] = s.window
	b[saFlags] = s.flags
	for _, a := range s.attrs {
		b = append(b, a...)
	}
	return b
}

// buildAttr encodes one attribute, padded to 4 bytes.
func buildAttr(typ uint16, data []byte) []byte {
	b := make([]byte, 4, 4+len(data)+3)
	ne.PutUint16(b, uint16(4+len(data)))
	ne.PutUint16(b[2:], typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// buildAlg encodes an algorithm attribute with its key.
func buildAlg(typ uint16, name string, icv uint32, key []byte) []byte {
	head := sizeofAlgo
	if typ == attrAlgAEAD || typ == attrAlgAuthTrunc {
		head = sizeofAlgoAuth
	}
	d := make([]byte, head, head+len(key))
	copy(d, name)
	ne.PutUint32(d[sizeofAlgoName:], uint32(8*len(key)))
	if head == sizeofAlgoAuth {
		ne.PutUint32(d[sizeofAlgoName+4:], icv)
	}
	return buildAttr(typ, append(d, key...))
}

func buildESN(oseq, seq uint64, window uint32) []byte {
	d := make([]byte, sizeofReplayESN+4)
	ne.PutUint32(d[0:], 1)
	ne.PutUint32(d[4:], uint32(oseq))
	ne.PutUint32(d[8:], uint32(seq))
	ne.PutUint32(d[12:], uint32(oseq>>32))
	ne.PutUint32(d[16:], uint32(seq>>32))
	ne.PutUint32(d[20:], window)
	return buildAttr(attrReplayESNVal, d)
}

func buildReplay(oseq, seq, bitmap uint32) []byte {
	d := make([]byte, sizeofReplayState)
	ne.PutUint32(d[0:], oseq)
	ne.PutUint32(d[4:], seq)
	ne.PutUint32(d[8:], bitmap)
	return buildAttr(attrReplayVal, d)
}
