package links

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/mdlayher/netlink"

	"netlens/model"
)

// ErrMalformed is wrapped by errors about a kernel message netlens cannot
// decode.
var ErrMalformed = errors.New("malformed rtnetlink message")

var ne = binary.NativeEndian

// parseLink decodes the payload of an RTM_NEWLINK message: struct
// ifinfomsg followed by IFLA_* attributes, into an Interface without
// addresses, rates, ethtool statistics or tc objects. Master is left to
// the caller (it knows the names); MasterIndex is set.
func parseLink(b []byte) (model.Interface, error) {
	var l model.Interface
	if len(b) < sizeofIfinfomsg {
		return l, fmt.Errorf("ifinfomsg: %d bytes, want %d: %w", len(b), sizeofIfinfomsg, ErrMalformed)
	}
	// struct ifinfomsg { u8 family; u8 pad; u16 type; int index; u32 flags; u32 change; }
	typ := ne.Uint16(b[2:4])
	l.Index = int32(ne.Uint32(b[4:8]))
	flags := ne.Uint32(b[8:12])
	l.Up = flags&iffUp != 0
	l.Carrier = flags&iffLowerUp != 0
	l.LinkType = linkTypeName(typ)
	l.OperState = operStates[0]
	ad, err := netlink.NewAttributeDecoder(b[sizeofIfinfomsg:])
	if err != nil {
		return l, fmt.Errorf("link attributes: %w: %w", ErrMalformed, err)
	}
	ad.ByteOrder = ne
	for ad.Next() {
		switch linkAttr(ad.Type()) {
		case iflaIfname:
			l.Name = ad.String()
		case iflaAddress:
			l.MAC = formatMAC(ad.Bytes())
		case iflaMTU:
			l.MTU = u32(ad.Bytes())
		case iflaTxqlen:
			l.TxQueueLen = u32(ad.Bytes())
		case iflaLink:
			l.LinkIndex = int32(u32(ad.Bytes()))
		case iflaMaster:
			l.MasterIndex = int32(u32(ad.Bytes()))
		case iflaQdisc:
			l.Qdisc = ad.String()
		case iflaOperstate:
			if v := ad.Bytes(); len(v) == 1 && int(v[0]) < len(operStates) {
				l.OperState = operStates[v[0]]
			} else if len(v) == 1 {
				l.OperState = strconv.Itoa(int(v[0]))
			}
		case iflaCarrier:
			if v := ad.Bytes(); len(v) == 1 {
				l.Carrier = v[0] != 0
			}
		case iflaCarrierChanges:
			l.CarrierChanges = u32(ad.Bytes())
		case iflaLinkinfo:
			ad.Nested(func(nd *netlink.AttributeDecoder) error {
				parseLinkinfo(nd, &l)
				return nil
			})
		case iflaStats64:
			v := ad.Bytes()
			for i := range min(len(v)/8, len(model.LinkStatNames)) {
				*l.Stats.Field(i) = ne.Uint64(v[8*i:])
			}
		}
	}
	if err := ad.Err(); err != nil {
		return l, fmt.Errorf("link attributes of ifindex %d: %w: %w", l.Index, ErrMalformed, err)
	}
	if l.Name == "" {
		return l, fmt.Errorf("link ifindex %d has no IFLA_IFNAME: %w", l.Index, ErrMalformed)
	}
	return l, nil
}

// parseLinkinfo reads IFLA_INFO_KIND and, for a VLAN, IFLA_VLAN_ID.
func parseLinkinfo(nd *netlink.AttributeDecoder, l *model.Interface) {
	var data []byte
	for nd.Next() {
		switch nd.Type() {
		case iflaInfoKind:
			l.Kind = nd.String()
		case iflaInfoData:
			data = nd.Bytes()
		}
	}
	if l.Kind != "vlan" || data == nil {
		return
	}
	dd, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return
	}
	dd.ByteOrder = ne
	for dd.Next() {
		if v := dd.Bytes(); dd.Type() == iflaVlanID && len(v) >= 2 {
			l.VLANID = ne.Uint16(v)
		}
	}
}

// u32 reads a native-endian u32 attribute, 0 when it is short.
func u32(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return ne.Uint32(v)
}

// formatMAC formats a hardware address in colon-hex ("" when empty or
// all zero bytes of a link without one, as lo's).
func formatMAC(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 3*len(v))
	for i, c := range v {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return string(b)
}

func linkTypeName(t uint16) string {
	if n, ok := linkTypes[t]; ok {
		return n
	}
	return "arphrd " + strconv.Itoa(int(t))
}

// addr is one RTM_NEWADDR message: the interface and the address.
type addr struct {
	index int32
	addr  model.InterfaceAddr
}

// parseAddr decodes the payload of an RTM_NEWADDR message: struct
// ifaddrmsg followed by IFA_* attributes. ok is false for a family other
// than IPv4 and IPv6.
func parseAddr(b []byte) (a addr, ok bool, err error) {
	if len(b) < sizeofIfaddrmsg {
		return a, false, fmt.Errorf("ifaddrmsg: %d bytes, want %d: %w", len(b), sizeofIfaddrmsg, ErrMalformed)
	}
	// struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; }
	fam, plen, scope := b[0], b[1], b[3]
	a.index = int32(ne.Uint32(b[4:8]))
	if fam != afInet && fam != afInet6 {
		return a, false, nil
	}
	ad, err := netlink.NewAttributeDecoder(b[sizeofIfaddrmsg:])
	if err != nil {
		return a, false, fmt.Errorf("address attributes: %w: %w", ErrMalformed, err)
	}
	var address, local []byte
	for ad.Next() {
		switch ifaAttr(ad.Type()) {
		case ifaAddress:
			address = ad.Bytes()
		case ifaLocal:
			local = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return a, false, fmt.Errorf("address attributes of ifindex %d: %w: %w", a.index, ErrMalformed, err)
	}
	// IFA_LOCAL is the interface's own address; IFA_ADDRESS the peer's
	// on a point-to-point link (else the same).
	raw := local
	if raw == nil {
		raw = address
	}
	ip, good := netip.AddrFromSlice(raw)
	want := 4
	a.addr.Family = "inet"
	if fam == afInet6 {
		want, a.addr.Family = 16, "inet6"
	}
	if !good || len(raw) != want || int(plen) > 8*want {
		return a, false, fmt.Errorf("address of ifindex %d: %d bytes, prefix %d: %w", a.index, len(raw), plen, ErrMalformed)
	}
	a.addr.Address = ip.String()
	a.addr.PrefixLen = int(plen)
	a.addr.Scope = scopeName(scope)
	return a, true, nil
}

// scopeName names an RT_SCOPE_* value as ip(8) does.
func scopeName(s uint8) string {
	switch s {
	case 0:
		return "global" // RT_SCOPE_UNIVERSE
	case 200:
		return "site" // RT_SCOPE_SITE
	case 253:
		return "link" // RT_SCOPE_LINK
	case 254:
		return "host" // RT_SCOPE_HOST
	case 255:
		return "nowhere" // RT_SCOPE_NOWHERE
	}
	return strconv.Itoa(int(s))
}
