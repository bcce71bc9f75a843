package links

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/internal/netnstest"
	"netlens/model"
)

// ipLink is what `ip -s -s -d -j link` says of one interface (the fields
// compared).
type ipLink struct {
	Index     int32    `json:"ifindex"`
	Name      string   `json:"ifname"`
	MTU       uint32   `json:"mtu"`
	Qdisc     string   `json:"qdisc"`
	Master    string   `json:"master"`
	OperState string   `json:"operstate"`
	TxQueue   uint32   `json:"txqlen"`
	LinkType  string   `json:"link_type"`
	Address   string   `json:"address"`
	Flags     []string `json:"flags"`
	LinkInfo  struct {
		Kind string `json:"info_kind"`
		Data struct {
			ID uint16 `json:"id"`
		} `json:"info_data"`
	} `json:"linkinfo"`
	Stats struct {
		Rx map[string]uint64 `json:"rx"`
		Tx map[string]uint64 `json:"tx"`
	} `json:"stats64"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
		Scope     string `json:"scope"`
	} `json:"addr_info"`
}

// fromIP is the part of a model.Interface `ip` shows, built from its
// JSON.
func fromIP(l ipLink) model.Interface {
	rx, tx := l.Stats.Rx, l.Stats.Tx
	m := model.Interface{
		Index: l.Index, Name: l.Name, MTU: l.MTU, Qdisc: l.Qdisc, Master: l.Master,
		OperState: strings.ToLower(l.OperState), TxQueueLen: l.TxQueue, LinkType: l.LinkType,
		MAC: l.Address, Kind: l.LinkInfo.Kind, VLANID: l.LinkInfo.Data.ID,
		Up: slices.Contains(l.Flags, "UP"), Carrier: slices.Contains(l.Flags, "LOWER_UP"),
		CarrierChanges: uint32(tx["carrier_changes"]),
		Stats: model.LinkStats{
			RxBytes: rx["bytes"], RxPackets: rx["packets"], RxErrors: rx["errors"], RxDropped: rx["dropped"],
			RxOverErrors: rx["over_errors"], Multicast: rx["multicast"], RxLengthErrors: rx["length_errors"],
			RxCRCErrors: rx["crc_errors"], RxFrameErrors: rx["frame_errors"], RxFIFOErrors: rx["fifo_errors"],
			RxMissedErrors: rx["missed_errors"], RxNoHandler: rx["nohandler"], RxOtherhostDropped: rx["otherhost"],
			TxBytes: tx["bytes"], TxPackets: tx["packets"], TxErrors: tx["errors"], TxDropped: tx["dropped"],
			TxCarrierErrors: tx["carrier_errors"], Collisions: tx["collisions"], TxAbortedErrors: tx["aborted_errors"],
			TxFIFOErrors: tx["fifo_errors"], TxWindowErrors: tx["window_errors"], TxHeartbeatErrors: tx["heartbeat_errors"],
		},
		Addresses: []model.InterfaceAddr{},
	}
	for _, a := range l.AddrInfo {
		m.Addresses = append(m.Addresses, model.InterfaceAddr{Family: a.Family, Address: a.Local, PrefixLen: a.PrefixLen, Scope: a.Scope})
	}
	return m
}

// comparable strips what ip does not show (rates, ethtool, tc) and the
// fields ip prints differently.
func comparable(l model.Interface) model.Interface {
	l.Rate, l.Ethtool, l.EthtoolNote, l.TC = model.InterfaceRate{}, nil, "", nil
	l.MasterIndex, l.LinkIndex = 0, 0
	// ip shows neither of these two counters unless non-zero; the
	// kernel's rtnl_link_stats64 has them.
	l.Stats.RxCompressed, l.Stats.TxCompressed = 0, 0
	return l
}

func ipLinks(t *testing.T, ns *netnstest.NS) map[string]model.Interface {
	t.Helper()
	var links, addrs []ipLink
	if err := json.Unmarshal([]byte(ns.Run(t, "ip", "-s", "-s", "-d", "-j", "link", "show")), &links); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(ns.Run(t, "ip", "-j", "addr", "show")), &addrs); err != nil {
		t.Fatal(err)
	}
	out := map[string]model.Interface{}
	for i, l := range links {
		for _, a := range addrs {
			if a.Index == l.Index {
				links[i].AddrInfo = a.AddrInfo
			}
		}
		out[l.Name] = fromIP(links[i])
	}
	return out
}

// ethtoolS is `ethtool -S DEV` in ns: nil for "no stats available".
func ethtoolS(t *testing.T, ns *netnstest.NS, dev string) []model.EthtoolStat {
	t.Helper()
	out, err := ns.Command("ethtool", "-S", dev).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "no stats available") {
			return nil
		}
		t.Fatalf("ethtool -S %s: %v\n%s", dev, err, out)
	}
	var st []model.EthtoolStat
	for _, line := range strings.Split(string(out), "\n")[1:] {
		name, val, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			t.Fatalf("ethtool line %q: %v", line, err)
		}
		st = append(st, model.EthtoolStat{Name: name, Value: v})
	}
	return st
}

// setupLinks makes namespace a (measured) holding va (10.77.0.1/24) whose
// peer vb (10.77.0.2/24) is in namespace b, a bridge br0 with the port vc
// of the pair vc/vd, a tun, and, where the kernel has 8021q, the VLAN
// va.10. IPv6 is off on the new links, so that nothing but the test's
// traffic moves their counters. It reports whether the VLAN exists.
func setupLinks(t *testing.T) (a, b *netnstest.NS, vlan bool) {
	a, b = netnstest.New(t, "nl-links-a"), netnstest.New(t, "nl-links-b")
	for _, ns := range []*netnstest.NS{a, b} {
		ns.Run(t, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
	}
	a.Run(t, "ip", "link", "add", "va", "type", "veth", "peer", "name", "vb")
	a.Run(t, "ip", "link", "set", "vb", "netns", b.Name)
	a.Run(t, "ip", "addr", "add", "10.77.0.1/24", "dev", "va")
	a.Run(t, "ip", "link", "set", "va", "up")
	b.Run(t, "ip", "addr", "add", "10.77.0.2/24", "dev", "vb")
	b.Run(t, "ip", "link", "set", "vb", "up")
	a.Run(t, "ip", "link", "add", "br0", "type", "bridge")
	a.Run(t, "ip", "link", "add", "vc", "type", "veth", "peer", "name", "vd")
	a.Run(t, "ip", "link", "set", "vc", "master", "br0")
	a.Run(t, "ip", "addr", "add", "10.78.0.1/24", "dev", "br0")
	a.Run(t, "ip", "tuntap", "add", "mode", "tun", "name", "tun0")
	a.Run(t, "ip", "link", "set", "dev", "vc", "mtu", "1400")
	// 8021q: this machine's kernel lacks it (no CONFIG_VLAN_8021Q);
	// Debian's and CI's have it.
	if out, err := a.Command("ip", "link", "add", "link", "va", "name", "va.10", "type", "vlan", "id", "10").CombinedOutput(); err != nil {
		t.Logf("no VLAN: the kernel lacks 8021q (ip link add ... type vlan: %v: %s); the VLAN row is not checked", err, strings.TrimSpace(string(out)))
	} else {
		vlan = true
		a.Run(t, "ip", "link", "set", "va.10", "up")
	}
	// One exchange, so that ARP is done before the counters are read.
	a.Run(t, "ping", "-c", "1", "-W", "2", "10.77.0.2")
	return a, b, vlan
}

// TestIntegrationLinksEqualIP: in a namespace with a veth pair, a bridge
// with a port, a tun and (where the kernel has it) a VLAN, every row the
// collector reads equals `ip -s -s -d -j link` and `ip -j addr` read at
// the same moment (nothing moves the counters), and every interface's
// driver statistics equal `ethtool -S`.
func TestIntegrationLinksEqualIP(t *testing.T) {
	if _, err := exec.LookPath("ethtool"); err != nil {
		t.Skip("needs ethtool(8) as the oracle (apt-get install ethtool; in the Makefile's TEST_PKGS)")
	}
	a, _, vlan := setupLinks(t)
	c := New(Options{NetNS: a.FD(t)})
	t.Cleanup(func() { c.Close() })
	var got []model.Interface
	var want map[string]model.Interface
	// ip before and after the sample agree: the sample saw the same
	// counters (tries a few times if something moved them).
	for try := 0; ; try++ {
		before := ipLinks(t, a)
		var err error
		got, err = c.Sample(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want = ipLinks(t, a)
		if cmp.Equal(before, want) {
			break
		}
		if try == 4 {
			t.Fatalf("the counters kept moving while sampled:\n%s", cmp.Diff(before, want))
		}
	}
	names := map[string]bool{}
	for _, l := range got {
		names[l.Name] = true
		w, ok := want[l.Name]
		if !ok {
			t.Errorf("%s: not in ip link", l.Name)
			continue
		}
		if l.Rate.Known {
			t.Errorf("%s: a rate on the first sample: %+v", l.Name, l.Rate)
		}
		if diff := cmp.Diff(w, comparable(l)); diff != "" {
			t.Errorf("%s: (-ip +netlens)\n%s", l.Name, diff)
		}
		if diff := cmp.Diff(ethtoolS(t, a, l.Name), l.Ethtool, cmpEmpty); diff != "" {
			t.Errorf("%s: ethtool -S (-ethtool +netlens)\n%s", l.Name, diff)
		}
		if len(l.Ethtool) == 0 && l.EthtoolNote == "" {
			t.Errorf("%s: no ethtool statistics and no note why", l.Name)
		}
	}
	wantNames := []string{"lo", "va", "br0", "vc", "vd", "tun0"}
	if vlan {
		wantNames = append(wantNames, "va.10")
	}
	for _, n := range wantNames {
		if !names[n] {
			t.Errorf("%s: missing from the collector's rows", n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d rows, ip shows %d", len(got), len(want))
	}
	// Kinds, masters and the veth's peer index, spelled out.
	byName := map[string]model.Interface{}
	for _, l := range got {
		byName[l.Name] = l
	}
	for name, kind := range map[string]string{"va": "veth", "br0": "bridge", "vc": "veth", "tun0": "tun", "lo": ""} {
		if byName[name].Kind != kind {
			t.Errorf("%s: kind %q, want %q", name, byName[name].Kind, kind)
		}
	}
	if byName["vc"].Master != "br0" || byName["vc"].MasterIndex != byName["br0"].Index {
		t.Errorf("vc: master %q (%d), want br0", byName["vc"].Master, byName["vc"].MasterIndex)
	}
	if vlan && (byName["va.10"].Kind != "vlan" || byName["va.10"].VLANID != 10 || byName["va.10"].LinkIndex != byName["va"].Index) {
		t.Errorf("va.10: %+v", byName["va.10"])
	}
	if st := byName["va"].Ethtool; len(st) == 0 || st[0].Name != "peer_ifindex" {
		t.Errorf("va: ethtool statistics %v, want peer_ifindex first", st)
	}
	if tc := byName["va"].TC; len(tc) == 0 || tc[0].Kind != "noqueue" {
		t.Errorf("va: tc %+v, want the noqueue root", tc)
	}
}

// cmpEmpty makes a nil and an empty list of ethtool statistics equal.
var cmpEmpty = cmp.Comparer(func(x, y []model.EthtoolStat) bool {
	if len(x) == 0 && len(y) == 0 {
		return true
	}
	return slices.Equal(x, y)
})

// TestIntegrationLinksTC: an htb tree on va shows as tc shows it: the
// qdiscs and classes with their statistics after traffic through them.
func TestIntegrationLinksTC(t *testing.T) {
	a, _, _ := setupLinks(t)
	a.Run(t, "tc", "qdisc", "add", "dev", "va", "root", "handle", "1:", "htb", "default", "10")
	a.Run(t, "tc", "class", "add", "dev", "va", "parent", "1:", "classid", "1:10", "htb", "rate", "100mbit")
	a.Run(t, "tc", "qdisc", "add", "dev", "va", "parent", "1:10", "handle", "10:", "pfifo", "limit", "100")
	a.Run(t, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.2")
	c := New(Options{NetNS: a.FD(t)})
	t.Cleanup(func() { c.Close() })
	got, err := c.Sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var va model.Interface
	for _, l := range got {
		if l.Name == "va" {
			va = l
		}
	}
	type row struct {
		Class         bool
		Kind, Handle  string
		Parent        string
		Bytes, Packet uint64
	}
	var rows []row
	for _, o := range va.TC {
		rows = append(rows, row{o.Class, o.Kind, o.Handle, o.Parent, o.Bytes, o.Packets})
	}
	// The oracle: tc's own JSON for the qdiscs; its text for the
	// classes (tc -j class prints text).
	var want []row
	var objs []struct {
		Kind    string `json:"kind"`
		Handle  string `json:"handle"`
		Parent  string `json:"parent"`
		Root    bool   `json:"root"`
		Bytes   uint64 `json:"bytes"`
		Packets uint64 `json:"packets"`
	}
	if err := json.Unmarshal([]byte(a.Run(t, "tc", "-s", "-j", "qdisc", "show", "dev", "va")), &objs); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		r := row{Kind: o.Kind, Handle: o.Handle, Parent: o.Parent, Bytes: o.Bytes, Packet: o.Packets}
		if o.Root {
			r.Parent = "root"
		}
		want = append(want, r)
	}
	// class htb 1:10 root leaf 10: prio 0 rate ...
	//  Sent 294 bytes 3 pkt (dropped 0, overlimits 0 requeues 0)
	for _, block := range strings.Split(a.Run(t, "tc", "-s", "class", "show", "dev", "va"), "\nclass ")[0:] {
		f := strings.Fields(strings.TrimPrefix(block, "class "))
		if len(f) < 3 {
			continue
		}
		r := row{Class: true, Kind: f[0], Handle: f[1], Parent: f[2]}
		if f[2] == "parent" {
			r.Parent = f[3]
		}
		for i := range f {
			if f[i] == "Sent" && i+3 < len(f) {
				r.Bytes, _ = strconv.ParseUint(f[i+1], 10, 64)
				r.Packet, _ = strconv.ParseUint(f[i+3], 10, 64)
			}
		}
		want = append(want, r)
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("tc objects of va (-tc +netlens)\n%s", diff)
	}
	if len(rows) < 3 || rows[0].Packet == 0 {
		t.Errorf("want htb, pfifo and class 1:10 with traffic: %+v", rows)
	}
}

// TestIntegrationLinksRate: a sender paced at a fixed rate of fixed-size
// UDP datagrams from b into a; over 10 s the collector's receive rate
// on va follows it within 5%, in bits and in packets.
func TestIntegrationLinksRate(t *testing.T) {
	a, b, _ := setupLinks(t)
	const (
		pps      = 400
		payload  = 1000
		frame    = 14 + 20 + 8 + payload // Ethernet, IPv4, UDP
		duration = 10 * time.Second
	)
	c := New(Options{NetNS: a.FD(t), NoEthtool: true})
	t.Cleanup(func() { c.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), duration+5*time.Second)
	defer cancel()
	sent := make(chan int, 1)
	go b.Do(t, func() {
		conn, err := net.Dial("udp4", "10.77.0.1:9")
		if err != nil {
			t.Error(err)
			sent <- 0
			return
		}
		defer conn.Close()
		buf := make([]byte, payload)
		start := time.Now()
		n := 0
		// Catch-up pacing: after each nap, send what is due by now.
		for ctx.Err() == nil && n < pps*int((duration+3*time.Second)/time.Second) {
			due := int(time.Since(start).Seconds() * pps)
			for ; n < due; n++ {
				_, _ = conn.Write(buf)
			}
			time.Sleep(2 * time.Millisecond)
		}
		sent <- n
	})
	time.Sleep(time.Second) // the sender is running
	var rx, rxp []float64
	if _, err := c.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	for range int(duration / time.Second) {
		time.Sleep(time.Second)
		got, err := c.Sample(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range got {
			if l.Name == "va" {
				if !l.Rate.Known {
					t.Fatalf("va: no rate on a second sample")
				}
				rx, rxp = append(rx, l.Rate.RxBitsPerSec), append(rxp, l.Rate.RxPacketsPerSec)
			}
		}
	}
	cancel()
	<-sent
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	wantBits, wantPkts := float64(pps*frame*8), float64(pps)
	t.Logf("rx bits/s per second: %v (sent %.0f)", rx, wantBits)
	for _, chk := range []struct {
		what      string
		got, want float64
	}{{"bits/s", mean(rx), wantBits}, {"packets/s", mean(rxp), wantPkts}} {
		if off := math.Abs(chk.got-chk.want) / chk.want; off > 0.05 {
			t.Errorf("va rx %s over 10 s: %.1f, sent %.1f (%.1f%% off, want within 5%%)", chk.what, chk.got, chk.want, 100*off)
		}
	}
	if len(rx) != int(duration/time.Second) {
		t.Errorf("%d rates", len(rx))
	}
}
