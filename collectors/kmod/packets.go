package kmod

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Packet is one event of the packet log: a packet a rule with Log matched.
type Packet struct {
	RuleID  uint32
	Hook    uint8  // NF_INET_* (HookName)
	InIf    uint32 // input ifindex, 0 = none
	OutIf   uint32 // output ifindex, 0 = none
	Verdict Action // what the rule did; ActionCount: counted and went on
	Family  Family
	Proto   uint8
	Src     netip.Addr
	Dst     netip.Addr
	// SrcPort and DstPort are set for tcp, udp, udplite and sctp (HasPorts).
	SrcPort, DstPort uint16
	HasPorts         bool
	Len              uint32 // bytes from the network header
	TCPFlags         uint8  // tcp only
	// ICMPType and ICMPCode are set for icmp and icmpv6 (HasICMP).
	ICMPType, ICMPCode uint8
	HasICMP            bool
	CTState            CTState // one NETLENS_CT_* bit
	Time               time.Time
}

// parsePacket decodes the attributes of one CMD_PACKET message. It is pure
// and what the fuzzer calls.
func parsePacket(b []byte) (Packet, error) {
	var p Packet
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return p, fmt.Errorf("decode packet: %w", err)
	}
	for ad.Next() {
		switch attr(ad.Type()) {
		case attrRuleID:
			p.RuleID = ad.Uint32()
		case attrPktHook:
			p.Hook = ad.Uint8()
		case attrPktIIF:
			p.InIf = ad.Uint32()
		case attrPktOIF:
			p.OutIf = ad.Uint32()
		case attrPktVerdict:
			p.Verdict = Action(ad.Uint8())
		case attrPktFamily:
			p.Family = Family(ad.Uint8())
		case attrPktProto:
			p.Proto = ad.Uint8()
		case attrPktSrc, attrPktDst:
			a, err := decodeAddr(ad.Bytes())
			if err != nil {
				return p, fmt.Errorf("packet address: %w", err)
			}
			if attr(ad.Type()) == attrPktSrc {
				p.Src = a
			} else {
				p.Dst = a
			}
		case attrPktSport:
			p.SrcPort, p.HasPorts = ad.Uint16(), true
		case attrPktDport:
			p.DstPort, p.HasPorts = ad.Uint16(), true
		case attrPktLen:
			p.Len = ad.Uint32()
		case attrPktTCPFlags:
			p.TCPFlags = ad.Uint8()
		case attrPktICMPType:
			p.ICMPType, p.HasICMP = ad.Uint8(), true
		case attrPktICMPCode:
			p.ICMPCode = ad.Uint8()
		case attrPktCTState:
			p.CTState = CTState(ad.Uint8())
		case attrPktTimeNS:
			p.Time = time.Unix(0, int64(ad.Uint64()))
		}
	}
	if err := ad.Err(); err != nil {
		return p, fmt.Errorf("decode packet: %w", err)
	}
	if p.RuleID == 0 {
		return p, fmt.Errorf("packet without a rule id: %w", errBadAttr)
	}
	return p, nil
}

// ErrPacketsLost is wrapped by Packets.Receive when the kernel dropped log
// events because the socket's receive buffer was full (ENOBUFS); Lost
// counts these overruns. Events over a rule's rate are counted by the
// kernel instead, in the rule's LogDropped.
var ErrPacketsLost = errors.New("packet log events lost: receive buffer overrun")

// Packets is a subscription to the packet log ("packets" group) on its own
// socket. Receive must not be called concurrently with itself; Close may be
// called from another goroutine to unblock it.
type Packets struct {
	c    *genetlink.Conn
	lost atomic.Uint64
}

// SubscribePackets opens a socket in the caller's network namespace and
// joins the packet log. cfg may be nil.
func SubscribePackets(cfg *netlink.Config) (*Packets, error) {
	c, err := genetlink.Dial(cfg)
	if err != nil {
		return nil, fmt.Errorf("kmod packets: dial: %w", err)
	}
	if err := joinGroup(c, groupPackets); err != nil {
		c.Close()
		return nil, err
	}
	return &Packets{c: c}, nil
}

// joinGroup looks the family up on c and joins its multicast group name.
func joinGroup(c *genetlink.Conn, name string) error {
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	for _, g := range cl.family.Groups {
		if g.Name == name {
			if err := c.JoinGroup(g.ID); err != nil {
				return fmt.Errorf("kmod: join group %q: %w", name, err)
			}
			return nil
		}
	}
	return fmt.Errorf("kmod: family %q has no group %q (an older netlens.ko?): %w", familyName, name, errNoGroup)
}

var errNoGroup = errors.New("no such multicast group")

// Receive blocks until at least one packet event arrives.
func (p *Packets) Receive() ([]Packet, error) {
	msgs, _, err := p.c.Receive()
	if err != nil {
		if errors.Is(err, unix.ENOBUFS) {
			p.lost.Add(1)
			return nil, fmt.Errorf("kmod packets: %w", ErrPacketsLost)
		}
		return nil, fmt.Errorf("kmod packets: receive: %w", err)
	}
	out := make([]Packet, 0, len(msgs))
	for _, m := range msgs {
		if command(m.Header.Command) != cmdPacket {
			continue
		}
		pk, err := parsePacket(m.Data)
		if err != nil {
			return out, fmt.Errorf("kmod packets: %w", err)
		}
		out = append(out, pk)
	}
	return out, nil
}

// Lost returns how many receive-buffer overruns Receive has seen.
func (p *Packets) Lost() uint64 { return p.lost.Load() }

// SetReadBuffer sets the socket's receive buffer.
func (p *Packets) SetReadBuffer(n int) error { return p.c.SetReadBuffer(n) }

// SetReadDeadline bounds the next Receive calls.
func (p *Packets) SetReadDeadline(t time.Time) error { return p.c.SetReadDeadline(t) }

// Close closes the socket; a blocked Receive returns an error.
func (p *Packets) Close() error { return p.c.Close() }
