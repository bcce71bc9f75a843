package droptrace

import (
	"net/netip"
	"testing"
	"time"

	"netlens/control/filter/nft"
	"netlens/internal/netnstest"
	"netlens/model"
)

// TestIntegrationNetlensRuleAttributed drops UDP with a netlens drop rule
// and a netlens reject rule (the nftables backend, table inet netlens) and
// a second, foreign nftables table dropping another port: the tracer sees
// all three as NETFILTER_DROP in nft_do_chain or nf_hook_slow;
// model.Snapshot.DropRule gives each netlens rule its own drops and
// nothing for the foreign table's. The kmod backend's half is
// TestIntegrationKmodRuleAttributed (kmodrule_test.go, qemu suite).
func TestIntegrationNetlensRuleAttributed(t *testing.T) {
	ns := netnstest.New(t, "dt-rule")
	b, err := nft.New(nft.Options{NetNS: ns.FD(t), StateDir: t.TempDir()})
	must(t, err)
	t.Cleanup(func() { b.Close() })
	rule, err := b.Add(model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "udp",
		DstPorts: model.PortRange{Min: 7010, Max: 7010}, Action: model.ActionDrop, Label: "drop 7010"}, 0)
	must(t, err)
	reject, err := b.Add(model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "udp",
		DstPorts: model.PortRange{Min: 7012, Max: 7012}, Action: model.ActionReject, Label: "reject 7012"}, 0)
	must(t, err)
	ns.Run(t, "nft", "add table inet other; add chain inet other in { type filter hook input priority 10; }; add rule inet other in udp dport 7011 drop")

	c := newNSCollector(t, ns, Options{})
	mine := netip.MustParseAddrPort("127.0.0.1:7010")
	other := netip.MustParseAddrPort("127.0.0.1:7011")
	sendUDP(t, ns, "127.0.0.1", mine, incidentPackets, 64)
	rejected := netip.MustParseAddrPort("127.0.0.1:7012")
	sendUDP(t, ns, "127.0.0.1", other, incidentPackets, 64)
	sendUDP(t, ns, "127.0.0.1", rejected, incidentPackets, 64)
	m := match{reason: "NETFILTER_DROP", proto: "udp", dport: 7011}
	tr, _ := waitTrace(t, c, ns, m, "", nil, incidentPackets)
	rules, err := b.List()
	must(t, err)
	snap := model.Snapshot{DropTrace: tr, Rules: &model.RulesState{Backend: "nft", At: time.Now(), Rules: rules}}

	for _, tt := range []struct {
		dst  netip.AddrPort
		want uint32 // 0: no netlens rule
	}{{mine, rule.ID}, {rejected, reject.ID}, {other, 0}} {
		m := match{reason: "NETFILTER_DROP", proto: "udp", dst: tt.dst.Addr(), dport: tt.dst.Port()}
		fs := checkFlows(t, tr, m, "nft_do_chain nf_hook_slow", incidentPackets)
		for _, f := range fs {
			r, ok := snap.DropRule(f)
			t.Logf("%d drops to %v at %s: rule %d %q (%v)", f.Packets, tt.dst, f.Location, r.ID, r.Label, ok)
			if got := map[bool]uint32{true: r.ID}[ok]; got != tt.want {
				t.Errorf("drop to %v attributed to rule %d (%v), want %d", tt.dst, r.ID, ok, tt.want)
			}
		}
	}
	for _, r := range rules {
		if r.Packets != incidentPackets {
			t.Errorf("netlens rule %q counted %d, want %d", r.Label, r.Packets, incidentPackets)
		}
		if n, _ := snap.RuleDrops(r.ID); n != r.Packets {
			t.Errorf("netlens rule %q: %d traced drops attributed, counter %d", r.Label, n, r.Packets)
		}
	}
}
