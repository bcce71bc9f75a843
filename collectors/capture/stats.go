package capture

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"netlens/collectors/internal/bounded"
	"netlens/model"
)

// flowEntry is one flow's counts (its key is the table's).
type flowEntry struct {
	pktsAB, bytesAB     uint64
	pktsBA, bytesBA     uint64
	first, last         time.Time
	prevPkts, prevBytes uint64
	// payloadAB and payloadBA are UDP payload bytes each way, with their
	// values at the last snapshot.
	payloadAB, payloadBA         uint64
	prevPayloadAB, prevPayloadBA uint64
}

// hostEntry is one address's counts (its address is the table's key).
type hostEntry struct {
	pktsTx, bytesTx     uint64
	pktsRx, bytesRx     uint64
	last                time.Time
	prevPkts, prevBytes uint64
}

// stats aggregates decoded packets. It is not safe for concurrent use.
type stats struct {
	packets, bytes   uint64
	decodeErrors     uint64
	truncated        uint64
	fragments        uint64
	protoPkts        [numLayers]uint64
	protoBytes       [numLayers]uint64
	flows            *bounded.Table[model.CaptureFlowKey, flowEntry]
	hosts            *bounded.Table[netip.Addr, hostEntry]
	started, lastPkt time.Time
	// overall: rates over the whole capture by packet times (a file).
	overall bool

	// The previous snapshot, for rates.
	prevAt                       time.Time
	prevPackets, prevBytes       uint64
	prevProtoPkts, prevProtoByte [numLayers]uint64
}

func newStats() *stats {
	return &stats{
		flows: bounded.New[model.CaptureFlowKey, flowEntry](model.CaptureMaxFlows, hashFlowKey),
		hosts: bounded.New[netip.Addr, hostEntry](model.CaptureMaxHosts, hashAddr),
	}
}

func hashFlowKey(k model.CaptureFlowKey) uint64 {
	h := uint64(k.Proto)
	return bounded.HashAddrPort(bounded.HashAddrPort(h, k.A), k.B)
}

func hashAddr(a netip.Addr) uint64 { return bounded.HashAddr(0, a) }

// add counts one packet of wire length n, captured length caplen, at t.
func (s *stats) add(pi *packetInfo, t time.Time, n, caplen int) {
	if s.packets == 0 {
		s.started = t
	}
	s.lastPkt = t
	s.packets++
	s.bytes += uint64(n)
	if caplen < n {
		s.truncated++
	}
	if pi.err {
		s.decodeErrors++
	}
	if pi.layers&layerFragment != 0 {
		s.fragments++
	}
	for l := pi.layers; l != 0; l &= l - 1 {
		i := bitIndex(l & -l)
		s.protoPkts[i]++
		s.protoBytes[i] += uint64(n)
	}
	if !pi.hasFlow {
		return
	}
	f, fresh := s.flows.Get(pi.flow)
	if fresh {
		f.first = t
	}
	f.last = t
	if pi.aIsSrc {
		f.pktsAB++
		f.bytesAB += uint64(n)
		f.payloadAB += uint64(pi.payload)
	} else {
		f.pktsBA++
		f.bytesBA += uint64(n)
		f.payloadBA += uint64(pi.payload)
	}
	h, _ := s.hosts.Get(pi.src)
	h.pktsTx++
	h.bytesTx += uint64(n)
	h.last = t
	if pi.dst == pi.src {
		return
	}
	h, _ = s.hosts.Get(pi.dst)
	h.pktsRx++
	h.bytesRx += uint64(n)
	h.last = t
}

func bitIndex(b uint16) int {
	i := 0
	for b > 1 {
		b >>= 1
		i++
	}
	return i
}

func rate(d uint64, dt float64) float64 {
	if dt <= 0 {
		return 0
	}
	return float64(d) / dt
}

