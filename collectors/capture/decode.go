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
	dot1q layers.Dot1Q
	arp   layers.ARP
	ip4   layers.IPv4
	ip6   layers.IPv6
	ext6  ipv6Ext
	frag6 layers.IPv6Fragment
	tcp   tcpLayer
	udp   udpLayer
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	dns   layers.DNS
}

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

func newDecoder() *decoder {
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 16)}
	d.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet,
		&d.eth, &d.dot1q, &d.arp, &d.ip4, &d.ip6, &d.ext6, &d.frag6,
		&d.tcp, &d.udp, &d.icmp4, &d.icmp6, &d.dns)
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
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeEthernet:
			pi.layers |= layerEth
		case layers.LayerTypeDot1Q:
			pi.layers |= layerVLAN
		case layers.LayerTypeARP:
			pi.layers |= layerARP
		case layers.LayerTypeIPv4:
			pi.layers |= layerIPv4
			pi.src = netip.AddrFrom4([4]byte(d.ip4.SrcIP.To4()))
			pi.dst = netip.AddrFrom4([4]byte(d.ip4.DstIP.To4()))
			proto = "ip"
			if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
				pi.layers |= layerFragment
			}
		case layers.LayerTypeIPv6:
			pi.layers |= layerIPv6
			pi.src = netip.AddrFrom16([16]byte(d.ip6.SrcIP.To16()))
			pi.dst = netip.AddrFrom16([16]byte(d.ip6.DstIP.To16()))
			proto = "ip"
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
	if pi.layers&(layerARP|layerIPv4|layerIPv6) == 0 && pi.layers&layerEth != 0 {
		pi.layers |= layerOther
	}
	if err != nil {
		pi.err = true
	}
	if proto == "" {
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
