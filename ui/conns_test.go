package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// conns returns the Connections tab of a.
func conns(a *App) *connsPage { return a.pages[0].(*connsPage) }

// teaClick is a left click at x, y.
func teaClick(x, y int) tea.MouseClickMsg {
	return tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft}
}

// summary is the page's first line (the summary) on screen.
func summary(a *App) string { return strings.Split(screen(a), "\n")[a.top()] }

func TestViewToggle(t *testing.T) {
	a := newTestApp(t, flowStore(), Options{}, 80, 24)
	steps := []struct {
		view    connView
		tag     string
		natHelp bool
	}{
		{viewFlows, "[flows] 12 flows", true},
		{viewJoined, "[joined] 27 sockets, 6 with a conntrack flow", true},
		{viewSockets, "[sockets] 27 sockets", false},
		{viewFlows, "[flows] 12 flows", true},
	}
	for _, s := range steps {
		send(a, "v")
		if got := conns(a).view; got != s.view {
			t.Fatalf("view %d, want %d", got, s.view)
		}
		if !strings.HasPrefix(summary(a), s.tag) {
			t.Errorf("summary %q, want it to start with %q", summary(a), s.tag)
		}
		footer := strings.Split(screen(a), "\n")[23]
		if got := strings.Contains(footer, "n nat"); got != s.natHelp {
			t.Errorf("view %d: footer %q, n nat shown %v", s.view, footer, got)
		}
	}
	// The filter belongs to the tab: every view applies it.
	send(a, "/", "t", "c", "p", "enter")
	for range 3 {
		if f := conns(a).cur().Filter(); f != "tcp" {
			t.Fatalf("view %d: filter %q", conns(a).view, f)
		}
		send(a, "v")
	}
	// Each view keeps its own sort.
	send(a, "esc", "o")
	if conns(a).view != viewFlows || conns(a).socks.sortIdx != 0 || conns(a).flows.sortIdx != 1 {
		t.Fatalf("sorts: sockets %d flows %d", conns(a).socks.sortIdx, conns(a).flows.sortIdx)
	}
}

