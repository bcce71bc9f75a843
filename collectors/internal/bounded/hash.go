package bounded

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Mix folds v into the hash h (a multiply-xorshift round after wyhash):
// good enough spread for an index whose keys an outsider may choose,
// since a collision costs a probe, not correctness.
func Mix(h, v uint64) uint64 {
	hi, lo := bits.Mul64(h^0xa0761d6478bd642f, v^0xe7037ed1a0b428db)
	return hi ^ lo
}

// HashAddr mixes a into h: an IPv4 address in one round, an IPv6
// address's 16 bytes in two. The zone is left out: keys that differ only
// in it share a hash and are told apart by ==. (Going through As16 for
// every address cost a store-forwarding stall per packet in a capture.)
func HashAddr(h uint64, a netip.Addr) uint64 {
	if a.Is4() {
		b := a.As4()
		return Mix(h, 1<<32|uint64(binary.BigEndian.Uint32(b[:])))
	}
	b := a.As16()
	return Mix(Mix(h, binary.BigEndian.Uint64(b[:8])), binary.BigEndian.Uint64(b[8:]))
}

// HashAddrPort mixes a's address and port into h.
func HashAddrPort(h uint64, a netip.AddrPort) uint64 {
	return Mix(HashAddr(h, a.Addr()), uint64(a.Port()))
}
