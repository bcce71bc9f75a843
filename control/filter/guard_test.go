package filter

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
	"netlens/model/rules"
)

func TestParseSSHConnection(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    SSHSession
		wantErr bool
	}{
		{"ipv4", "192.0.2.7 50022 10.0.0.1 22", SSHSession{netip.MustParseAddrPort("192.0.2.7:50022"), netip.MustParseAddrPort("10.0.0.1:22")}, false},
		{"ipv6", "2001:db8::7 40000 2001:db8::1 2222", SSHSession{netip.MustParseAddrPort("[2001:db8::7]:40000"), netip.MustParseAddrPort("[2001:db8::1]:2222")}, false},
		{"mapped v4 is unmapped", "::ffff:192.0.2.7 1 ::ffff:10.0.0.1 22", SSHSession{netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("10.0.0.1:22")}, false},
		{"zone dropped", "fe80::7%eth0 1 fe80::1%eth0 22", SSHSession{netip.MustParseAddrPort("[fe80::7]:1"), netip.MustParseAddrPort("[fe80::1]:22")}, false},
		{"extra spaces", "  192.0.2.7   50022 10.0.0.1 22\n", SSHSession{netip.MustParseAddrPort("192.0.2.7:50022"), netip.MustParseAddrPort("10.0.0.1:22")}, false},
		{"three fields", "192.0.2.7 50022 10.0.0.1", SSHSession{}, true},
		{"bad address", "host 50022 10.0.0.1 22", SSHSession{}, true},
		{"bad port", "192.0.2.7 70000 10.0.0.1 22", SSHSession{}, true},
		{"empty", "", SSHSession{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSSHConnection(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func drop(id uint32, mod func(*model.Rule)) model.Rule {
	r := model.Rule{ID: id, Enabled: true, Hooks: []string{model.HookInput}, Action: model.ActionDrop, Label: "r"}
	if mod != nil {
		mod(&r)
	}
	return r
}

func ports(p uint16) model.PortRange { return model.PortRange{Min: p, Max: p} }

func session(s string) *SSHSession {
	ss, err := ParseSSHConnection(s)
	if err != nil {
		panic(err)
	}
	return &ss
}

func TestAssessSession(t *testing.T) {
	v4 := session("192.0.2.7 50022 10.0.0.1 22")
	v6 := session("2001:db8::7 50022 2001:db8::1 22")
	tests := []struct {
		name    string
		before  []model.Rule
		after   []model.Rule
		ssh     *SSHSession
		wantCut bool
		hook    string
	}{
		{"drop tcp dport 22 at input", nil, []model.Rule{drop(1, func(r *model.Rule) { r.Proto = "tcp"; r.DstPorts = ports(22) })}, v4, true, model.HookInput},
		{"drop everything at input", nil, []model.Rule{drop(1, nil)}, v4, true, model.HookInput},
		{"other port", nil, []model.Rule{drop(1, func(r *model.Rule) { r.Proto = "tcp"; r.DstPorts = ports(80) })}, v4, false, ""},
		{"port range covering 22", nil, []model.Rule{drop(1, func(r *model.Rule) { r.Proto = "tcp"; r.DstPorts = model.PortRange{Min: 1, Max: 1024} })}, v4, true, model.HookInput},
		{"udp only", nil, []model.Rule{drop(1, func(r *model.Rule) { r.Proto = "udp" })}, v4, false, ""},
		{"source prefix of the client", nil, []model.Rule{drop(1, func(r *model.Rule) { r.Src = netip.MustParsePrefix("192.0.2.0/24") })}, v4, true, model.HookInput},
		{"source prefix elsewhere", nil, []model.Rule{drop(1, func(r *model.Rule) { r.Src = netip.MustParsePrefix("198.51.100.0/24") })}, v4, false, ""},
		{"forward hook does not see local traffic", nil, []model.Rule{drop(1, func(r *model.Rule) { r.Hooks = []string{model.HookForward} })}, v4, false, ""},
		{"output with sport 22 cuts the replies", nil, []model.Rule{drop(1, func(r *model.Rule) {
			r.Hooks = []string{model.HookOutput}
			r.Proto = "tcp"
			r.SrcPorts = ports(22)
		})}, v4, true, model.HookOutput},
		{"output with dport 22 does not", nil, []model.Rule{drop(1, func(r *model.Rule) {
			r.Hooks = []string{model.HookOutput}
			r.Proto = "tcp"
			r.DstPorts = ports(22)
		})}, v4, false, ""},
		{"ipv4 rule, ipv6 session", nil, []model.Rule{drop(1, func(r *model.Rule) { r.Family = model.FamilyIPv4 })}, v6, false, ""},
		{"ipv6 prefix, ipv6 session", nil, []model.Rule{drop(1, func(r *model.Rule) { r.Dst = netip.MustParsePrefix("2001:db8::/64") })}, v6, true, model.HookInput},
		{"accept first (priority)", nil, []model.Rule{
			{ID: 2, Enabled: true, Hooks: []string{model.HookInput}, Proto: "tcp", DstPorts: ports(22), Action: model.ActionAccept, Priority: 0},
			drop(1, func(r *model.Rule) { r.Priority = 10 }),
		}, v4, false, ""},
		{"accept after the drop (priority)", nil, []model.Rule{
			{ID: 2, Enabled: true, Hooks: []string{model.HookInput}, Proto: "tcp", DstPorts: ports(22), Action: model.ActionAccept, Priority: 10},
			drop(1, nil),
		}, v4, true, model.HookInput},
		{"disabling the protecting accept", []model.Rule{
			{ID: 2, Enabled: true, Hooks: []string{model.HookInput}, Proto: "tcp", DstPorts: ports(22), Action: model.ActionAccept},
			drop(3, func(r *model.Rule) { r.Priority = 5 }),
		}, []model.Rule{
			{ID: 2, Enabled: false, Hooks: []string{model.HookInput}, Proto: "tcp", DstPorts: ports(22), Action: model.ActionAccept},
			drop(3, func(r *model.Rule) { r.Priority = 5 }),
		}, v4, true, model.HookInput},
		{"general accept before an indexed drop", nil, []model.Rule{
			{ID: 5, Enabled: true, Hooks: []string{model.HookInput}, Src: netip.MustParsePrefix("192.0.2.0/24"), Action: model.ActionAccept},
			drop(1, func(r *model.Rule) { r.Proto = "tcp"; r.DstPorts = ports(22); r.Priority = 5 }),
		}, v4, false, ""},
		{"indexed drop before a general accept", nil, []model.Rule{
			{ID: 5, Enabled: true, Hooks: []string{model.HookInput}, Src: netip.MustParsePrefix("192.0.2.0/24"), Action: model.ActionAccept, Priority: 5},
			drop(1, func(r *model.Rule) { r.Proto = "tcp"; r.DstPorts = ports(22) }),
		}, v4, true, model.HookInput},
		{"already dropped before is not new", []model.Rule{drop(1, nil)}, []model.Rule{drop(1, nil), drop(2, nil)}, v4, false, ""},
		{"disabled drop", nil, []model.Rule{drop(1, func(r *model.Rule) { r.Enabled = false })}, v4, false, ""},
		{"count never drops", nil, []model.Rule{drop(1, func(r *model.Rule) { r.Action = model.ActionCount })}, v4, false, ""},
		{"iif lo does not match a remote session", nil, []model.Rule{drop(1, func(r *model.Rule) { r.InIface = "lo" })}, v4, false, ""},
		{"iif eth0 is assumed to match", nil, []model.Rule{drop(1, func(r *model.Rule) { r.InIface = "eth0" })}, v4, true, model.HookInput},
		{"no session", nil, []model.Rule{drop(1, nil)}, nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im := Assess(tt.before, tt.after, GuardInput{SSH: tt.ssh})
			if got := im.Session != nil; got != tt.wantCut {
				t.Fatalf("session cut = %v, want %v (%v)", got, tt.wantCut, im)
			}
			if tt.wantCut && im.Session.Hook != tt.hook {
				t.Errorf("cut at %s, want %s", im.Session.Hook, tt.hook)
			}
		})
	}
}

func TestAssessSocketsAndFlows(t *testing.T) {
	ap := netip.MustParseAddrPort
	socks := []model.Socket{
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("10.0.0.1:22"), Remote: ap("192.0.2.7:50022"), State: model.StateEstablished},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("10.0.0.1:443"), Remote: ap("192.0.2.8:40000"), State: model.StateEstablished,
			Procs: []model.Proc{{PID: 1, Comm: "nginx"}}},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("10.0.0.1:443"), State: model.StateListen},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("127.0.0.1:5432"), Remote: ap("127.0.0.1:40000"), State: model.StateEstablished},
	}
	flows := []model.Flow{
		{Proto: model.ProtoTCP, ProtoNum: 6, TCPState: model.TCPEstablished,
			Orig:  model.FlowTuple{Src: ap("192.0.2.8:40000"), Dst: ap("10.0.0.1:443")},
			Reply: model.FlowTuple{Src: ap("10.0.0.1:443"), Dst: ap("192.0.2.8:40000")}},
		{Proto: model.ProtoTCP, ProtoNum: 6, TCPState: model.TCPEstablished, // forwarded
			Orig:  model.FlowTuple{Src: ap("192.0.2.9:1000"), Dst: ap("10.1.0.5:443")},
			Reply: model.FlowTuple{Src: ap("10.1.0.5:443"), Dst: ap("192.0.2.9:1000")}},
		{Proto: model.ProtoTCP, ProtoNum: 6, TCPState: 7, // TIME_WAIT: not live
			Orig:  model.FlowTuple{Src: ap("192.0.2.10:1000"), Dst: ap("10.0.0.1:443")},
			Reply: model.FlowTuple{Src: ap("10.0.0.1:443"), Dst: ap("192.0.2.10:1000")}},
	}
	in := GuardInput{SSH: session("192.0.2.7 50022 10.0.0.1 22"), Sockets: socks, Flows: flows, LocalAddrs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}
	https := []model.Rule{drop(1, func(r *model.Rule) {
		r.Proto = "tcp"
		r.DstPorts = ports(443)
		r.Hooks = []string{model.HookInput, model.HookForward}
	})}
	im := Assess(nil, https, in)
	if im.Session != nil || im.Sockets != 1 || im.Flows != 2 {
		t.Fatalf("https drop: %v (hits %+v)", im, im.Hits)
	}
	if im.Hits[0].What != "tcp 10.0.0.1:443 <-> 192.0.2.8:40000 (nginx)" {
		t.Errorf("hit: %q", im.Hits[0].What)
	}
	if im.Hits[2].Hook != model.HookForward || im.Hits[2].Dir != "forward" {
		t.Errorf("forwarded flow hit at %s %s", im.Hits[2].Hook, im.Hits[2].Dir)
	}
	// the session's own socket is not counted twice
	im = Assess(nil, []model.Rule{drop(1, func(r *model.Rule) { r.Proto = "tcp"; r.DstPorts = ports(22) })}, in)
	if im.Session == nil || im.Sockets != 0 {
		t.Errorf("ssh drop: %v", im)
	}
	// loopback: iif lo matches, iif eth0 does not
	lo := Assess(nil, []model.Rule{drop(1, func(r *model.Rule) { r.InIface = "lo"; r.Proto = "tcp"; r.DstPorts = ports(5432) })}, in)
	eth := Assess(nil, []model.Rule{drop(1, func(r *model.Rule) { r.InIface = "eth0"; r.Proto = "tcp"; r.DstPorts = ports(5432) })}, in)
	if lo.Sockets != 1 || eth.Sockets != 0 {
		t.Errorf("loopback socket: iif lo %d, iif eth0 %d; want 1, 0", lo.Sockets, eth.Sockets)
	}
	if s := (rules.Impact{}).String(); s != "no established connection would be cut" {
		t.Errorf("empty impact: %q", s)
	}
}

