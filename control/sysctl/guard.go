package sysctl

import (
	"net"
	"net/netip"
	"strings"

	"netlens/control/filter"
)

// Session is the operator's SSH path as the guard sees it: the session
// (filter.SessionFromEnv, from SSH_CONNECTION), the interface the route
// back to the client leaves by (RTM_GETROUTE, as `ip route get CLIENT`),
// and the interface holding the session's local address when it is
// another one (for a session over loopback, both are lo). Iface is ""
// when not over SSH or when neither is found.
type Session struct {
	SSH   *filter.SSHSession
	Iface string
	// AddrIface is the interface holding the server address, when it
	// differs from Iface.
	AddrIface string
}

// onPath reports whether iface (a per-interface sysctl's: a name, all
// or default) governs the session's path.
func (s Session) onPath(iface string) bool {
	if s.SSH == nil || iface == "" {
		return false
	}
	return iface == "all" || iface == "default" || iface == s.Iface || iface == s.AddrIface
}

// SessionFromEnv finds the SSH path of this process in the namespace the
// caller's thread is in.
func SessionFromEnv() Session {
	s := Session{SSH: filter.SessionFromEnv()}
	if s.SSH == nil {
		return s
	}
	s.Iface = routeIface(s.SSH.Client.Addr())
	if a := ifaceOf(s.SSH.Server.Addr()); a != s.Iface {
		if s.Iface == "" {
			s.Iface = a
		} else {
			s.AddrIface = a
		}
	}
	return s
}

// ifaceOf is the interface holding addr, "" if none.
func ifaceOf(addr netip.Addr) string {
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, ifi := range ifs {
		as, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == addr.Unmap() {
				return ifi.Name
			}
		}
	}
	return ""
}

// Risks names what a change of name from old to new could cut: the
// operator's SSH session (its path: sess) or the traffic this host
// routes. Empty when the guard sees no risk. Each line is for the
// prompt, in words.
func Risks(name, old, new string, sess Session) []string {
	parts := strings.Split(name, ".")
	last := parts[len(parts)-1]
	// iface is the interface a per-interface sysctl is about ("all",
	// "default", or a name); "" for a global one.
	iface := ""
	if len(parts) == 5 && parts[2] == "conf" {
		iface = parts[3]
	}
	onPath := sess.onPath(iface)
	path := ""
	if sess.SSH != nil {
		path = "your SSH session (" + sess.SSH.Client.String() + " -> " + sess.SSH.Server.String()
		if sess.Iface != "" {
			path += " via " + sess.Iface
		}
		if sess.AddrIface != "" {
			path += ", address on " + sess.AddrIface
		}
		path += ")"
	}
	var out []string
	switch {
	case name == "net.ipv4.ip_forward" || last == "forwarding" && (iface == "all" || iface == "default" || sess.onPath(iface)):
		if old != "0" && new == "0" {
			r := "this host routes packets (" + name + " = " + old + "): setting 0 stops it forwarding, and every connection routed through it is cut"
			if sess.SSH != nil {
				r += "; " + path + " is cut too if it reaches you through a router this host is"
			}
			out = append(out, r)
		}
		if strings.HasPrefix(name, "net.ipv6.") && new != old {
			out = append(out, "on IPv6, forwarding also switches the interfaces between host and router behaviour (router advertisements are then ignored): an address or default route learned by RA can go away")
		}
	case last == "rp_filter" && onPath && new != old:
		out = append(out, "reverse-path filtering on "+iface+", the path of "+path+": strict mode (1) drops its packets when the route back to "+
			sess.SSH.Client.Addr().String()+" leaves by another interface (asymmetric routing); the effective value is the max of all and the interface's")
	case last == "disable_ipv6" && new != "0" && onPath:
		r := "disables IPv6 on " + iface + ", the path of " + path
		if sess.SSH.Client.Addr().Is6() && !sess.SSH.Client.Addr().Is4In6() {
			r += ": the session runs over IPv6 and is cut at once"
		} else {
			r += ": its IPv6 addresses go away"
		}
		out = append(out, r)
	case (last == "arp_ignore" || last == "arp_filter" || last == "arp_announce") && onPath && new != old && sess.SSH.Client.Addr().Is4():
		out = append(out, "changes how "+iface+" answers ARP, on the path of "+path+": the next hop may stop resolving this host's address")
	case last == "accept_ra" && new == "0" && onPath:
		out = append(out, "stops accepting router advertisements on "+iface+", the path of "+path+": a default route learned by RA expires")
	}
	return out
}
