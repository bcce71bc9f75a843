package rules

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"netlens/internal/proto"
	"netlens/model"
)

// Hooks lists the netfilter hooks in kernel order (NF_INET_PRE_ROUTING ..
// NF_INET_POST_ROUTING); a hook's index is its NF_INET_* number.
var Hooks = []string{model.HookPreRouting, model.HookInput, model.HookForward, model.HookOutput, model.HookPostRouting}

// HookNum returns the NF_INET_* number of a hook name.
func HookNum(name string) (int, bool) {
	i := slices.Index(Hooks, name)
	return i, i >= 0
}

// ProtoNum returns the IP protocol number of a rule's Proto ("" is 0, any).
func ProtoNum(p string) (uint8, error) { return proto.Num(p) }

// ProtoName returns the Proto of a rule for IP protocol number n.
func ProtoName(n uint8) string { return proto.Name(n) }

func hasPorts(n uint8) bool { return proto.HasPorts(n) }

// Normalize returns r with defaults filled in and fields in canonical
// form: no hooks means input; hooks in kernel order without duplicates;
// no family means that of the addresses, else both; protocol names in
// lower case; a port range 0-65535 is any.
func Normalize(r model.Rule) model.Rule {
	if len(r.Hooks) == 0 {
		r.Hooks = []string{model.HookInput}
	}
	hs := slices.Clone(r.Hooks)
	slices.SortFunc(hs, func(a, b string) int {
		ia, _ := HookNum(a)
		ib, _ := HookNum(b)
		return cmp.Or(cmp.Compare(ia, ib), cmp.Compare(a, b))
	})
	r.Hooks = slices.Compact(hs)
	if r.Family == "" && len(r.SrcSet) == 0 && len(r.DstSet) == 0 {
		r.Family = model.RuleFamilyBoth
		for _, p := range []netip.Prefix{r.Src, r.Dst} {
			if p.IsValid() {
				r.Family = familyOf(p.Addr())
			}
		}
	}
	if n, err := ProtoNum(r.Proto); err == nil {
		r.Proto = ProtoName(n)
	}
	if r.Family == "" {
		for _, set := range [][]netip.Prefix{r.SrcSet, r.DstSet} {
			if len(set) > 0 {
				r.Family = familyOf(set[0].Addr())
			}
		}
	}
	r.SrcSet, r.DstSet = NormalizePrefixSet(r.SrcSet), NormalizePrefixSet(r.DstSet)
	r.SrcPortSet, r.DstPortSet = NormalizePortSet(r.SrcPortSet), NormalizePortSet(r.DstPortSet)
	if r.SrcPorts.Any() {
		r.SrcPorts = model.PortRange{}
	}
	if r.DstPorts.Any() {
		r.DstPorts = model.PortRange{}
	}
	r.Action = model.RuleAction(strings.ToLower(string(r.Action)))
	if len(r.CTState) > 0 {
		r.CTState = normalizeNames(lower(r.CTState), CTStates)
	}
	if len(r.Negate) > 0 {
		r.Negate = normalizeNames(lower(r.Negate), Negatable)
	}
	if pn, err := ProtoNum(r.Proto); err == nil && r.ICMP != "" {
		if m, err := ParseICMP(r.ICMP, pn); err == nil {
			r.ICMP = FormatICMP(m, pn)
		}
	}
	if r.TCPFlags != "" {
		if v, m, err := ParseTCPFlags(r.TCPFlags); err == nil {
			r.TCPFlags = FormatTCPFlags(v, m)
		}
	}
	return r
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(strings.TrimSpace(s))
	}
	return out
}

func familyOf(a netip.Addr) model.Family {
	if a.Is4() {
		return model.FamilyIPv4
	}
	return model.FamilyIPv6
}

// SameMatch reports whether a and b are the same rule apart from their
// counters and state: same hooks, matches, action, priority and label.
func SameMatch(a, b model.Rule) bool {
	a, b = Normalize(a), Normalize(b)
	return slices.Equal(a.Hooks, b.Hooks) && a.Family == b.Family && a.Proto == b.Proto &&
		a.Src == b.Src && a.Dst == b.Dst && a.SrcPorts == b.SrcPorts && a.DstPorts == b.DstPorts &&
		slices.Equal(a.SrcSet, b.SrcSet) && slices.Equal(a.DstSet, b.DstSet) &&
		slices.Equal(a.SrcPortSet, b.SrcPortSet) && slices.Equal(a.DstPortSet, b.DstPortSet) &&
		a.InIface == b.InIface && a.OutIface == b.OutIface && a.Action == b.Action &&
		a.Priority == b.Priority && a.Label == b.Label && a.Log == b.Log && a.LogRate == b.LogRate &&
		slices.Equal(a.CTState, b.CTState) && a.ICMP == b.ICMP && a.TCPFlags == b.TCPFlags &&
		slices.Equal(a.Negate, b.Negate)
}

