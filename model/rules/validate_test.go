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
		{"65536", model.PortRange{}, "0-65535"},
		{"http", model.PortRange{}, "not a number"},
		{"1-", model.PortRange{}, "not a number"},
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
	if got, err := ParsePortSet(""); got != nil || err != nil {
		t.Errorf("empty port set: %v %v", got, err)
	}
}
