package capture

import (
	"errors"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"netlens/model"
)

// Layer bits: one per entry of model.CaptureProtocols, in its order.
const (
	layerEth uint16 = 1 << iota
	layerVLAN
	layerARP
	layerIPv4
	layerIPv6
	layerFragment
	layerTCP
	layerUDP
	layerICMP
	layerICMPv6
	layerDNS
	layerOther
	numLayers = iota
)

// packetInfo is what aggregation needs of one decoded packet.
type packetInfo struct {
	layers uint16
	// flow is set for IP packets; src is the sender (flow.A or flow.B).
	hasFlow bool
	flow    model.CaptureFlowKey
	aIsSrc  bool
	src     netip.Addr
	dst     netip.Addr
	// err is set when a header could not be decoded.
	err bool
	// payload is a UDP datagram's payload length from its header's
	// length field (the whole datagram's, even when the capture is
	// truncated); 0 for other packets.
	payload int
}

// tcpLayer is layers.TCP that never hands its payload to the DNS decoder:
// DNS over TCP carries a length prefix that layers.DNS does not expect.
type tcpLayer struct{ layers.TCP }

func (t *tcpLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypePayload }

// udpLayer is layers.UDP that decodes DNS on port 53 only (not mDNS or the
// other protocols gopacket guesses from a port).
type udpLayer struct{ layers.UDP }

func (u *udpLayer) NextLayerType() gopacket.LayerType {
	if u.SrcPort == 53 || u.DstPort == 53 {
		return layers.LayerTypeDNS
	}
	return gopacket.LayerTypePayload
}

// decoder decodes Ethernet frames into packetInfo without allocating in
// steady state. It is not safe for concurrent use.
type decoder struct {
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType

	eth   layers.Ethernet
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	dot1q layers.Dot1Q
	arp   layers.ARP
	ip4   layers.IPv4
	ip6   ipv6Layer
	ext6  ipv6Ext
	frag6 layers.IPv6Fragment
	tcp   tcpLayer
	udp   udpLayer
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	dns   layers.DNS
}

// ipv6Layer decodes the fixed IPv6 header (RFC 8200 section 3) into a
// layers.IPv6 without looking at a hop-by-hop header: layers.IPv6 parses
// that one itself, allocating its options for every packet. The
// hop-by-hop header is left to ipv6Ext.
type ipv6Layer struct{ layers.IPv6 }

func (ip *ipv6Layer) NextLayerType() gopacket.LayerType { return ip.NextHeader.LayerType() }

func (ip *ipv6Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 40 {
		df.SetTruncated()
		return errShortIPv6
	}
	ip.Version = data[0] >> 4
	if ip.Version != 6 {
		return errIPv6Version
	}
	ip.TrafficClass = data[0]<<4 | data[1]>>4
	ip.FlowLabel = uint32(data[1]&0x0f)<<16 | uint32(data[2])<<8 | uint32(data[3])
	ip.Length = uint16(data[4])<<8 | uint16(data[5])
	ip.NextHeader = layers.IPProtocol(data[6])
	ip.HopLimit = data[7]
	ip.SrcIP, ip.DstIP = data[8:24], data[24:40]
	ip.HopByHop = nil
	end := 40 + int(ip.Length)
	if ip.Length == 0 && ip.NextHeader == layers.IPProtocolIPv6HopByHop {
		end = len(data) // a jumbogram: its length is in the hop-by-hop header
	}
	if end > len(data) {
		df.SetTruncated()
		end = len(data)
	}
	ip.BaseLayer = layers.BaseLayer{Contents: data[:40], Payload: data[40:end]}
	return nil
}

var (
	errShortIPv6   = errors.New("IPv6 header truncated")
	errIPv6Version = errors.New("IPv6 version is not 6")
)

// ipv6Ext decodes the IPv6 extension headers gopacket has no
// DecodingLayer for (routing, destination options, and a hop-by-hop header
// after the first): RFC 8200 section 4, a next header byte, a length in
// 8-octet units not counting the first 8, and options.
type ipv6Ext struct {
	layers.BaseLayer
	next layers.IPProtocol
}

var ipv6ExtClass = gopacket.NewLayerClass([]gopacket.LayerType{
	layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6HopByHop,
})

func (e *ipv6Ext) CanDecode() gopacket.LayerClass    { return ipv6ExtClass }
func (e *ipv6Ext) NextLayerType() gopacket.LayerType { return e.next.LayerType() }
func (e *ipv6Ext) LayerType() gopacket.LayerType     { return layers.LayerTypeIPv6Destination }
func (e *ipv6Ext) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 8 {
		df.SetTruncated()
		return errShortExt
	}
	n := 8 + int(data[1])*8
	if len(data) < n {
		df.SetTruncated()
		return errShortExt
	}
	e.next = layers.IPProtocol(data[0])
	e.BaseLayer = layers.BaseLayer{Contents: data[:n], Payload: data[n:]}
	return nil
}

