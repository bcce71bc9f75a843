package rules

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

func TestValidate(t *testing.T) {
	ok := model.Rule{Enabled: true, Action: model.ActionDrop}
	with := func(mod func(*model.Rule)) model.Rule { r := ok; mod(&r); return r }
	tests := []struct {
		name  string
		r     model.Rule
		field string // "" = valid
		msg   string // a part of the message
	}{
		{"minimal", ok, "", ""},
		{"full", with(func(r *model.Rule) {
			r.Hooks = []string{model.HookForward}
			r.Family = model.FamilyIPv4
			r.Proto = "tcp"
			r.Src = netip.MustParsePrefix("10.0.0.0/8")
			r.Dst = netip.MustParsePrefix("192.0.2.1/32")
			r.SrcPorts = model.PortRange{Min: 1024, Max: 65535}
			r.DstPorts = ports(22)
			r.InIface, r.OutIface = "eth0", "wg-0.1@x"
			r.Label = strings.Repeat("é", 32)
		}), "", ""},
		{"no action", with(func(r *model.Rule) { r.Action = "" }), "action", "required"},
		{"unknown action", with(func(r *model.Rule) { r.Action = "masquerade" }), "action", "unknown action"},
		{"reject at postrouting", with(func(r *model.Rule) { r.Action = model.ActionReject; r.Hooks = []string{model.HookPostRouting} }), "action", "reject works at"},
		{"unknown hook", with(func(r *model.Rule) { r.Hooks = []string{"ingress"} }), "hooks", "unknown hook"},
		{"unknown family", with(func(r *model.Rule) { r.Family = "inet" }), "family", "unknown family"},
		{"unknown proto", with(func(r *model.Rule) { r.Proto = "tpc" }), "proto", "unknown protocol"},
		{"proto number", with(func(r *model.Rule) { r.Proto = "47" }), "", ""},
		{"proto out of range", with(func(r *model.Rule) { r.Proto = "256" }), "proto", "unknown protocol"},
		{"host bits set", with(func(r *model.Rule) { r.Src = netip.MustParsePrefix("10.0.0.1/8") }), "src", "did you mean 10.0.0.0/8"},
		{"mapped address", with(func(r *model.Rule) { r.Dst = netip.MustParsePrefix("::ffff:10.0.0.1/128") }), "dst", "IPv4-mapped"},
		{"mixed families", with(func(r *model.Rule) {
			r.Src = netip.MustParsePrefix("10.0.0.0/8")
			r.Dst = netip.MustParsePrefix("2001:db8::/32")
		}), "dst", "source is ipv4"},
		{"family against address", with(func(r *model.Rule) { r.Family = model.FamilyIPv6; r.Src = netip.MustParsePrefix("10.0.0.0/8") }), "family", "does not match"},
		{"both with an address", with(func(r *model.Rule) { r.Family = model.RuleFamilyBoth; r.Src = netip.MustParsePrefix("10.0.0.0/8") }), "family", "ipv4 only"},
		{"icmp in ipv6", with(func(r *model.Rule) { r.Family = model.FamilyIPv6; r.Proto = "icmp" }), "proto", "does not exist"},
		{"reversed ports", with(func(r *model.Rule) { r.Proto = "udp"; r.DstPorts = model.PortRange{Min: 2000, Max: 1000} }), "dport", "reversed (2000 > 1000)"},
		{"ports without proto", with(func(r *model.Rule) { r.DstPorts = ports(22) }), "dport", "need protocol"},
		// A range from 0 (a rules file's {"min": 0, "max": 80}) includes
		// port 0; {0, 0} and {0, 65535} are the zero value, any port.
		{"range from port 0", with(func(r *model.Rule) { r.Proto = "tcp"; r.DstPorts = model.PortRange{Min: 0, Max: 80} }), "dport", "port range 0-80 includes port 0"},
		{"sport range from port 0", with(func(r *model.Rule) { r.Proto = "udp"; r.SrcPorts = model.PortRange{Min: 0, Max: 1} }), "sport", "want 1-65535"},
		{"any port as 0-65535", with(func(r *model.Rule) { r.Proto = "tcp"; r.DstPorts = model.PortRange{Min: 0, Max: 65535} }), "", ""},
		{"ports with icmp", with(func(r *model.Rule) { r.Proto = "icmp"; r.SrcPorts = ports(1) }), "sport", "need protocol"},
		{"sets", with(func(r *model.Rule) {
			r.Proto = "tcp"
			r.SrcSet = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}
			r.DstPortSet = []uint16{22, 443}
		}), "", ""},
		{"set and prefix", with(func(r *model.Rule) {
			r.Src = netip.MustParsePrefix("10.0.0.0/8")
			r.SrcSet = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
		}), "src_set", "not both"},
		{"set of two families", with(func(r *model.Rule) {
			r.DstSet = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("::1/128")}
		}), "dst_set", "not both"},
		{"set against address", with(func(r *model.Rule) {
			r.Dst = netip.MustParsePrefix("::1/128")
			r.SrcSet = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
		}), "family", "mix IPv4 and IPv6"},
		{"set element host bits", with(func(r *model.Rule) {
			r.SrcSet = []netip.Prefix{netip.MustParsePrefix("10.1.2.3/16")}
		}), "src_set", "did you mean"},
		{"port set without proto", with(func(r *model.Rule) { r.DstPortSet = []uint16{1} }), "dport_set", "need protocol"},
		{"port set and range", with(func(r *model.Rule) { r.Proto = "udp"; r.SrcPorts = ports(5); r.SrcPortSet = []uint16{1} }),
			"sport_set", "not both"},
		{"long ifname", with(func(r *model.Rule) { r.InIface = "abcdefghijklmnop" }), "iif", "longer than 15"},
		{"ifname with slash", with(func(r *model.Rule) { r.InIface = "eth/0" }), "iif", "cannot contain"},
		{"ifname with space", with(func(r *model.Rule) { r.InIface = "eth 0" }), "iif", "cannot contain"},
		{"ifname dot", with(func(r *model.Rule) { r.OutIface = "."; r.Hooks = []string{model.HookOutput} }), "oif", "cannot be"},
		{"ifname non-ascii", with(func(r *model.Rule) { r.InIface = "éth0" }), "iif", "cannot contain"},
		{"iif at output", with(func(r *model.Rule) { r.InIface = "eth0"; r.Hooks = []string{model.HookOutput} }), "iif", "never matches"},
		{"oif at default input", with(func(r *model.Rule) { r.OutIface = "eth0" }), "oif", "never matches"},
		{"label too long", with(func(r *model.Rule) { r.Label = strings.Repeat("x", 65) }), "label", "longer than 64"},
		{"label control", with(func(r *model.Rule) { r.Label = "a\x1b[31m" }), "label", "printable"},
		{"label bad utf8", with(func(r *model.Rule) { r.Label = "\xff" }), "label", "printable"},
		{"stateful", with(func(r *model.Rule) {
			r.Proto, r.DstPorts, r.CTState = "tcp", ports(8080), []string{"new"}
			r.TCPFlags, r.Src, r.Negate = "syn/syn,ack", netip.MustParsePrefix("10.0.0.0/8"), []string{"src", "ct_state"}
		}), "", ""},
		{"icmp type", with(func(r *model.Rule) { r.Proto, r.ICMP = "icmp", "echo-request" }), "", ""},
		{"icmpv6 type code", with(func(r *model.Rule) { r.Proto, r.ICMP = "icmpv6", "destination-unreachable/4" }), "", ""},
		{"unknown ct state", with(func(r *model.Rule) { r.CTState = []string{"new", "half-open"} }), "ct_state", "unknown conntrack state"},
		{"icmp without proto", with(func(r *model.Rule) { r.ICMP = "8" }), "icmp", "needs protocol icmp"},
		{"icmp bad type", with(func(r *model.Rule) { r.Proto, r.ICMP = "icmp", "ping" }), "icmp", "not a number"},
		{"icmp bad code", with(func(r *model.Rule) { r.Proto, r.ICMP = "icmp", "3/300" }), "icmp", "icmp code"},
		{"tcp flags on udp", with(func(r *model.Rule) { r.Proto, r.TCPFlags = "udp", "syn" }), "tcp_flags", "need protocol tcp"},
		{"tcp flag unknown", with(func(r *model.Rule) { r.Proto, r.TCPFlags = "tcp", "syn,nack" }), "tcp_flags", "unknown tcp flag"},
		{"tcp flags outside mask", with(func(r *model.Rule) { r.Proto, r.TCPFlags = "tcp", "syn,fin/syn" }), "tcp_flags", "not in the mask"},
		{"negate unknown", with(func(r *model.Rule) { r.Negate = []string{"proto"} }), "negate", "cannot negate"},
		{"negate absent match", with(func(r *model.Rule) { r.Negate = []string{"dport"} }), "negate", "no dport match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.r)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a ValidationError on %s", err, tt.field)
			}
			if msg := ve.For(tt.field); !strings.Contains(msg, tt.msg) {
				t.Errorf("%s: %q, want it to contain %q (all: %v)", tt.field, msg, tt.msg, err)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	pfx := []struct {
		in   string
		want string
		err  string
	}{
		{"", "invalid Prefix", ""},
		{"*", "invalid Prefix", ""},
		{"10.0.0.1", "10.0.0.1/32", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"10.0.0.0/33", "", "at most 32 bits"},
		{"2001:db8::/129", "", "at most 128 bits"},
		{"10.0.0.1/8", "", "did you mean"},
		{"10.0.0.0/x", "", "not a number"},
		{"example.com", "", "not an address"},
	}
	for _, tt := range pfx {
		p, err := ParsePrefix(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePrefix(%q) = %v, %v; want error %q", tt.in, p, err, tt.err)
			}
			continue
		}
		if err != nil || p.String() != tt.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
	prt := []struct {
		in   string
		want model.PortRange
		err  string
	}{
		{"", model.PortRange{}, ""},
		{"22", ports(22), ""},
		{"1000-2000", model.PortRange{Min: 1000, Max: 2000}, ""},
		{" 1000 - 2000 ", model.PortRange{Min: 1000, Max: 2000}, ""},
		{"2000-1000", model.PortRange{}, "reversed"},
		{"80-79", model.PortRange{}, "port range reversed (80 > 79)"},
		{"65536", model.PortRange{}, `port "65536" is not a number 1-65535`},
		{"http", model.PortRange{}, "not a number"},
		{"1-", model.PortRange{}, "not a number"},
		{"*", model.PortRange{}, ""},
		{"any", model.PortRange{}, ""},
		{"1", ports(1), ""},
		{"65535", ports(65535), ""},
		{"1-65535", model.PortRange{Min: 1, Max: 65535}, ""},
		{"80-80", ports(80), ""},
		// Port 0 is refused: the zero PortRange is any port, so "0"
		// would silently match every port.
		{"0", model.PortRange{}, "port 0 is not a port to filter on: want 1-65535 (leave it out, or say any, to match any port)"},
		{" 0 ", model.PortRange{}, "port 0 is not a port to filter on"},
		{"00", model.PortRange{}, "port 0 is not a port to filter on"},
		{"0-0", model.PortRange{}, "port 0 is not a port to filter on"},
		{"0-80", model.PortRange{}, "port range 0-80 includes port 0, which is not a port to filter on: want 1-65535"},
		{"0-65535", model.PortRange{}, "port range 0-65535 includes port 0"},
		{"80-0", model.PortRange{}, "port range 80-0 includes port 0"},
	}
	for _, tt := range prt {
		got, err := ParsePorts(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePorts(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePorts(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	hooks, err := ParseHooks("output, INPUT")
	if diff := cmp.Diff([]string{"output", "input"}, hooks); diff != "" || err != nil {
		t.Errorf("ParseHooks: %v (-want +got)\n%s", err, diff)
	}
	if _, err := ParseHooks("input,egress"); err == nil {
		t.Error("ParseHooks accepted egress")
	}
	if all, _ := ParseHooks("all"); len(all) != 5 {
		t.Errorf("all: %v", all)
	}
}

func TestNormalize(t *testing.T) {
	r := Normalize(model.Rule{Hooks: []string{"output", "input", "output"}, Src: netip.MustParsePrefix("2001:db8::/32"), Proto: "TCP",
		DstPorts: model.PortRange{Min: 0, Max: 65535}, Action: "DROP"})
	want := model.Rule{Hooks: []string{"input", "output"}, Family: model.FamilyIPv6, Src: netip.MustParsePrefix("2001:db8::/32"), Proto: "tcp", Action: model.ActionDrop}
	if diff := cmp.Diff(want, r, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if got := Summary(r); got != "ipv6 tcp 2001:db8::/32 -> *" {
		t.Errorf("Summary = %q", got)
	}
	st := Normalize(model.Rule{Proto: "TCP", Src: netip.MustParsePrefix("10.0.0.0/8"), DstPorts: ports(22),
		CTState: []string{"established", "NEW", "new"}, TCPFlags: "SYN / ack,syn", Negate: []string{"dport", "src", "src"},
		Action: model.ActionDrop})
	if diff := cmp.Diff([]string{"new", "established"}, st.CTState); diff != "" {
		t.Errorf("ct state (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"src", "dport"}, st.Negate); diff != "" {
		t.Errorf("negate (-want +got)\n%s", diff)
	}
	if got := Summary(st); got != "ipv4 tcp !10.0.0.0/8 -> *:!22 flags syn/syn,ack ct new,established" {
		t.Errorf("Summary = %q", got)
	}
	if got := Normalize(model.Rule{Proto: "icmpv6", ICMP: "128/0"}).ICMP; got != "echo-request/0" {
		t.Errorf("icmpv6 128/0 normalized to %q", got)
	}
	if got := Summary(model.Rule{Proto: "udp", Dst: netip.MustParsePrefix("2001:db8::1/128"), DstPorts: model.PortRange{Min: 53, Max: 54}, InIface: "eth0"}); got != "udp * -> [2001:db8::1/128]:53-54 iif eth0" {
		t.Errorf("Summary = %q", got)
	}
}

// FuzzValidate feeds the field parsers and the validator arbitrary text:
// they must not panic, and a rule they accept must survive Normalize and
// validate again.
func FuzzValidate(f *testing.F) {
	f.Add("input,output", "ipv4", "tcp", "10.0.0.0/8", "192.0.2.1", "1000-2000", "22", "eth0", "", "drop", "label")
	f.Add("", "", "", "", "", "", "", "", "", "count", "")
	f.Add("forward", "ipv6", "udp", "2001:db8::/32", "::1", "", "53", "", "wg0", "accept", "x")
	f.Add("all", "both", "icmp", "10.0.0.1/8", "", "2000-1000", "", "a/b", "", "masquerade", "\xff")
	f.Fuzz(func(t *testing.T, hooks, fam, proto, src, dst, sport, dport, iif, oif, action, label string) {
		var r model.Rule
		var err error
		if r.Hooks, err = ParseHooks(hooks); err != nil {
			return
		}
		if r.Src, err = ParsePrefix(src); err != nil {
			return
		}
		if r.Dst, err = ParsePrefix(dst); err != nil {
			return
		}
		if r.SrcPorts, err = ParsePorts(sport); err != nil {
			return
		}
		if r.DstPorts, err = ParsePorts(dport); err != nil {
			return
		}
		r.Family, r.Proto, r.InIface, r.OutIface, r.Action, r.Label = model.Family(fam), proto, iif, oif, model.RuleAction(action), label
		if Validate(r) != nil {
			return
		}
		n := Normalize(r)
		if err := Validate(n); err != nil {
			t.Fatalf("normalized rule fails validation: %v\n%+v", err, n)
		}
		if !SameMatch(r, n) || !SameMatch(n, Normalize(n)) {
			t.Fatalf("Normalize is not idempotent: %+v", n)
		}
		_ = Summary(n)
	})
}

func TestParseSets(t *testing.T) {
	pfx, err := ParsePrefixSet("10.0.0.1, 192.0.2.0/24\n# a comment\n2001:db8::1 # trailing\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("2001:db8::1/128")}
	if diff := cmp.Diff(want, pfx, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("prefix set (-want +got):\n%s", diff)
	}
	if _, err := ParsePrefixSet("10.0.0.1,bogus"); err == nil || !strings.Contains(err.Error(), "element 2") {
		t.Errorf("bad element: %v", err)
	}
	if _, err := ParsePrefixSet("any"); err == nil {
		t.Error("a set element that matches everything is accepted")
	}
	ports, err := ParsePortSet("22 80,443")
	if err != nil || !cmp.Equal(ports, []uint16{22, 80, 443}) {
		t.Errorf("port set %v %v", ports, err)
	}
	if _, err := ParsePortSet("22,70000"); err == nil {
		t.Error("port 70000 accepted")
	}
	// A set matches its ports as they are: 0 is port 0, not any port.
	if got, err := ParsePortSet("0,22"); err != nil || !cmp.Equal(got, []uint16{0, 22}) {
		t.Errorf("port set with 0: %v %v", got, err)
	}
	if got, err := ParsePortSet(""); got != nil || err != nil {
		t.Errorf("empty port set: %v %v", got, err)
	}
}

func TestParseMatches(t *testing.T) {
	flags := []struct {
		in          string
		value, mask uint8
		err         string
	}{
		{"syn", TCPSyn, TCPSyn, ""},
		{"syn/syn,ack", TCPSyn, TCPSyn | TCPAck, ""},
		{"SYN|ACK", TCPSyn | TCPAck, TCPSyn | TCPAck, ""},
		{"/fin,syn,rst,psh,ack,urg", 0, 0x3f, ""},
		{"ecn,cwr", TCPEcn | TCPCwr, TCPEcn | TCPCwr, ""},
		{"", 0, 0, "no tcp flag"},
		{"syn/", 0, 0, "no tcp flag"},
		{"fin/syn", 0, 0, "not in the mask"},
		{"xmas", 0, 0, "unknown tcp flag"},
	}
	for _, tt := range flags {
		v, m, err := ParseTCPFlags(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTCPFlags(%q) = %#x/%#x, %v; want error %q", tt.in, v, m, err, tt.err)
			}
			continue
		}
		if err != nil || v != tt.value || m != tt.mask {
			t.Errorf("ParseTCPFlags(%q) = %#x/%#x, %v; want %#x/%#x", tt.in, v, m, err, tt.value, tt.mask)
		}
	}
	icmp := []struct {
		in    string
		proto uint8
		want  ICMPMatch
		text  string
	}{
		{"echo-request", 1, ICMPMatch{Type: 8}, "echo-request"},
		{"echo-request", 58, ICMPMatch{Type: 128}, "echo-request"},
		{"3/1", 1, ICMPMatch{Type: 3, Code: 1, HasCode: true}, "destination-unreachable/1"},
		{"200", 1, ICMPMatch{Type: 200}, "200"},
		{"destination-unreachable/port-unreachable", 1, ICMPMatch{Type: 3, Code: 3, HasCode: true}, "destination-unreachable/3"},
		{"destination-unreachable/port-unreachable", 58, ICMPMatch{Type: 1, Code: 4, HasCode: true}, "destination-unreachable/4"},
		{"3/admin-prohibited", 1, ICMPMatch{Type: 3, Code: 13, HasCode: true}, "destination-unreachable/13"},
		{"1/admin-prohibited", 58, ICMPMatch{Type: 1, Code: 1, HasCode: true}, "destination-unreachable/1"},
		{"mld-listener-reduction", 58, ICMPMatch{Type: 132}, "mld-listener-done"},
		{" Time-Exceeded / 0 ", 1, ICMPMatch{Type: 11, HasCode: true}, "time-exceeded/0"},
	}
	for _, tt := range icmp {
		got, err := ParseICMP(tt.in, tt.proto)
		if err != nil || got != tt.want || FormatICMP(got, tt.proto) != tt.text {
			t.Errorf("ParseICMP(%q, %d) = %+v (%q), %v; want %+v (%q)", tt.in, tt.proto, got, FormatICMP(got, tt.proto), err, tt.want, tt.text)
		}
	}
	for _, bad := range []struct {
		in    string
		proto uint8
	}{{"3/no-route", 1}, {"1/frag-needed", 58}, {"nd-neighbor-solicit", 1}, {"echo-request/", 1}, {"256", 1}} {
		if m, err := ParseICMP(bad.in, bad.proto); err == nil {
			t.Errorf("ParseICMP(%q, %d) = %+v, want an error", bad.in, bad.proto, m)
		}
	}
	if st, err := ParseCTState("related, new,new"); err != nil || !cmp.Equal(st, []string{"new", "related"}) {
		t.Errorf("ParseCTState: %v %v", st, err)
	}
	if _, err := ParseCTState("new,open"); err == nil {
		t.Error("ParseCTState accepted open")
	}
	if n, err := ParseNegate("dport,src"); err != nil || !cmp.Equal(n, []string{"src", "dport"}) {
		t.Errorf("ParseNegate: %v %v", n, err)
	}
	for in, want := range map[string]string{"!10.0.0.0/8": "10.0.0.0/8", "!= 22": "22", " ! eth0": "eth0"} {
		if got, neg := CutNegation(in); !neg || got != want {
			t.Errorf("CutNegation(%q) = %q, %v", in, got, neg)
		}
	}
	if got, neg := CutNegation("10.0.0.0/8"); neg || got != "10.0.0.0/8" {
		t.Errorf("CutNegation without ! = %q, %v", got, neg)
	}
}

// FuzzParseMatch feeds the conntrack state, ICMP, TCP flags and negation
// parsers arbitrary text: no panic, and what they accept formats to text
// that parses to the same value.
func FuzzParseMatch(f *testing.F) {
	f.Add("new,established", "echo-request", uint8(1), "syn/syn,ack", "src,dport")
	f.Add("", "3/1", uint8(58), "/fin,syn", "!")
	f.Add("bogus", "x/y", uint8(6), "syn,,|ack", "ct_state")
	f.Add("", "destination-unreachable/port-unreachable", uint8(58), "", "")
	f.Add("", "3/frag-needed", uint8(1), "", "")
	f.Fuzz(func(t *testing.T, ct, icmp string, proto uint8, flags, neg string) {
		if st, err := ParseCTState(ct); err == nil {
			again, err := ParseCTState(strings.Join(st, ","))
			if err != nil || !cmp.Equal(st, again) {
				t.Fatalf("ct state %q -> %v -> %v %v", ct, st, again, err)
			}
		}
		if m, err := ParseICMP(icmp, proto); err == nil {
			again, err := ParseICMP(FormatICMP(m, proto), proto)
			if err != nil || again != m {
				t.Fatalf("icmp %q -> %+v -> %+v %v", icmp, m, again, err)
			}
			// the display form (codes by name) parses back too
			shown, err := ParseICMP(DisplayICMP(icmp, proto), proto)
			if err != nil || shown != m {
				t.Fatalf("icmp %q -> %+v -> shown %q -> %+v %v", icmp, m, DisplayICMP(icmp, proto), shown, err)
			}
		}
		if v, m, err := ParseTCPFlags(flags); err == nil {
			v2, m2, err := ParseTCPFlags(FormatTCPFlags(v, m))
			if err != nil || v2 != v || m2 != m || v&^m != 0 {
				t.Fatalf("tcp flags %q -> %#x/%#x -> %#x/%#x %v", flags, v, m, v2, m2, err)
			}
		}
		if n, err := ParseNegate(neg); err == nil {
			if again, err := ParseNegate(strings.Join(n, ",")); err != nil || !cmp.Equal(n, again) {
				t.Fatalf("negate %q -> %v -> %v %v", neg, n, again, err)
			}
		}
		_, _ = CutNegation(neg)
	})
}

// FuzzValidateMatches: a rule with conntrack state, ICMP, TCP flags and
// negation that Validate accepts survives Normalize, validates again and
// normalizes to itself.
func FuzzValidateMatches(f *testing.F) {
	f.Add("tcp", "!10.0.0.0/8", "8080", "new", "", "syn/syn,ack", "tcp_flags")
	f.Add("icmpv6", "", "", "established,related", "128/0", "", "icmp,ct_state")
	f.Add("icmp", "", "", "", "destination-unreachable", "", "")
	f.Fuzz(func(t *testing.T, proto, src, dport, ct, icmp, flags, negate string) {
		r := model.Rule{Enabled: true, Action: model.ActionDrop, Proto: proto, ICMP: icmp, TCPFlags: flags}
		var err error
		src, neg := CutNegation(src)
		if r.Src, err = ParsePrefix(src); err != nil {
			return
		}
		if r.DstPorts, err = ParsePorts(dport); err != nil {
			return
		}
		if r.CTState, err = ParseCTState(ct); err != nil {
			return
		}
		if r.Negate, err = ParseNegate(negate); err != nil {
			return
		}
		if neg {
			r.Negate = NormalizeNegate(append(r.Negate, "src"))
		}
		if Validate(r) != nil {
			return
		}
		n := Normalize(r)
		if err := Validate(n); err != nil {
			t.Fatalf("normalized rule fails validation: %v\n%+v", err, n)
		}
		if !SameMatch(r, n) || !SameMatch(n, Normalize(n)) {
			t.Fatalf("Normalize is not idempotent: %+v -> %+v", r, n)
		}
		_ = Summary(n)
	})
}

// TestICMPNamesBothWays: every name of the tables parses to its number
// and every number formats to its first name, codes and types alike, in
// both families.
func TestICMPNamesBothWays(t *testing.T) {
	for _, proto := range []uint8{1, 58} {
		types, codes := icmpTables(proto)
		for _, tbl := range []struct {
			kind string
			tbl  []icmpName
		}{{"type", types}, {"code", codes}} {
			for _, e := range tbl.tbl {
				text := e.name
				want := ICMPMatch{Type: e.num}
				if tbl.kind == "code" {
					text, want = "0/"+e.name, ICMPMatch{Code: e.num, HasCode: true}
				}
				got, err := ParseICMP(text, proto)
				if err != nil {
					t.Fatalf("proto %d %s %q: %v", proto, tbl.kind, e.name, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("proto %d ParseICMP(%q) (-want +got):\n%s", proto, text, diff)
				}
				if back := nameOf(tbl.tbl, e.num); back != e.name {
					if first, _ := lookupName(tbl.tbl, back); first != e.num {
						t.Errorf("proto %d %s %d shows as %q", proto, tbl.kind, e.num, back)
					}
				}
			}
		}
	}
	for _, tt := range []struct {
		in    string
		proto uint8
		want  string
	}{
		{"destination-unreachable/3", 1, "destination-unreachable/port-unreachable"},
		{"destination-unreachable/4", 58, "destination-unreachable/port-unreachable"},
		{"3/4", 1, "destination-unreachable/frag-needed"},
		{"3/5", 1, "destination-unreachable/5"},
		{"200/7", 1, "200/7"},
		{"132", 58, "mld-listener-done"},
		{"not an icmp", 1, "not an icmp"},
	} {
		if got := DisplayICMP(tt.in, tt.proto); got != tt.want {
			t.Errorf("DisplayICMP(%q, %d) = %q, want %q", tt.in, tt.proto, got, tt.want)
		}
	}
}
