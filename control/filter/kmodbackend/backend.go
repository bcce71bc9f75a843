package kmodbackend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/mdlayher/netlink"

	"netlens/collectors"
	"netlens/collectors/kmod"
	"netlens/internal/logloop"
	"netlens/internal/proto"
	"netlens/model"
	"netlens/model/rules"
)

// Client is what the backend needs of a *kmod.Client; tests give a fake.
type Client interface {
	Create(r kmod.Rule, revert time.Duration) (kmod.Rule, error)
	Change(id uint32, r kmod.Rule, fields kmod.Field, revert time.Duration) (kmod.Rule, error)
	SetEnabled(id uint32, enabled bool, revert time.Duration) (kmod.Rule, error)
	Delete(id uint32) error
	Get(id uint32) (kmod.Rule, error)
	Dump() ([]kmod.Rule, error)
	Counters() (kmod.Counters, error)
	Confirm(txn uint32) error
	SetPolicy(p kmod.Policy, revert time.Duration) (uint32, error)
	Close() error
}

// Events is what Watch needs of a *kmod.Events.
type Events interface {
	Receive() ([]kmod.Event, error)
	SetReadDeadline(t time.Time) error
	Close() error
}

// Backend keeps rules in the netlens kernel module. It is safe for
// concurrent use (the Client serialises requests).
type Backend struct {
	c         Client
	subscribe func() (Events, error)
	// packets opens a packet log subscription; nil: the backend has none.
	packets  func() (*kmod.Packets, error)
	ifname   func(index uint32) string
	readOnly string
	now      func() time.Time
}

// Dial connects to the module of the caller's network namespace. It
// returns an error wrapping collectors.ErrNotSupported when the module is
// not loaded. readOnly is the reason changes will be refused ("" when
// the caller has CAP_NET_ADMIN).
func Dial(readOnly string) (*Backend, error) { return DialNetNS(readOnly, 0) }

// DialNetNS is Dial in the network namespace netns (an open namespace
// file; 0 is the caller's): the module keeps rules per namespace.
func DialNetNS(readOnly string, netns int) (*Backend, error) {
	cfg := &netlink.Config{NetNS: netns}
	c, err := kmod.Dial(cfg)
	if err != nil {
		return nil, err
	}
	b := New(c, func() (Events, error) { return kmod.Subscribe(cfg) }, readOnly)
	b.packets = func() (*kmod.Packets, error) { return kmod.SubscribePackets(cfg) }
	b.ifname = func(i uint32) string {
		if netns == 0 {
			if ifi, err := net.InterfaceByIndex(int(i)); err == nil {
				return ifi.Name
			}
		}
		return fmt.Sprintf("if%d", i)
	}
	return b, nil
}

// New returns a Backend over c; subscribe opens an events subscription.
func New(c Client, subscribe func() (Events, error), readOnly string) *Backend {
	return &Backend{c: c, subscribe: subscribe, readOnly: readOnly, now: time.Now}
}

// Name returns "kmod".
func (b *Backend) Name() string { return "kmod" }

// ReadOnly returns why changes are refused, or "".
func (b *Backend) ReadOnly() string { return b.readOnly }

// Close closes the client.
func (b *Backend) Close() error { return b.c.Close() }

var hookBits = map[string]kmod.Hooks{
	model.HookPreRouting:  kmod.HookPreRouting,
	model.HookInput:       kmod.HookLocalIn,
	model.HookForward:     kmod.HookForward,
	model.HookOutput:      kmod.HookLocalOut,
	model.HookPostRouting: kmod.HookPostRouting,
}

var hookOrder = []string{model.HookPreRouting, model.HookInput, model.HookForward, model.HookOutput, model.HookPostRouting}

