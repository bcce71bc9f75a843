// Command pcapgen writes a pcap of N mixed Ethernet frames for the capture
// benchmark: TCP and UDP over IPv4 and IPv6, DNS, ICMP and ICMPv6,
// 802.1Q-tagged frames, IPv4 fragments and ARP, over about 2,000 flows.
// The frames are built once with gopacket's serializers and written
// round-robin with increasing timestamps (1 µs apart).
//
//	pcapgen -n 1000000 -o mixed.pcap
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func main() {
	n := flag.Int("n", 1000000, "packets to write (at most 10,000,000)")
	out := flag.String("o", "mixed.pcap", "output file")
	flag.Parse()
	if *n < 1 || *n > 10_000_000 {
		fmt.Fprintln(os.Stderr, "pcapgen: -n must be 1..10000000")
		os.Exit(2)
	}
	if err := run(*n, *out); err != nil {
		fmt.Fprintln(os.Stderr, "pcapgen:", err)
		os.Exit(1)
	}
}

func run(n int, path string) error {
	frames, err := templates()
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		return err
	}
	t0 := time.Unix(1700000000, 0)
	for i := range n {
		fr := frames[i%len(frames)]
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(fr), Length: len(fr)}
		if err := w.WritePacket(ci, fr); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "pcapgen: %d packets (%d distinct frames) to %s\n", n, len(frames), path)
	return nil
}

// templates builds the distinct frames: per flow, a mix weighted like a
// busy server (mostly TCP).
func templates() ([][]byte, error) {
	var out [][]byte
	add := func(ls ...gopacket.SerializableLayer) error {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			return err
		}
		out = append(out, append([]byte(nil), buf.Bytes()...))
		return nil
	}
	mac1, mac2 := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	eth := func(t layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: t}
	}
	payload := make([]byte, 1200)
	dns := &layers.DNS{ID: 1, RD: true, Questions: []layers.DNSQuestion{{Name: []byte("www.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	for h := range 200 {
		src4 := net.IPv4(10, 0, byte(h/250), byte(h%250+1))
		dst4 := net.IPv4(192, 168, 1, byte(h%50+1))
		src6 := net.ParseIP(fmt.Sprintf("2001:db8::%x", h+1))
		dst6 := net.ParseIP(fmt.Sprintf("2001:db8:1::%x", h%50+1))
		for k := range 10 {
			sport := layers.TCPPort(30000 + h*10 + k)
			ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src4, DstIP: dst4}
			tcp := &layers.TCP{SrcPort: sport, DstPort: 443, ACK: true, PSH: true, Seq: uint32(k), Window: 500}
			tcp.SetNetworkLayerForChecksum(ip4)
			var err error
			switch k {
			case 0, 1, 2, 3: // TCP/IPv4 data and acks
				err = add(eth(layers.EthernetTypeIPv4), ip4, tcp, gopacket.Payload(payload[:k*300]))
			case 4: // TCP/IPv6
				ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src6, DstIP: dst6}
				tcp.SetNetworkLayerForChecksum(ip6)
				err = add(eth(layers.EthernetTypeIPv6), ip6, tcp, gopacket.Payload(payload[:600]))
			case 5: // UDP/IPv4
				ip4.Protocol = layers.IPProtocolUDP
				udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: 4500}
				udp.SetNetworkLayerForChecksum(ip4)
				err = add(eth(layers.EthernetTypeIPv4), ip4, udp, gopacket.Payload(payload[:200]))
			case 6: // DNS
				ip4.Protocol = layers.IPProtocolUDP
				udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: 53}
				udp.SetNetworkLayerForChecksum(ip4)
				err = add(eth(layers.EthernetTypeIPv4), ip4, udp, dns)
			case 7: // ICMP echo
				ip4.Protocol = layers.IPProtocolICMPv4
				err = add(eth(layers.EthernetTypeIPv4), ip4, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: uint16(h), Seq: 1}, gopacket.Payload(payload[:56]))
			case 8: // 802.1Q-tagged TCP
				tag := &layers.Dot1Q{VLANIdentifier: uint16(10 + h%4), Type: layers.EthernetTypeIPv4}
				err = add(eth(layers.EthernetTypeDot1Q), tag, ip4, tcp, gopacket.Payload(payload[:100]))
			case 9: // an IPv4 fragment, an ICMPv6 echo, or ARP
				switch h % 3 {
				case 0:
					ip4.Protocol, ip4.Flags, ip4.Id = layers.IPProtocolUDP, layers.IPv4MoreFragments, uint16(h)
					err = add(eth(layers.EthernetTypeIPv4), ip4, gopacket.Payload(payload[:1000]))
				case 1:
					ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: src6, DstIP: dst6}
					icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
					icmp.SetNetworkLayerForChecksum(ip6)
					err = add(eth(layers.EthernetTypeIPv6), ip6, icmp, gopacket.Payload(payload[:60]))
				default:
					err = add(eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
						HwAddressSize: 6, ProtAddressSize: 4, Operation: 1, SourceHwAddress: mac1, SourceProtAddress: src4.To4(),
						DstHwAddress: make([]byte, 6), DstProtAddress: dst4.To4()})
				}
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
