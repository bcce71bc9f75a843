package filter

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"netlens/collectors/kmod"
	"netlens/model"
	"netlens/model/rules"
)

// DefaultRevert is how long a drop-capable change waits for a confirm
// before it is undone.
const DefaultRevert = 30 * time.Second

// MinRevert and MaxRevert bound every revert deadline an operator sets
// (the TUI's --revert, `rules --revert`): at least long enough to read the
// question and press c over a slow SSH link, at most the kernel module's
// limit. They are checked once, when the flags are parsed.
const (
	MinRevert = 5 * time.Second
	MaxRevert = kmod.MaxRevert
)

// CheckRevert says whether d is a revert deadline an operator may set.
func CheckRevert(d time.Duration) error {
	if d < MinRevert || d > MaxRevert {
		return fmt.Errorf("--revert %s: must be between %s and %s", d, MinRevert, fmtHour(MaxRevert))
	}
	return nil
}

// fmtHour prints whole hours as "1h" rather than "1h0m0s".
func fmtHour(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// SSHSession is the operator's own SSH connection, from SSH_CONNECTION
// ("client_ip client_port server_ip server_port").
type SSHSession struct {
	Client netip.AddrPort
	Server netip.AddrPort
}

// ParseSSHConnection parses the value of SSH_CONNECTION.
func ParseSSHConnection(s string) (SSHSession, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return SSHSession{}, fmt.Errorf("SSH_CONNECTION %q: want 4 fields (client ip, port, server ip, port)", s)
	}
	var eps [2]netip.AddrPort
	for i := range 2 {
		a, err := netip.ParseAddr(f[2*i])
		if err != nil {
			return SSHSession{}, fmt.Errorf("SSH_CONNECTION %q: %w", s, err)
		}
		p, err := strconv.ParseUint(f[2*i+1], 10, 16)
		if err != nil {
			return SSHSession{}, fmt.Errorf("SSH_CONNECTION %q: port %q", s, f[2*i+1])
		}
		eps[i] = netip.AddrPortFrom(a.Unmap().WithZone(""), uint16(p))
	}
	return SSHSession{Client: eps[0], Server: eps[1]}, nil
}

// GuardInput is what the guard checks a rule set against.
type GuardInput struct {
	// SSH is the operator's session, if any.
	SSH *SSHSession
	// Sockets and Flows are the host's sockets and conntrack flows (from
	// the Snapshot); only established ones are checked.
	Sockets []model.Socket
	Flows   []model.Flow
	// LocalAddrs are the host's addresses: a flow to or from one of them
	// is local (input/output hooks), any other is forwarded. When empty,
	// flows are checked at every hook.
	LocalAddrs []netip.Addr
}

// packet is one direction of a connection as the rules see it.
type packet struct {
	proto    uint8
	src, dst netip.AddrPort
	loopback bool
}

// conn is a connection with its packets and the hooks each passes.
type conn struct {
	kind rules.HitKind
	what string
	legs []leg
}

type leg struct {
	p     packet
	hooks []string
	dir   string
}

var (
	inHooks  = []string{model.HookPreRouting, model.HookInput}
	outHooks = []string{model.HookOutput, model.HookPostRouting}
	fwdHooks = []string{model.HookPreRouting, model.HookForward, model.HookPostRouting}
)

func localConn(kind rules.HitKind, what string, proto uint8, local, remote netip.AddrPort) conn {
	lo := local.Addr().IsLoopback() || remote.Addr().IsLoopback()
	return conn{kind: kind, what: what, legs: []leg{
		{packet{proto, remote, local, lo}, inHooks, "in"},
		{packet{proto, local, remote, lo}, outHooks, "out"},
	}}
}

