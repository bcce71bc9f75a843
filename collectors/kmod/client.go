package kmod

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
)

// errBadAttr is wrapped by decoding errors of malformed kernel replies.
var errBadAttr = errors.New("malformed netlens attribute")

// maxDumpRetries bounds how often Dump restarts a dump the kernel flagged
// as interrupted (NLM_F_DUMP_INTR: rules changed while it was running).
const maxDumpRetries = 5

// Client talks to the netlens module of the caller's network namespace
// (the namespace of the thread that called Dial). A Client is safe for
// concurrent use: requests are serialised on one socket.
type Client struct {
	mu     sync.Mutex // one request (or dump) at a time on c
	c      *genetlink.Conn
	family genetlink.Family
}

// Dial opens a generic netlink socket and looks up the netlens family. It
// returns an error wrapping collectors.ErrNotSupported when the module is
// not loaded. cfg may be nil.
func Dial(cfg *netlink.Config) (*Client, error) {
	c, err := genetlink.Dial(cfg)
	if err != nil {
		return nil, fmt.Errorf("kmod: dial generic netlink: %w", err)
	}
	cl, err := newClient(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	return cl, nil
}

func newClient(c *genetlink.Conn) (*Client, error) {
	// Extended acks carry the module's reason for every rejection.
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	f, err := c.GetFamily(familyName)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("kmod: generic netlink family %q not found (netlens.ko not loaded): %w",
				familyName, collectors.ErrNotSupported)
		}
		return nil, fmt.Errorf("kmod: get family %q: %w", familyName, err)
	}
	if f.Version != familyVersion {
		return nil, fmt.Errorf("kmod: family %q version %d, want %d: %w",
			familyName, f.Version, familyVersion, collectors.ErrNotSupported)
	}
	return &Client{c: c, family: f}, nil
}

// Close closes the socket.
func (c *Client) Close() error { return c.c.Close() }

// KernelMessage returns the extended-ack message the kernel attached to
// err, or "" when there is none.
func KernelMessage(err error) string {
	var oe *netlink.OpError
	if errors.As(err, &oe) {
		return oe.Message
	}
	return ""
}

// wrapErr gives a request error its context; EPERM also wraps
// collectors.ErrPermission.
func wrapErr(op string, err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("kmod %s: needs CAP_NET_ADMIN: %w: %w", op, collectors.ErrPermission, err)
	}
	return fmt.Errorf("kmod %s: %w", op, err)
}

// execute sends one request and returns its replies. Commands that reply
// (create, change, get, counters) are sent without NLM_F_ACK: the reply is
// the acknowledgement and an error comes back as an error message with its
// extended ack either way. Commands without a reply pass netlink.Acknowledge
// in flags so that success is confirmed too.
func (c *Client) execute(op string, cmd command, flags netlink.HeaderFlags, enc func(*netlink.AttributeEncoder)) ([]genetlink.Message, error) {
	var data []byte
	if enc != nil {
		ae := netlink.NewAttributeEncoder()
		enc(ae)
		b, err := ae.Encode()
		if err != nil {
			return nil, fmt.Errorf("kmod %s: encode: %w", op, err)
		}
		data = b
	}
	if len(data) > sendBufferDefault/2 {
		if err := c.growSendBuffer(len(data)); err != nil {
			return nil, fmt.Errorf("kmod %s: request of %d bytes: %w", op, len(data), err)
		}
	}
	msg := genetlink.Message{
		Header: genetlink.Header{Command: uint8(cmd), Version: familyVersion},
		Data:   data,
	}
	c.mu.Lock()
	msgs, err := c.c.Execute(msg, c.family.ID, netlink.Request|flags)
	c.mu.Unlock()
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return msgs, nil
}

// sendBufferDefault is the usual net.core.wmem_default: a request must fit
// the socket's send buffer, and a rule with large sets can be bigger.
const sendBufferDefault = 212992

// growSendBuffer makes room for a request of n bytes: SO_SNDBUFFORCE (the
// caller has CAP_NET_ADMIN when it makes rules), else SO_SNDBUF, which
// net.core.wmem_max bounds.
func (c *Client) growSendBuffer(n int) error {
	want := n + 4096
	rc, err := c.c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, want)
	}); err != nil {
		return err
	}
	if serr != nil {
		return c.c.SetWriteBuffer(want)
	}
	return nil
}

func (c *Client) ruleReply(op string, msgs []genetlink.Message) (Rule, error) {
	if len(msgs) != 1 {
		return Rule{}, fmt.Errorf("kmod %s: %d replies, want 1: %w", op, len(msgs), errBadAttr)
	}
	a, err := parseAttrs(msgs[0].Data)
	if err != nil {
		return Rule{}, fmt.Errorf("kmod %s: %w", op, err)
	}
	return a.rule, nil
}

// MaxRevert is the longest revert deadline the module accepts
// (NETLENS_REVERT_MS_MAX). netlens's own range, checked when its flags
// are parsed, is filter.MinRevert..filter.MaxRevert, which ends here.
const MaxRevert = revertMSMax * time.Millisecond

