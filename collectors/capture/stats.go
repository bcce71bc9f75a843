package capture

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"netlens/model"
)

// flowEntry is one flow's counts.
type flowEntry struct {
	key                 model.CaptureFlowKey
	pktsAB, bytesAB     uint64
	pktsBA, bytesBA     uint64
	first, last         time.Time
	prevPkts, prevBytes uint64
}

// hostEntry is one address's counts.
type hostEntry struct {
	addr                netip.Addr
	pktsTx, bytesTx     uint64
	pktsRx, bytesRx     uint64
	last                time.Time
	prevPkts, prevBytes uint64
}

// table is a bounded table of entries keyed by K: when it is full, the
// eighth of its entries with the fewest bytes is evicted, so an insertion
// costs O(log n) amortised and a flood of new keys cannot grow it.
type table[K comparable, E any] struct {
	max     int
	index   map[K]int32
	entries []E
	evicted uint64
	key     func(*E) K
	bytes   func(*E) uint64
}

func newTable[K comparable, E any](max int, key func(*E) K, bytes func(*E) uint64) *table[K, E] {
	return &table[K, E]{max: max, index: make(map[K]int32, max), entries: make([]E, 0, max), key: key, bytes: bytes}
}

// get returns the entry for k, and whether it is new (zero, to be filled).
func (t *table[K, E]) get(k K) (*E, bool) {
	if i, ok := t.index[k]; ok {
		return &t.entries[i], false
	}
	if len(t.entries) == t.max {
		t.evict()
	}
	t.entries = append(t.entries, *new(E))
	t.index[k] = int32(len(t.entries) - 1)
	return &t.entries[len(t.entries)-1], true
}

func (t *table[K, E]) evict() {
	slices.SortFunc(t.entries, func(a, b E) int { return cmp.Compare(t.bytes(&b), t.bytes(&a)) })
	keep := t.max - max(1, t.max/8)
	for i := keep; i < len(t.entries); i++ {
		delete(t.index, t.key(&t.entries[i]))
	}
	t.evicted += uint64(len(t.entries) - keep)
	clear(t.entries[keep:])
	t.entries = t.entries[:keep]
	for i := range t.entries {
		t.index[t.key(&t.entries[i])] = int32(i)
	}
}

// stats aggregates decoded packets. It is not safe for concurrent use.
type stats struct {
	packets, bytes   uint64
	decodeErrors     uint64
	truncated        uint64
	fragments        uint64
	protoPkts        [numLayers]uint64
	protoBytes       [numLayers]uint64
	flows            *table[model.CaptureFlowKey, flowEntry]
	hosts            *table[netip.Addr, hostEntry]
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
		flows: newTable(model.CaptureMaxFlows,
			func(e *flowEntry) model.CaptureFlowKey { return e.key },
			func(e *flowEntry) uint64 { return e.bytesAB + e.bytesBA }),
		hosts: newTable(model.CaptureMaxHosts,
			func(e *hostEntry) netip.Addr { return e.addr },
			func(e *hostEntry) uint64 { return e.bytesTx + e.bytesRx }),
	}
}

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
	f, fresh := s.flows.get(pi.flow)
	if fresh {
		f.key, f.first = pi.flow, t
	}
	f.last = t
	if pi.aIsSrc {
		f.pktsAB++
		f.bytesAB += uint64(n)
	} else {
		f.pktsBA++
		f.bytesBA += uint64(n)
	}
	h, fresh := s.hosts.get(pi.src)
	if fresh {
		h.addr = pi.src
	}
	h.pktsTx++
	h.bytesTx += uint64(n)
	h.last = t
	if pi.dst == pi.src {
		return
	}
	h, fresh = s.hosts.get(pi.dst)
	if fresh {
		h.addr = pi.dst
	}
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
		for i := range s.flows.entries {
			s.flows.entries[i].prevPkts, s.flows.entries[i].prevBytes = 0, 0
		}
		for i := range s.hosts.entries {
			s.hosts.entries[i].prevPkts, s.hosts.entries[i].prevBytes = 0, 0
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
	flows := make([]model.CaptureFlow, 0, len(s.flows.entries))
	for i := range s.flows.entries {
		f := &s.flows.entries[i]
		p, b := f.pktsAB+f.pktsBA, f.bytesAB+f.bytesBA
		flows = append(flows, model.CaptureFlow{
			Key: f.key, PacketsAToB: f.pktsAB, BytesAToB: f.bytesAB, PacketsBToA: f.pktsBA, BytesBToA: f.bytesBA,
			PacketsPerSec: rate(p-f.prevPkts, dt), BitsPerSec: 8 * rate(b-f.prevBytes, dt),
			FirstSeen: f.first, LastSeen: f.last,
		})
		f.prevPkts, f.prevBytes = p, b
	}
	slices.SortFunc(flows, func(a, b model.CaptureFlow) int {
		return cmp.Or(cmp.Compare(b.Bytes(), a.Bytes()), cmp.Compare(b.Packets(), a.Packets()), cmp.Compare(a.Key.String(), b.Key.String()))
	})
	cs.TopFlows = slices.Clip(flows[:min(len(flows), model.CaptureTopN)])
	cs.FlowsTracked, cs.FlowsEvicted = len(s.flows.entries), s.flows.evicted

	hosts := make([]model.CaptureHost, 0, len(s.hosts.entries))
	for i := range s.hosts.entries {
		h := &s.hosts.entries[i]
		p, b := h.pktsTx+h.pktsRx, h.bytesTx+h.bytesRx
		hosts = append(hosts, model.CaptureHost{
			Addr: h.addr, PacketsSent: h.pktsTx, BytesSent: h.bytesTx, PacketsRecv: h.pktsRx, BytesRecv: h.bytesRx,
			PacketsPerSec: rate(p-h.prevPkts, dt), BitsPerSec: 8 * rate(b-h.prevBytes, dt), LastSeen: h.last,
		})
		h.prevPkts, h.prevBytes = p, b
	}
	slices.SortFunc(hosts, func(a, b model.CaptureHost) int {
		return cmp.Or(cmp.Compare(b.BytesSent+b.BytesRecv, a.BytesSent+a.BytesRecv), a.Addr.Compare(b.Addr))
	})
	cs.TopHosts = slices.Clip(hosts[:min(len(hosts), model.CaptureTopN)])
	cs.HostsTracked, cs.HostsEvicted = len(s.hosts.entries), s.hosts.evicted

	s.prevAt, s.prevPackets, s.prevBytes = now, s.packets, s.bytes
	s.prevProtoPkts, s.prevProtoByte = s.protoPkts, s.protoBytes
}