// Assess returns what applying a change from rule set before to rule set
// after would cut: the connections in (and the operator's session) that
// the after set drops and the before set does not. It is pure and safe
// for concurrent use.
func Assess(before, after []model.Rule, in GuardInput) rules.Impact {
	b, a := prepare(before), prepare(after)
	// Only a packet that some rule of the difference between the two sets
	// matches can get another verdict: the others are skipped at the cost
	// of matching the few changed rules.
	delta := difference(a, b)
	var im rules.Impact
	check := func(c conn) *rules.Hit {
		for _, l := range c.legs {
			for _, h := range l.hooks {
				if !delta.any(h, l.p) {
					continue
				}
				if r, drop := a.verdict(h, l.p); drop {
					if _, dropBefore := b.verdict(h, l.p); !dropBefore {
						return &rules.Hit{Kind: c.kind, What: c.what, Hook: h, Dir: l.dir, Rule: r}
					}
				}
			}
		}
		return nil
	}
	if in.SSH != nil {
		s := in.SSH
		c := localConn(rules.HitSession, fmt.Sprintf("tcp %s -> %s", s.Client, s.Server), 6, s.Server, s.Client)
		im.Session = check(c)
	}
	for _, s := range in.Sockets {
		if s.State != model.StateEstablished || !s.Remote.IsValid() {
			continue
		}
		if in.SSH != nil && s.Proto == model.ProtoTCP && sameEP(s.Local, in.SSH.Server) && sameEP(s.Remote, in.SSH.Client) {
			continue // the session itself
		}
		proto, _ := rules.ProtoNum(string(s.Proto))
		what := fmt.Sprintf("%s %s <-> %s", s.Proto, s.Local, s.Remote)
		if len(s.Procs) > 0 {
			what += " (" + s.Procs[0].Comm + ")"
		}
		if h := check(localConn(rules.HitSocket, what, proto, s.Local, s.Remote)); h != nil {
			im.Sockets++
			if len(im.Hits) < rules.MaxHits {
				im.Hits = append(im.Hits, *h)
			}
		}
	}
	for _, f := range in.Flows {
		if !liveFlow(f) {
			continue
		}
		if h := check(flowConn(f, in.LocalAddrs)); h != nil {
			im.Flows++
			if len(im.Hits) < rules.MaxHits {
				im.Hits = append(im.Hits, *h)
			}
		}
	}
	return im
}

func sameEP(a, b netip.AddrPort) bool {
	return a.Addr().Unmap().WithZone("") == b.Addr().Unmap().WithZone("") && a.Port() == b.Port()
}

func liveFlow(f model.Flow) bool {
	if f.Proto == model.ProtoTCP {
		return f.TCPState == model.TCPEstablished
	}
	return f.Status&model.StatusSeenReply != 0
}

func flowConn(f model.Flow, local []netip.Addr) conn {
	what := fmt.Sprintf("%s %s", f.Proto, f.Orig)
	isLocal := func(a netip.Addr) bool { return slices.Contains(local, a.Unmap().WithZone("")) }
	lo := f.Orig.Src.Addr().IsLoopback() || f.Orig.Dst.Addr().IsLoopback()
	orig := packet{f.ProtoNum, f.Orig.Src, f.Orig.Dst, lo}
	reply := packet{f.ProtoNum, f.Reply.Src, f.Reply.Dst, lo}
	c := conn{kind: rules.HitFlow, what: what}
	switch {
	case len(local) == 0:
		c.legs = []leg{{orig, rules.Hooks, "any"}, {reply, rules.Hooks, "any"}}
	case isLocal(f.Orig.Dst.Addr()) || isLocal(f.Reply.Src.Addr()):
		c.legs = []leg{{orig, inHooks, "in"}, {reply, outHooks, "out"}}
	case isLocal(f.Orig.Src.Addr()):
		c.legs = []leg{{orig, outHooks, "out"}, {reply, inHooks, "in"}}
	default:
		c.legs = []leg{{orig, fwdHooks, "forward"}, {reply, fwdHooks, "forward"}}
	}
	return c
}

type prepared struct {
	r     model.Rule
	key   ruleKey
	proto uint8
	hooks []string
}

// ruleSet is the decisive (enabled ACCEPT and DROP) rules of a set in
// evaluation order, indexed like the module indexes them: rules with an
// exact destination port by (hook, protocol, port), the others by hook.
type ruleSet struct {
	rules   []prepared
	byPort  map[portKey][]int
	general map[string][]int
}

type portKey struct {
	hook  string
	proto uint8
	port  uint16
}

// ruleKey is a rule's identity for comparing two sets: its id and every
// field that decides what it matches and does.
type ruleKey struct {
	id, priority     uint32
	hooks            string
	family           model.Family
	proto            string
	src, dst         netip.Prefix
	sports, dports   model.PortRange
	iif, oif         string
	action           model.RuleAction
	enabled, foreign bool
}

func keyOf(n model.Rule) ruleKey {
	return ruleKey{n.ID, n.Priority, strings.Join(n.Hooks, ","), n.Family, n.Proto, n.Src, n.Dst, n.SrcPorts, n.DstPorts,
		n.InIface, n.OutIface, n.Action, n.Enabled, n.Foreign}
}

func prepare(rs []model.Rule) ruleSet {
	rs = slices.Clone(rs)
	rules.SortRules(rs)
	set := ruleSet{byPort: map[portKey][]int{}, general: map[string][]int{}}
	for _, r := range rs {
		if !r.Enabled || r.Action == model.ActionCount || r.Foreign {
			continue
		}
		n := rules.Normalize(r)
		proto, err := rules.ProtoNum(n.Proto)
		if err != nil {
			continue
		}
		i := len(set.rules)
		set.rules = append(set.rules, prepared{r: r, key: keyOf(n), proto: proto, hooks: n.Hooks})
		for _, h := range n.Hooks {
			if !n.DstPorts.Any() && n.DstPorts.Min == n.DstPorts.Max && proto != 0 {
				k := portKey{h, proto, n.DstPorts.Min}
				set.byPort[k] = append(set.byPort[k], i)
			} else {
				set.general[h] = append(set.general[h], i)
			}
		}
	}
	return set
}

