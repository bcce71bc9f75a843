package netnstest

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

// Veth joins a and b with a veth pair: aDev in a with aAddr/24, bDev in b
// with bAddr/24, both up, IPv6 off, with static neighbour entries both
// ways so that no ARP is needed.
func Veth(tb testing.TB, a, b *NS, aDev, aAddr, bDev, bAddr string) {
	tb.Helper()
	Run(tb, "ip", "link", "add", aDev, "netns", a.Name, "type", "veth", "peer", "name", bDev, "netns", b.Name)
	for _, x := range []struct {
		ns        *NS
		dev, addr string
	}{{a, aDev, aAddr}, {b, bDev, bAddr}} {
		x.ns.Run(tb, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
		x.ns.Run(tb, "ip", "addr", "add", x.addr+"/24", "dev", x.dev)
		x.ns.Run(tb, "ip", "link", "set", x.dev, "up")
	}
	macA := strings.TrimSpace(a.Run(tb, "cat", "/sys/class/net/"+aDev+"/address"))
	macB := strings.TrimSpace(b.Run(tb, "cat", "/sys/class/net/"+bDev+"/address"))
	a.Run(tb, "ip", "neigh", "replace", bAddr, "lladdr", macB, "dev", aDev, "nud", "permanent")
	b.Run(tb, "ip", "neigh", "replace", aAddr, "lladdr", macA, "dev", bDev, "nud", "permanent")
}

// UDP is one datagram SendUDP4 crafts: ports and payload length.
type UDP struct {
	SrcPort, DstPort uint16
	Payload          int
}

// SendUDP4 crafts IPv4/UDP datagrams src -> dst with gopacket (checksums
// and lengths filled in, TTL 64, a zero payload of each one's length) and
// sends them in order from inside ns through a raw socket.
func (ns *NS) SendUDP4(tb testing.TB, src, dst netip.Addr, ds []UDP) {
	tb.Helper()
	ns.Do(tb, func() {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			tb.Fatal(err)
		}
		defer unix.Close(fd)
		for _, d := range ds {
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
			udp := &layers.UDP{SrcPort: layers.UDPPort(d.SrcPort), DstPort: layers.UDPPort(d.DstPort)}
			if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
				tb.Fatal(err)
			}
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
				ip, udp, gopacket.Payload(make([]byte, d.Payload))); err != nil {
				tb.Fatal(err)
			}
			if err := unix.Sendto(fd, buf.Bytes(), 0, &unix.SockaddrInet4{Addr: dst.As4()}); err != nil {
				tb.Fatal(err)
			}
		}
	})
}
