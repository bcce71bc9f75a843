package sysctl

import (
	"net/netip"
	"strings"
	"testing"

	"netlens/control/filter"
)

func TestRisks(t *testing.T) {
	v4 := Session{SSH: &filter.SSHSession{Client: netip.MustParseAddrPort("192.0.2.7:50000"), Server: netip.MustParseAddrPort("192.0.2.1:22")}, Iface: "eth0"}
	v6 := Session{SSH: &filter.SSHSession{Client: netip.MustParseAddrPort("[2001:db8::7]:50000"), Server: netip.MustParseAddrPort("[2001:db8::1]:22")}, Iface: "eth0"}
	tests := []struct {
		name       string
		sysctl     string
		old, new   string
		sess       Session
		wantSubstr string // "" for no risk
	}{
		{"forwarding off on a router", "net.ipv4.ip_forward", "1", "0", Session{}, "this host routes packets"},
		{"forwarding off over ssh", "net.ipv4.ip_forward", "1", "0", v4, "your SSH session (192.0.2.7:50000 -> 192.0.2.1:22 via eth0)"},
		{"forwarding on", "net.ipv4.ip_forward", "0", "1", v4, ""},
		{"rp_filter all", "net.ipv4.conf.all.rp_filter", "0", "1", v4, "reverse-path filtering on all"},
		{"rp_filter ssh iface", "net.ipv4.conf.eth0.rp_filter", "2", "1", v4, "reverse-path filtering on eth0"},
		{"rp_filter other iface", "net.ipv4.conf.eth1.rp_filter", "0", "1", v4, ""},
		{"rp_filter not over ssh", "net.ipv4.conf.all.rp_filter", "0", "1", Session{}, ""},
		{"disable_ipv6 v6 session", "net.ipv6.conf.eth0.disable_ipv6", "0", "1", v6, "is cut at once"},
		{"disable_ipv6 v4 session", "net.ipv6.conf.eth0.disable_ipv6", "0", "1", v4, "its IPv6 addresses go away"},
		{"enable ipv6", "net.ipv6.conf.eth0.disable_ipv6", "1", "0", v4, ""},
		{"arp_ignore ssh iface", "net.ipv4.conf.eth0.arp_ignore", "0", "2", v4, "answers ARP"},
		{"accept_ra off", "net.ipv6.conf.eth0.accept_ra", "1", "0", v6, "router advertisements"},
		{"keepalive", "net.ipv4.tcp_keepalive_time", "7200", "600", v4, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(Risks(tt.sysctl, tt.old, tt.new, tt.sess), "\n")
			switch {
			case tt.wantSubstr == "" && got != "":
				t.Fatalf("Risks = %q, want none", got)
			case tt.wantSubstr != "" && !strings.Contains(got, tt.wantSubstr):
				t.Fatalf("Risks = %q, want %q in it", got, tt.wantSubstr)
			}
		})
	}
}

// TestRisksAddrIface: a sysctl of the interface that holds the session's
// address counts as on its path, as the route's does.
func TestRisksAddrIface(t *testing.T) {
	s := Session{SSH: &filter.SSHSession{Client: netip.MustParseAddrPort("192.0.2.7:50000"), Server: netip.MustParseAddrPort("198.51.100.1:22")}, Iface: "eth0", AddrIface: "dummy0"}
	got := strings.Join(Risks("net.ipv4.conf.dummy0.rp_filter", "0", "1", s), "\n")
	if !strings.Contains(got, "reverse-path filtering on dummy0") || !strings.Contains(got, "via eth0, address on dummy0") {
		t.Fatalf("Risks = %q", got)
	}
}