var errShortExt = errors.New("IPv6 extension header truncated")

func newDecoder() *decoder { return newDecoderFor(layers.LinkTypeEthernet) }

// firstLayer returns the layer a frame of link type lt starts with, and
// whether netlens decodes it.
func firstLayer(lt layers.LinkType) (gopacket.LayerType, bool) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2, true
	}
	return 0, false
}

// newDecoderFor returns a decoder for frames of link type lt (one that
// firstLayer accepts).
func newDecoderFor(lt layers.LinkType) *decoder {
	first, _ := firstLayer(lt)
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 16)}
	d.parser = gopacket.NewDecodingLayerParser(first)
	// A slice indexed by layer type, not NewDecodingLayerParser's map:
	// one map lookup per layer of every packet was 4% of a live capture.
	var dls gopacket.DecodingLayerContainer = gopacket.DecodingLayerSparse(nil)
	for _, l := range []gopacket.DecodingLayer{&d.eth, &d.sll, &d.sll2, &d.dot1q, &d.arp, &d.ip4, &d.ip6, &d.ext6, &d.frag6,
		&d.tcp, &d.udp, &d.icmp4, &d.icmp6, &d.dns} {
		dls = dls.Put(l)
	}
	d.parser.SetDecodingLayerContainer(dls)
	// Layers netlens does not decode (payloads, other protocols) end the
	// walk without an error.
	d.parser.IgnoreUnsupported = true
	return d
}

// decode decodes one frame into pi.
func (d *decoder) decode(data []byte, pi *packetInfo) {
	*pi = packetInfo{}
	err := d.parser.DecodeLayers(data, &d.decoded)
	var proto model.Proto
	var sport, dport uint16
	link, next := false, layers.EthernetType(0)
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeEthernet:
			pi.layers |= layerEth
			link, next = true, d.eth.EthernetType
		case layers.LayerTypeLinuxSLL:
			link, next = true, d.sll.EthernetType
		case layers.LayerTypeLinuxSLL2:
			link, next = true, d.sll2.ProtocolType
		case layers.LayerTypeDot1Q:
			pi.layers |= layerVLAN
			next = d.dot1q.Type
		case layers.LayerTypeARP:
			pi.layers |= layerARP
		case layers.LayerTypeIPv4:
			pi.layers |= layerIPv4
			pi.src = netip.AddrFrom4([4]byte(d.ip4.SrcIP.To4()))
			pi.dst = netip.AddrFrom4([4]byte(d.ip4.DstIP.To4()))
			proto = model.ProtoIP
			if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
				pi.layers |= layerFragment
			}
		case layers.LayerTypeIPv6:
			pi.layers |= layerIPv6
			pi.src = netip.AddrFrom16([16]byte(d.ip6.SrcIP.To16()))
			pi.dst = netip.AddrFrom16([16]byte(d.ip6.DstIP.To16()))
			proto = model.ProtoIP
		case layers.LayerTypeIPv6Fragment:
			if d.frag6.FragmentOffset != 0 || d.frag6.MoreFragments {
				pi.layers |= layerFragment
			}
		case layers.LayerTypeTCP:
			pi.layers |= layerTCP
			proto, sport, dport = model.ProtoTCP, uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
		case layers.LayerTypeUDP:
			pi.layers |= layerUDP
			proto, sport, dport = model.ProtoUDP, uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			pi.payload = max(0, int(d.udp.Length)-8)
		case layers.LayerTypeICMPv4:
			pi.layers |= layerICMP
			proto = model.ProtoICMP
		case layers.LayerTypeICMPv6:
			pi.layers |= layerICMPv6
			proto = model.ProtoICMPv6
		case layers.LayerTypeDNS:
			pi.layers |= layerDNS
		}
	}
	if link {
		// "other": a network layer netlens does not decode (not a
		// header it failed to decode).
		if next != layers.EthernetTypeARP && next != layers.EthernetTypeIPv4 && next != layers.EthernetTypeIPv6 && next != layers.EthernetTypeDot1Q {
			pi.layers |= layerOther
		}
	}
	if err != nil {
		pi.err = true
	}
	if proto == model.ProtoNone {
		return
	}
	// A header that failed to decode (a truncated TCP header) leaves an
	// IP-level flow.
	pi.hasFlow = true
	a := netip.AddrPortFrom(pi.src, sport)
	b := netip.AddrPortFrom(pi.dst, dport)
	if compareAddrPort(a, b) <= 0 {
		pi.flow = model.CaptureFlowKey{Proto: proto, A: a, B: b}
		pi.aIsSrc = true
	} else {
		pi.flow = model.CaptureFlowKey{Proto: proto, A: b, B: a}
	}
}

func compareAddrPort(a, b netip.AddrPort) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	switch {
	case a.Port() < b.Port():
		return -1
	case a.Port() > b.Port():
		return 1
	}
	return 0
}
