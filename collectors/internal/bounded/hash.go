package bounded

import (
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

// HashAddr mixes a's 16-byte form into h. The zone is left out: keys
// that differ only in it share a hash and are told apart by ==.
func HashAddr(h uint64, a netip.Addr) uint64 {
	b := a.As16()
	hi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 | uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	if a.Is4() {
		hi ^= 4
	}
	return Mix(Mix(h, hi), lo)
}

// HashAddrPort mixes a's address and port into h.
func HashAddrPort(h uint64, a netip.AddrPort) uint64 {
	return Mix(HashAddr(h, a.Addr()), uint64(a.Port()))
}