// ToKmod converts a rule for the module.
func ToKmod(r model.Rule) (kmod.Rule, error) {
	k := kmod.Rule{
		ID: r.ID, Disabled: !r.Enabled, Src: r.Src, Dst: r.Dst,
		SrcPorts: kmod.PortRange(r.SrcPorts), DstPorts: kmod.PortRange(r.DstPorts),
		InIface: r.InIface, OutIface: r.OutIface, Priority: r.Priority, Label: r.Label,
		SrcSet: r.SrcSet, DstSet: r.DstSet, SrcPortSet: r.SrcPortSet, DstPortSet: r.DstPortSet,
		Log: r.Log, LogRate: r.LogRate,
	}
	for _, h := range r.Hooks {
		bit, ok := hookBits[h]
		if !ok {
			return kmod.Rule{}, fmt.Errorf("unknown hook %q", h)
		}
		k.Hooks |= bit
	}
	switch r.Family {
	case "":
	case model.FamilyIPv4:
		k.Family = kmod.FamilyIPv4
	case model.FamilyIPv6:
		k.Family = kmod.FamilyIPv6
	case model.RuleFamilyBoth:
		k.Family = kmod.FamilyBoth
	default:
		return kmod.Rule{}, fmt.Errorf("unknown family %q", r.Family)
	}
	p, err := proto.Num(r.Proto)
	if err != nil {
		return kmod.Rule{}, err
	}
	k.Proto = p
	switch r.Action {
	case model.ActionAccept:
		k.Action = kmod.ActionAccept
	case model.ActionDrop:
		k.Action = kmod.ActionDrop
	case model.ActionCount:
		k.Action = kmod.ActionCount
	case model.ActionReject:
		// a TCP reset for tcp, else the family's ICMP port unreachable
		// (as the nft backend's reject)
		k.Action = kmod.ActionReject
		if k.Proto == 6 {
			k.RejectWith = kmod.RejectTCPReset
		}
	default:
		return kmod.Rule{}, fmt.Errorf("unknown action %q", r.Action)
	}
	if err := l4ToKmod(r, &k); err != nil {
		return kmod.Rule{}, err
	}
	return k, nil
}

// ctBits and negBits map the model's names to the module's bits.
var (
	ctBits = map[string]kmod.CTState{
		"new": kmod.CTNew, "established": kmod.CTEstablished, "related": kmod.CTRelated,
		"invalid": kmod.CTInvalid, "untracked": kmod.CTUntracked,
	}
	negBits = map[string]kmod.Negation{
		"src": kmod.NegSrc, "dst": kmod.NegDst, "sport": kmod.NegSrcPorts, "dport": kmod.NegDstPorts,
		"iif": kmod.NegInIface, "oif": kmod.NegOutIface, "icmp": kmod.NegICMP, "tcp_flags": kmod.NegTCPFlags,
		"ct_state": kmod.NegCT,
	}
)

// l4ToKmod converts the conntrack state, ICMP, TCP flags and negation.
func l4ToKmod(r model.Rule, k *kmod.Rule) error {
	for _, st := range r.CTState {
		bit, ok := ctBits[st]
		if !ok {
			return fmt.Errorf("unknown conntrack state %q", st)
		}
		k.CTState |= bit
	}
	if r.ICMP != "" {
		m, err := rules.ParseICMP(r.ICMP, k.Proto)
		if err != nil {
			return err
		}
		k.ICMPType, k.ICMPTypeSet = m.Type, true
		k.ICMPCode, k.ICMPCodeSet = m.Code, m.HasCode
	}
	if r.TCPFlags != "" {
		v, m, err := rules.ParseTCPFlags(r.TCPFlags)
		if err != nil {
			return err
		}
		k.TCPFlags, k.TCPFlagsMask = v, m
	}
	for _, n := range r.Negate {
		bit, ok := negBits[n]
		if !ok {
			return fmt.Errorf("cannot negate %q", n)
		}
		k.Negate |= bit
	}
	return nil
}

