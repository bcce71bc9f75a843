package capture

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"netlens/model"
)

// storedPacket is one packet in the store: where its bytes are in the
// byte ring, and what it needs to be written or shown again.
type storedPacket struct {
	pos     uint64 // absolute position of its first byte in the ring
	caplen  int32
	length  int32
	at      time.Time
	ifindex int32
	flow    model.CaptureFlowKey
	hasFlow bool
}

// packetStore keeps the last packets, bounded both in count (a ring of
// records) and in bytes (a ring of bytes): a packet is copied once, on
// arrival, and its bytes stay valid until the writer laps them. It is not
// safe for concurrent use.
type packetStore struct {
	buf  []byte
	pos  uint64 // absolute write position
	recs []storedPacket
	next int // index of the next record to write
	n    int // records written, up to len(recs)
}

func newPacketStore(packets, bytes int) *packetStore {
	return &packetStore{buf: make([]byte, bytes), recs: make([]storedPacket, packets)}
}

// add copies data into the store.
func (s *packetStore) add(data []byte, ci *gopacket.CaptureInfo, pi *packetInfo) {
	if len(s.recs) == 0 || len(data) > len(s.buf) {
		return
	}
	size := uint64(len(s.buf))
	off := s.pos % size
	if off+uint64(len(data)) > size { // does not fit before the end: wrap
		s.pos += size - off
		off = 0
	}
	copy(s.buf[off:], data)
	s.recs[s.next] = storedPacket{pos: s.pos, caplen: int32(len(data)), length: int32(ci.Length), at: ci.Timestamp,
		ifindex: int32(ci.InterfaceIndex), flow: pi.flow, hasFlow: pi.hasFlow}
	s.pos += uint64(len(data))
	s.next = (s.next + 1) % len(s.recs)
	s.n = min(s.n+1, len(s.recs))
}

// valid reports whether r's bytes have not been overwritten.
func (s *packetStore) valid(r *storedPacket) bool {
	return s.pos-r.pos <= uint64(len(s.buf))
}

func (s *packetStore) data(r *storedPacket) []byte {
	off := r.pos % uint64(len(s.buf))
	return s.buf[off : off+uint64(r.caplen)]
}

// last returns the last n stored packets, oldest first, copied; only the
// flow's when flow is not nil.
func (s *packetStore) last(flow *model.CaptureFlowKey, n int) []storedData {
	var out []storedData
	for i := 0; i < s.n && len(out) < n; i++ {
		r := &s.recs[(s.next-1-i+2*len(s.recs))%len(s.recs)]
		if !s.valid(r) {
			break // older records are overwritten too
		}
		if flow != nil && (!r.hasFlow || r.flow != *flow) {
			continue
		}
		out = append(out, storedData{rec: *r, data: append([]byte(nil), s.data(r)...)})
	}
	slices.Reverse(out)
	return out
}

type storedData struct {
	rec  storedPacket
	data []byte
}

// describe decodes one packet layer by layer for display. It allocates
// (gopacket.NewPacket); it runs on demand, not per captured packet.
func describe(data []byte, link layers.LinkType, at time.Time, length int) model.CapturedPacket {
	first, _ := firstLayer(link)
	return describeFrom(data, first, at, length)
}

// DescribeIP decodes, layer by layer, a packet that starts at its IP
// header (IPv4 or IPv6, by the version nibble), of which data is the
// first bytes: the drop tracer's samples. It allocates; it is safe for
// concurrent use.
func DescribeIP(data []byte, at time.Time, length int) model.CapturedPacket {
	first := gopacket.LayerTypePayload
	if len(data) > 0 {
		switch data[0] >> 4 {
		case 4:
			first = layers.LayerTypeIPv4
		case 6:
			first = layers.LayerTypeIPv6
		}
	}
	return describeFrom(data, first, at, length)
}

// describeFrom is describe for a packet whose first layer is first.
func describeFrom(data []byte, first gopacket.LayerType, at time.Time, length int) model.CapturedPacket {
	p := gopacket.NewPacket(data, first, gopacket.DecodeOptions{NoCopy: true, Lazy: false})
	cp := model.CapturedPacket{At: at, Length: length, CaptureLength: len(data), Layers: []model.PacketLayer{}}
	var summary []string
	for _, l := range p.Layers() {
		pl, sum := describeLayer(l)
		cp.Layers = append(cp.Layers, pl)
		if sum != "" {
			summary = append(summary, sum)
		}
	}
	if el := p.ErrorLayer(); el != nil {
		cp.Error = el.Error().Error()
	}
	if len(summary) > 0 {
		cp.Summary = summary[len(summary)-1]
	}
	cp.Summary = strings.TrimSpace(fmt.Sprintf("%s len %d", cp.Summary, length))
	return cp
}

func f(name string, v any) model.LayerField {
	return model.LayerField{Name: name, Value: fmt.Sprint(v)}
}

