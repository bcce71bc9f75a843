package filter

import (
	"fmt"
	"hash/fnv"
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
	// tracked: conntrack tracks the connection, so the packet's state is
	// established; else it is unknown (once a rule turns conntrack on,
	// the connection is picked up mid-stream and its first packet is new)
	tracked bool
	// icmp is the ICMP type and code of an ICMP flow's packets, when known.
	icmpKnown bool
	icmp      [2]uint8
}

// tcpKnownMask and tcpKnownFlags are the TCP flags every packet of an
// established connection has: ACK set, SYN clear. The others (FIN, RST,
// PSH, URG, ECE, CWR) vary from packet to packet.
const (
	tcpKnownMask  = rules.TCPSyn | rules.TCPAck
	tcpKnownFlags = rules.TCPAck
)

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
		{packet{proto: proto, src: remote, dst: local, loopback: lo}, inHooks, "in"},
		{packet{proto: proto, src: local, dst: remote, loopback: lo}, outHooks, "out"},
	}}
}

// State is what decides a packet's verdict: the rules, and the default
// policies for the packets no rule decides.
type State struct {
	Rules    []model.Rule
	Policies Policies
}

// Policies are the hooks whose default policy drops, by family and hook:
// a packet no rule decides there is dropped. Every other policy accepts;
// nil is all ACCEPT.
type Policies map[PolicyKey]bool

// PolicyKey is one hook of one family (model.FamilyIPv4 or FamilyIPv6).
type PolicyKey struct {
	Family model.Family
	Hook   string
}

// PoliciesOf returns the dropping policies among a backend's hook
// verdicts (model.HookVerdicts.Policy).
func PoliciesOf(vs []model.HookVerdicts) Policies {
	var ps Policies
	for _, v := range vs {
		if v.Policy == model.ActionDrop {
			if ps == nil {
				ps = Policies{}
			}
			ps[PolicyKey{v.Family, v.Hook}] = true
		}
	}
	return ps
}

// With returns a copy of ps with p set (for each of its families).
func (ps Policies) With(p rules.Policy) Policies {
	out := make(Policies, len(ps)+2)
	for k, v := range ps {
		out[k] = v
	}
	for _, f := range p.Families() {
		k := PolicyKey{f, p.Hook}
		if p.Verdict == model.ActionDrop {
			out[k] = true
		} else {
			delete(out, k)
		}
	}
	return out
}

// Dropping returns the dropping policies in hook order, IPv4 first.
func (ps Policies) Dropping() []rules.Policy {
	var out []rules.Policy
	for _, f := range []model.Family{model.FamilyIPv4, model.FamilyIPv6} {
		for _, h := range rules.Hooks {
			if ps[PolicyKey{f, h}] {
				out = append(out, rules.Policy{Family: f, Hook: h, Verdict: model.ActionDrop})
			}
		}
	}
	return out
}

func (ps Policies) anyDrop() bool { return len(ps) > 0 }

func packetFamily(p packet) model.Family {
	if p.src.Addr().Unmap().Is4() {
		return model.FamilyIPv4
	}
	return model.FamilyIPv6
}

// Assess returns what applying a change from rule set before to rule set
// after would cut (every default policy ACCEPT): see AssessState.
func Assess(before, after []model.Rule, in GuardInput) rules.Impact {
	return AssessState(State{Rules: before}, State{Rules: after}, in)
}

