package conntrack

import (
	"net/netip"
	"time"

	ct "github.com/ti-mo/conntrack"

	"netlens/model"
)

// flowKey identifies a conntrack entry as the kernel does: its zone and
// original tuple.
type flowKey struct {
	zone     uint16
	proto    uint8
	src, dst netip.AddrPort
	icmp     model.ICMPKey
}

func keyOf(f *model.Flow) flowKey {
	k := flowKey{zone: f.Zone, proto: f.ProtoNum, src: f.Orig.Src, dst: f.Orig.Dst}
	if f.Orig.ICMP != nil {
		k.icmp = *f.Orig.ICMP
	}
	return k
}

func tupleOf(t ct.Tuple) model.FlowTuple {
	p := t.Proto
	mt := model.FlowTuple{
		Src: netip.AddrPortFrom(t.IP.SourceAddress, p.SourcePort),
		Dst: netip.AddrPortFrom(t.IP.DestinationAddress, p.DestinationPort),
	}
	if p.ICMPv4 || p.ICMPv6 {
		mt.Src = netip.AddrPortFrom(t.IP.SourceAddress, 0)
		mt.Dst = netip.AddrPortFrom(t.IP.DestinationAddress, 0)
		mt.ICMP = &model.ICMPKey{Type: p.ICMPType, Code: p.ICMPCode, ID: p.ICMPID}
	}
	return mt
}

// toModel converts a decoded ctnetlink flow, seen at now.
func toModel(f *ct.Flow, now time.Time) model.Flow {
	m := model.Flow{
		ID:        f.ID,
		Family:    model.FamilyIPv4,
		ProtoNum:  f.TupleOrig.Proto.Protocol,
		Proto:     model.FlowProto(f.TupleOrig.Proto.Protocol),
		Orig:      tupleOf(f.TupleOrig),
		Reply:     tupleOf(f.TupleReply),
		Status:    model.FlowStatus(f.Status),
		Timeout:   time.Duration(f.Timeout) * time.Second,
		Mark:      f.Mark,
		Zone:      f.Zone,
		Helper:    f.Helper.Name,
		FirstSeen: now,
		Updated:   now,
	}
	if f.TupleOrig.IP.SourceAddress.Is6() {
		m.Family = model.FamilyIPv6
	}
	if f.ProtoInfo.TCP != nil {
		m.TCPState = model.TCPState(f.ProtoInfo.TCP.State)
	}
	co, cr := f.CountersOrig, f.CountersReply
	m.OrigPackets, m.OrigBytes, m.ReplyPackets, m.ReplyBytes = co.Packets, co.Bytes, cr.Packets, cr.Bytes
	m.CountersKnown = co.Packets != 0 || co.Bytes != 0 || cr.Packets != 0 || cr.Bytes != 0
	if !f.Timestamp.Start.IsZero() && f.Timestamp.Start.UnixNano() > 0 {
		m.Start = f.Timestamp.Start.UTC()
	}
	m.SetNAT()
	return m
}

// merge applies an UPDATE event's flow u to the held flow old. Update
// events carry the tuples, status, timeout and mark always, and the
// protocol state, helper and counters only when they changed, so what u
// lacks is kept from old.
func merge(old, u model.Flow) model.Flow {
	n := old
	n.ID = u.ID
	n.Status = u.Status
	n.Timeout = u.Timeout
	n.Updated = u.Updated
	n.Reply = u.Reply
	n.NAT = u.NAT
	if u.TCPState != model.TCPNone {
		n.TCPState = u.TCPState
	}
	if u.Mark != 0 {
		n.Mark = u.Mark
	}
	if u.Helper != "" {
		n.Helper = u.Helper
	}
	if u.CountersKnown {
		n.OrigPackets, n.OrigBytes, n.ReplyPackets, n.ReplyBytes, n.CountersKnown = u.OrigPackets, u.OrigBytes, u.ReplyPackets, u.ReplyBytes, true
	}
	if !u.Start.IsZero() {
		n.Start = u.Start
	}
	return n
}