func revertMS(revert time.Duration) (uint32, error) {
	if revert < 0 || revert > revertMSMax*time.Millisecond {
		return 0, fmt.Errorf("revert deadline %v out of range (0..%v)", revert, revertMSMax*time.Millisecond)
	}
	ms := uint32(revert / time.Millisecond)
	if revert > 0 && ms == 0 {
		ms = 1
	}
	return ms, nil
}

// Create adds a rule and returns it as the kernel stored it (with its ID).
// A non-zero revert makes it commit-confirmed: unless Confirm(rule.PendingTxn)
// arrives within revert, the kernel deletes the rule again.
func (c *Client) Create(r Rule, revert time.Duration) (Rule, error) {
	ms, err := revertMS(revert)
	if err != nil {
		return Rule{}, fmt.Errorf("kmod create: %w", err)
	}
	msgs, err := c.execute("create", cmdCreate, 0, func(ae *netlink.AttributeEncoder) {
		encodeRule(ae, r, fieldsCreate, true)
		if ms > 0 {
			ae.Uint32(uint16(attrRevertMS), ms)
		}
	})
	if err != nil {
		return Rule{}, err
	}
	return c.ruleReply("create", msgs)
}

// Change sets the fields of rule id selected by fields to their values in
// r. A non-zero revert makes it commit-confirmed: unless
// Confirm(rule.PendingTxn) arrives within revert, the kernel restores the
// rule as it was before.
func (c *Client) Change(id uint32, r Rule, fields Field, revert time.Duration) (Rule, error) {
	ms, err := revertMS(revert)
	if err != nil {
		return Rule{}, fmt.Errorf("kmod change: %w", err)
	}
	msgs, err := c.execute("change", cmdChange, 0, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(uint16(attrRuleID), id)
		encodeRule(ae, r, fields, false)
		if ms > 0 {
			ae.Uint32(uint16(attrRevertMS), ms)
		}
	})
	if err != nil {
		return Rule{}, err
	}
	return c.ruleReply("change", msgs)
}

// SetEnabled enables or disables rule id; see Change for revert.
func (c *Client) SetEnabled(id uint32, enabled bool, revert time.Duration) (Rule, error) {
	return c.Change(id, Rule{Disabled: !enabled}, FieldDisabled, revert)
}

// Delete removes rule id (and its pending transaction, if any).
func (c *Client) Delete(id uint32) error {
	_, err := c.execute("delete", cmdDelete, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(uint16(attrRuleID), id)
	})
	return err
}

// Get returns rule id with its counters.
func (c *Client) Get(id uint32) (Rule, error) {
	msgs, err := c.execute("get", cmdGet, 0, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(uint16(attrRuleID), id)
	})
	if err != nil {
		return Rule{}, err
	}
	r, err := c.ruleReply("get", msgs)
	if err != nil {
		return r, err
	}
	return r, c.fillSets(&r)
}

// fillSets reads the elements of the sets r has (a rule message carries
// their sizes only).
func (c *Client) fillSets(r *Rule) error {
	for f := SetField(0); f < numSetFields; f++ {
		if r.SetSizes[f] == 0 {
			continue
		}
		pfx, ports, err := c.GetSet(r.ID, f)
		if err != nil {
			return err
		}
		switch f {
		case SetSrc:
			r.SrcSet = pfx
		case SetDst:
			r.DstSet = pfx
		case SetSrcPorts:
			r.SrcPortSet = ports
		case SetDstPorts:
			r.DstPortSet = ports
		}
	}
	return nil
}

// GetSet returns the elements of one set of rule id: prefixes for SetSrc
// and SetDst, ports for the port sets, in no particular order. A listing
// the kernel flags as interrupted (the rule changed meanwhile) is
// restarted, at most maxDumpRetries times.
func (c *Client) GetSet(id uint32, f SetField) ([]netip.Prefix, []uint16, error) {
	for try := 0; ; try++ {
		pfx, ports, intr, err := c.getSetOnce(id, f)
		if err != nil || !intr {
			return pfx, ports, err
		}
		if try == maxDumpRetries {
			return nil, nil, fmt.Errorf("kmod get set: interrupted %d times by concurrent changes", try+1)
		}
	}
}

func (c *Client) getSetOnce(id uint32, f SetField) ([]netip.Prefix, []uint16, bool, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(uint16(attrRuleID), id)
	ae.Uint8(uint16(attrSetField), uint8(f))
	data, err := ae.Encode()
	if err != nil {
		return nil, nil, false, fmt.Errorf("kmod get set: encode: %w", err)
	}
	var (
		pfx   []netip.Prefix
		ports []uint16
	)
	intr, err := c.dumpEach("get set", cmdGetSet, data, func(a ruleAttrs) {
		r := a.rule
		pfx = append(append(pfx, r.SrcSet...), r.DstSet...)
		ports = append(append(ports, r.SrcPortSet...), r.DstPortSet...)
	})
	return pfx, ports, intr, err
}

