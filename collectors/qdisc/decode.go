package qdisc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// ErrMalformed is wrapped by errors about a kernel message netlens cannot
// decode.
var ErrMalformed = errors.New("malformed rtnetlink message")

// Qdisc is one queueing discipline as RTM_GETQDISC reports it.
type Qdisc struct {
	Ifindex int32
	Handle  uint32
	Parent  uint32
	Kind    string // TCA_KIND: "tbf", "pfifo_fast", "noqueue", ...
	// HasStats is set when the kernel sent TCA_STATS2 or TCA_STATS.
	HasStats   bool
	Bytes      uint64
	Packets    uint64
	Packets64  bool // Packets came from TCA_STATS_PKT64 (no wrap at 2^32)
	Qlen       uint32
	Backlog    uint32
	Drops      uint32
	Requeues   uint32
	Overlimits uint32
}

// HandleString formats a qdisc handle as tc(8) does: "8001:" for a major
// with minor 0, "8001:1" otherwise, "root" for TC_H_ROOT.
func HandleString(h uint32) string {
	if h == tcHRoot {
		return "root"
	}
	b := strconv.AppendUint(nil, uint64(h>>16), 16)
	b = append(b, ':')
	if minor := h & 0xffff; minor != 0 {
		b = strconv.AppendUint(b, uint64(minor), 16)
	}
	return string(b)
}

// Instance returns the counter Instance for q on device dev:
// "veth0 tbf 8001: root", "eth0 pfifo 8002: parent 8001:1".
func (q Qdisc) Instance(dev string) string {
	p := "root"
	if q.Parent != tcHRoot {
		p = "parent " + HandleString(q.Parent)
	}
	return dev + " " + q.Kind + " " + HandleString(q.Handle) + " " + p
}

var ne = binary.NativeEndian

// parseQdisc decodes the payload of an RTM_NEWQDISC message: struct tcmsg
// followed by TCA_* attributes. Attributes it does not use are skipped; a
// TCA_STATS2 member shorter than its struct is ignored rather than read
// past its end.
func parseQdisc(b []byte) (Qdisc, error) {
	var q Qdisc
	if len(b) < sizeofTcmsg {
		return q, fmt.Errorf("tcmsg: %d bytes, want %d: %w", len(b), sizeofTcmsg, ErrMalformed)
	}
	// struct tcmsg { u8 family; u8 pad1; u16 pad2; int ifindex; u32 handle; u32 parent; u32 info; }
	q.Ifindex = int32(ne.Uint32(b[4:8]))
	q.Handle = ne.Uint32(b[8:12])
	q.Parent = ne.Uint32(b[12:16])
	ad, err := newAttrs(b[sizeofTcmsg:])
	if err != nil {
		return q, fmt.Errorf("qdisc attributes: %w: %w", ErrMalformed, err)
	}
	haveStats2 := false
	var old []byte
	for ad.next() {
		switch tcaAttr(ad.typ) {
		case tcaKind:
			q.Kind = attrString(ad.v)
		case tcaStats2:
			haveStats2 = true
			// A nested list that does not decode is the message's
			// error, as with AttributeDecoder.Nested.
			nd, err := newAttrs(ad.v)
			if err == nil {
				parseStats2(&nd, &q)
				err = nd.err
			}
			if err != nil {
				ad.err = err
			}
		case tcaStats:
			old = ad.v
		}
	}
	if err := ad.err; err != nil {
		return q, fmt.Errorf("qdisc attributes of ifindex %d handle %s: %w: %w", q.Ifindex, HandleString(q.Handle), ErrMalformed, err)
	}
	if !haveStats2 && len(old) >= sizeofTcStats {
		// struct tc_stats { u64 bytes; u32 packets, drops, overlimits, bps, pps, qlen, backlog; }
		q.HasStats = true
		q.Bytes = ne.Uint64(old[0:8])
		q.Packets = uint64(ne.Uint32(old[8:12]))
		q.Drops = ne.Uint32(old[12:16])
		q.Overlimits = ne.Uint32(old[16:20])
		q.Qlen = ne.Uint32(old[28:32])
		q.Backlog = ne.Uint32(old[32:36])
	}
	if q.Kind == "" {
		return q, fmt.Errorf("qdisc of ifindex %d handle %s has no TCA_KIND: %w", q.Ifindex, HandleString(q.Handle), ErrMalformed)
	}
	return q, nil
}

func parseStats2(nd *attrs, q *Qdisc) {
	for nd.next() {
		v := nd.v
		switch tcaStatsAttr(nd.typ) {
		case tcaStatsBasic:
			// struct gnet_stats_basic { u64 bytes; u32 packets; } (12 bytes
			// packed in older kernels, 16 padded in newer)
			if len(v) >= 12 {
				q.HasStats = true
				q.Bytes = ne.Uint64(v[0:8])
				if !q.Packets64 {
					q.Packets = uint64(ne.Uint32(v[8:12]))
				}
			}
		case tcaStatsPkt64:
			if len(v) >= 8 {
				q.Packets = ne.Uint64(v[0:8])
				q.Packets64 = true
			}
		case tcaStatsQueue:
			// struct gnet_stats_queue { u32 qlen, backlog, drops, requeues, overlimits; }
			if len(v) >= sizeofGnetStatsQueue {
				q.HasStats = true
				q.Qlen = ne.Uint32(v[0:4])
				q.Backlog = ne.Uint32(v[4:8])
				q.Drops = ne.Uint32(v[8:12])
				q.Requeues = ne.Uint32(v[12:16])
				q.Overlimits = ne.Uint32(v[16:20])
			}
		}
	}
}