// l4FromKmod is l4ToKmod backwards.
func l4FromKmod(k kmod.Rule, r *model.Rule) {
	for _, st := range rules.CTStates {
		if k.CTState&ctBits[st] != 0 {
			r.CTState = append(r.CTState, st)
		}
	}
	if k.ICMPTypeSet {
		r.ICMP = rules.FormatICMP(rules.ICMPMatch{Type: k.ICMPType, Code: k.ICMPCode, HasCode: k.ICMPCodeSet}, k.Proto)
	}
	if k.TCPFlagsMask != 0 {
		r.TCPFlags = rules.FormatTCPFlags(k.TCPFlags, k.TCPFlagsMask)
	}
	for _, n := range rules.Negatable {
		if k.Negate&negBits[n] != 0 {
			r.Negate = append(r.Negate, n)
		}
	}
}

// FromKmod converts a rule the module reported; now dates its revert
// deadline.
func FromKmod(k kmod.Rule, now time.Time) model.Rule {
	r := model.Rule{
		ID: k.ID, Enabled: !k.Disabled, Proto: proto.Name(k.Proto), Src: k.Src, Dst: k.Dst,
		SrcPorts: model.PortRange(k.SrcPorts), DstPorts: model.PortRange(k.DstPorts),
		InIface: k.InIface, OutIface: k.OutIface, Priority: k.Priority, Label: k.Label,
		Packets: k.Packets, Bytes: k.Bytes, LastHit: k.LastHit, PendingTxn: k.PendingTxn,
		SrcSet: rules.NormalizePrefixSet(k.SrcSet), DstSet: rules.NormalizePrefixSet(k.DstSet),
		SrcPortSet: rules.NormalizePortSet(k.SrcPortSet), DstPortSet: rules.NormalizePortSet(k.DstPortSet),
		Log: k.Log, LogDropped: k.LogDropped,
	}
	if k.Log || k.LogRate != kmod.LogRateDefault {
		r.LogRate = k.LogRate
	}
	if r.SrcPorts.Any() {
		r.SrcPorts = model.PortRange{}
	}
	if r.DstPorts.Any() {
		r.DstPorts = model.PortRange{}
	}
	if k.PendingTxn != 0 {
		r.RevertAt = now.Add(k.RevertIn)
	}
	for _, h := range hookOrder {
		if k.Hooks&hookBits[h] != 0 {
			r.Hooks = append(r.Hooks, h)
		}
	}
	switch k.Family {
	case kmod.FamilyIPv4:
		r.Family = model.FamilyIPv4
	case kmod.FamilyIPv6:
		r.Family = model.FamilyIPv6
	default:
		r.Family = model.RuleFamilyBoth
	}
	switch k.Action {
	case kmod.ActionAccept:
		r.Action = model.ActionAccept
	case kmod.ActionDrop:
		r.Action = model.ActionDrop
	case kmod.ActionReject:
		r.Action = model.ActionReject
	default:
		r.Action = model.ActionCount
	}
	l4FromKmod(k, &r)
	return r
}