// AssessState returns what going from state before to state after would
// cut: the connections in (and the operator's session) whose packets the
// after state drops — by a rule, or by the default policy of a hook where
// no rule decides them — and the before state does not. It is pure and
// safe for concurrent use.
func AssessState(before, after State, in GuardInput) rules.Impact {
	b, a := prepare(before.Rules), prepare(after.Rules)
	pb, pa := before.Policies, after.Policies
	// Only a packet that some rule of the difference between the two sets
	// matches, or that meets a policy that changed, can get another
	// verdict: the others are skipped at the cost of matching the few
	// changed rules.
	delta := difference(a, b)
	var im rules.Impact
	// check returns the first leg of c the after state drops and the
	// before state did not (a value: most hits are only counted)
	check := func(c conn) (rules.Hit, bool) {
		for _, l := range c.legs {
			fam := packetFamily(l.p)
			for _, h := range l.hooks {
				k := PolicyKey{fam, h}
				if pb[k] == pa[k] && !delta.any(h, l.p) {
					continue
				}
				r, decided := a.verdict(h, l.p)
				if drop := r.Action.Drops(); (decided && drop) || (!decided && pa[k]) {
					rb, decidedBefore := b.verdict(h, l.p)
					if (decidedBefore && rb.Action.Drops()) || (!decidedBefore && pb[k]) {
						continue
					}
					hit := rules.Hit{Kind: c.kind, What: c.what, Hook: h, Dir: l.dir, Rule: r}
					if !decided {
						hit.Policy = &rules.Policy{Family: fam, Hook: h, Verdict: model.ActionDrop}
					}
					return hit, true
				}
			}
		}
		return rules.Hit{}, false
	}
	tracked := trackedTuples(in.Flows)
	if in.SSH != nil {
		s := in.SSH
		c := localConn(rules.HitSession, fmt.Sprintf("tcp %s -> %s", s.Client, s.Server), 6, s.Server, s.Client)
		if h, ok := check(tracked.mark(c)); ok {
			im.Session = &h
		}
	}
	for _, s := range in.Sockets {
		if s.State != model.StateEstablished || !s.Remote.IsValid() {
			continue
		}
		if in.SSH != nil && s.Proto == model.ProtoTCP && sameEP(s.Local, in.SSH.Server) && sameEP(s.Remote, in.SSH.Client) {
			continue // the session itself
		}
		proto, _ := rules.ProtoNum(s.Proto.String())
		what := fmt.Sprintf("%s %s <-> %s", s.Proto, s.Local, s.Remote)
		if len(s.Procs) > 0 {
			what += " (" + s.Procs[0].Comm + ")"
		}
		if h, ok := check(tracked.mark(localConn(rules.HitSocket, what, proto, s.Local, s.Remote))); ok {
			im.Sockets++
			if len(im.Hits) < rules.MaxHits {
				im.Hits = append(im.Hits, h)
			}
		}
	}
	for _, f := range in.Flows {
		if !liveFlow(f) {
			continue
		}
		if h, ok := check(flowConn(f, in.LocalAddrs)); ok {
			im.Flows++
			if len(im.Hits) < rules.MaxHits {
				im.Hits = append(im.Hits, h)
			}
		}
	}
	return im
}

// tupleKey is one direction of a conntrack flow.
type tupleKey struct {
	proto    uint8
	src, dst netip.AddrPort
}

// tuples are the directions of the flows conntrack tracks.
type tuples map[tupleKey]bool

func unmapEP(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap().WithZone(""), a.Port())
}

func trackedTuples(flows []model.Flow) tuples {
	t := make(tuples, 2*len(flows))
	for _, f := range flows {
		if liveFlow(f) {
			t[tupleKey{f.ProtoNum, unmapEP(f.Orig.Src), unmapEP(f.Orig.Dst)}] = true
			t[tupleKey{f.ProtoNum, unmapEP(f.Reply.Src), unmapEP(f.Reply.Dst)}] = true
		}
	}
	return t
}

// mark gives the packets of c that conntrack tracks the state
// established.
func (t tuples) mark(c conn) conn {
	for i, l := range c.legs {
		if t[tupleKey{l.p.proto, unmapEP(l.p.src), unmapEP(l.p.dst)}] {
			c.legs[i].p.tracked = true
		}
	}
	return c
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
	orig := packet{proto: f.ProtoNum, src: f.Orig.Src, dst: f.Orig.Dst, loopback: lo, tracked: true}
	reply := packet{proto: f.ProtoNum, src: f.Reply.Src, dst: f.Reply.Dst, loopback: lo, tracked: true}
	if k := f.Orig.ICMP; k != nil {
		orig.icmp, orig.icmpKnown = [2]uint8{k.Type, k.Code}, true
	}
	if k := f.Reply.ICMP; k != nil {
		reply.icmp, reply.icmpKnown = [2]uint8{k.Type, k.Code}, true
	}
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
	// the rule's sets: nil for none
	src, dst       *prefixSet
	sports, dports []uint16 // sorted
	// neg has bit i set when the match rules.Negatable[i] is negated
	neg uint16
	// the conntrack states (nil: any), ICMP match and TCP flags
	ct                []string
	icmp              *rules.ICMPMatch
	tcpValue, tcpMask uint8
}

// Bits of prepared.neg, in the order of rules.Negatable.
const (
	negSrc uint16 = 1 << iota
	negDst
	negSport
	negDport
	negIif
	negOif
	negICMP
	negTCPFlags
	negCT
)

