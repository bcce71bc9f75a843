package ui

import (
	"net/netip"
	"strings"
	"testing"

	"netlens/model"
)

// nftFixture is a ruleset as iptables-nft and an nft file leave it: a
// filter table with a base chain (policy drop) jumping to a regular one,
// rules with and without counters.
func nftFixture() model.NFTables {
	return model.NFTables{At: t0, Tables: 2, Chains: []model.NFTChain{
		{Family: "inet", Table: "fw", Name: "input", Type: "filter", Hook: "input", Priority: 0, Policy: "drop", Rules: []model.NFTRule{
			{Handle: 4, Text: "ct state established,related counter accept", Verdict: "accept", Counter: true, Packets: 9000, Bytes: 800000, Delta: 30, Rate: 30},
			{Handle: 5, Text: "tcp dport 22 accept", Verdict: "accept"},
			{Handle: 6, Text: "jump ssh_guard", Verdict: "jump ssh_guard"},
		}},
		{Family: "inet", Table: "fw", Name: "ssh_guard", Rules: []model.NFTRule{
			{Handle: 8, Text: "ip saddr 10.9.0.0/16 counter drop", Verdict: "drop", Counter: true, Packets: 120, Bytes: 7200, Delta: 12, Rate: 12},
		}},
		{Family: "ip", Table: "nat", Name: "POSTROUTING", Type: "nat", Hook: "postrouting", Priority: 100, Policy: "accept", Rules: []model.NFTRule{
			{Handle: 3, Text: "oifname \"eth0\" counter masquerade", Counter: true, Packets: 5, Bytes: 300},
		}},
	}}
}

// nftRows is rows(a) without the table's header line (the views line
// above the summary moves it into what rows returns).
func nftRows(a *App) []string {
	r := rows(a)
	if len(r) > 0 && strings.HasPrefix(r[0], "Table") {
		r = r[1:]
	}
	return r
}

// TestNFTablesView: v on the Filters tab shows the ruleset outside
// netlens's table, a row per rule (its counter, or - without one) and
// per base chain's policy, sorts by packets, filters, and the details
// pane tells a rule without a counter.
func TestNFTablesView(t *testing.T) {
	store := fixtureStore()
	store.Publish(model.NFTablesUpdate{NFTables: nftFixture()})
	a := newTestApp(t, store, Options{}, 140, 30)
	send(a, "4", "v")
	s := screen(a)
	for _, want := range []string{"[nftables 5]", "2 tables, 3 chains, 5 rules (read only)", "input 0", "postrouting"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
	r := nftRows(a)
	// In order: input's three rules and its policy, ssh_guard's rule,
	// POSTROUTING's rule and its policy.
	if len(r) != 7 {
		t.Fatalf("%d rows, want 7:\n%s", len(r), s)
	}
	checks := []struct {
		row  int
		want []string
	}{
		{0, []string{"inet fw", "4", "ct state established,related counter accept", "accept", "9000", "30"}},
		{1, []string{"tcp dport 22 accept", "-"}},
		{3, []string{"policy (what no rule decided)", "drop"}},
		{4, []string{"ssh_guard", "ip saddr 10.9.0.0/16 counter drop", "drop", "120", "12"}},
		{6, []string{"POSTROUTING", "policy", "accept"}},
	}
	for _, c := range checks {
		for _, w := range c.want {
			if !strings.Contains(r[c.row], w) {
				t.Errorf("row %d %q: no %q", c.row, r[c.row], w)
			}
		}
	}
	// Sort by packets (o cycles order -> packets): the busiest first.
	send(a, "o")
	if r := nftRows(a); !strings.Contains(r[0], "established") || !strings.Contains(r[1], "10.9.0.0/16") {
		t.Errorf("by packets: %q", r)
	}
	// The filter applies to this view.
	send(a, "/")
	for _, k := range "masquerade" {
		send(a, string(k))
	}
	send(a, "enter")
	if r := nftRows(a); len(r) != 1 || !strings.Contains(r[0], "masquerade") {
		t.Errorf("filter masquerade: %q", r)
	}
	send(a, "esc")
	// Details of a rule without a counter.
	send(a, "o", "o", "home", "down", "enter") // back to the order; the second row
	if s := screen(a); !strings.Contains(s, "no counter expression") || !strings.Contains(s, "tcp dport 22 accept # handle 5") {
		t.Errorf("details of a rule without a counter:\n%s", s)
	}
	// v again: netlens's own rules.
	send(a, "esc", "v")
	if s := screen(a); !strings.Contains(s, "rules, 0 on, in evaluation order") || strings.Contains(s, "[nftables") {
		t.Errorf("v did not return to netlens's rules:\n%s", s)
	}
}

// TestNFTablesViewNotRead: before the collector has reported the view
// says it waits for it.
func TestNFTablesViewNotRead(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 100, 24)
	send(a, "4", "v")
	if s := screen(a); !strings.Contains(s, "nftables: waiting for the first sample") {
		t.Errorf("no word that the ruleset is not read:\n%s", s)
	}
}