func TestDropCapable(t *testing.T) {
	accept22 := model.Rule{ID: 1, Enabled: true, Hooks: []string{model.HookInput}, Proto: "tcp", DstPorts: ports(22), Action: model.ActionAccept}
	count := model.Rule{ID: 2, Enabled: true, Action: model.ActionCount}
	off := func(r model.Rule) model.Rule { r.Enabled = false; return r }
	tests := []struct {
		name          string
		before, after []model.Rule
		want          bool
	}{
		{"add a drop", nil, []model.Rule{drop(3, nil)}, true},
		{"add a disabled drop", nil, []model.Rule{off(drop(3, nil))}, false},
		{"add an accept", nil, []model.Rule{accept22}, false},
		{"add a count", nil, []model.Rule{count}, false},
		{"disable an accept before a drop", []model.Rule{accept22, drop(3, nil)}, []model.Rule{off(accept22), drop(3, nil)}, true},
		{"delete an accept before a drop", []model.Rule{accept22, drop(3, nil)}, []model.Rule{drop(3, nil)}, true},
		{"disable an accept, no drop", []model.Rule{accept22, count}, []model.Rule{off(accept22), count}, false},
		{"delete the last accept, no drop", []model.Rule{accept22}, nil, false},
		{"disable a drop", []model.Rule{drop(3, nil)}, []model.Rule{off(drop(3, nil))}, false},
		{"enable a drop", []model.Rule{off(drop(3, nil))}, []model.Rule{drop(3, nil)}, true},
		{"move a drop in priority", []model.Rule{drop(3, nil)}, []model.Rule{drop(3, func(r *model.Rule) { r.Priority = 1 })}, true},
		{"no change", []model.Rule{accept22, drop(3, nil)}, []model.Rule{accept22, drop(3, nil)}, false},
		{"a drop's source set grows", []model.Rule{drop(3, func(r *model.Rule) { r.SrcSet = []netip.Prefix{mustPrefix("192.0.2.1/32")} })},
			[]model.Rule{drop(3, func(r *model.Rule) { r.SrcSet = []netip.Prefix{mustPrefix("192.0.2.1/32"), mustPrefix("192.0.2.2/32")} })}, true},
		{"a drop's port set, same elements", []model.Rule{drop(3, func(r *model.Rule) { r.Proto = "tcp"; r.DstPortSet = []uint16{80, 22} })},
			[]model.Rule{drop(3, func(r *model.Rule) { r.Proto = "tcp"; r.DstPortSet = []uint16{22, 80} })}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DropCapable(tt.before, tt.after); got != tt.want {
				t.Errorf("DropCapable = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestVerdictIndexMatchesLinear checks the indexed verdict against a
// linear walk of the rules in evaluation order, on random rule sets.
func TestVerdictIndexMatchesLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hooks := rules.Hooks
	protos := []string{"", "tcp", "udp"}
	actions := []model.RuleAction{model.ActionAccept, model.ActionDrop, model.ActionCount}
	for round := range 300 {
		var rs []model.Rule
		for i := range 1 + rng.IntN(12) {
			r := model.Rule{ID: uint32(i + 1), Enabled: rng.IntN(5) > 0, Hooks: []string{hooks[rng.IntN(len(hooks))]},
				Proto: protos[rng.IntN(3)], Action: actions[rng.IntN(3)], Priority: uint32(rng.IntN(3))}
			if r.Proto != "" && rng.IntN(2) == 0 {
				p := uint16(20 + rng.IntN(4))
				r.DstPorts = model.PortRange{Min: p, Max: p + uint16(rng.IntN(2))}
			}
			if rng.IntN(3) == 0 {
				r.Src = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(2))}), 31+rng.IntN(2)).Masked()
			}
			rs = append(rs, r)
		}
		set := prepare(rs)
		sorted := append([]model.Rule(nil), rs...)
		rules.SortRules(sorted)
		for range 20 {
			p := packet{proto: []uint8{6, 17}[rng.IntN(2)],
				src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(3))}), 1000),
				dst: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), uint16(20+rng.IntN(5)))}
			h := hooks[rng.IntN(len(hooks))]
			got, decided := set.verdict(h, p)
			gotDrop := decided && got.Action == model.ActionDrop
			var want model.Rule
			wantDrop := false
			for _, pr := range prepare(sorted).rules {
				if matches(pr, h, p) {
					want, wantDrop = pr.r, pr.r.Action == model.ActionDrop
					break
				}
			}
			if got.ID != want.ID || gotDrop != wantDrop {
				t.Fatalf("round %d, %s %+v: indexed verdict rule %d drop %v, linear rule %d drop %v\nrules %+v", round, h, p, got.ID, gotDrop, want.ID, wantDrop, rs)
			}
		}
	}
}

