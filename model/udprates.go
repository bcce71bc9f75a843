package model

import "net/netip"

// SampledUDPRates returns rates for the UDP sockets of socks whose
// traffic a running live capture saw in its last interval, by index into
// socks, each with Known and Sampled set: the kernel keeps no byte
// counters for UDP sockets, so these come from the packets the capture
// decoded (c.UDPFlows, payload bytes) and cover only what crossed the
// captured interface. A flow goes to the most specific socket it
// matches at each of its ends: a connected socket whose both ends
// equal the flow's, else a socket bound to the flow's address and port,
// else one bound to the wildcard address and that port. Sockets the
// capture saw nothing of are left out. nil when no live capture runs.
// It is a pure function, safe for concurrent use.
func SampledUDPRates(socks []Socket, c *CaptureStats) map[int]SocketRate {
	if c == nil || !c.Running || c.Source != "live" || len(c.UDPFlows) == 0 {
		return nil
	}
	byPort := map[uint16][]int{}
	for i := range socks {
		if socks[i].Proto == ProtoUDP {
			p := socks[i].Local.Port()
			byPort[p] = append(byPort[p], i)
		}
	}
	if len(byPort) == 0 {
		return nil
	}
	out := map[int]SocketRate{}
	give := func(local, peer netip.AddrPort, rx, tx float64) {
		best, score := -1, 0
		for _, i := range byPort[local.Port()] {
			if sc := udpMatch(&socks[i], local, peer); sc > score {
				best, score = i, sc
			}
		}
		if best < 0 {
			return
		}
		r := out[best]
		r.Known, r.Sampled = true, true
		r.RxBps += rx
		r.TxBps += tx
		out[best] = r
	}
	for k := range c.UDPFlows {
		f := &c.UDPFlows[k]
		give(f.Key.A, f.Key.B, f.PayloadPerSecBToA, f.PayloadPerSecAToB)
		give(f.Key.B, f.Key.A, f.PayloadPerSecAToB, f.PayloadPerSecBToA)
	}
	return out
}

// udpMatch scores how well socket s matches the flow end local talking
// to peer: 3 connected to exactly that peer, 2 bound to local's address,
// 1 bound to the wildcard address, 0 no match.
func udpMatch(s *Socket, local, peer netip.AddrPort) int {
	la, sa := local.Addr().Unmap(), s.Local.Addr().Unmap()
	switch {
	case sa == la:
	case sa.IsUnspecified() && (sa.Is6() || la.Is4()):
	default:
		return 0
	}
	if r := s.Remote; r.Port() != 0 || (r.Addr().IsValid() && !r.Addr().IsUnspecified()) {
		if r.Addr().Unmap() != peer.Addr().Unmap() || r.Port() != peer.Port() {
			return 0
		}
		return 3
	}
	if sa.IsUnspecified() {
		return 1
	}
	return 2
}
