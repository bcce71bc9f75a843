// Package rtnl holds what the rtnetlink collectors (qdisc, links) share:
// opening a NETLINK_ROUTE socket in a namespace and running a dump that
// the kernel may flag interrupted.
package rtnl

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
)

// MaxDumpRetries bounds how often a dump flagged NLM_F_DUMP_INTR is redone.
const MaxDumpRetries = 3

// Dial opens a NETLINK_ROUTE socket in the network namespace netns (an
// open namespace file; 0: the caller's), in strict mode with extended
// acknowledgements on. who starts the error messages ("qdisc"); a
// namespace netlens may not enter is an error wrapping
// collectors.ErrPermission.
func Dial(netns int, who string) (*netlink.Conn, error) {
	conn, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: netns, Strict: true})
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("%s: open rtnetlink: needs CAP_SYS_ADMIN to enter the namespace: %w: %w", who, collectors.ErrPermission, err)
		}
		return nil, fmt.Errorf("%s: open rtnetlink: %w", who, err)
	}
	_ = conn.SetOption(netlink.ExtendedAcknowledge, true)
	return conn, nil
}

// Dump sends req and calls fn with every reply of the last attempt,
// redoing the dump (at most MaxDumpRetries times) while the kernel flags
// it interrupted. It returns the socket's error; fn's errors (a message
// that cannot be decoded) are joined into bad, and do not stop the other
// messages.
func Dump(conn *netlink.Conn, req netlink.Message, fn func(netlink.Message) error) (bad, err error) {
	var msgs []netlink.Message
	for try := 0; ; try++ {
		msgs, err = conn.Execute(req)
		if err != nil {
			return nil, err
		}
		intr := slices.ContainsFunc(msgs, func(m netlink.Message) bool { return m.Header.Flags&netlink.DumpInterrupted != 0 })
		if !intr || try >= MaxDumpRetries {
			break
		}
	}
	var errs []error
	for _, m := range msgs {
		if err := fn(m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...), nil
}

// Socket is a collector's rtnetlink socket, opened on first use and
// again after a failed dump. It is safe for concurrent use (Close may
// run during a Collect).
type Socket struct {
	// NetNS is the namespace to open the socket in (0: the caller's);
	// Who starts the error messages.
	NetNS int
	Who   string
	// Dialer replaces Dial in tests (nltest).
	Dialer func() (*netlink.Conn, error)

	mu   sync.Mutex
	conn *netlink.Conn
}

// Get returns the open socket, opening it if needed.
func (s *Socket) Get() (*netlink.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return s.conn, nil
	}
	var conn *netlink.Conn
	var err error
	if s.Dialer != nil {
		conn, err = s.Dialer()
	} else {
		conn, err = Dial(s.NetNS, s.Who)
	}
	if err != nil {
		return nil, err
	}
	s.conn = conn
	return conn, nil
}

// Drop closes conn after a failed dump (a timeout leaves replies queued
// on it), if it is still the open socket; the next Get opens a new one.
func (s *Socket) Drop(conn *netlink.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == conn {
		_ = conn.Close()
		s.conn = nil
	}
}

// Close closes the socket. It is safe to call more than once.
func (s *Socket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
