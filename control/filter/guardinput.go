package filter

import (
	"net"
	"net/netip"
	"os"

	"netlens/model"
)

// SessionFromEnv returns the operator's SSH session from SSH_CONNECTION,
// or nil when not over SSH (or the variable is malformed).
func SessionFromEnv() *SSHSession {
	v := os.Getenv("SSH_CONNECTION")
	if v == "" {
		return nil
	}
	s, err := ParseSSHConnection(v)
	if err != nil {
		return nil
	}
	return &s
}

// LocalAddrs returns the addresses of this host's interfaces (of the
// caller's network namespace).
func LocalAddrs() []netip.Addr {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out
}

// GuardFromSnapshot is the guard input for the TUI: the SSH session of
// the environment and the sockets and flows of the snapshot.
func GuardFromSnapshot(s model.Snapshot) GuardInput {
	return GuardInput{SSH: SessionFromEnv(), Sockets: s.Sockets, Flows: s.Flows, LocalAddrs: LocalAddrs()}
}

// SessionPasses reports whether the SSH session s can pass through the
// network namespace whose addresses are local and whose conntrack flows
// are flows: its server address is one of local, or a flow tracks it
// (the namespace forwards it).
func SessionPasses(s SSHSession, local []netip.Addr, flows []model.Flow) bool {
	for _, a := range local {
		if a == s.Server.Addr().Unmap().WithZone("") {
			return true
		}
	}
	for _, f := range flows {
		for _, t := range [2]model.FlowTuple{f.Orig, f.Reply} {
			if (sameEP(t.Src, s.Client) && sameEP(t.Dst, s.Server)) || (sameEP(t.Src, s.Server) && sameEP(t.Dst, s.Client)) {
				return true
			}
		}
	}
	return false
}