// snapshot fills the counts, rates and top tables of cs as of now, and
// starts the next rate interval.
func (s *stats) snapshot(now time.Time, cs *model.CaptureStats) {
	dt := 0.0
	if !s.prevAt.IsZero() {
		dt = now.Sub(s.prevAt).Seconds()
	}
	if s.overall {
		// A file: rates are averages over the packets' own times.
		now, dt = s.lastPkt, s.lastPkt.Sub(s.started).Seconds()
		s.prevAt, s.prevPackets, s.prevBytes = time.Time{}, 0, 0
		s.prevProtoPkts, s.prevProtoByte = [numLayers]uint64{}, [numLayers]uint64{}
		for _, f := range s.flows.All() {
			f.prevPkts, f.prevBytes, f.prevPayloadAB, f.prevPayloadBA = 0, 0, 0, 0
		}
		for _, h := range s.hosts.All() {
			h.prevPkts, h.prevBytes = 0, 0
		}
	}
	cs.At = now
	cs.Started = s.started
	cs.Packets, cs.Bytes = s.packets, s.bytes
	cs.PacketsPerSec = rate(s.packets-s.prevPackets, dt)
	cs.BitsPerSec = 8 * rate(s.bytes-s.prevBytes, dt)
	cs.DecodeErrors, cs.Truncated, cs.Fragments = s.decodeErrors, s.truncated, s.fragments
	cs.Protocols = make([]model.CaptureProto, numLayers)
	for i := range numLayers {
		cs.Protocols[i] = model.CaptureProto{
			Name: model.CaptureProtocols[i], Packets: s.protoPkts[i], Bytes: s.protoBytes[i],
			PacketsPerSec: rate(s.protoPkts[i]-s.prevProtoPkts[i], dt),
			BitsPerSec:    8 * rate(s.protoBytes[i]-s.prevProtoByte[i], dt),
		}
	}
	flows := make([]model.CaptureFlow, 0, s.flows.Len())
	var udp []model.CaptureFlow
	for k, f := range s.flows.All() {
		p, b := f.pktsAB+f.pktsBA, f.bytesAB+f.bytesBA
		cf := model.CaptureFlow{
			Key: k, PacketsAToB: f.pktsAB, BytesAToB: f.bytesAB, PacketsBToA: f.pktsBA, BytesBToA: f.bytesBA,
			PacketsPerSec: rate(p-f.prevPkts, dt), BitsPerSec: 8 * rate(b-f.prevBytes, dt),
			FirstSeen: f.first, LastSeen: f.last,
		}
		if k.Proto == model.ProtoUDP {
			cf.PayloadPerSecAToB = rate(f.payloadAB-f.prevPayloadAB, dt)
			cf.PayloadPerSecBToA = rate(f.payloadBA-f.prevPayloadBA, dt)
			if p != f.prevPkts && !s.overall {
				udp = append(udp, cf)
			}
		}
		flows = append(flows, cf)
		f.prevPkts, f.prevBytes, f.prevPayloadAB, f.prevPayloadBA = p, b, f.payloadAB, f.payloadBA
	}
	byBytes := func(a, b model.CaptureFlow) int {
		return cmp.Or(cmp.Compare(b.Bytes(), a.Bytes()), cmp.Compare(b.Packets(), a.Packets()), cmp.Compare(a.Key.String(), b.Key.String()))
	}
	slices.SortFunc(flows, byBytes)
	cs.TopFlows = slices.Clip(flows[:min(len(flows), model.CaptureTopN)])
	slices.SortFunc(udp, func(a, b model.CaptureFlow) int {
		return cmp.Or(cmp.Compare(b.BitsPerSec, a.BitsPerSec), byBytes(a, b))
	})
	cs.UDPFlows = slices.Clip(udp[:min(len(udp), model.CaptureMaxUDPFlows)])
	cs.FlowsTracked, cs.FlowsEvicted = s.flows.Len(), s.flows.Evicted()

	hosts := make([]model.CaptureHost, 0, s.hosts.Len())
	for a, h := range s.hosts.All() {
		p, b := h.pktsTx+h.pktsRx, h.bytesTx+h.bytesRx
		hosts = append(hosts, model.CaptureHost{
			Addr: a, PacketsSent: h.pktsTx, BytesSent: h.bytesTx, PacketsRecv: h.pktsRx, BytesRecv: h.bytesRx,
			PacketsPerSec: rate(p-h.prevPkts, dt), BitsPerSec: 8 * rate(b-h.prevBytes, dt), LastSeen: h.last,
		})
		h.prevPkts, h.prevBytes = p, b
	}
	slices.SortFunc(hosts, func(a, b model.CaptureHost) int {
		return cmp.Or(cmp.Compare(b.BytesSent+b.BytesRecv, a.BytesSent+a.BytesRecv), a.Addr.Compare(b.Addr))
	})
	cs.TopHosts = slices.Clip(hosts[:min(len(hosts), model.CaptureTopN)])
	cs.HostsTracked, cs.HostsEvicted = s.hosts.Len(), s.hosts.Evicted()

	s.prevAt, s.prevPackets, s.prevBytes = now, s.packets, s.bytes
	s.prevProtoPkts, s.prevProtoByte = s.protoPkts, s.protoBytes
}
