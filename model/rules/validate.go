package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"netlens/model"
)

// Limits of a rule's fields.
const (
	// LabelMax is the longest label, in bytes (NETLENS_LABEL_MAX).
	LabelMax = 64
	// SetMax is the most elements a set of a rule holds (NETLENS_SET_MAX).
	SetMax = 65536
	// LogRateMax is the highest packet log rate of a rule (NETLENS_LOG_RATE_MAX).
	LogRateMax = 100000
	// IfNameMax is the longest interface name, in bytes (IFNAMSIZ - 1).
	IfNameMax = 15
)

// FieldError is one invalid field of a rule. Field is the field's JSON
// name ("dport", "src", ...) so a form can show the reason next to it.
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// ValidationError lists every invalid field of a rule. It is what
// Validate returns; errors.As finds it in wrapped errors.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return strings.Join(msgs, "; ")
}

// For returns the message for field, or "".
func (e *ValidationError) For(field string) string {
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Msg
		}
	}
	return ""
}

// Validate checks a rule as a user gave it (before Normalize) and returns
// a *ValidationError naming every bad field, or nil. It is the one
// validator of the TUI form, the CLI and rules files. It is pure and safe
// for concurrent use.
func Validate(r model.Rule) error {
	var errs []FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{field, fmt.Sprintf(format, args...)})
	}
	hooks := map[string]bool{}
	for _, h := range r.Hooks {
		if _, ok := HookNum(h); !ok {
			bad("hooks", "unknown hook %q (%s)", h, strings.Join(Hooks, ", "))
		}
		hooks[h] = true
	}
	if len(r.Hooks) == 0 {
		hooks[model.HookInput] = true
	}
	switch r.Family {
	case "", model.FamilyIPv4, model.FamilyIPv6, model.RuleFamilyBoth:
	default:
		bad("family", "unknown family %q (ipv4, ipv6 or both)", r.Family)
	}
	proto, err := ProtoNum(r.Proto)
	if err != nil {
		bad("proto", "%s", err.Error())
	}
	var fams []model.Family
	for _, p := range []struct {
		field string
		p     netip.Prefix
	}{{"src", r.Src}, {"dst", r.Dst}} {
		if p.p == (netip.Prefix{}) {
			continue
		}
		if msg := prefixProblem(p.p); msg != "" {
			bad(p.field, "%s", msg)
			continue
		}
		fams = append(fams, familyOf(p.p.Addr()))
	}
	for _, p := range []struct {
		field, single string
		set           []netip.Prefix
		prefix        netip.Prefix
	}{{"src_set", "src", r.SrcSet, r.Src}, {"dst_set", "dst", r.DstSet, r.Dst}} {
		if len(p.set) == 0 {
			continue
		}
		if p.prefix != (netip.Prefix{}) {
			bad(p.field, "a rule has a %s prefix or a %s set, not both", p.single, p.single)
		}
		if len(p.set) > SetMax {
			bad(p.field, "a set holds at most %d elements (%d)", SetMax, len(p.set))
		}
		var fam model.Family
		for _, e := range p.set {
			if msg := prefixProblem(e); msg != "" {
				bad(p.field, "%s: %s", e, msg)
				break
			}
			if f := familyOf(e.Addr()); fam == "" {
				fam = f
			} else if f != fam {
				bad(p.field, "a set holds IPv4 or IPv6 prefixes, not both")
				break
			}
		}
		if fam != "" {
			fams = append(fams, fam)
		}
	}
	if len(fams) >= 2 && slices.ContainsFunc(fams, func(f model.Family) bool { return f != fams[0] }) {
		if len(r.SrcSet)+len(r.DstSet) == 0 {
			bad("dst", "source is %s but destination is %s", fams[0], fams[1])
		} else {
			bad("family", "the rule's addresses and sets mix IPv4 and IPv6")
		}
	}
	if len(fams) > 0 && (r.Family == model.FamilyIPv4 || r.Family == model.FamilyIPv6) && fams[0] != r.Family {
		bad("family", "family %s does not match the %s address", r.Family, fams[0])
	}
	if len(fams) > 0 && r.Family == model.RuleFamilyBoth {
		bad("family", "an address makes the rule %s only, not both", fams[0])
	}
	if (proto == 1 && r.Family == model.FamilyIPv6) || (proto == 58 && r.Family == model.FamilyIPv4) {
		bad("proto", "%s does not exist in %s", r.Proto, r.Family)
	}
	for _, p := range []struct {
		field string
		r     model.PortRange
	}{{"sport", r.SrcPorts}, {"dport", r.DstPorts}} {
		if p.r.Any() {
			continue
		}
		if p.r.Min == 0 {
			bad(p.field, "%s", PortZeroMsg(p.r))
		} else if p.r.Min > p.r.Max {
			bad(p.field, "port range reversed (%d > %d)", p.r.Min, p.r.Max)
		}
		if err == nil && !hasPorts(proto) {
			bad(p.field, "ports need protocol tcp, udp, udplite or sctp")
		}
	}
	for _, p := range []struct {
		field, single string
		set           []uint16
		r             model.PortRange
	}{{"sport_set", "sport", r.SrcPortSet, r.SrcPorts}, {"dport_set", "dport", r.DstPortSet, r.DstPorts}} {
		if len(p.set) == 0 {
			continue
		}
		if !p.r.Any() {
			bad(p.field, "a rule has a %s range or a %s set, not both", p.single, p.single)
		}
		if len(p.set) > SetMax {
			bad(p.field, "a set holds at most %d elements (%d)", SetMax, len(p.set))
		}
		if err == nil && !hasPorts(proto) {
			bad(p.field, "ports need protocol tcp, udp, udplite or sctp")
		}
	}
	if msg := ifNameProblem(r.InIface); msg != "" {
		bad("iif", "%s", msg)
	} else if r.InIface != "" && (hooks[model.HookOutput] || hooks[model.HookPostRouting]) {
		bad("iif", "an input interface never matches at output or postrouting (packets there have none)")
	}
	if msg := ifNameProblem(r.OutIface); msg != "" {
		bad("oif", "%s", msg)
	} else if r.OutIface != "" && (hooks[model.HookPreRouting] || hooks[model.HookInput]) {
		bad("oif", "an output interface never matches at prerouting or input (not routed yet)")
	}
	switch r.Action {
	case model.ActionAccept, model.ActionDrop, model.ActionCount:
	case model.ActionReject:
		if hooks[model.HookPostRouting] {
			bad("action", "reject works at prerouting, input, forward and output only")
		}
	case "":
		bad("action", "an action is required (accept, drop, reject or count)")
	default:
		bad("action", "unknown action %q (accept, drop, reject or count)", r.Action)
	}
	matchProblems(r, proto, err == nil, bad)
	if r.LogRate > LogRateMax {
		bad("log_rate", "at most %d packets a second (%d)", LogRateMax, r.LogRate)
	}
	if len(r.Label) > LabelMax {
		bad("label", "longer than %d bytes (%d)", LabelMax, len(r.Label))
	} else if !utf8.ValidString(r.Label) || strings.IndexFunc(r.Label, unicode.IsControl) >= 0 {
		bad("label", "must be printable UTF-8 text")
	}
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Fields: errs}
}