// TestNFTablesViewUndecodable: a chain whose rules could not be decoded
// has a row saying so, and its details tell how to see them.
func TestNFTablesViewUndecodable(t *testing.T) {
	store := fixtureStore()
	store.Publish(model.NFTablesUpdate{NFTables: model.NFTables{At: t0, Tables: 1, Chains: []model.NFTChain{
		{Family: "inet", Table: "t", Name: "odd", Rules: []model.NFTRule{}, Unreadable: "netlink: attribute 3 is not a uint32; length: 1"},
	}}})
	a := newTestApp(t, store, Options{}, 140, 30)
	send(a, "4", "v")
	r := nftRows(a)
	if len(r) != 1 || !strings.Contains(r[0], "[rules not decoded: netlink: attribute 3") {
		t.Fatalf("rows %q", r)
	}
	send(a, "enter")
	if s := screen(a); !strings.Contains(s, "nft list chain inet t odd shows them") {
		t.Errorf("details:\n%s", s)
	}
}

// TestNetfilterDropOtherTables: a traced NETFILTER_DROP that no netlens
// rule made names, under the Drops tab's flows, the other tables' rules
// that dropped at the last reading and their drop policies.
func TestNetfilterDropOtherTables(t *testing.T) {
	s := model.NewStore("h", "6.18", t0)
	f := model.DropTraceFlow{Reason: "NETFILTER_DROP", Code: 7, Location: "nft_do_chain+0x4c", Function: "nft_do_chain", Layer: model.LayerNetfilter,
		L3: "ipv4", Proto: "tcp", Parsed: true, Src: netip.MustParseAddr("10.9.0.5"), Dst: netip.MustParseAddr("10.0.0.1"),
		SrcPort: 40000, DstPort: 22, Packets: 12, Delta: 12, LastSeen: t0}
	s.Publish(model.DropTraceUpdate{Trace: model.DropTrace{At: t0, Supported: true, Attach: "tp_btf/kfree_skb", Seen: 12, Attributed: 12,
		Reasons: []model.DropTraceReason{{Reason: "NETFILTER_DROP", Code: 7, Location: "nft_do_chain+0x4c", Function: "nft_do_chain",
			Layer: model.LayerNetfilter, Packets: 12, Delta: 12, LastSeen: t0}},
		Flows: []model.DropTraceFlow{f}}})
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: model.CollectorDropTrace, State: model.StateOK}})
	s.Publish(model.NFTablesUpdate{NFTables: nftFixture()})
	a := newTestApp(t, s, Options{}, 220, 30)
	send(a, "2", "v", "enter")
	want := "no netlens rule; other tables that dropped at the last reading (Filters, v): inet fw ssh_guard #8 +12 (ip saddr 10.9.0.0/16 counter drop); policy drop of inet fw input"
	if scr := screen(a); !strings.Contains(scr, "[reasons > flows] NETFILTER_DROP") || !strings.Contains(scr, want) {
		t.Errorf("flows of NETFILTER_DROP lack %q:\n%s", want, scr)
	}
}