func TestDropCapablePolicies(t *testing.T) {
	accept22 := model.Rule{ID: 1, Enabled: true, Hooks: []string{model.HookInput}, Proto: "tcp", DstPorts: ports(22), Action: model.ActionAccept}
	dropIn4 := Policies{{model.FamilyIPv4, model.HookInput}: true}
	tests := []struct {
		name          string
		before, after State
		want          bool
	}{
		{"policy becomes drop", State{}, State{Policies: dropIn4}, true},
		{"policy back to accept", State{Policies: dropIn4}, State{}, false},
		{"drop policy stays", State{Policies: dropIn4}, State{Policies: dropIn4}, false},
		{"delete an accept under a drop policy", State{Rules: []model.Rule{accept22}, Policies: dropIn4}, State{Policies: dropIn4}, true},
		{"add an accept under a drop policy", State{Policies: dropIn4}, State{Rules: []model.Rule{accept22}, Policies: dropIn4}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DropCapableState(tt.before, tt.after); got != tt.want {
				t.Errorf("DropCapableState = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAssessPoliciesAndSets(t *testing.T) {
	ssh := session("192.0.2.7 50022 10.0.0.1 22")
	in := GuardInput{SSH: ssh}
	dropIn4 := Policies{{model.FamilyIPv4, model.HookInput}: true}
	keep := model.Rule{ID: 1, Enabled: true, Hooks: []string{model.HookInput}, Proto: "tcp", Action: model.ActionAccept,
		SrcSet: []netip.Prefix{mustPrefix("198.51.100.0/24"), mustPrefix("192.0.2.7/32")}}
	tests := []struct {
		name          string
		before, after State
		want          string // what cuts the session, "" for nothing
	}{
		{"drop policy, no rule", State{}, State{Policies: dropIn4}, "the default policy (drop at ipv4 input)"},
		{"drop policy at output", State{}, State{Policies: Policies{{model.FamilyIPv4, model.HookOutput}: true}}, "the default policy (drop at ipv4 output)"},
		{"drop policy of the other family", State{}, State{Policies: Policies{{model.FamilyIPv6, model.HookInput}: true}}, ""},
		{"drop policy, the client in an accept's source set", State{Rules: []model.Rule{keep}}, State{Rules: []model.Rule{keep}, Policies: dropIn4}, ""},
		{"drop policy, the client not in the set", State{Rules: []model.Rule{setOf(keep, "198.51.100.0/24")}},
			State{Rules: []model.Rule{setOf(keep, "198.51.100.0/24")}, Policies: dropIn4}, "the default policy (drop at ipv4 input)"},
		{"accept leaves, drop policy stays", State{Rules: []model.Rule{keep}, Policies: dropIn4}, State{Policies: dropIn4}, "the default policy (drop at ipv4 input)"},
		{"a drop with the client in its set", State{}, State{Rules: []model.Rule{drop(2, func(r *model.Rule) { r.SrcSet = []netip.Prefix{mustPrefix("192.0.2.0/28")} })}}, `rule 2 "r"`},
		{"a drop with a port set without 22", State{}, State{Rules: []model.Rule{drop(2, func(r *model.Rule) { r.Proto = "tcp"; r.DstPortSet = []uint16{80, 443} })}}, ""},
		{"a drop with a port set with 22", State{}, State{Rules: []model.Rule{drop(2, func(r *model.Rule) { r.Proto = "tcp"; r.DstPortSet = []uint16{22, 443} })}}, `rule 2 "r"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im := AssessState(tt.before, tt.after, in)
			got := ""
			if im.Session != nil {
				got = im.Session.By()
			}
			if got != tt.want {
				t.Errorf("session cut by %q, want %q", got, tt.want)
			}
		})
	}
}

func setOf(r model.Rule, prefixes ...string) model.Rule {
	r.SrcSet = nil
	for _, p := range prefixes {
		r.SrcSet = append(r.SrcSet, mustPrefix(p))
	}
	return r
}

// TestAssessStatefulMatches: the guard understands conntrack state, TCP
// flags, ICMP types and negation. The operator's session is established
// when conntrack tracks it (a live flow of its tuple); when it does not,
// its state is unknown (a ct rule turns conntrack on and the session is
// picked up mid-stream, its first packet new), which a dropping rule is
// taken to match and an accepting one not.
func TestAssessStatefulMatches(t *testing.T) {
	ssh := session("192.0.2.7 50022 10.0.0.1 22")
	flow := model.Flow{Proto: model.ProtoTCP, ProtoNum: 6, TCPState: model.TCPEstablished,
		Orig:  model.FlowTuple{Src: ssh.Client, Dst: ssh.Server},
		Reply: model.FlowTuple{Src: ssh.Server, Dst: ssh.Client}}
	tracked := []model.Flow{flow}
	tcp22 := func(mod func(*model.Rule)) func(*model.Rule) {
		return func(r *model.Rule) {
			r.Proto, r.DstPorts = "tcp", ports(22)
			if mod != nil {
				mod(r)
			}
		}
	}
	accept := func(id uint32, mod func(*model.Rule)) model.Rule {
		r := drop(id, mod)
		r.Action = model.ActionAccept
		return r
	}
	tests := []struct {
		name    string
		after   []model.Rule
		flows   []model.Flow
		wantCut bool
	}{
		{"ct new drop, tracked session", []model.Rule{drop(1, tcp22(func(r *model.Rule) { r.CTState = []string{"new"} }))}, tracked, false},
		{"ct new drop, untracked session", []model.Rule{drop(1, tcp22(func(r *model.Rule) { r.CTState = []string{"new"} }))}, nil, true},
		{"ct established drop", []model.Rule{drop(1, tcp22(func(r *model.Rule) { r.CTState = []string{"established"} }))}, tracked, true},
		{"ct != established drop", []model.Rule{drop(1, tcp22(func(r *model.Rule) {
			r.CTState, r.Negate = []string{"established", "related"}, []string{"ct_state"}
		}))}, tracked, false},
		{"stateful allowlist, tracked", []model.Rule{
			accept(1, func(r *model.Rule) { r.CTState = []string{"established", "related"} }),
			drop(2, func(r *model.Rule) { r.Priority = 5 }),
		}, tracked, false},
		{"stateful allowlist, untracked", []model.Rule{
			accept(1, func(r *model.Rule) { r.CTState = []string{"established", "related"} }),
			drop(2, func(r *model.Rule) { r.Priority = 5 }),
		}, nil, true},
		{"syn only drop", []model.Rule{drop(1, tcp22(func(r *model.Rule) { r.TCPFlags = "syn/syn,ack" }))}, nil, false},
		{"ack drop", []model.Rule{drop(1, tcp22(func(r *model.Rule) { r.TCPFlags = "ack" }))}, nil, true},
		{"fin drop cuts some packets", []model.Rule{drop(1, tcp22(func(r *model.Rule) { r.TCPFlags = "fin" }))}, nil, true},
		{"not syn-only drop", []model.Rule{drop(1, tcp22(func(r *model.Rule) {
			r.TCPFlags, r.Negate = "syn/syn,ack", []string{"tcp_flags"}
		}))}, nil, true},
		{"psh accept does not shield every packet", []model.Rule{
			accept(1, tcp22(func(r *model.Rule) { r.TCPFlags = "psh" })),
			drop(2, func(r *model.Rule) { r.Priority = 5 }),
		}, tracked, true},
		{"icmp drop", []model.Rule{drop(1, func(r *model.Rule) { r.Proto, r.ICMP = "icmp", "echo-request" })}, nil, false},
		{"saddr != client's prefix", []model.Rule{drop(1, tcp22(func(r *model.Rule) {
			r.Src, r.Negate = netip.MustParsePrefix("192.0.2.0/24"), []string{"src"}
		}))}, nil, false},
		{"saddr != another prefix", []model.Rule{drop(1, tcp22(func(r *model.Rule) {
			r.Src, r.Negate = netip.MustParsePrefix("10.0.0.0/8"), []string{"src"}
		}))}, nil, true},
		{"dport != 22", []model.Rule{drop(1, func(r *model.Rule) {
			r.Proto, r.DstPorts, r.Negate = "tcp", ports(22), []string{"dport"}
		})}, nil, false},
		{"dport != 80", []model.Rule{drop(1, func(r *model.Rule) {
			r.Proto, r.DstPorts, r.Negate = "tcp", ports(80), []string{"dport"}
		})}, nil, true},
		{"iif != lo", []model.Rule{drop(1, func(r *model.Rule) { r.InIface, r.Negate = "lo", []string{"iif"} })}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im := Assess(nil, tt.after, GuardInput{SSH: ssh, Flows: tt.flows})
			if got := im.Session != nil; got != tt.wantCut {
				t.Fatalf("session cut = %v, want %v (%v)", got, tt.wantCut, im)
			}
		})
	}
	// a ping flow: its echo requests meet an echo-request drop, and the
	// echo-reply drop cuts the replies
	ping := model.Flow{Proto: model.ProtoICMP, ProtoNum: 1, Status: model.StatusSeenReply,
		Orig:  model.FlowTuple{Src: netip.MustParseAddrPort("10.0.0.9:0"), Dst: netip.MustParseAddrPort("10.0.0.1:0"), ICMP: &model.ICMPKey{Type: 8}},
		Reply: model.FlowTuple{Src: netip.MustParseAddrPort("10.0.0.1:0"), Dst: netip.MustParseAddrPort("10.0.0.9:0"), ICMP: &model.ICMPKey{Type: 0}}}
	for icmp, want := range map[string]int{"echo-request": 1, "echo-reply": 1, "destination-unreachable": 0} {
		im := Assess(nil, []model.Rule{drop(1, func(r *model.Rule) {
			r.Hooks, r.Proto, r.ICMP = rules.Hooks, "icmp", icmp
		})}, GuardInput{Flows: []model.Flow{ping}, LocalAddrs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}})
		if im.Flows != want {
			t.Errorf("icmp type %s drop: %d flows cut, want %d", icmp, im.Flows, want)
		}
	}
	// the same rule with other matches is another rule
	a := drop(1, tcp22(nil))
	b := drop(1, tcp22(func(r *model.Rule) { r.CTState = []string{"new"} }))
	if !DropCapable([]model.Rule{b}, []model.Rule{a}) {
		t.Error("dropping ct state new off a drop rule is not drop-capable")
	}
}