// describeLayer returns a layer's fields and a one-line summary of it.
func describeLayer(l gopacket.Layer) (model.PacketLayer, string) {
	pl := model.PacketLayer{Name: l.LayerType().String()}
	switch l := l.(type) {
	case *layers.Ethernet:
		pl.Fields = []model.LayerField{f("src", l.SrcMAC), f("dst", l.DstMAC), f("type", l.EthernetType)}
		return pl, fmt.Sprintf("%s > %s %s", l.SrcMAC, l.DstMAC, l.EthernetType)
	case *layers.Dot1Q:
		pl.Fields = []model.LayerField{f("vlan", l.VLANIdentifier), f("priority", l.Priority), f("dei", l.DropEligible), f("type", l.Type)}
		return pl, ""
	case *layers.ARP:
		pl.Fields = []model.LayerField{f("operation", l.Operation), f("sender hw", fmt.Sprintf("%x", l.SourceHwAddress)),
			f("sender ip", fmt.Sprintf("%d.%d.%d.%d", at(l.SourceProtAddress, 0), at(l.SourceProtAddress, 1), at(l.SourceProtAddress, 2), at(l.SourceProtAddress, 3))),
			f("target hw", fmt.Sprintf("%x", l.DstHwAddress)),
			f("target ip", fmt.Sprintf("%d.%d.%d.%d", at(l.DstProtAddress, 0), at(l.DstProtAddress, 1), at(l.DstProtAddress, 2), at(l.DstProtAddress, 3)))}
		op := "request"
		if l.Operation == layers.ARPReply {
			op = "reply"
		}
		return pl, "ARP " + op
	case *layers.IPv4:
		pl.Fields = []model.LayerField{f("src", l.SrcIP), f("dst", l.DstIP), f("protocol", l.Protocol), f("ttl", l.TTL), f("length", l.Length),
			f("id", l.Id), f("flags", l.Flags), f("fragment offset", l.FragOffset), f("tos", l.TOS), f("checksum", fmt.Sprintf("%#04x", l.Checksum))}
		return pl, fmt.Sprintf("IP %s > %s %s", l.SrcIP, l.DstIP, l.Protocol)
	case *layers.IPv6:
		pl.Fields = []model.LayerField{f("src", l.SrcIP), f("dst", l.DstIP), f("next header", l.NextHeader), f("hop limit", l.HopLimit),
			f("length", l.Length), f("flow label", l.FlowLabel), f("traffic class", l.TrafficClass)}
		return pl, fmt.Sprintf("IP6 %s > %s %s", l.SrcIP, l.DstIP, l.NextHeader)
	case *layers.IPv6Fragment:
		pl.Fields = []model.LayerField{f("next header", l.NextHeader), f("offset", l.FragmentOffset), f("more fragments", l.MoreFragments), f("id", l.Identification)}
		return pl, ""
	case *layers.TCP:
		pl.Fields = []model.LayerField{f("src port", l.SrcPort), f("dst port", l.DstPort), f("flags", tcpFlags(l)), f("seq", l.Seq), f("ack", l.Ack),
			f("window", l.Window), f("payload", len(l.Payload))}
		return pl, fmt.Sprintf("TCP %d > %d [%s] seq %d ack %d win %d", l.SrcPort, l.DstPort, tcpFlags(l), l.Seq, l.Ack, l.Window)
	case *layers.UDP:
		pl.Fields = []model.LayerField{f("src port", l.SrcPort), f("dst port", l.DstPort), f("length", l.Length)}
		return pl, fmt.Sprintf("UDP %d > %d", l.SrcPort, l.DstPort)
	case *layers.ICMPv4:
		pl.Fields = []model.LayerField{f("type", l.TypeCode), f("id", l.Id), f("seq", l.Seq)}
		return pl, fmt.Sprintf("ICMP %s id %d seq %d", l.TypeCode, l.Id, l.Seq)
	case *layers.ICMPv6:
		pl.Fields = []model.LayerField{f("type", l.TypeCode)}
		return pl, "ICMP6 " + l.TypeCode.String()
	case *layers.DNS:
		pl.Fields = []model.LayerField{f("id", l.ID), f("response", l.QR), f("opcode", l.OpCode), f("rcode", l.ResponseCode),
			f("questions", len(l.Questions)), f("answers", len(l.Answers))}
		for _, q := range l.Questions {
			pl.Fields = append(pl.Fields, f("question", fmt.Sprintf("%s %s", q.Name, q.Type)))
		}
		for _, a := range l.Answers {
			pl.Fields = append(pl.Fields, f("answer", a.String()))
		}
		if l.QR {
			return pl, fmt.Sprintf("DNS response %d %s", l.ID, l.ResponseCode)
		}
		return pl, fmt.Sprintf("DNS query %d", l.ID)
	default:
		pl.Fields = []model.LayerField{f("length", len(l.LayerContents())+len(l.LayerPayload()))}
		return pl, ""
	}
}

func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

func tcpFlags(t *layers.TCP) string {
	var b strings.Builder
	for _, x := range []struct {
		on bool
		c  byte
	}{{t.SYN, 'S'}, {t.FIN, 'F'}, {t.RST, 'R'}, {t.PSH, 'P'}, {t.ACK, '.'}, {t.URG, 'U'}, {t.ECE, 'E'}, {t.CWR, 'W'}} {
		if x.on {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}