// Link is one interface as RTM_GETLINK reports it.
type Link struct {
	Index int32
	Name  string
	// Stats are the struct rtnl_link_stats64 fields the kernel sent, in
	// the order of linkStatNames (nil without IFLA_STATS64).
	Stats []uint64
}

// parseLink decodes the payload of an RTM_NEWLINK message: struct
// ifinfomsg followed by IFLA_* attributes. stats, when not nil, is reused
// for Link.Stats.
func parseLink(b []byte, stats []uint64) (Link, error) {
	var l Link
	if len(b) < sizeofIfinfomsg {
		return l, fmt.Errorf("ifinfomsg: %d bytes, want %d: %w", len(b), sizeofIfinfomsg, ErrMalformed)
	}
	// struct ifinfomsg { u8 family; u8 pad; u16 type; int index; u32 flags; u32 change; }
	l.Index = int32(ne.Uint32(b[4:8]))
	ad, err := newAttrs(b[sizeofIfinfomsg:])
	if err != nil {
		return l, fmt.Errorf("link attributes: %w: %w", ErrMalformed, err)
	}
	for ad.next() {
		switch linkAttr(ad.typ) {
		case iflaIfname:
			l.Name = attrString(ad.v)
		case iflaStats64:
			v := ad.v
			n := min(len(v)/8, len(linkStatNames))
			stats = stats[:0]
			for i := range n {
				stats = append(stats, ne.Uint64(v[8*i:]))
			}
			l.Stats = stats
		}
	}
	if err := ad.err; err != nil {
		return l, fmt.Errorf("link attributes of ifindex %d: %w: %w", l.Index, ErrMalformed, err)
	}
	if l.Name == "" {
		return l, fmt.Errorf("link ifindex %d has no IFLA_IFNAME: %w", l.Index, ErrMalformed)
	}
	return l, nil
}

// parseStats decodes the payload of an RTM_NEWSTATS message: struct
// if_stats_msg followed by IFLA_STATS_* attributes, of which it reads
// IFLA_STATS_LINK_64 into stats (reused). ok is false when the message
// carries no IFLA_STATS_LINK_64.
func parseStats(b []byte, stats []uint64) (index int32, out []uint64, ok bool, err error) {
	if len(b) < sizeofIfStatsMsg {
		return 0, stats, false, fmt.Errorf("if_stats_msg: %d bytes, want %d: %w", len(b), sizeofIfStatsMsg, ErrMalformed)
	}
	// struct if_stats_msg { u8 family; u8 pad1; u16 pad2; u32 ifindex; u32 filter_mask; }
	index = int32(ne.Uint32(b[4:8]))
	ad, err := newAttrs(b[sizeofIfStatsMsg:])
	if err != nil {
		return index, stats, false, fmt.Errorf("stats attributes of ifindex %d: %w: %w", index, ErrMalformed, err)
	}
	out = stats[:0]
	for ad.next() {
		if ad.typ != iflaStatsLink64 {
			continue
		}
		v := ad.v
		n := min(len(v)/8, len(linkStatNames))
		for i := range n {
			out = append(out, ne.Uint64(v[8*i:]))
		}
		ok = true
	}
	if err := ad.err; err != nil {
		return index, out, false, fmt.Errorf("stats attributes of ifindex %d: %w: %w", index, ErrMalformed, err)
	}
	return index, out, ok, nil
}

// ParseTC decodes the payload of an RTM_NEWQDISC or RTM_NEWTCLASS
// message, which share struct tcmsg and the TCA_* attributes (a class's
// TCA_KIND is its qdisc's). It is safe for concurrent use.
func ParseTC(b []byte) (Qdisc, error) { return parseQdisc(b) }

// attrs walks a list of netlink attributes as netlink.AttributeDecoder
// does (NewAttributeDecoder's check of the whole list, then Next: a
// zero-length attribute is empty, a length under the header's or past
// the end is an error; the type's two flag bits are masked off), but
// gives each payload as a slice of the message, not a copy: decoding a
// dump allocates nothing for each attribute. A payload must not be kept
// past the message (the rtnl.Dumper's buffer is reused).
type attrs struct {
	b   []byte
	i   int
	typ uint16 // of the current attribute, flags masked
	v   []byte // its payload, in b
	err error
}

var errInvalidAttribute = errors.New("invalid attribute; length too short or too large")

const nlaHdrLen = 4

func nlaAlign(n int) int { return (n + 3) &^ 3 }

func newAttrs(b []byte) (attrs, error) {
	for i := 0; i < len(b); {
		if len(b)-i < nlaHdrLen {
			return attrs{}, errInvalidAttribute
		}
		i += nlaAlign(max(int(ne.Uint16(b[i:])), nlaHdrLen))
	}
	return attrs{b: b}, nil
}

// next moves to the next attribute; false at the end or on an error
// (err).
func (a *attrs) next() bool {
	if a.err != nil || a.i >= len(a.b) {
		return false
	}
	b := a.b[a.i:]
	if len(b) < nlaHdrLen {
		a.err = errInvalidAttribute
		return false
	}
	l := int(ne.Uint16(b))
	if l > len(b) || l != 0 && l < nlaHdrLen {
		a.err = errInvalidAttribute
		return false
	}
	a.typ = ne.Uint16(b[2:]) & 0x3fff // not NLA_F_NESTED, NLA_F_NET_BYTEORDER
	a.v = b[nlaHdrLen:max(l, nlaHdrLen)]
	a.i += nlaAlign(max(l, nlaHdrLen))
	return true
}

// attrString is a string attribute's value without its NULs, as
// AttributeDecoder.String gives it.
func attrString(v []byte) string { return string(bytes.TrimRight(v, "\x00")) }