// wrap adds the kernel's extack message, when there is one.
func wrap(op string, err error) error {
	if msg := kmod.KernelMessage(err); msg != "" {
		return fmt.Errorf("%s: %s: %w", op, msg, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// List returns the rules in evaluation order.
func (b *Backend) List() ([]model.Rule, error) {
	ks, err := b.c.Dump()
	if err != nil {
		return nil, wrap("kmod list", err)
	}
	now := b.now()
	out := make([]model.Rule, len(ks))
	for i, k := range ks {
		out[i] = FromKmod(k, now)
	}
	slices.SortStableFunc(out, func(a, b model.Rule) int {
		if a.Priority != b.Priority {
			if a.Priority < b.Priority {
				return -1
			}
			return 1
		}
		return int(a.ID) - int(b.ID)
	})
	return out, nil
}

// Verdicts returns the module's per-family, per-hook verdict counters.
func (b *Backend) Verdicts() ([]model.HookVerdicts, error) {
	cs, err := b.c.Counters()
	if err != nil {
		return nil, wrap("kmod counters", err)
	}
	out := make([]model.HookVerdicts, 0, len(cs.Hooks))
	for _, h := range cs.Hooks {
		fam := model.FamilyIPv4
		if h.Family == kmod.FamilyIPv6 {
			fam = model.FamilyIPv6
		}
		pol := model.ActionAccept
		if h.Policy == kmod.ActionDrop {
			pol = model.ActionDrop
		}
		out = append(out, model.HookVerdicts{Family: fam, Hook: kmod.HookName(h.Hook), Seen: h.Seen, Accepted: h.Accepted,
			Dropped: h.Dropped, Policy: pol})
	}
	return out, nil
}

// SetPolicy sets the default policy of one family and hook; a non-zero
// revert makes it commit-confirmed by the kernel.
func (b *Backend) SetPolicy(p rules.Policy, revert time.Duration) (uint32, time.Time, error) {
	if err := b.refuse("policy"); err != nil {
		return 0, time.Time{}, err
	}
	kp := kmod.Policy{Family: kmod.FamilyIPv4, Verdict: kmod.ActionAccept}
	switch p.Family {
	case model.FamilyIPv4:
	case model.FamilyIPv6:
		kp.Family = kmod.FamilyIPv6
	default:
		return 0, time.Time{}, fmt.Errorf("kmod policy: family %q: one of ipv4 or ipv6", p.Family)
	}
	h, ok := rules.HookNum(p.Hook)
	if !ok {
		return 0, time.Time{}, fmt.Errorf("kmod policy: unknown hook %q", p.Hook)
	}
	kp.Hook = uint8(h)
	switch p.Verdict {
	case model.ActionAccept:
	case model.ActionDrop:
		kp.Verdict = kmod.ActionDrop
	default:
		return 0, time.Time{}, fmt.Errorf("kmod policy: verdict %q: accept or drop", p.Verdict)
	}
	now := b.now()
	txn, err := b.c.SetPolicy(kp, revert)
	if err != nil {
		return 0, time.Time{}, wrap("kmod policy "+p.String(), err)
	}
	if txn == 0 {
		return 0, time.Time{}, nil
	}
	return txn, now.Add(revert), nil
}

// PendingList returns the unconfirmed default policy changes (a rule's
// shows in its PendingTxn). It satisfies rules.PendingLister.
func (b *Backend) PendingList() []model.PendingChange {
	cs, err := b.c.Counters()
	if err != nil {
		return nil
	}
	now := b.now()
	var out []model.PendingChange
	for _, h := range cs.Hooks {
		if h.PolicyTxn != 0 {
			out = append(out, model.PendingChange{Txn: h.PolicyTxn, RevertAt: now.Add(h.PolicyRevertIn)})
		}
	}
	return out
}

func (b *Backend) refuse(op string) error {
	if b.readOnly != "" {
		return fmt.Errorf("kmod %s: %s", op, b.readOnly)
	}
	return nil
}

// Add creates r; a non-zero revert makes it commit-confirmed by the
// kernel.
func (b *Backend) Add(r model.Rule, revert time.Duration) (model.Rule, error) {
	if err := b.refuse("add"); err != nil {
		return model.Rule{}, err
	}
	k, err := ToKmod(r)
	if err != nil {
		return model.Rule{}, fmt.Errorf("kmod add: %w", err)
	}
	got, err := b.c.Create(k, revert)
	if err != nil {
		return model.Rule{}, wrap("kmod add", err)
	}
	return FromKmod(withSets(got, k), b.now()), nil
}

// fieldsAll are the fields Change sends: every field of a rule.
const fieldsAll = kmod.FieldDisabled | kmod.FieldHooks | kmod.FieldFamily | kmod.FieldProto | kmod.FieldSrc |
	kmod.FieldDst | kmod.FieldSrcPorts | kmod.FieldDstPorts | kmod.FieldInIface | kmod.FieldOutIface |
	kmod.FieldAction | kmod.FieldPriority | kmod.FieldLabel | kmod.FieldReject | kmod.FieldL4 | kmod.FieldSets | kmod.FieldLog

// withSets gives the rule a create or change returned (whose message says
// only how many elements its sets have) the elements that were sent.
func withSets(got, sent kmod.Rule) kmod.Rule {
	got.SrcSet, got.DstSet, got.SrcPortSet, got.DstPortSet = sent.SrcSet, sent.DstSet, sent.SrcPortSet, sent.DstPortSet
	return got
}

// Change sets every field of rule id to r's; the kernel keeps the
// counters and, with a revert deadline, restores the old fields unless
// confirmed.
func (b *Backend) Change(id uint32, r model.Rule, revert time.Duration) (model.Rule, error) {
	if err := b.refuse("change"); err != nil {
		return model.Rule{}, err
	}
	k, err := ToKmod(r)
	if err != nil {
		return model.Rule{}, fmt.Errorf("kmod change: %w", err)
	}
	if k.Family == kmod.FamilyUnspec {
		k.Family = kmod.FamilyBoth
	}
	if (k.Proto == 1 || k.Proto == 58) && !k.ICMPCodeSet {
		// the module keeps an icmp rule's type and code when a change
		// leaves them out (the uapi has no attribute to clear them)
		old, err := b.c.Get(id)
		if err != nil {
			return model.Rule{}, wrap("kmod change", err)
		}
		if (old.ICMPTypeSet && !k.ICMPTypeSet) || old.ICMPCodeSet {
			return model.Rule{}, fmt.Errorf("kmod change: the module cannot take the icmp type or code off rule %d: delete it and add the new rule", id)
		}
	}
	got, err := b.c.Change(id, k, fieldsAll, revert)
	if err != nil {
		return model.Rule{}, wrap("kmod change", err)
	}
	return FromKmod(withSets(got, k), b.now()), nil
}

// SetEnabled enables or disables rule id.
func (b *Backend) SetEnabled(id uint32, enabled bool, revert time.Duration) (model.Rule, error) {
	if err := b.refuse("enable"); err != nil {
		return model.Rule{}, err
	}
	k, err := b.c.SetEnabled(id, enabled, revert)
	if err == nil && k.SetSizes != [len(k.SetSizes)]uint32{} {
		k, err = b.c.Get(id) // the reply says how big the sets are; this lists them
	}
	if err != nil {
		return model.Rule{}, wrap("kmod enable", err)
	}
	return FromKmod(k, b.now()), nil
}

// Delete removes rule id. The module cannot revert a deletion, so a
// non-zero revert disables the rule commit-confirmed instead: after the
// confirm it stays, disabled, and deleting it again (no longer
// drop-capable) removes it.
func (b *Backend) Delete(id uint32, revert time.Duration) error {
	if err := b.refuse("delete"); err != nil {
		return err
	}
	if revert > 0 {
		if _, err := b.c.SetEnabled(id, false, revert); err != nil {
			return wrap("kmod delete (disable with revert)", err)
		}
		return nil
	}
	if err := b.c.Delete(id); err != nil {
		return wrap("kmod delete", err)
	}
	return nil
}

// Replace makes rules the module's rule set: it creates every new rule
// (commit-confirmed when revert is non-zero), deleting those it created
// again if one fails, so that a failed load changes nothing; then it
// deletes the old rules. The deletions are not revertible: only the new
// rules are (see docs/filters.md).
func (b *Backend) Replace(rules []model.Rule, revert time.Duration) error {
	if err := b.refuse("load"); err != nil {
		return err
	}
	old, err := b.c.Dump()
	if err != nil {
		return wrap("kmod load", err)
	}
	var made []uint32
	rollback := func() {
		for _, id := range made {
			_ = b.c.Delete(id)
		}
	}
	for i, r := range rules {
		k, err := ToKmod(r)
		if err == nil {
			k, err = b.c.Create(k, revert)
		}
		if err != nil {
			rollback()
			return wrap(fmt.Sprintf("kmod load: rule %d (%q); nothing changed", i+1, r.Label), err)
		}
		made = append(made, k.ID)
	}
	var errs []error
	for _, k := range old {
		if err := b.c.Delete(k.ID); err != nil {
			errs = append(errs, wrap(fmt.Sprintf("kmod load: delete old rule %d", k.ID), err))
		}
	}
	return errors.Join(errs...)
}

// Confirm keeps the commit-confirmed change txn.
func (b *Backend) Confirm(txn uint32) error {
	if err := b.c.Confirm(txn); err != nil {
		return wrap("kmod confirm", err)
	}
	return nil
}

// Watch calls changed after every event of the module's "events" group
// (any rule change, confirm or revert, whoever made it) and after an
// overrun (ErrEventsLost: events were lost, so re-read everything). It
// returns when ctx is done.
func (b *Backend) Watch(ctx context.Context, changed func()) error {
	ev, err := b.subscribe()
	if err != nil {
		return wrap("kmod events", err)
	}
	defer ev.Close()
	for ctx.Err() == nil {
		_ = ev.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		es, err := ev.Receive()
		switch {
		case errors.Is(err, kmod.ErrEventsLost):
			changed()
		case err != nil:
			if isTimeout(err) {
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			return wrap("kmod events", err)
		case len(es) > 0:
			changed()
		}
	}
	return nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// PacketLog streams the packet log of rule id (0: of every rule) to fn, in
// the order the kernel sent it, until ctx is done. A receive-buffer overrun
// (the reader was too slow) is reported to lost and the stream goes on.
func (b *Backend) PacketLog(ctx context.Context, id uint32, fn func(model.LoggedPacket), lost func()) error {
	if b.packets == nil {
		return fmt.Errorf("kmod packet log: %w", collectors.ErrNotSupported)
	}
	p, err := b.packets()
	if err != nil {
		return wrap("kmod packet log", err)
	}
	defer p.Close()
	_ = p.SetReadBuffer(1 << 20)
	err = logloop.Run(ctx, p.SetReadDeadline, p.Receive, kmod.ErrPacketsLost, lost, func(pk kmod.Packet) {
		if id == 0 || pk.RuleID == id {
			fn(b.loggedPacket(pk))
		}
	})
	if err != nil {
		return wrap("kmod packet log", err)
	}
	return nil
}

var ctNames = map[kmod.CTState]string{kmod.CTNew: "new", kmod.CTEstablished: "established",
	kmod.CTRelated: "related", kmod.CTInvalid: "invalid", kmod.CTUntracked: "untracked"}

// loggedPacket converts one packet log event.
func (b *Backend) loggedPacket(p kmod.Packet) model.LoggedPacket {
	lp := model.LoggedPacket{At: p.Time, RuleID: p.RuleID, Hook: kmod.HookName(p.Hook),
		Proto: proto.Name(p.Proto), Src: p.Src, Dst: p.Dst, Len: p.Len, CTState: ctNames[p.CTState]}
	if lp.Proto == "" {
		lp.Proto = strconv.Itoa(int(p.Proto))
	}
	name := b.ifname
	if name == nil {
		name = func(i uint32) string { return fmt.Sprintf("if%d", i) }
	}
	if p.InIf != 0 {
		lp.InIface = name(p.InIf)
	}
	if p.OutIf != 0 {
		lp.OutIface = name(p.OutIf)
	}
	switch p.Family {
	case kmod.FamilyIPv4:
		lp.Family = model.FamilyIPv4
	case kmod.FamilyIPv6:
		lp.Family = model.FamilyIPv6
	}
	switch p.Verdict {
	case kmod.ActionAccept:
		lp.Verdict = model.ActionAccept
	case kmod.ActionDrop:
		lp.Verdict = model.ActionDrop
	case kmod.ActionReject:
		lp.Verdict = model.ActionReject
	default:
		lp.Verdict = model.ActionCount
	}
	if p.HasPorts {
		lp.SrcPort, lp.DstPort = p.SrcPort, p.DstPort
	}
	if p.Proto == 6 {
		lp.TCPFlags = rules.PacketTCPFlags(p.TCPFlags)
	}
	if p.HasICMP {
		lp.ICMP = fmt.Sprintf("%d/%d", p.ICMPType, p.ICMPCode)
	}
	return lp
}