func prefixProblem(p netip.Prefix) string {
	if !p.IsValid() {
		return "invalid prefix"
	}
	a := p.Addr()
	if a.Zone() != "" {
		return "an address with a zone cannot be matched"
	}
	if a.Is4In6() {
		return "IPv4-mapped IPv6 address: give the IPv4 form"
	}
	if p.Masked() != p {
		return fmt.Sprintf("address has bits set beyond the prefix length (did you mean %s?)", p.Masked())
	}
	return ""
}

// ifNameProblem applies the kernel's dev_valid_name rules.
func ifNameProblem(name string) string {
	switch {
	case name == "":
		return ""
	case len(name) > IfNameMax:
		return fmt.Sprintf("interface name longer than %d bytes", IfNameMax)
	case name == "." || name == "..":
		return "interface name cannot be . or .."
	}
	for _, c := range name {
		if c == '/' || c == ':' || c > unicode.MaxASCII || !unicode.IsPrint(c) || unicode.IsSpace(c) {
			return fmt.Sprintf("interface name cannot contain %q", c)
		}
	}
	return ""
}

// ParsePrefix parses a source or destination as a form or CLI gives it:
// "", "*" and "any" are any; an address alone is a host prefix (/32,
// /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "*" || s == "any" {
		return netip.Prefix{}, nil
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or prefix", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	addr, bits, _ := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address", addr)
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 0 {
		return netip.Prefix{}, fmt.Errorf("prefix length %q is not a number", bits)
	}
	if n > a.BitLen() {
		return netip.Prefix{}, fmt.Errorf("prefix length %d: an %s prefix is at most %d bits", n, familyOf(a), a.BitLen())
	}
	p := netip.PrefixFrom(a, n)
	if msg := prefixProblem(p); msg != "" {
		return netip.Prefix{}, errors.New(msg)
	}
	return p, nil
}

