package filter

import (
	"net/netip"
	"testing"

	"netlens/model"
)

func TestSessionPasses(t *testing.T) {
	s := SSHSession{Client: netip.MustParseAddrPort("198.51.100.7:50000"), Server: netip.MustParseAddrPort("10.0.0.5:22")}
	ep := netip.MustParseAddrPort
	flow := func(os, od, rs, rd string) model.Flow {
		return model.Flow{Orig: model.FlowTuple{Src: ep(os), Dst: ep(od)}, Reply: model.FlowTuple{Src: ep(rs), Dst: ep(rd)}}
	}
	tests := []struct {
		name  string
		local []netip.Addr
		flows []model.Flow
		want  bool
	}{
		{"server address local", []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.0.0.5")}, nil, true},
		{"neither local nor tracked", []netip.Addr{netip.MustParseAddr("10.77.0.1")}, []model.Flow{flow("10.77.0.2:1", "10.77.0.1:80", "10.77.0.1:80", "10.77.0.2:1")}, false},
		{"forwarded", []netip.Addr{netip.MustParseAddr("10.77.0.1")}, []model.Flow{flow("198.51.100.7:50000", "10.0.0.5:22", "10.0.0.5:22", "198.51.100.7:50000")}, true},
		{"DNATed: the reply names the server", []netip.Addr{netip.MustParseAddr("10.77.0.1")}, []model.Flow{flow("198.51.100.7:50000", "203.0.113.1:22", "10.0.0.5:22", "198.51.100.7:50000")}, true},
		{"another port of the client", []netip.Addr{netip.MustParseAddr("10.77.0.1")}, []model.Flow{flow("198.51.100.7:50001", "10.0.0.5:22", "10.0.0.5:22", "198.51.100.7:50001")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SessionPasses(s, tt.local, tt.flows); got != tt.want {
				t.Errorf("SessionPasses = %v, want %v", got, tt.want)
			}
		})
	}
	mapped := SSHSession{Client: s.Client, Server: netip.MustParseAddrPort("[::ffff:10.0.0.5]:22")}
	if !SessionPasses(mapped, []netip.Addr{netip.MustParseAddr("10.0.0.5")}, nil) {
		t.Error("a session to ::ffff:10.0.0.5 does not pass where 10.0.0.5 is local")
	}
}
