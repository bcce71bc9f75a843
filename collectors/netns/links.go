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
// network namespace over rtnetlink (two dumps). Call it on a thread that
// entered the namespace.
func readInterfaces() ([]Interface, error) {
	links, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("dump links: %w", err)
	}
	addrs, err := syscall.NetlinkRIB(syscall.RTM_GETADDR, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("dump addresses: %w", err)
	}
	return parseInterfaces(links, addrs)
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