// ParsePorts parses "", "*", "80" or "1000-2000". "", "*" and "any" are
// any port (the zero PortRange); a port or range that includes port 0 is
// refused, as the zero range would otherwise silently mean any port.
func ParsePorts(s string) (model.PortRange, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "*" || s == "any" {
		return model.PortRange{}, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	min, err := parsePort(lo, "1-65535")
	if err != nil {
		return model.PortRange{}, err
	}
	max := min
	if isRange {
		if max, err = parsePort(hi, "1-65535"); err != nil {
			return model.PortRange{}, err
		}
	}
	if r := (model.PortRange{Min: min, Max: max}); min == 0 || max == 0 {
		return model.PortRange{}, errors.New(PortZeroMsg(r))
	}
	if min > max {
		return model.PortRange{}, fmt.Errorf("port range reversed (%d > %d)", min, max)
	}
	return model.PortRange{Min: min, Max: max}, nil
}

// PortZeroMsg says why a port range the user gave that includes port 0
// (its Min, or its Max, is 0) is refused.
func PortZeroMsg(r model.PortRange) string {
	const why = "not a port to filter on: want 1-65535 (leave it out, or say any, to match any port)"
	if r.Min == r.Max {
		return "port 0 is " + why
	}
	return fmt.Sprintf("port range %d-%d includes port 0, which is %s", r.Min, r.Max, why)
}

// parsePort parses a port number 0-65535; a bad one's message says it
// wants one of want ("1-65535" for a range, which refuses 0 itself).
func parsePort(s, want string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q is not a number %s", s, want)
	}
	return uint16(n), nil
}

// ParseHooks parses a comma-separated list of hook names ("input,output"
// or "all").
func ParseHooks(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if s == "all" {
		return slices.Clone(Hooks), nil
	}
	var out []string
	for _, h := range strings.Split(s, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, ok := HookNum(h); !ok {
			return nil, fmt.Errorf("unknown hook %q (%s or all)", h, strings.Join(Hooks, ", "))
		}
		out = append(out, h)
	}
	return out, nil
}

// setFields splits the text of a set: elements separated by commas, spaces
// or new lines; "#" starts a comment to the end of its line (a set file).
func setFields(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		out = append(out, strings.FieldsFunc(line, func(r rune) bool {
			return r == ',' || unicode.IsSpace(r)
		})...)
	}
	return out
}

// ParsePrefixSet parses the elements of an address set, as ParsePrefix
// does each ("10.0.0.1, 192.0.2.0/24" or a file of one per line); an
// empty text is no set. It says which line (element) is bad.
func ParsePrefixSet(text string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, f := range setFields(text) {
		p, err := ParsePrefix(f)
		if err == nil && !p.IsValid() {
			err = fmt.Errorf("%q matches every address: give no set instead", f)
		}
		if err != nil {
			return nil, fmt.Errorf("set element %d: %w", i+1, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ParsePortSet parses the elements of a port set ("22,80,443" or a file of
// one per line); an empty text is no set.
func ParsePortSet(text string) ([]uint16, error) {
	var out []uint16
	for i, f := range setFields(text) {
		// A set matches its ports as they are: port 0 is port 0 there,
		// not any port.
		p, err := parsePort(f, "0-65535")
		if err != nil {
			return nil, fmt.Errorf("set element %d: %w", i+1, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// matchProblems checks the conntrack state, ICMP, TCP flags and negation
// of a rule (protoOK: proto is the rule's valid protocol number).
func matchProblems(r model.Rule, proto uint8, protoOK bool, bad func(field, format string, args ...any)) {
	for _, st := range r.CTState {
		if !slices.Contains(CTStates, strings.ToLower(strings.TrimSpace(st))) {
			bad("ct_state", "unknown conntrack state %q (%s)", st, strings.Join(CTStates, ", "))
			break
		}
	}
	if r.ICMP != "" {
		if protoOK && proto != 1 && proto != 58 {
			bad("icmp", "an icmp type needs protocol icmp or icmpv6")
		} else if _, err := ParseICMP(r.ICMP, proto); err != nil {
			bad("icmp", "%s", err.Error())
		}
	}
	if r.TCPFlags != "" {
		if protoOK && proto != 6 {
			bad("tcp_flags", "tcp flags need protocol tcp")
		} else if _, _, err := ParseTCPFlags(r.TCPFlags); err != nil {
			bad("tcp_flags", "%s", err.Error())
		}
	}
	has := map[string]bool{
		"src": r.Src.IsValid() || len(r.SrcSet) > 0, "dst": r.Dst.IsValid() || len(r.DstSet) > 0,
		"sport": !r.SrcPorts.Any() || len(r.SrcPortSet) > 0, "dport": !r.DstPorts.Any() || len(r.DstPortSet) > 0,
		"iif": r.InIface != "", "oif": r.OutIface != "", "icmp": r.ICMP != "", "tcp_flags": r.TCPFlags != "",
		"ct_state": len(r.CTState) > 0,
	}
	for _, n := range r.Negate {
		n = strings.ToLower(strings.TrimSpace(n))
		switch {
		case !slices.Contains(Negatable, n):
			bad("negate", "cannot negate %q (%s)", n, strings.Join(Negatable, ", "))
		case !has[n]:
			bad("negate", "negates %s, but the rule has no %s match", n, n)
		}
	}
}