// dumpEach runs one dump of cmd and calls each with every message's
// attributes; intr says the kernel flagged it NLM_F_DUMP_INTR.
func (c *Client) dumpEach(op string, cmd command, data []byte, each func(ruleAttrs)) (intr bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := genetlink.Message{Header: genetlink.Header{Command: uint8(cmd), Version: familyVersion}, Data: data}
	req, err := c.c.Send(msg, c.family.ID, netlink.Request|netlink.Dump)
	if err != nil {
		return false, wrapErr(op, err)
	}
	// Receive reads every part of a multi-part reply up to NLMSG_DONE.
	gmsgs, nmsgs, err := c.c.Receive()
	if err != nil {
		return false, wrapErr(op, err)
	}
	if err := netlink.Validate(req, nmsgs); err != nil {
		return false, wrapErr(op, err)
	}
	for i, nm := range nmsgs {
		if nm.Header.Flags&netlink.DumpInterrupted != 0 {
			intr = true
		}
		if nm.Header.Type != netlink.HeaderType(c.family.ID) || i >= len(gmsgs) {
			continue
		}
		a, err := parseAttrs(gmsgs[i].Data)
		if err != nil {
			return false, fmt.Errorf("kmod %s: %w", op, err)
		}
		each(a)
	}
	return intr, nil
}

// Dump returns every rule of the namespace in ID order. A dump the kernel
// flags as interrupted (the rules changed meanwhile) is restarted, at most
// maxDumpRetries times.
func (c *Client) Dump() ([]Rule, error) {
	for try := 0; ; try++ {
		rules, intr, err := c.dumpOnce()
		if err == nil && !intr {
			for i := range rules {
				if err = c.fillSets(&rules[i]); err != nil {
					break
				}
			}
			if errors.Is(err, unix.ENOENT) { // a rule went away meanwhile
				err, intr = nil, true
			}
		}
		if err != nil || !intr {
			return rules, err
		}
		if try == maxDumpRetries {
			return rules, fmt.Errorf("kmod dump: interrupted %d times by concurrent changes", try+1)
		}
	}
}

func (c *Client) dumpOnce() ([]Rule, bool, error) {
	var rules []Rule
	intr, err := c.dumpEach("dump", cmdGet, nil, func(a ruleAttrs) { rules = append(rules, a.rule) })
	if err != nil {
		return nil, false, err
	}
	return rules, intr, nil
}

// Counters returns the namespace's rule count and per-hook verdict counters.
func (c *Client) Counters() (Counters, error) {
	msgs, err := c.execute("counters", cmdCounters, 0, nil)
	if err != nil {
		return Counters{}, err
	}
	if len(msgs) != 1 {
		return Counters{}, fmt.Errorf("kmod counters: %d replies, want 1: %w", len(msgs), errBadAttr)
	}
	a, err := parseAttrs(msgs[0].Data)
	if err != nil {
		return Counters{}, fmt.Errorf("kmod counters: %w", err)
	}
	return Counters{Rules: a.count, HooksRegistered: a.hooksRegistered, Hooks: a.hooks}, nil
}

// Flush deletes every rule of the namespace.
func (c *Client) Flush() error {
	_, err := c.execute("flush", cmdFlush, netlink.Acknowledge, nil)
	return err
}

// Confirm keeps the commit-confirmed change txn (Rule.PendingTxn).
func (c *Client) Confirm(txn uint32) error {
	_, err := c.execute("confirm", cmdConfirm, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(uint16(attrTxnID), txn)
	})
	return err
}

// Policy is the default verdict of one hook and family: what a packet no
// rule decides gets.
type Policy struct {
	Family  Family // FamilyIPv4 or FamilyIPv6
	Hook    uint8  // NF_INET_* hook number
	Verdict Action // ActionAccept (the default) or ActionDrop
}

// SetPolicy sets a default policy. A non-zero revert makes it
// commit-confirmed: the old verdict comes back unless Confirm(txn) arrives
// first. A DROP policy registers the hooks even without rules.
func (c *Client) SetPolicy(p Policy, revert time.Duration) (txn uint32, err error) {
	if revert < 0 || revert > revertMSMax*time.Millisecond {
		return 0, fmt.Errorf("kmod policy: revert deadline %v out of range (0 to 1h)", revert)
	}
	msgs, err := c.execute("policy", cmdPolicy, 0, func(ae *netlink.AttributeEncoder) {
		ae.Uint8(uint16(attrPolicyFamily), uint8(p.Family))
		ae.Uint8(uint16(attrPolicyHook), p.Hook)
		ae.Uint8(uint16(attrPolicyVerdict), uint8(p.Verdict))
		if revert > 0 {
			ae.Uint32(uint16(attrRevertMS), uint32(max(revert.Milliseconds(), 1)))
		}
	})
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		a, err := parseAttrs(m.Data)
		if err != nil {
			return 0, fmt.Errorf("kmod policy: %w", err)
		}
		txn = a.txn
	}
	return txn, nil
}