func TestCycleNAT(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "nat:snat"},
		{"nat:snat", "nat:dnat"},
		{"nat:dnat", "nat:any"},
		{"nat:any", ""},
		{"tcp nat:SNAT port:443", "tcp port:443 nat:dnat"},
		{"nat:both", "nat:snat"},
		{"nat:none nat:dnat", "nat:snat"},
	}
	for _, tt := range tests {
		if got := cycleNAT(tt.in); got != tt.want {
			t.Errorf("cycleNAT(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNATFilterKey(t *testing.T) {
	a := newTestApp(t, flowStore(), Options{}, 120, 40)
	send(a, "n")
	if f := conns(a).Filter(); f != "" {
		t.Fatalf("n in the sockets view set the filter %q", f)
	}
	send(a, "v")
	var got []int
	var filters []string
	for range 4 {
		send(a, "n")
		got = append(got, len(conns(a).flows.idx))
		filters = append(filters, conns(a).Filter())
	}
	if diff := cmp.Diff([]int{2, 2, 3, 12}, got); diff != "" {
		t.Errorf("rows per nat filter (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"nat:snat", "nat:dnat", "nat:any", ""}, filters); diff != "" {
		t.Errorf("filters (-want +got)\n%s", diff)
	}
	send(a, "n")
	if !strings.Contains(screen(a), "filter: nat:snat") || !strings.Contains(screen(a), "Connections [/]") {
		t.Errorf("the nat filter is not shown as the tab's filter:\n%s", screen(a))
	}
	// In the joined view it keeps sockets whose flow is NATed: none here.
	send(a, "v")
	if n := len(conns(a).joined.idx); n != 0 {
		t.Errorf("joined view with nat:snat: %d rows, want 0", n)
	}
}

func TestFilterTerms(t *testing.T) {
	tests := []struct {
		view   connView
		filter string
		want   int
	}{
		{viewFlows, "", 12},
		{viewFlows, "proto:udp", 2},
		{viewFlows, "proto:icmp6", 1},
		{viewFlows, "proto:icmpv6", 1},
		{viewFlows, "port:53", 1},
		{viewFlows, "port:80", 2},   // the DNAT targets, in the reply tuples
		{viewFlows, "port:http", 0}, // not a number: matches nothing
		{viewFlows, "addr:172.17.0.0/16", 3},
		{viewFlows, "addr:10.20.0.5", 9},
		{viewFlows, "addr:::ffff:10.20.0.9", 1},
		{viewFlows, "addr:2001:db8:10::5", 1},
		{viewFlows, "state:estab", 4},
		{viewFlows, "state:time_wait", 2},
		{viewFlows, "state:unreplied", 3},
		{viewFlows, "state:assured", 7},
		{viewFlows, "nat:both", 1},
		{viewFlows, "nat:none", 9},
		{viewFlows, "mark:0x10", 1},
		{viewFlows, "mark:4242", 1},
		{viewFlows, "zone:1", 1},
		{viewFlows, "proto:tcp nat:any", 3},
		{viewFlows, "tcp 172.17", 3}, // plain words, all of them
		{viewFlows, "unknown:1", 0},  // an unknown key is plain text
		{viewSockets, "proto:udp", 3},
		{viewSockets, "state:listen", 5},
		{viewSockets, "port:443", 15},
		{viewSockets, "addr:127.0.0.0/8", 4},
		{viewSockets, "nat:dnat", 0},
		{viewSockets, "nat:none", 27},
		{viewJoined, "state:estab", 4},
		{viewJoined, "state:syn", 1}, // the socket's SYN-SENT, the flow's SYN_SENT
		{viewJoined, "nat:none", 27},
		{viewJoined, "no flow", 12},
		{viewJoined, "state:assured", 5},
	}
	for _, tt := range tests {
		t.Run(viewNames[tt.view]+" "+tt.filter, func(t *testing.T) {
			a := newTestApp(t, flowStore(), Options{}, 120, 40)
			for conns(a).view != tt.view {
				send(a, "v")
			}
			send(a, "/")
			send(a, strings.Split(tt.filter, "")...)
			send(a, "enter")
			var n int
			switch tt.view {
			case viewSockets:
				n = len(conns(a).socks.idx)
			case viewFlows:
				n = len(conns(a).flows.idx)
			case viewJoined:
				n = len(conns(a).joined.idx)
			}
			if n != tt.want {
				t.Errorf("%q: %d rows, want %d\n%s", tt.filter, n, tt.want, screen(a))
			}
		})
	}
}

// viewNames names the views in test names.
var viewNames = [...]string{"sockets", "flows", "joined"}

func TestFlowSorts(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		col  int
		want []string
	}{
		{"bytes, biggest first", nil, flowBytes, []string{"4.8M/912M", "173k/39M", "145k/22M"}},
		{"bytes reversed", []string{"O"}, flowBytes, []string{"30k/0", "97k/0", "4800/360k"}},
		{"packets", []string{"o"}, flowPkts, []string{"120/84", "110/77", "100/70"}},
		{"age, oldest first", []string{"o", "o"}, flowAge, []string{"1h14m", "1h1m", "49m58s"}},
		{"ttl, soonest first", []string{"o", "o", "o"}, flowTTL, []string{"29s", "29s", "29s"}},
		{"source", []string{"o", "o", "o", "o"}, flowSrc, []string{"10.20.0.5", "10.20.0.5:123", "10.20.0.5:38800"}},
		{"nat", []string{"o", "o", "o", "o", "o", "o", "o"}, flowNAT, []string{"snat", "dnat", "both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t, flowStore(), Options{}, 120, 40)
			send(a, "v")
			send(a, tt.keys...)
			p := conns(a).flows
			var got []string
			for _, i := range p.idx[:3] {
				got = append(got, p.cell(i, tt.col))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestJoinDisplay(t *testing.T) {
	type row struct{ CT, NAT, Dir, Bytes string }
	find := func(p *joinView, local, remote string) int {
		for i, s := range p.snap.Sockets {
			if fmtAddr(s.Local) == local && fmtAddr(s.Remote) == remote {
				return i
			}
		}
		t.Fatalf("no socket %s %s", local, remote)
		return -1
	}
	tests := []struct {
		name          string
		store         func() *model.Store
		local, remote string
		want          row
	}{
		{"accepted: reply direction", flowStore, "10.20.0.5:22", "192.168.100.200:51234", row{"ESTAB A", "", "reply", "4.8M/912M"}},
		{"connecting: original direction", flowStore, "10.20.0.5:38800", "10.20.0.9:6379", row{"SYN-SENT U", "", "orig", "11k/1.6M"}},
		{"loopback client", flowStore, "127.0.0.1:40022", "127.0.0.1:5432", row{"ESTAB A", "", "orig", "4800/360k"}},
		{"loopback server, same flow", flowStore, "127.0.0.1:5432", "127.0.0.1:40022", row{"ESTAB A", "", "reply", "4800/360k"}},
		{"connected, no flow", flowStore, "10.20.0.5:443", "10.20.0.77:33102", row{"no flow", "", "", ""}},
		{"listening: cannot have one", flowStore, "0.0.0.0:22", "0.0.0.0:*", row{"-", "", "", ""}},
		{"conntrack down", fixtureStore, "10.20.0.5:22", "192.168.100.200:51234", row{"unknown", "", "", ""}},
		{"acct off", acctOffStore, "10.20.0.5:22", "192.168.100.200:51234", row{"ESTAB A", "", "reply", "acct off"}},
		{"snat of a local client", natJoinStore, "10.20.0.5:45000", "93.184.216.34:443", row{"TIME-WAIT A", "snat", "orig", "43k/3.2M"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t, tt.store(), Options{}, 120, 40)
			send(a, "v", "v")
			p := conns(a).joined
			i := find(p, tt.local, tt.remote)
			got := row{p.cell(i, joinCT), p.cell(i, joinNAT), p.cell(i, joinDir), p.cell(i, joinBytes)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// natJoinStore is flowStore with a local socket whose connection is
// source-NATed on the way out (its flow's original tuple is the socket's).
func natJoinStore() *model.Store {
	s := flowStore()
	socks := append(fixtureSockets(), model.Socket{Proto: model.ProtoTCP, Family: model.FamilyIPv4,
		Local: ap("172.17.0.3:45000"), Remote: ap("93.184.216.34:443"), State: model.StateTimeWait})
	socks = append(socks, model.Socket{Proto: model.ProtoTCP, Family: model.FamilyIPv4,
		Local: ap("10.20.0.5:45000"), Remote: ap("93.184.216.34:443"), State: model.StateTimeWait})
	s.Publish(model.SocketsUpdate{At: t0.Add(time.Second), Sockets: socks})
	// The second socket matches no tuple (the SNAT happens after it):
	// swap its flow in to see a joined SNAT row.
	flows := fixtureFlows()
	flows[5].Orig.Src = ap("10.20.0.5:45000")
	flows[5].Reply.Dst = ap("198.51.100.1:45000")
	flows[5].SetNAT()
	s.Publish(model.FlowsUpdate{At: t0.Add(time.Second), Flows: flows})
	return s
}

func TestConntrackDownOnlyDegradesFlowViews(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	if strings.Contains(screen(a), "! conntrack") || len(conns(a).socks.problems) != 0 {
		t.Fatalf("the sockets view is degraded by conntrack:\n%s", screen(a))
	}
	send(a, "v")
	scr := screen(a)
	for _, want := range []string{"conntrack: needs CAP_NET_ADMIN", "sudo", "setcap cap_net_admin+ep"} {
		if !strings.Contains(scr, want) {
			t.Errorf("flows view lacks %q:\n%s", want, scr)
		}
	}
	send(a, "v")
	if !strings.Contains(screen(a), "! conntrack: needs CAP_NET_ADMIN") || len(rows(a)) < 10 {
		t.Errorf("joined view should warn and keep the sockets:\n%s", screen(a))
	}
	// Without the collector in the snapshot at all it is "waiting".
	b := newTestApp(t, degradedStore(), Options{Deps: Deps{Flows: []string{"conntrack"}}}, 80, 24)
	send(b, "v")
	if !strings.Contains(screen(b), "conntrack: waiting for the first sample") {
		t.Errorf("flows view without the collector:\n%s", screen(b))
	}
}

func TestTableFullBanner(t *testing.T) {
	store := tableFullStore()
	clock := &fakeClock{now: t0}
	a := newTestApp(t, store, Options{Now: clock.Now}, 80, 24)
	for _, tab := range []string{"1", "2", "3"} {
		send(a, tab)
		lines := strings.Split(screen(a), "\n")
		if len(lines) != 24 || !strings.Contains(lines[1], "CONNTRACK TABLE FULL 262144/262144") || !strings.Contains(lines[1], "drop 120.0/s") {
			t.Fatalf("tab %s: no banner:\n%s", tab, screen(a))
		}
		if !strings.Contains(lines[3], "1 Connections") {
			t.Fatalf("tab %s: tab bar not under the banner:\n%s", tab, screen(a))
		}
	}
	send(a, "1")
	if n := len(rows(a)); n != 24-a.top()-2-chromeBottom {
		t.Errorf("%d rows under the banner", n)
	}
	// A click on the tab bar still lands there.
	a.Update(teaClick(20, 3))
	if a.active != 1 {
		t.Errorf("click on the tab bar under the banner: tab %d", a.active)
	}
	// The table recovers: room is made, drops stop.
	st := fixtureCTStats(1000, 262144)
	store.Publish(model.ConntrackStatsUpdate{Stats: st})
	store.Publish(model.CountersUpdate{Collector: "conntrack", At: t0.Add(3 * time.Second), Counters: ctCounters(1, 240)})
	clock.now = clock.now.Add(time.Hour)
	a.Update(storeChangedMsg{})
	if strings.Contains(screen(a), "TABLE FULL") || a.top() != chromeTop {
		t.Fatalf("banner stays after recovery:\n%s", screen(a))
	}
	// Drops rising while the count is just under max: still the banner.
	st.Count = 262000
	store.Publish(model.ConntrackStatsUpdate{Stats: st})
	store.Publish(model.CountersUpdate{Collector: "conntrack", At: t0.Add(5 * time.Second), Counters: ctCounters(2, 240)})
	clock.now = clock.now.Add(time.Hour)
	a.Update(storeChangedMsg{})
	if !strings.Contains(screen(a), "CONNTRACK TABLE FULL 262000/262144") {
		t.Fatalf("no banner while drops rise:\n%s", screen(a))
	}
}

func TestLostEventsInSummary(t *testing.T) {
	a := newTestApp(t, acctOffStore(), Options{}, 80, 24)
	send(a, "v")
	if s := summary(a); !strings.Contains(s, "5120 events lost (re-dump pending)") {
		t.Errorf("flows summary %q", s)
	}
	send(a, "v")
	if s := summary(a); !strings.Contains(s, "5120 events lost") {
		t.Errorf("joined summary %q", s)
	}
	b := newTestApp(t, flowStore(), Options{}, 80, 24)
	send(b, "v")
	if s := summary(b); strings.Contains(s, "lost") {
		t.Errorf("summary mentions lost events when there are none: %q", s)
	}
}

func TestFlowCells(t *testing.T) {
	f := fixtureFlows()[0]
	snap := model.Snapshot{TakenAt: t0.Add(time.Second), Conntrack: fixtureCTStats(1, 2)}
	off := snap
	off.Conntrack.Accounting, off.Conntrack.Timestamps = false, false
	noCounts := f
	noCounts.CountersKnown, noCounts.Start = false, time.Time{}
	tests := []struct {
		name string
		f    model.Flow
		snap model.Snapshot
		col  int
		want string
	}{
		{"bytes", f, snap, flowBytes, "4.8M/912M"},
		{"packets", f, snap, flowPkts, "10/7"},
		{"acct off", noCounts, off, flowBytes, "acct off"},
		{"acct on, flow without counts", noCounts, snap, flowPkts, "-"},
		{"age", f, snap, flowAge, "1s"},
		{"ts off", noCounts, off, flowAge, "ts off"},
		{"ts on, flow without a start", noCounts, snap, flowAge, ">1s"},
		{"ttl", f, snap, flowTTL, "4d23h"},
		{"state", f, snap, flowState, "ESTAB A"},
		{"ipv6 address", fixtureFlows()[3], snap, flowSrc, "[2001:db8:ffff:1234:5678:9abc:def0:1]:60412"},
		{"icmp has no port", fixtureFlows()[10], snap, flowSrc, "10.20.0.5"},
		{"icmpv6 short", fixtureFlows()[11], snap, flowProto, "icmp6"},
		{"dnat target", fixtureFlows()[4], snap, flowXlat, "172.17.0.3:80"},
		{"snat source", fixtureFlows()[5], snap, flowXlat, "10.20.0.5:45000"},
		{"both shows the dnat target", fixtureFlows()[6], snap, flowXlat, "172.17.0.3:80"},
		{"udp replied", fixtureFlows()[8], snap, flowState, "REPLIED"},
		{"udp unreplied", fixtureFlows()[7], snap, flowState, "UNREPLIED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := flowCell(&tt.f, tt.col, &tt.snap); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFmtDur(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {0, "0s"}, {59 * time.Second, "59s"}, {61 * time.Second, "1m1s"},
		{59*time.Minute + 59*time.Second, "59m59s"}, {5*time.Hour + 3*time.Minute, "5h3m"},
		{5*24*time.Hour - time.Second, "4d23h"}, {120 * 24 * time.Hour, "120d"},
	}
	for _, tt := range tests {
		if got := fmtDur(tt.d); got != tt.want || len(got) > 6 {
			t.Errorf("fmtDur(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestNATDetail(t *testing.T) {
	fs := fixtureFlows()
	tests := []struct {
		f    model.Flow
		want string
	}{
		{fs[0], "no NAT"},
		{fs[4], "DNAT: destination 10.20.0.5:8080 goes to 172.17.0.3:80"},
		{fs[5], "SNAT: source 172.17.0.3:45000 leaves as 10.20.0.5:45000"},
		{fs[6], "SNAT: source 172.17.0.2:51000 leaves as 172.17.0.1:51000; DNAT: destination 10.20.0.5:8080 goes to 172.17.0.3:80"},
	}
	for _, tt := range tests {
		if got := natDetail(&tt.f); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestFlowSelectionFollowsRow(t *testing.T) {
	store := flowStore()
	clock := &fakeClock{now: t0}
	a := newTestApp(t, store, Options{Now: clock.Now}, 80, 24)
	send(a, "v", "down", "down")
	p := conns(a).flows
	want := p.key(p.selected())
	flows := fixtureFlows()
	for i, j := 0, len(flows)-1; i < j; i, j = i+1, j-1 {
		flows[i], flows[j] = flows[j], flows[i]
	}
	flows[4].OrigBytes = 1 << 40 // the DNS query becomes the top row
	store.Publish(model.FlowsUpdate{At: t0.Add(2 * time.Second), Flows: flows})
	clock.now = clock.now.Add(time.Hour)
	a.Update(storeChangedMsg{})
	if got := p.key(p.selected()); got != want {
		t.Fatalf("selected %+v after the update, want %+v", got, want)
	}
	if p.tbl.Cursor() != 3 {
		t.Errorf("cursor %d, want 3", p.tbl.Cursor())
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "nat:dnat proto:udp port:53 addr:10.0.0.1", "addr:10.0.0.0/8", "addr:::ffff:10.0.0.0/104",
		"mark:0x10 zone:1", "state:estab", "fe80::1%eth0", "port:", ":", "addr:[::1]", "port:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pf := parseFilter(strings.ToLower(s), true)
		for _, term := range pf.terms {
			known := false
			for _, k := range termKeys {
				known = known || k == term.key
			}
			if !known || term.val == "" {
				t.Fatalf("term %+v from %q", term, s)
			}
			flows := fixtureFlows()
			matchFlowTerm(&flows[0], &term)
		}
	})
}

func TestDropsClickBelowNetfilter(t *testing.T) {
	a := newTestApp(t, flowStore(), Options{}, 80, 24)
	send(a, "2")
	p := a.pages[1].(*dropsPage)
	// Page lines: 0-2 netfilter, 3 summary, 4 header, 5 first row; the
	// page starts at screen line 3.
	a.Update(teaClick(10, 3+5+2))
	if c := p.tbl.Cursor(); c != 2 {
		t.Fatalf("click on the third counter: cursor %d", c)
	}
	a.Update(teaClick(10, 3+1)) // the netfilter section: no change
	if c := p.tbl.Cursor(); c != 2 {
		t.Fatalf("click on the netfilter section moved the cursor to %d", c)
	}
}

func TestJoinedViewOfTheBenchmark(t *testing.T) {
	a := newTestApp(t, flowBenchStore(1000), Options{}, 120, 40)
	send(a, "v", "v")
	// Every TCP flow is its socket's; the UDP fifth matches no (TCP) socket.
	if p := conns(a).joined; p.matched != 800 || p.orphans != 200 {
		t.Fatalf("matched %d, orphans %d; want 800, 200", p.matched, p.orphans)
	}
}

func TestHealthLineKeepsHealthyList(t *testing.T) {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "dropmon", State: model.StateNotSupported,
		Reason: "dropmon: kernel has no drop monitor (CONFIG_NET_DROP_MONITOR): not supported by this kernel"}})
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "qdisc", State: model.StateOK}})
	for _, w := range []int{120, 132} {
		a := newTestApp(t, s, Options{}, w, 24)
		line := strings.Split(screen(a), "\n")[1]
		if !strings.Contains(line, "ok: counters qdisc sockets sysctl") || !strings.HasPrefix(line, " conntrack: needs CAP_NET_ADMIN") ||
			!strings.Contains(line, "dropmon: kernel has no") || len(line) > w {
			t.Errorf("%d columns: health line %q", w, line)
		}
	}
}

func TestJoinedKeepsOrderForNewFlows(t *testing.T) {
	store := flowStore()
	clock := &fakeClock{now: t0}
	a := newTestApp(t, store, Options{Now: clock.Now}, 120, 40)
	send(a, "v", "v")
	p := conns(a).joined
	sshd := -1
	for i, s := range p.snap.Sockets {
		if fmtAddr(s.Local) == "10.20.0.5:22" {
			sshd = i
		}
	}
	update := func(state model.TCPState) {
		flows := fixtureFlows()
		flows[0].TCPState = state
		store.Publish(model.FlowsUpdate{At: t0.Add(2 * time.Second), Flows: flows})
		clock.now = clock.now.Add(time.Hour)
		a.Update(storeChangedMsg{})
	}
	before := p.sortRuns
	update(model.TCPFinWait)
	if p.sortRuns != before || p.cell(sshd, joinCT) != "FIN-WAIT A" {
		t.Fatalf("by local: %d sorts for new flows (want 0), sshd's flow %q", p.sortRuns-before, p.cell(sshd, joinCT))
	}
	for p.sorts[p.sortIdx].name != "bytes" {
		send(a, "o")
	}
	before = p.sortRuns
	update(model.TCPCloseWait)
	if p.sortRuns != before+1 || p.cell(sshd, joinCT) != "CLOSE-WAIT A" {
		t.Fatalf("by bytes: %d sorts for new flows (want 1), sshd's flow %q", p.sortRuns-before, p.cell(sshd, joinCT))
	}
}

func TestAppendBrackets(t *testing.T) {
	for s := model.FlowStatus(0); s < 1<<16; s++ {
		want := s.Brackets()
		if want != "" {
			want = " " + want
		}
		if got := string(appendBrackets(nil, s)); got != want {
			t.Fatalf("status %#x: %q, want %q", s, got, want)
		}
	}
}

func TestJoinedSaysTheTableIsEmpty(t *testing.T) {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "conntrack", State: model.StateOK}})
	a := newTestApp(t, s, Options{}, 120, 40)
	send(a, "v", "v")
	if got := summary(a); !strings.Contains(got, "0 with a conntrack flow (the conntrack table is empty)") {
		t.Errorf("summary %q", got)
	}
	if got := conns(a).joined.cell(5, joinCT); got != "no flow" {
		t.Errorf("connected socket without a flow: %q", got)
	}
}

func TestDropsWarnsOnceAboutConntrack(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{Deps: Deps{Drops: []string{"counters", "conntrack"}}}, 80, 24)
	send(a, "2")
	scr := screen(a)
	if n := strings.Count(scr, "needs CAP_NET_ADMIN"); n != 2 { // the health line and the netfilter section
		t.Errorf("conntrack's reason %d times, want 2:\n%s", n, scr)
	}
	if strings.Contains(scr, "! conntrack") {
		t.Errorf("the counters warn about conntrack too:\n%s", scr)
	}
}
