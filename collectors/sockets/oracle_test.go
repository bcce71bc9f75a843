package sockets

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"netlens/model"
)

// ssLine is one socket as `ss -tuwanpH` prints it, rendered back to a
// canonical text so that ss's and netlens's tables compare as multisets.
type ssLine struct {
	Proto        string
	State        string
	RecvQ, SendQ uint32
	Local        netip.AddrPort
	Iface        string
	Remote       netip.AddrPort
	Procs        []model.Proc
}

func (l ssLine) String() string {
	local := l.Local.String()
	if l.Iface != "" {
		local += "%" + l.Iface
	}
	var users []string
	for _, p := range l.Procs {
		users = append(users, fmt.Sprintf("(%q,pid=%d,fd=%d)", p.Comm, p.PID, p.FD))
	}
	slices.Sort(users)
	return fmt.Sprintf("%s %s %d %d %s %s %s", l.Proto, l.State, l.RecvQ, l.SendQ, local, l.Remote, strings.Join(users, ","))
}

var ssUserRE = regexp.MustCompile(`\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)`)

// parseSS parses the output of `ss -tuwanH` or `ss -tuwanpH`.
func parseSS(r io.Reader) ([]ssLine, error) {
	var out []ssLine
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 6 {
			return nil, fmt.Errorf("ss line %d: %q: too few fields", n, sc.Text())
		}
		var l ssLine
		l.Proto, l.State = f[0], f[1]
		rq, err1 := strconv.ParseUint(f[2], 10, 32)
		sq, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("ss line %d: queues %q %q", n, f[2], f[3])
		}
		l.RecvQ, l.SendQ = uint32(rq), uint32(sq)
		local, iface, lstar, err := parseSSAddr(f[4])
		if err != nil {
			return nil, fmt.Errorf("ss line %d: local %q: %v", n, f[4], err)
		}
		remote, _, rstar, err := parseSSAddr(f[5])
		if err != nil {
			return nil, fmt.Errorf("ss line %d: remote %q: %v", n, f[5], err)
		}
		// ss prints an unspecified IPv6 address as "*"; an unspecified
		// IPv4 one as 0.0.0.0.
		if lstar {
			local = netip.AddrPortFrom(unspecifiedLike(remote.Addr(), rstar), local.Port())
		}
		if rstar {
			remote = netip.AddrPortFrom(unspecifiedLike(local.Addr(), false), remote.Port())
		}
		l.Local, l.Iface, l.Remote = local, iface, remote
		if len(f) > 6 {
			for _, m := range ssUserRE.FindAllStringSubmatch(strings.Join(f[6:], " "), -1) {
				pid, _ := strconv.Atoi(m[2])
				fd, _ := strconv.Atoi(m[3])
				l.Procs = append(l.Procs, model.Proc{PID: pid, Comm: m[1], FD: fd})
			}
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

func unspecifiedLike(a netip.Addr, star bool) netip.Addr {
	if !star && a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// parseSSAddr parses "127.0.0.1:80", "[::1]:80", "127.0.0.1%lo:53",
// "*:58", "0.0.0.0:*". star reports an address printed as "*".
func parseSSAddr(s string) (ap netip.AddrPort, iface string, star bool, err error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return ap, "", false, fmt.Errorf("no port")
	}
	host, port := s[:i], s[i+1:]
	var p uint64
	if port != "*" {
		if p, err = strconv.ParseUint(port, 10, 16); err != nil {
			return ap, "", false, err
		}
	}
	if j := strings.LastIndexByte(host, '%'); j >= 0 && !strings.HasSuffix(host, "]") {
		host, iface = host[:j], host[j+1:]
	}
	if host == "*" {
		return netip.AddrPortFrom(netip.Addr{}, uint16(p)), iface, true, nil
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	a, err := netip.ParseAddr(host)
	if err != nil {
		return ap, "", false, err
	}
	return netip.AddrPortFrom(a, uint16(p)), iface, false, nil
}

// ssLinesOf renders netlens sockets the way parseSS reads ss's, keeping
// the protocols ss lists (tcp, udp, raw). withProcs false drops owners.
func ssLinesOf(socks []model.Socket, withProcs bool) []ssLine {
	var out []ssLine
	for _, s := range socks {
		if s.Proto == model.ProtoUDPLite {
			continue
		}
		l := ssLine{Proto: s.Proto.String(), State: s.State.String(), RecvQ: s.RecvQ, SendQ: s.SendQ,
			Local: s.Local, Iface: s.Interface, Remote: s.Remote}
		if (s.Proto == model.ProtoUDP || s.Proto == model.ProtoRAW) && s.State == model.StateEstablished {
			l.State = "ESTAB"
		}
		if withProcs {
			l.Procs = s.Procs
		}
		out = append(out, l)
	}
	return out
}

// canon renders and sorts lines for a multiset comparison.
func canon(ls []ssLine) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.String()
	}
	slices.Sort(out)
	return out
}