// difference returns the rules of a not in b and of b not in a.
func difference(a, b ruleSet) ruleSet {
	in := func(s ruleSet) map[ruleKey]bool {
		m := make(map[ruleKey]bool, len(s.rules))
		for _, p := range s.rules {
			m[p.key] = true
		}
		return m
	}
	ka, kb := in(a), in(b)
	d := ruleSet{general: map[string][]int{}}
	for _, x := range []struct {
		s     ruleSet
		other map[ruleKey]bool
	}{{a, kb}, {b, ka}} {
		for _, p := range x.s.rules {
			if !x.other[p.key] {
				i := len(d.rules)
				d.rules = append(d.rules, p)
				for _, h := range p.hooks {
					d.general[h] = append(d.general[h], i)
				}
			}
		}
	}
	return d
}

// any reports whether some rule of s matches p at hook.
func (s ruleSet) any(hook string, p packet) bool {
	for _, i := range s.general[hook] {
		if matches(s.rules[i], hook, p) {
			return true
		}
	}
	return false
}

// verdict returns the first rule matching p at hook, and whether it
// drops. It walks the port bucket of p and the general rules of the hook
// together, in evaluation order.
func (s ruleSet) verdict(hook string, p packet) (model.Rule, bool) {
	port := s.byPort[portKey{hook, p.proto, p.dst.Port()}]
	gen := s.general[hook]
	for len(port) > 0 || len(gen) > 0 {
		var i int
		if len(gen) == 0 || (len(port) > 0 && port[0] < gen[0]) {
			i, port = port[0], port[1:]
		} else {
			i, gen = gen[0], gen[1:]
		}
		if matches(s.rules[i], hook, p) {
			return s.rules[i].r, s.rules[i].r.Action.Drops()
		}
	}
	return model.Rule{}, false
}

// matches applies the module's match semantics. An interface match is
// decided only for loopback traffic (lo); for any other traffic the
// interface is unknown and the guard assumes the rule matches, erring on
// the side of warning.
func matches(pr prepared, hook string, p packet) bool {
	r := pr.r
	if !slices.Contains(pr.hooks, hook) {
		return false
	}
	src, dst := p.src.Addr().Unmap().WithZone(""), p.dst.Addr().Unmap().WithZone("")
	switch r.Family {
	case model.FamilyIPv4:
		if !src.Is4() {
			return false
		}
	case model.FamilyIPv6:
		if !src.Is6() {
			return false
		}
	}
	if pr.proto != 0 && pr.proto != p.proto {
		return false
	}
	if r.Src.IsValid() && !r.Src.Contains(src) {
		return false
	}
	if r.Dst.IsValid() && !r.Dst.Contains(dst) {
		return false
	}
	if !inRange(r.SrcPorts, p.src.Port()) || !inRange(r.DstPorts, p.dst.Port()) {
		return false
	}
	for _, ifn := range []string{r.InIface, r.OutIface} {
		if ifn != "" && p.loopback != (ifn == "lo") {
			return false
		}
	}
	return true
}

func inRange(r model.PortRange, port uint16) bool {
	return r.Any() || (port >= r.Min && port <= r.Max)
}

// DropCapable reports whether going from rule set before to after can
// drop traffic that before let through: an enabled DROP rule that was not
// there (or not enabled) before, or an enabled ACCEPT rule that is gone
// or disabled while a DROP rule remains. Such a change gets a revert
// deadline.
func DropCapable(before, after []model.Rule) bool {
	keys := func(set []model.Rule) map[ruleKey]bool {
		m := make(map[ruleKey]bool, len(set))
		for _, r := range set {
			if r.Enabled {
				k := keyOf(rules.Normalize(r))
				k.id = 0 // the same rule under another id is the same
				m[k] = true
			}
		}
		return m
	}
	kb, ka := keys(before), keys(after)
	has := func(m map[ruleKey]bool, r model.Rule) bool {
		k := keyOf(rules.Normalize(r))
		k.id = 0
		return m[k]
	}
	for _, r := range after {
		if r.Enabled && r.Action.Drops() && !has(kb, r) {
			return true
		}
	}
	// An ACCEPT only stops the rules after it in the same table (other
	// tables and hooks still run), so losing one can drop traffic only
	// when an enabled DROP rule remains.
	anyDrop := slices.ContainsFunc(after, func(r model.Rule) bool { return r.Enabled && r.Action.Drops() })
	for _, r := range before {
		if anyDrop && r.Enabled && r.Action == model.ActionAccept && !has(ka, r) {
			return true
		}
	}
	return false
}
