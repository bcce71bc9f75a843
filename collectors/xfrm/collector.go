package xfrm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// Name is the name the collector reports under.
const Name = model.CollectorIPsec

// Source names where the data comes from.
const Source = "NETLINK_XFRM"

// maxDumpRetries bounds how often a dump flagged NLM_F_DUMP_INTR is redone.
const maxDumpRetries = 3

// Options configure a Collector.
type Options struct {
	// NetNS, when not 0, is an open file descriptor of the network
	// namespace to read; 0 reads the caller's.
	NetNS int
	// Now returns the time of a reading; nil means time.Now.
	Now func() time.Time
}

// Collector is the "ipsec" collector: on each Collect it dumps the SAs and
// the policies over one NETLINK_XFRM socket and publishes one
// model.IPsecUpdate. Collect must not be called concurrently with itself
// (the Runner never does); Close may be called at any time after.
type Collector struct {
	opts Options

	mu   sync.Mutex // guards conn against Close during Collect
	conn *netlink.Conn
	// dialer replaces netlink.Dial in tests (nltest).
	dialer func() (*netlink.Conn, error)
}

// New returns an ipsec collector. It opens its socket on the first Collect.
func New(opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Collector{opts: opts}
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Source implements collectors.Sourcer.
func (c *Collector) Source() string { return Source }

// Close releases the socket. It is safe to call more than once.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// Collect implements collectors.Collector. A message that cannot be
// decoded is left out and reported (ErrMalformed) after the rest is
// published; a failed dump publishes nothing.
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	ipsec, err := c.Read(ctx)
	if err != nil && !errors.Is(err, ErrMalformed) {
		return err
	}
	pub.Publish(model.IPsecUpdate{IPsec: ipsec})
	return err
}

// Read dumps the SAs and the policies. Messages it cannot decode are
// skipped and reported in the error (with ErrMalformed) after the others
// are decoded.
func (c *Collector) Read(ctx context.Context) (model.IPsec, error) {
	out := model.IPsec{SAs: []model.XfrmSA{}, Policies: []model.XfrmPolicy{}}
	conn, err := c.dial()
	if err != nil {
		return out, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	} else {
		_ = conn.SetDeadline(time.Time{})
	}
	out.At = c.opts.Now()
	badSA, err := c.dump(conn, msgGetSA, func(b []byte) error {
		sa, err := parseSA(b)
		if err != nil {
			return err
		}
		out.SAs = append(out.SAs, sa)
		return nil
	})
	if err != nil {
		c.drop(conn)
		return out, dumpError("SAs", err)
	}
	badPol, err := c.dump(conn, msgGetPolicy, func(b []byte) error {
		p, err := parsePolicy(b)
		if err != nil {
			return err
		}
		out.Policies = append(out.Policies, p)
		return nil
	})
	if err != nil {
		c.drop(conn)
		return out, dumpError("policies", err)
	}
	if err := errors.Join(badSA, badPol); err != nil {
		return out, fmt.Errorf("ipsec: skipped messages: %w", err)
	}
	return out, nil
}

// dumpError classifies a failed dump: the kernel refuses it without
// CAP_NET_ADMIN.
func dumpError(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("ipsec: dump %s: needs CAP_NET_ADMIN: %w: %w", what, collectors.ErrPermission, err)
	}
	return fmt.Errorf("ipsec: dump %s: %w", what, err)
}

func (c *Collector) dial() (*netlink.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return c.conn, nil
	}
	var conn *netlink.Conn
	var err error
	if c.dialer != nil {
		conn, err = c.dialer()
	} else {
		conn, err = netlink.Dial(unix.NETLINK_XFRM, &netlink.Config{NetNS: c.opts.NetNS})
	}
	switch {
	case err == nil:
	case errors.Is(err, unix.EPROTONOSUPPORT):
		return nil, fmt.Errorf("ipsec: no NETLINK_XFRM in this kernel (CONFIG_XFRM_USER): %w: %w", collectors.ErrNotSupported, err)
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return nil, fmt.Errorf("ipsec: open NETLINK_XFRM: needs CAP_SYS_ADMIN to enter the namespace: %w: %w", collectors.ErrPermission, err)
	default:
		return nil, fmt.Errorf("ipsec: open NETLINK_XFRM: %w", err)
	}
	_ = conn.SetOption(netlink.ExtendedAcknowledge, true)
	c.conn = conn
	return conn, nil
}

// drop closes a socket after a failed dump (a timeout leaves replies
// queued on it); the next Collect opens a new one.
func (c *Collector) drop(conn *netlink.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == conn {
		_ = conn.Close()
		c.conn = nil
	}
}

// dump sends a dump request of type typ and calls fn with the payload of
// every reply of the last attempt, redoing the dump (at most
// maxDumpRetries times) while the kernel flags it interrupted. It returns
// the socket's error; fn's errors are joined into bad. Every reply's
// payload is scrubbed of keys by fn's decoder before the next is read,
// and the payloads of an interrupted attempt are scrubbed too.
func (c *Collector) dump(conn *netlink.Conn, typ netlink.HeaderType, fn func([]byte) error) (bad, err error) {
	req := netlink.Message{Header: netlink.Header{Type: typ, Flags: netlink.Request | netlink.Dump}}
	var msgs []netlink.Message
	for try := 0; ; try++ {
		msgs, err = conn.Execute(req)
		if err != nil {
			return nil, err
		}
		intr := false
		for _, m := range msgs {
			if m.Header.Flags&netlink.DumpInterrupted != 0 {
				intr = true
				break
			}
		}
		if !intr || try >= maxDumpRetries {
			break
		}
		if typ == msgGetSA {
			for _, m := range msgs {
				_, _ = parseSA(m.Data) // scrubs the keys of the discarded replies
			}
		}
	}
	var errs []error
	for _, m := range msgs {
		if err := fn(m.Data); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...), nil
}
