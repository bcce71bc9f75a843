package sysctl

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// routeIface is the interface the route to dst leaves by (RTM_GETROUTE,
// what `ip route get DST` asks), in the calling thread's namespace; ""
// when there is none or it cannot be asked.
func routeIface(dst netip.Addr) string {
	dst = dst.Unmap()
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return ""
	}
	defer c.Close()
	family, bits := uint8(unix.AF_INET), uint8(32)
	if dst.Is6() {
		family, bits = unix.AF_INET6, 128
	}
	// struct rtmsg: family, dst_len, src_len, tos, table, protocol,
	// scope, type, flags (u32); then RTA_DST.
	rt := make([]byte, unix.SizeofRtMsg)
	rt[0], rt[1] = family, bits
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.RTA_DST, dst.AsSlice())
	attrs, err := ae.Encode()
	if err != nil {
		return ""
	}
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETROUTE, Flags: netlink.Request},
		Data:   append(rt, attrs...),
	})
	if err != nil || len(msgs) == 0 || len(msgs[0].Data) < unix.SizeofRtMsg {
		return ""
	}
	ad, err := netlink.NewAttributeDecoder(msgs[0].Data[unix.SizeofRtMsg:])
	if err != nil {
		return ""
	}
	ad.ByteOrder = binary.NativeEndian
	for ad.Next() {
		if ad.Type() == unix.RTA_OIF {
			if ifi, err := net.InterfaceByIndex(int(ad.Uint32())); err == nil {
				return ifi.Name
			}
		}
	}
	return ""
}
