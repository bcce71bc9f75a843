package sockets

import (
	"encoding/binary"
	"strconv"
)

// rtnetlink constants (include/uapi/linux/rtnetlink.h, if_link.h).
const (
	familyRoute = 0    // NETLINK_ROUTE
	msgGetLink  = 0x12 // RTM_GETLINK
	msgNewLink  = 0x10 // RTM_NEWLINK
	ifinfoLen   = 16   // sizeof(struct ifinfomsg)
	attrIfName  = 3    // IFLA_IFNAME
)

// ifNames names interface indexes, caching the answers. Lookup is called
// for an index not in the cache; it returns every link of the namespace
// (a fresh RTM_GETLINK dump), or nil when it cannot. An index that stays
// unknown is named "if<N>". The zero value (or nil) names every index
// "if<N>". An ifNames is not safe for concurrent use.
type ifNames struct {
	byIndex map[uint32]string
	lookup  func() map[uint32]string
	// misses stops a storm of dumps for an index that does not resolve.
	misses map[uint32]bool
}

func (n *ifNames) name(idx uint32) string {
	if n == nil {
		return "if" + strconv.FormatUint(uint64(idx), 10)
	}
	if s, ok := n.byIndex[idx]; ok {
		return s
	}
	if n.lookup != nil && !n.misses[idx] {
		if m := n.lookup(); m != nil {
			n.byIndex = m
		}
		if s, ok := n.byIndex[idx]; ok {
			return s
		}
		if n.misses == nil {
			n.misses = map[uint32]bool{}
		}
		n.misses[idx] = true
	}
	return "if" + strconv.FormatUint(uint64(idx), 10)
}

// reset forgets the cache (interfaces come and go); called once per
// collection that saw an unknown index, so renames are picked up.
func (n *ifNames) reset() {
	n.byIndex = nil
	n.misses = nil
}

// parseLinks decodes the messages of an RTM_GETLINK dump datagram into
// index -> name, adding to m. It stops at the first malformed message.
func parseLinks(b []byte, m map[uint32]string) (done bool) {
	ne := binary.NativeEndian
	for off := 0; len(b)-off >= nlmsgHdrLen; {
		l := int(ne.Uint32(b[off:]))
		typ := ne.Uint16(b[off+4:])
		if l < nlmsgHdrLen || l > len(b)-off {
			return true
		}
		p := b[off+nlmsgHdrLen : off+l]
		off += align4(l)
		switch typ {
		case msgDone, msgError:
			return true
		case msgNewLink:
			if len(p) < ifinfoLen {
				continue
			}
			idx := ne.Uint32(p[4:]) // ifi_index
			for a := p[ifinfoLen:]; len(a) >= 4; {
				al := int(ne.Uint16(a))
				if al < 4 || al > len(a) {
					break
				}
				if ne.Uint16(a[2:])&0x3fff == attrIfName {
					v := a[4:al]
					for len(v) > 0 && v[len(v)-1] == 0 {
						v = v[:len(v)-1]
					}
					m[idx] = string(v)
					break
				}
				a = a[min(align4(al), len(a)):]
			}
		}
	}
	return false
}
