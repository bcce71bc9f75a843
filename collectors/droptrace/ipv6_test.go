package droptrace

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
)

// TestIntegrationIncidentUDP6HopByHop sends UDP over IPv6 to a closed port
// with a hop-by-hop options header: the tuple is read past the extension
// header.
func TestIntegrationIncidentUDP6HopByHop(t *testing.T) {
	eachProgram(t, "dt-udp6", testUDP6HopByHop)
}

func testUDP6HopByHop(t *testing.T, ns *netnstest.NS, opts Options) {
	c := newNSCollector(t, ns, opts)
	base := readNstat(t, ns)
	const port = 7013
	ns.Do(t, func() {
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		// Hop-by-hop header: next header and length (filled in by the
		// kernel), then a PadN option of 4 bytes.
		hbh := string([]byte{0, 0, 1, 4, 0, 0, 0, 0})
		if err := unix.SetsockoptString(fd, unix.IPPROTO_IPV6, unix.IPV6_HOPOPTS, hbh); err != nil {
			t.Error(err)
			return
		}
		to := &unix.SockaddrInet6{Port: port, Addr: netip.IPv6Loopback().As16()}
		for range incidentPackets {
			if err := unix.Sendto(fd, make([]byte, 32), 0, to); err != nil {
				t.Error(err)
				return
			}
		}
	})
	m := match{reason: "NO_SOCKET", proto: "udp", dst: netip.IPv6Loopback(), dport: port}
	_, fs := incident(t, c, ns, base, m, "Udp6NoPorts", "__udp6_lib_rcv", incidentPackets)
	for _, f := range fs {
		if f.L3 != "ipv6" || f.Bytes != incidentPackets*(40+8+8+32) {
			t.Errorf("flow %+v: want ipv6, %d bytes", f, incidentPackets*(40+8+8+32))
		}
	}
}

// TestIntegrationIncidentFragmentTimeout sends lone first fragments of
// IPv4 UDP datagrams (more-fragments set, the rest never sent) through a
// raw socket: with net.ipv4.ipfrag_time at 1 s the reassembly queue
// expires and the kernel drops the head fragment, which the tracer shows
// with the fragment flag and its ports.
func TestIntegrationIncidentFragmentTimeout(t *testing.T) {
	ns := netnstest.New(t, "dt-frag")
	ns.Run(t, "sysctl", "-qw", "net.ipv4.ipfrag_time=1")
	// Not 127.0.0.1: on expiry the kernel routes the head fragment again
	// to answer it, and 127/8 input is martian then (IP_LOCALNET), as is a
	// local source without accept_local (IP_LOCAL_SOURCE).
	ns.Run(t, "ip", "addr", "add", "10.40.0.1/32", "dev", "lo")
	ns.Run(t, "sysctl", "-qw", "net.ipv4.conf.all.accept_local=1", "net.ipv4.conf.lo.accept_local=1")
	c := newNSCollector(t, ns, Options{})
	base := readNstat(t, ns)
	const port, n = 7014, 5
	ns.Do(t, func() {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW) // IP_HDRINCL implied
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		for i := range n {
			pkt := make([]byte, 20+8+16)
			pkt[0] = 0x45
			binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
			binary.BigEndian.PutUint16(pkt[4:], uint16(1000+i)) // one queue per datagram
			binary.BigEndian.PutUint16(pkt[6:], 0x2000)         // MF, offset 0
			pkt[8], pkt[9] = 64, unix.IPPROTO_UDP
			copy(pkt[12:], []byte{10, 40, 0, 1})
			copy(pkt[16:], []byte{10, 40, 0, 1})
			binary.BigEndian.PutUint16(pkt[20:], 40000)
			binary.BigEndian.PutUint16(pkt[22:], port)
			binary.BigEndian.PutUint16(pkt[24:], 8+64) // the whole datagram's length
			if err := unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: [4]byte{10, 40, 0, 1}}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	m := match{reason: "FRAG_REASM_TIMEOUT", proto: "udp", dst: mustAddr("10.40.0.1"), dport: port}
	_, fs := incident(t, c, ns, base, m, "IpReasmTimeout", "ip_expire", n)
	for _, f := range fs {
		if !f.Fragment || f.SrcPort != 40000 {
			t.Errorf("flow %+v: want a first fragment with its ports", f)
		}
	}
}
