package sockets

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/model"
)

// ErrSocketGone is wrapped by LookupTCPInfo's error when the socket is no
// longer there: closed since it was listed, or its cookie now names
// another.
var ErrSocketGone = errors.New("socket gone")

// lookupTimeout bounds one LookupTCPInfo: an answer is a hash lookup in
// the kernel.
const lookupTimeout = 2 * time.Second

// LookupTCPInfo returns the tcp_info and congestion control of TCP socket
// s, asked of sock_diag in network namespace netns (an open namespace
// file; 0 for the caller's) by its addresses, ports and cookie: one exact
// request, answered from a lookup in the kernel's hash tables, not a
// dump. It is how the TUI, whose sockets are read counters only
// (Options.TCPCountersOnly), shows the selected socket's tcp_info. A
// socket that is gone, or whose cookie now names another, is an error
// wrapping ErrSocketGone; a socket without tcp_info (TIME-WAIT, a request
// socket) returns nil and no error.
func LookupTCPInfo(ctx context.Context, netns int, s model.Socket) (*model.TCPInfo, error) {
	if s.Proto != model.ProtoTCP {
		return nil, fmt.Errorf("%s socket: tcp_info is TCP's", s.Proto)
	}
	// A socket bound to a device is found only with its index: by its
	// name, or from the "ifN" a name unknown when it was read stands for.
	var ifindex uint32
	if s.Interface != "" {
		for i, name := range dumpLinks(netns) {
			if name == s.Interface {
				ifindex = i
			}
		}
		if n, err := strconv.ParseUint(strings.TrimPrefix(s.Interface, "if"), 10, 32); ifindex == 0 && err == nil && strings.HasPrefix(s.Interface, "if") {
			ifindex = uint32(n)
		}
	}
	req, err := exactRequest(s, ifindex)
	if err != nil {
		return nil, err
	}
	c, err := netlink.Dial(familySockDiag, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, classifyDial("NETLINK_SOCK_DIAG", err)
	}
	defer c.Close()
	dl := time.Now().Add(lookupTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = c.SetDeadline(dl)
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: msgSockDiagByFamily, Flags: netlink.Request},
		Data:   req,
	})
	if err != nil {
		var oe *netlink.OpError
		if errors.As(err, &oe) && (errors.Is(oe.Err, unix.ENOENT) || errors.Is(oe.Err, unix.ESTALE)) {
			return nil, fmt.Errorf("tcp %s -> %s: %w", s.Local, s.Remote, ErrSocketGone)
		}
		return nil, fmt.Errorf("sock_diag lookup of tcp %s -> %s: %w", s.Local, s.Remote, err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("sock_diag lookup: %d replies, want 1: %w", len(msgs), ErrMalformed)
	}
	got := model.Socket{Proto: model.ProtoTCP}
	if err := decodeDiagMsg(msgs[0].Data, nil, nil, &got); err != nil {
		return nil, err
	}
	if s.Cookie != 0 && got.Cookie != s.Cookie {
		return nil, fmt.Errorf("tcp %s -> %s: cookie %d, want %d: %w", s.Local, s.Remote, got.Cookie, s.Cookie, ErrSocketGone)
	}
	return got.TCP, nil
}

// exactRequest is the body of a SOCK_DIAG_BY_FAMILY request for socket s,
// bound to device ifindex (0: none), alone (struct inet_diag_req_v2 with its id filled in), asking for
// tcp_info and the congestion control. The kernel's lookup
// (inet_diag_find_one_icsk) takes id.src and id.sport as the socket's own
// end, and checks the cookie unless it is INET_DIAG_NOCOOKIE.
func exactRequest(s model.Socket, ifindex uint32) ([]byte, error) {
	local, remote := s.Local.Addr(), s.Remote.Addr()
	var family uint8
	switch {
	case local.Is4() && remote.Is4():
		family = afInet
	case local.Is6() && remote.Is6():
		family = afInet6
	default:
		return nil, fmt.Errorf("tcp %s -> %s: not one address family", s.Local, s.Remote)
	}
	r := make([]byte, diagReqLen)
	ne := binary.NativeEndian
	r[0] = family
	r[1] = uint8(protoTCP)
	r[2] = extensions(protoTCP)
	ne.PutUint32(r[4:], allStates)
	binary.BigEndian.PutUint16(r[8:], s.Local.Port())
	binary.BigEndian.PutUint16(r[10:], s.Remote.Port())
	if family == afInet {
		a, b := local.As4(), remote.As4()
		copy(r[12:], a[:])
		copy(r[28:], b[:])
	} else {
		a, b := local.As16(), remote.As16()
		copy(r[12:], a[:])
		copy(r[28:], b[:])
	}
	// idiag_if: the device the socket is bound to (0: none). The cookie,
	// or INET_DIAG_NOCOOKIE (~0) when unknown.
	ne.PutUint32(r[44:], ifindex)
	cookie := s.Cookie
	if cookie == 0 {
		cookie = ^uint64(0)
	}
	ne.PutUint32(r[48:], uint32(cookie))
	ne.PutUint32(r[52:], uint32(cookie>>32))
	return r, nil
}

// FillTCPInfo returns socks with the tcp_info of every TCP socket that
// lacks it and still exists, read in one sock_diag dump of network
// namespace netns (an open namespace file; 0 for the caller's): what a
// snapshot of a counters-only table (Options.TCPCountersOnly) is saved
// with. socks is not changed: the result is a copy when anything was
// filled, socks itself otherwise. Sockets are matched by cookie.
func FillTCPInfo(ctx context.Context, netns int, socks []model.Socket) ([]model.Socket, error) {
	// Only full sockets have one to fill: TIME-WAIT sockets (in the
	// TIME-WAIT or FIN-WAIT-2 substate) and request sockets have no
	// tcp_info, nor sk_drops, which both sources report of every full
	// socket (HasDrops).
	need := false
	for i := range socks {
		if s := &socks[i]; s.Proto == model.ProtoTCP && s.TCP == nil && s.HasDrops && s.Cookie != 0 && s.Namespace == "" {
			need = true
			break
		}
	}
	if !need {
		return socks, nil
	}
	info, err := ReadTCPInfo(ctx, netns)
	if err != nil {
		return socks, err
	}
	return WithTCPInfo(socks, info), nil
}

// ReadTCPInfo returns the tcp_info of every full TCP socket of network
// namespace netns (an open namespace file; 0 for the caller's) by cookie,
// from one sock_diag dump.
func ReadTCPInfo(ctx context.Context, netns int) (map[uint64]*model.TCPInfo, error) {
	c := New(Options{NetNS: netns, NoOwners: true, Once: true, TCPSource: TCPSourceSockDiag})
	defer c.Close()
	now, _, err := c.Sockets(ctx)
	if err != nil {
		return nil, fmt.Errorf("tcp_info: %w", err)
	}
	info := make(map[uint64]*model.TCPInfo, len(now))
	for i := range now {
		if now[i].TCP != nil && now[i].Cookie != 0 {
			info[now[i].Cookie] = now[i].TCP
		}
	}
	return info, nil
}

// WithTCPInfo returns a copy of socks where the TCP sockets without
// tcp_info have theirs from info (ReadTCPInfo), by cookie; socks is not
// changed.
func WithTCPInfo(socks []model.Socket, info map[uint64]*model.TCPInfo) []model.Socket {
	out := slices.Clone(socks)
	for i := range out {
		if s := &out[i]; s.Proto == model.ProtoTCP && s.TCP == nil && s.Namespace == "" {
			s.TCP = info[s.Cookie]
		}
	}
	return out
}