func negBits(negate []string) uint16 {
	var b uint16
	for _, n := range negate {
		if i := slices.Index(rules.Negatable, n); i >= 0 {
			b |= 1 << i
		}
	}
	return b
}

// hit applies a negation to whether a match matched.
func (pr *prepared) hit(bit uint16, matched bool) bool { return matched != (pr.neg&bit != 0) }

// prefixSet is a rule's address set for matching: hosts in a map, the
// shorter prefixes in a list.
type prefixSet struct {
	hosts map[netip.Addr]bool
	nets  []netip.Prefix
}

func newPrefixSet(ps []netip.Prefix) *prefixSet {
	if len(ps) == 0 {
		return nil
	}
	s := &prefixSet{hosts: map[netip.Addr]bool{}}
	for _, p := range ps {
		if p.IsSingleIP() {
			s.hosts[p.Addr().Unmap()] = true
		} else {
			s.nets = append(s.nets, p)
		}
	}
	return s
}

func (s *prefixSet) contains(a netip.Addr) bool {
	if s.hosts[a] {
		return true
	}
	return slices.ContainsFunc(s.nets, func(p netip.Prefix) bool { return p.Contains(a) })
}

func inPortSet(set []uint16, port uint16) bool {
	_, ok := slices.BinarySearch(set, port)
	return ok
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
	l4               string // conntrack state, ICMP, TCP flags and negation
	family           model.Family
	proto            string
	src, dst         netip.Prefix
	sports, dports   model.PortRange
	iif, oif         string
	action           model.RuleAction
	enabled, foreign bool
	sets             uint64 // a hash of the sets' elements
}

// keyOf returns the key of a normalized rule.
func keyOf(n model.Rule) ruleKey {
	return ruleKey{n.ID, n.Priority, strings.Join(n.Hooks, ","), l4Key(n), n.Family, n.Proto, n.Src, n.Dst, n.SrcPorts, n.DstPorts,
		n.InIface, n.OutIface, n.Action, n.Enabled, n.Foreign, setsHash(n)}
}

// l4Key is a normalized rule's conntrack state, ICMP, TCP flags and
// negation in one string ("" for none, the common case).
func l4Key(n model.Rule) string {
	if len(n.CTState) == 0 && n.ICMP == "" && n.TCPFlags == "" && len(n.Negate) == 0 {
		return ""
	}
	return strings.Join(n.CTState, ",") + "|" + n.ICMP + "|" + n.TCPFlags + "|" + strings.Join(n.Negate, ",")
}

// setsHash hashes the (normalized, so sorted) sets of a rule: 0 for none.
func setsHash(n model.Rule) uint64 {
	if len(n.SrcSet)+len(n.DstSet)+len(n.SrcPortSet)+len(n.DstPortSet) == 0 {
		return 0
	}
	h := fnv.New64a()
	var buf []byte
	for i, set := range [][]netip.Prefix{n.SrcSet, n.DstSet} {
		buf = append(buf[:0], byte(i), 0xff)
		for _, p := range set {
			buf, _ = p.AppendBinary(buf)
		}
		h.Write(buf)
	}
	for i, set := range [][]uint16{n.SrcPortSet, n.DstPortSet} {
		buf = append(buf[:0], byte(2+i), 0xff)
		for _, p := range set {
			buf = append(buf, byte(p>>8), byte(p))
		}
		h.Write(buf)
	}
	return h.Sum64()
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
		p := prepared{r: r, key: keyOf(n), proto: proto, hooks: n.Hooks,
			src: newPrefixSet(n.SrcSet), dst: newPrefixSet(n.DstSet), sports: n.SrcPortSet, dports: n.DstPortSet,
			neg: negBits(n.Negate), ct: n.CTState}
		if n.ICMP != "" {
			m, err := rules.ParseICMP(n.ICMP, proto)
			if err != nil {
				continue
			}
			p.icmp = &m
		}
		if n.TCPFlags != "" {
			if p.tcpValue, p.tcpMask, err = rules.ParseTCPFlags(n.TCPFlags); err != nil {
				continue
			}
		}
		set.rules = append(set.rules, p)
		for _, h := range n.Hooks {
			if !n.DstPorts.Any() && n.DstPorts.Min == n.DstPorts.Max && proto != 0 && p.neg&negDport == 0 {
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

// verdict returns the first rule matching p at hook, and whether there is
// one (else the hook's policy decides). It walks the port bucket of p and
// the general rules of the hook together, in evaluation order.
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
			return s.rules[i].r, true
		}
	}
	return model.Rule{}, false
}

