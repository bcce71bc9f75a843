package nflog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
)

// ErrLost is returned by Receive after the socket's receive buffer
// overflowed (ENOBUFS): the kernel dropped packets the reader was too
// slow to take. Reading goes on.
var ErrLost = errors.New("nflog: packets lost: the reader was too slow (receive buffer overrun)")

// ErrBusy is wrapped by Dial's error when another socket has bound the
// group (nfnetlink_log allows one reader per group and namespace).
var ErrBusy = errors.New("another process reads this log group")

// Conn is a socket bound to one nfnetlink_log group. It is not safe for
// concurrent use; Close may be called from another goroutine to end a
// Receive.
type Conn struct {
	c     *netlink.Conn
	group uint16
}

// Options configure Dial.
type Options struct {
	// NetNS is an open network namespace file; 0 is the caller's.
	NetNS int
	// CopyRange is how many bytes of each packet are copied (from its
	// network header); 0 means 256, enough for any IP and L4 header.
	CopyRange uint32
	// Conntrack asks for the packet's conntrack state (NFULA_CT_INFO);
	// when the kernel cannot give it (no ctnetlink), the group is bound
	// without it.
	Conntrack bool
	// ReadBuffer is the socket's receive buffer in bytes; 0 means 1 MiB.
	ReadBuffer int
}

// Dial opens an nfnetlink_log socket in opt.NetNS and binds group: the
// config commands PF_BIND (AF_INET and AF_INET6; a no-op on kernels since
// 3.17) and BIND, copy mode NFULNL_COPY_PACKET, a queue threshold of one
// packet and a flush timeout of 10 ms (so that every packet comes at
// once), sequence numbers, and conntrack information when asked. It needs
// CAP_NET_ADMIN (collectors.ErrPermission); a group another socket holds
// is ErrBusy.
func Dial(group uint16, opt Options) (*Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: opt.NetNS})
	if err != nil {
		return nil, classify("nflog: open", err)
	}
	n := &Conn{c: c, group: group}
	if opt.ReadBuffer == 0 {
		opt.ReadBuffer = 1 << 20
	}
	_ = c.SetReadBuffer(opt.ReadBuffer)
	if opt.CopyRange == 0 {
		opt.CopyRange = 256
	}
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		// obsolete and a no-op on current kernels; older ones need it
		_ = n.config(fam, 0, cmdAttr(cmdPFBind))
	}
	// One message: the bind and the whole configuration, so that no
	// packet comes between them (it would arrive amid the ACKs).
	mode := binary.BigEndian.AppendUint32(nil, opt.CopyRange)
	mode = append(mode, copyPacket, 0)
	attrs := func(flags uint16) []netlink.Attribute {
		return []netlink.Attribute{
			cmdAttr(cmdBind),
			{Type: attrConfigMode, Data: mode},
			{Type: attrConfigQThr, Data: binary.BigEndian.AppendUint32(nil, 1)},
			{Type: attrConfigTime, Data: binary.BigEndian.AppendUint32(nil, 1)},
			{Type: attrConfigFlags, Data: binary.BigEndian.AppendUint16(nil, flags)},
		}
	}
	flags := uint16(flagSeq)
	if opt.Conntrack {
		flags |= flagConntrak
	}
	err = n.config(unix.AF_UNSPEC, group, attrs(flags)...)
	if err != nil && opt.Conntrack && errors.Is(err, unix.EOPNOTSUPP) {
		// no ctnetlink: go on without the conntrack state
		err = n.config(unix.AF_UNSPEC, group, attrs(flagSeq)...)
	}
	if err != nil {
		c.Close()
		// The kernel refuses a group another socket holds with EPERM
		// (before looking at the command; EBUSY on older kernels), as it
		// refuses a caller without CAP_NET_ADMIN: with the capability,
		// EPERM is the other reader.
		if errors.Is(err, unix.EBUSY) || (errors.Is(err, unix.EPERM) && collectors.HasCapability(unix.CAP_NET_ADMIN)) {
			return nil, fmt.Errorf("nflog: bind group %d: %w (one reader per group and namespace): %w", group, ErrBusy, err)
		}
		return nil, classify(fmt.Sprintf("nflog: bind group %d", group), err)
	}
	return n, nil
}

func cmdAttr(cmd uint8) netlink.Attribute {
	return netlink.Attribute{Type: attrConfigCmd, Data: []byte{cmd}}
}

// config sends one NFULNL_MSG_CONFIG for res_id group with an ACK.
func (n *Conn) config(family uint8, group uint16, attrs ...netlink.Attribute) error {
	ab, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return err
	}
	data := append([]byte{family, nfnetlinkV0}, binary.BigEndian.AppendUint16(nil, group)...)
	_, err = n.c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(subsysULOG<<8 | msgConfig), Flags: netlink.Request | netlink.Acknowledge},
		Data:   append(data, ab...),
	})
	return err
}

// SetReadDeadline bounds the next Receive.
func (n *Conn) SetReadDeadline(t time.Time) error { return n.c.SetReadDeadline(t) }

// Receive returns the packets of the next datagram (one or more
// messages). A message that does not decode is skipped and counted in
// bad. ErrLost after a receive-buffer overrun.
func (n *Conn) Receive() (ps []Packet, bad int, err error) {
	ms, err := n.c.Receive()
	if err != nil {
		if errors.Is(err, unix.ENOBUFS) {
			return nil, 0, ErrLost
		}
		return nil, 0, err
	}
	for _, m := range ms {
		p, err := parseMessage(m)
		if err != nil {
			bad++
			continue
		}
		ps = append(ps, p)
	}
	return ps, bad, nil
}

// Close unbinds the group and closes the socket (the kernel frees the
// group's instance with the socket in any case).
func (n *Conn) Close() error {
	_ = n.config(unix.AF_UNSPEC, n.group, cmdAttr(cmdUnbind))
	return n.c.Close()
}

func classify(op string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%s: needs CAP_NET_ADMIN: %w: %w", op, collectors.ErrPermission, err)
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.ENOENT), errors.Is(err, unix.EOPNOTSUPP):
		return fmt.Errorf("%s: no nfnetlink_log in this kernel: %w: %w", op, collectors.ErrNotSupported, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