// Summary is a one-line, readable account of what a rule matches:
// "tcp 10.0.0.0/8 -> *:22 iif eth0".
func Summary(r model.Rule) string {
	var b strings.Builder
	if r.Family != "" && r.Family != model.RuleFamilyBoth {
		b.WriteString(string(r.Family) + " ")
	}
	if r.Proto != "" {
		b.WriteString(r.Proto + " ")
	}
	neg := func(field string) string {
		if Negated(r.Negate, field) {
			return "!"
		}
		return ""
	}
	b.WriteString(setEndpoint(r.Src, r.SrcPorts, r.SrcSet, r.SrcPortSet, neg("src"), neg("sport")) + " -> " +
		setEndpoint(r.Dst, r.DstPorts, r.DstSet, r.DstPortSet, neg("dst"), neg("dport")))
	if r.ICMP != "" {
		icmp := r.ICMP
		if pn, err := ProtoNum(r.Proto); err == nil {
			icmp = DisplayICMP(icmp, pn)
		}
		b.WriteString(" type " + neg("icmp") + icmp)
	}
	if r.TCPFlags != "" {
		b.WriteString(" flags " + neg("tcp_flags") + r.TCPFlags)
	}
	if r.InIface != "" {
		b.WriteString(" iif " + neg("iif") + r.InIface)
	}
	if r.OutIface != "" {
		b.WriteString(" oif " + neg("oif") + r.OutIface)
	}
	if len(r.CTState) > 0 {
		b.WriteString(" ct " + neg("ct_state") + strings.Join(r.CTState, ","))
	}
	return b.String()
}

// setEndpoint is endpoint with sets: "{3 prefixes}" or "*:{2 ports}";
// negAddr and negPort ("!" or "") mark negated matches: "!10.0.0.0/8:!22".
func setEndpoint(p netip.Prefix, ports model.PortRange, pset []netip.Prefix, portset []uint16, negAddr, negPort string) string {
	host := "*"
	if p.IsValid() {
		host = p.String()
	}
	if len(pset) > 0 {
		host = setText(len(pset), "prefix", "prefixes")
	}
	if host != "*" {
		host = negAddr + host
	}
	port := ""
	switch {
	case len(portset) > 0:
		port = setText(len(portset), "port", "ports")
	case !ports.Any():
		port = FormatPorts(ports)
	}
	if port == "" {
		return host
	}
	if p.IsValid() && p.Addr().Is6() && len(pset) == 0 {
		host = "[" + host + "]"
	}
	return host + ":" + negPort + port
}

func setText(n int, one, many string) string {
	if n == 1 {
		return "{1 " + one + "}"
	}
	return fmt.Sprintf("{%d %s}", n, many)
}

// NormalizePrefixSet returns a set's prefixes masked, sorted and without
// duplicates (nil for none), as the backends keep them.
func NormalizePrefixSet(set []netip.Prefix) []netip.Prefix {
	if len(set) == 0 {
		return nil
	}
	out := make([]netip.Prefix, len(set))
	for i, p := range set {
		out[i] = p.Masked()
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	return slices.Compact(out)
}

// NormalizePortSet returns a port set sorted and without duplicates.
func NormalizePortSet(set []uint16) []uint16 {
	if len(set) == 0 {
		return nil
	}
	out := slices.Clone(set)
	slices.Sort(out)
	return slices.Compact(out)
}

// FormatPorts returns "*", "80" or "1000-2000".
func FormatPorts(p model.PortRange) string {
	switch {
	case p.Any():
		return "*"
	case p.Min == p.Max:
		return strconv.Itoa(int(p.Min))
	}
	return fmt.Sprintf("%d-%d", p.Min, p.Max)
}

// SortRules orders rules as they are evaluated: by priority, then ID.
func SortRules(rs []model.Rule) {
	slices.SortStableFunc(rs, func(a, b model.Rule) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
}

// PacketLine renders one packet log entry on one line, as `netlens rules
// log` and the Filters tab's packet log show it:
// "12:00:01.250 #7 input drop udp 10.0.0.1:5353 -> 10.0.0.2:53 len 60 iif eth0 ct new".
func PacketLine(p model.LoggedPacket) string {
	ep := func(a netip.Addr, port uint16) string {
		if port == 0 && p.SrcPort == 0 && p.DstPort == 0 {
			return a.String()
		}
		return netip.AddrPortFrom(a, port).String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s #%d %s %s %s %s -> %s len %d", p.At.Format("15:04:05.000"), p.RuleID, p.Hook, p.Verdict,
		p.Proto, ep(p.Src, p.SrcPort), ep(p.Dst, p.DstPort), p.Len)
	if p.TCPFlags != "" {
		b.WriteString(" [" + p.TCPFlags + "]")
	}
	if p.ICMP != "" {
		icmp := p.ICMP
		if pn, err := ProtoNum(p.Proto); err == nil {
			icmp = DisplayICMP(icmp, pn)
		}
		b.WriteString(" icmp " + icmp)
	}
	if p.InIface != "" {
		b.WriteString(" iif " + p.InIface)
	}
	if p.OutIface != "" {
		b.WriteString(" oif " + p.OutIface)
	}
	if p.CTState != "" {
		b.WriteString(" ct " + p.CTState)
	}
	return b.String()
}