// matches applies the module's match semantics. An interface match is
// decided only for loopback traffic (lo); for any other traffic the
// interface is unknown and the guard assumes the rule matches, erring on
// the side of warning. A conntrack state or ICMP type the guard does not
// know, or TCP flags that vary between the packets of an established
// connection, match a dropping rule and not an accepting one (again
// erring on the side of warning: such a rule may drop, or fail to
// shield, some packets of the connection).
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
	if r.Src.IsValid() && !pr.hit(negSrc, r.Src.Contains(src)) {
		return false
	}
	if r.Dst.IsValid() && !pr.hit(negDst, r.Dst.Contains(dst)) {
		return false
	}
	if (!r.SrcPorts.Any() && !pr.hit(negSport, inRange(r.SrcPorts, p.src.Port()))) ||
		(!r.DstPorts.Any() && !pr.hit(negDport, inRange(r.DstPorts, p.dst.Port()))) {
		return false
	}
	if (pr.src != nil && !pr.hit(negSrc, pr.src.contains(src))) || (pr.dst != nil && !pr.hit(negDst, pr.dst.contains(dst))) {
		return false
	}
	if (pr.sports != nil && !pr.hit(negSport, inPortSet(pr.sports, p.src.Port()))) ||
		(pr.dports != nil && !pr.hit(negDport, inPortSet(pr.dports, p.dst.Port()))) {
		return false
	}
	for i, ifn := range []string{r.InIface, r.OutIface} {
		if ifn == "" {
			continue
		}
		// known only for loopback traffic, or a rule on lo
		if known := p.loopback || ifn == "lo"; known && !pr.hit(negIif<<i, p.loopback == (ifn == "lo")) {
			return false
		}
	}
	unknown := r.Action.Drops()
	if pr.icmp != nil {
		m := pr.icmp
		if !p.icmpKnown {
			if !unknown {
				return false
			}
		} else if !pr.hit(negICMP, p.icmp[0] == m.Type && (!m.HasCode || p.icmp[1] == m.Code)) {
			return false
		}
	}
	if pr.tcpMask != 0 && !tcpFlagsMay(pr, unknown) {
		return false
	}
	if len(pr.ct) > 0 {
		if !p.tracked {
			if !unknown {
				return false
			}
		} else if !pr.hit(negCT, slices.Contains(pr.ct, "established")) {
			return false
		}
	}
	return true
}

// tcpFlagsMay reports whether a rule's TCP flags match the packets of an
// established connection (ACK set, SYN clear, the others varying): when
// they match all of them, or, for a dropping rule (may), some.
func tcpFlagsMay(pr prepared, may bool) bool {
	v, m := pr.tcpValue, pr.tcpMask
	fixed := m&tcpKnownMask == m // the flags looked at are all known
	eq := (tcpKnownFlags^v)&m&tcpKnownMask == 0
	neg := pr.neg&negTCPFlags != 0
	switch {
	case fixed:
		return eq != neg
	case !neg:
		// the varying flags can equal v (some packets), never all
		return may && eq
	default:
		// some packets differ from v; all do when the known flags do
		return !eq || may
	}
}

func inRange(r model.PortRange, port uint16) bool {
	return r.Any() || (port >= r.Min && port <= r.Max)
}

// DropCapable reports whether going from rule set before to after (every
// default policy ACCEPT) can drop traffic that before let through: see
// DropCapableState.
func DropCapable(before, after []model.Rule) bool {
	return DropCapableState(State{Rules: before}, State{Rules: after})
}

// DropCapableState reports whether going from state before to after can
// drop traffic that before let through: a default policy that becomes
// DROP, an enabled DROP (or REJECT) rule that was not there (or not
// enabled) before, or an enabled ACCEPT rule that is gone or disabled
// while a DROP rule or a DROP policy remains. Such a change gets a revert
// deadline.
func DropCapableState(bs, as State) bool {
	for k := range as.Policies {
		if as.Policies[k] && !bs.Policies[k] {
			return true
		}
	}
	before, after := bs.Rules, as.Rules
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
	// when an enabled DROP rule or a DROP policy remains.
	anyDrop := as.Policies.anyDrop() || slices.ContainsFunc(after, func(r model.Rule) bool { return r.Enabled && r.Action.Drops() })
	for _, r := range before {
		if anyDrop && r.Enabled && r.Action == model.ActionAccept && !has(ka, r) {
			return true
		}
	}
	return false
}
