package netns

import (
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"unsafe"
)

// Interface is one network interface of a namespace with its addresses.
type Interface struct {
	Index int      `json:"index"`
	Name  string   `json:"name"`
	Up    bool     `json:"up"`
	Addrs []string `json:"addrs,omitempty"` // "10.0.0.1/24", "fe80::1/64"
}

// readInterfaces dumps the links and addresses of the calling thread's
// network namespace over rtnetlink: two dumps on one socket, made on the
// calling thread (so in its namespace). Call it on a thread that entered
// the namespace; buf is reused across calls.
func readInterfaces(buf *[]byte) ([]Interface, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink: %w", err)
	}
	defer syscall.Close(fd)
	links, err := ribDump(fd, syscall.RTM_GETLINK, 1, buf, nil)
	if err != nil {
		return nil, fmt.Errorf("dump links: %w", err)
	}
	n := len(links)
	all, err := ribDump(fd, syscall.RTM_GETADDR, 2, buf, links)
	if err != nil {
		return nil, fmt.Errorf("dump addresses: %w", err)
	}
	return parseInterfaces(all[:n], all[n:])
}

// ribDump sends an rtnetlink dump request of typ (family AF_UNSPEC) on
// fd and appends the reply messages to out, up to NLMSG_DONE, reading
// into *buf. It is syscall.NetlinkRIB on a socket the caller keeps.
func ribDump(fd int, typ uint16, seq uint32, buf *[]byte, out []byte) ([]byte, error) {
	req := syscall.NetlinkRouteRequest{
		Header: syscall.NlMsghdr{Len: syscall.NLMSG_HDRLEN + syscall.SizeofRtGenmsg, Type: typ,
			Flags: syscall.NLM_F_DUMP | syscall.NLM_F_REQUEST, Seq: seq},
		Data: syscall.RtGenmsg{Family: syscall.AF_UNSPEC},
	}
	wire := (*[syscall.NLMSG_HDRLEN + syscall.SizeofRtGenmsg]byte)(unsafe.Pointer(&req))
	if err := syscall.Sendto(fd, wire[:], 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return out, err
	}
	if len(*buf) < 32<<10 {
		*buf = make([]byte, 32<<10)
	}
	for range 1 << 16 { // bounded: a dump of 65,536 reads is not an interface list
		n, _, err := syscall.Recvfrom(fd, *buf, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return out, err
		}
		b := (*buf)[:n]
		msgs, err := syscall.ParseNetlinkMessage(b)
		if err != nil {
			return out, err
		}
		out = append(out, b...) // parseInterfaces skips what is not a link or an address
		for _, m := range msgs {
			switch {
			case m.Header.Seq != seq:
				continue
			case m.Header.Type == syscall.NLMSG_DONE:
				return out, nil
			case m.Header.Type == syscall.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := *(*int32)(unsafe.Pointer(&m.Data[0])); e != 0 {
						return out, syscall.Errno(-e)
					}
				}
				return out, nil
			}
		}
	}
	return out, fmt.Errorf("rtnetlink dump of type %d did not end", typ)
}

// parseInterfaces decodes RTM_NEWLINK and RTM_NEWADDR dump replies into
// interfaces sorted by index, each with its addresses.
func parseInterfaces(links, addrs []byte) ([]Interface, error) {
	msgs, err := syscall.ParseNetlinkMessage(links)
	if err != nil {
		return nil, fmt.Errorf("parse links: %w", err)
	}
	byIndex := map[int]*Interface{}
	var out []*Interface
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
			continue
		}
		ifi := (*syscall.IfInfomsg)(unsafe.Pointer(&m.Data[0]))
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			continue
		}
		it := &Interface{Index: int(ifi.Index), Up: ifi.Flags&syscall.IFF_UP != 0}
		for _, a := range attrs {
			if a.Attr.Type == syscall.IFLA_IFNAME {
				it.Name = cString(a.Value)
			}
		}
		if _, dup := byIndex[it.Index]; !dup {
			byIndex[it.Index] = it
			out = append(out, it)
		}
	}
	msgs, err = syscall.ParseNetlinkMessage(addrs)
	if err != nil {
		return nil, fmt.Errorf("parse addresses: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < syscall.SizeofIfAddrmsg {
			continue
		}
		ifa := (*syscall.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
		it := byIndex[int(ifa.Index)]
		if it == nil {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			continue
		}
		var local, address []byte
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFA_LOCAL:
				local = a.Value
			case syscall.IFA_ADDRESS:
				address = a.Value
			}
		}
		if local == nil { // IPv6 and point-to-point: IFA_ADDRESS is the local one
			local = address
		}
		ip, ok := netip.AddrFromSlice(local)
		if !ok {
			continue
		}
		p, err := ip.Unmap().Prefix(int(ifa.Prefixlen))
		if err != nil {
			continue
		}
		it.Addrs = append(it.Addrs, ip.Unmap().String()+"/"+fmt.Sprint(p.Bits()))
	}
	res := make([]Interface, len(out))
	for i, it := range out {
		res[i] = *it
	}
	slices.SortFunc(res, func(a, b Interface) int { return a.Index - b.Index })
	return res, nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
