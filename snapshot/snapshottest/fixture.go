// Package snapshottest builds model.Snapshots for tests of the packages
// that read snapshots (snapshot, exporter, diff, recorder, the TUI's
// offline mode). It is for tests only.
package snapshottest

import (
	"net/netip"
	"time"

	"netlens/model"
)

// T0 is when Full's snapshot starts.
var T0 = time.Date(2026, 11, 21, 5, 1, 2, 0, time.UTC)

// Full returns a snapshot of host "web-1" with every section set: two
// counter samples a second apart (so deltas and rates are not zero),
// sockets, sysctls, flows, conntrack, drop monitor, capture, rules,
// interfaces and collector health.
func Full() model.Snapshot {
	return Build(Options{})
}

// Options vary Full's snapshot.
type Options struct {
	// Host replaces "web-1".
	Host string
	// At shifts every time by this much from T0.
	At time.Duration
	// NoPorts is the second sample of Udp NoPorts (the first is 10).
	NoPorts uint64
	// Extra sockets, flows, sysctl values and rules to add.
	Sockets []model.Socket
	Flows   []model.Flow
	Sysctls map[string]string
	Rules   []model.Rule
}

// Build returns a snapshot as Full, varied by o.
func Build(o Options) model.Snapshot {
	host := o.Host
	if host == "" {
		host = "web-1"
	}
	if o.NoPorts == 0 {
		o.NoPorts = 25
	}
	t0 := T0.Add(o.At)
	s := model.NewStore(host, "6.1.0-28-amd64", t0)
	socks := []model.Socket{
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: netip.MustParseAddrPort("10.0.0.1:22"), Remote: netip.MustParseAddrPort("10.0.0.2:50000"),
			State: model.StateEstablished, SendQ: 1, RecvQ: 2, Inode: 12345, Cookie: 99, Procs: []model.Proc{{PID: 42, Comm: "sshd", FD: 3}}, Drops: 7, HasDrops: true},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: netip.MustParseAddrPort("0.0.0.0:22"), Remote: netip.MustParseAddrPort("0.0.0.0:0"),
			State: model.StateListen, SendQ: 128, Inode: 1000, Procs: []model.Proc{{PID: 40, Comm: "sshd", FD: 3}}},
		{Proto: model.ProtoUDP, Family: model.FamilyIPv6, Local: netip.MustParseAddrPort("[::]:53"), Remote: netip.MustParseAddrPort("[::]:0"), State: model.StateClose, Inode: 2000},
	}
	s.Publish(model.SocketsUpdate{At: t0, Sockets: append(socks, o.Sockets...)})
	for i, v := range []uint64{10, o.NoPorts} {
		s.Publish(model.CountersUpdate{Collector: "counters", At: t0.Add(time.Duration(i) * time.Second), Counters: []model.RawCounter{
			{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "NoPorts", Kind: model.KindCounter, Value: v},
			{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "RcvbufErrors", Kind: model.KindCounter, Value: 3},
			{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "InDatagrams", Kind: model.KindCounter, Value: 1000 + v},
			{Layer: model.LayerNIC, Source: "rtnetlink", Group: "statistics", Instance: "eth0", Name: "rx_dropped", Kind: model.KindCounter, Value: 5},
			{Layer: model.LayerSocket, Source: "/proc/net/sockstat", Group: "TCP", Name: "inuse", Kind: model.KindGauge, Value: 2},
		}})
	}
	sysctls := []model.Sysctl{
		{Name: "net.core.somaxconn", Value: "4096", Watched: true, Why: "listen backlog cap"},
		{Name: "net.ipv4.ip_forward", Value: "0"},
	}
	for i, sc := range sysctls {
		if v, ok := o.Sysctls[sc.Name]; ok {
			sysctls[i].Value = v
		}
	}
	s.Publish(model.SysctlsUpdate{At: t0, Sysctls: sysctls})
	flows := []model.Flow{
		{ID: 7, Family: model.FamilyIPv4, Proto: model.ProtoTCP, ProtoNum: 6,
			Orig:     model.FlowTuple{Src: netip.MustParseAddrPort("10.0.0.2:50000"), Dst: netip.MustParseAddrPort("10.0.0.1:22")},
			Reply:    model.FlowTuple{Src: netip.MustParseAddrPort("10.0.0.1:22"), Dst: netip.MustParseAddrPort("10.0.0.2:50000")},
			TCPState: model.TCPEstablished, Status: model.StatusSeenReply | model.StatusAssured | model.StatusConfirmed,
			Timeout: 431999 * time.Second, OrigPackets: 3, OrigBytes: 180, ReplyPackets: 2, ReplyBytes: 120, CountersKnown: true,
			FirstSeen: t0, Updated: t0},
	}
	s.Publish(model.FlowsUpdate{At: t0, Flows: append(flows, o.Flows...)})
	s.Publish(model.ConntrackStatsUpdate{Stats: model.ConntrackStats{At: t0, Count: 1, Max: 262144, Buckets: 65536, Events: true,
		PerCPU:    []model.ConntrackCPU{{CPU: 0, Invalid: 2, InsertFailed: 5, Drop: 6, EarlyDrop: 7}},
		Total:     model.ConntrackCPU{Invalid: 2, InsertFailed: 5, Drop: 6, EarlyDrop: 7},
		FlowsHeld: 1, FlowsLimit: 65536, Dumps: 3, LastDump: t0, Listening: true, EventsNew: 10, EventsLost: 2, Overruns: 1}})
	s.Publish(model.DropsUpdate{Monitor: model.DropMonitor{At: t0, Supported: true, Mode: "packet", Total: 9, Drops: []model.DropReason{
		{Reason: "NO_SOCKET", Layer: model.LayerTransport, Location: "__udp4_lib_rcv+0x1f", Origin: "sw", Delta: 2, Total: 6, LastSeen: t0},
		{Reason: "NO_SOCKET", Layer: model.LayerTransport, Location: "__udp6_lib_rcv+0x2a", Origin: "sw", Delta: 0, Total: 1, LastSeen: t0},
		{Reason: "NETFILTER_DROP", Layer: model.LayerNetfilter, Location: "nf_hook_slow+0x9c", Origin: "sw", Delta: 1, Total: 2, LastSeen: t0},
	}}})
	for _, st := range []model.CollectorStatus{
		{Name: "sockets", State: model.StateOK, Interval: time.Second, LastDuration: 3 * time.Millisecond, LastRun: t0, LastSuccess: t0, Source: "sock_diag"},
		{Name: "counters", State: model.StateOK, Interval: time.Second, LastDuration: time.Millisecond, LastRun: t0, LastSuccess: t0},
		{Name: "conntrack", State: model.StateOK, Interval: 10 * time.Second, LastDuration: 20 * time.Millisecond, LastRun: t0, LastSuccess: t0},
		{Name: "dropmon", State: model.StateNoPermission, Reason: "needs CAP_NET_ADMIN", Interval: time.Second, Errors: 4},
	} {
		s.Publish(model.StatusUpdate{Status: st})
	}
	s.Publish(model.CaptureUpdate{Stats: model.CaptureStats{At: t0, Source: "live", Interface: "eth0", Running: true, Started: t0,
		Packets: 1000, Bytes: 900000, RingDrops: 3}})
	rules := []model.Rule{
		{ID: 1, Enabled: true, Hooks: []string{model.HookInput}, Family: model.RuleFamilyBoth, Proto: "tcp", DstPorts: model.PortRange{Min: 22, Max: 22},
			Action: model.ActionAccept, Label: "keep ssh", Packets: 10, Bytes: 600},
	}
	s.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: t0, Rules: append(rules, o.Rules...)}})
	s.Publish(model.SysctlChangesUpdate{Changes: &model.SysctlChanges{
		Pending: &model.SysctlPending{Txn: 9, Name: "net.core.somaxconn", Old: "4096", New: "8192", RevertAt: t0.Add(30 * time.Second)},
		Journal: []model.SysctlChange{
			{At: t0.Add(-time.Minute), Txn: 8, Name: "net.ipv4.tcp_keepalive_time", Old: "7200", New: "600", UID: 0, User: "root", By: "netlens (pid 4242)", Outcome: model.SysctlApplied, RevertAt: t0.Add(-30 * time.Second)},
			{At: t0.Add(-30 * time.Second), Txn: 8, Name: "net.ipv4.tcp_keepalive_time", Old: "600", New: "7200", UID: 0, User: "root", By: "revert helper (pid 4250)", Outcome: model.SysctlReverted, Message: "written back at the deadline: not confirmed"},
			{At: t0, Txn: 9, Name: "net.core.somaxconn", Old: "4096", New: "8192", UID: 0, User: "root", By: "netlens (pid 4242)", Outcome: model.SysctlApplied, RevertAt: t0.Add(30 * time.Second)},
		},
	}})
	s.Publish(model.InterfacesUpdate{At: t0, Interfaces: Interfaces()})
	return s.Snapshot()
}

// Interfaces returns the interfaces of Full's snapshot: lo, eth0 (with
// an fq_codel under mq, ethtool statistics and a rate), a bridge br0
// and its veth port veth1a, and the VLAN eth0.100, down.
func Interfaces() []model.Interface {
	addrs := func(a ...model.InterfaceAddr) []model.InterfaceAddr { return append([]model.InterfaceAddr{}, a...) }
	none := []model.EthtoolStat{}
	return []model.Interface{
		{Index: 1, Name: "lo", LinkType: "loopback", Up: true, OperState: "unknown", Carrier: true, MTU: 65536, TxQueueLen: 1000,
			MAC: "00:00:00:00:00:00", Qdisc: "noqueue",
			Addresses: addrs(model.InterfaceAddr{Family: "inet", Address: "127.0.0.1", PrefixLen: 8, Scope: "host"}, model.InterfaceAddr{Family: "inet6", Address: "::1", PrefixLen: 128, Scope: "host"}),
			Stats:     model.LinkStats{RxPackets: 1200, TxPackets: 1200, RxBytes: 96000, TxBytes: 96000},
			Rate:      model.InterfaceRate{Known: true, Interval: time.Second, RxBitsPerSec: 8000, TxBitsPerSec: 8000, RxPacketsPerSec: 10, TxPacketsPerSec: 10},
			Ethtool:   none, EthtoolNote: "the driver has no statistics",
			TC: []model.TCObject{{Kind: "noqueue", Handle: "0:", Parent: "root"}}},
		{Index: 2, Name: "eth0", LinkType: "ether", Up: true, OperState: "up", Carrier: true, CarrierChanges: 2, MTU: 1500, TxQueueLen: 1000,
			MAC: "52:54:00:12:34:56", Qdisc: "mq",
			Addresses: addrs(model.InterfaceAddr{Family: "inet", Address: "10.0.0.1", PrefixLen: 24, Scope: "global"}, model.InterfaceAddr{Family: "inet6", Address: "fe80::5054:ff:fe12:3456", PrefixLen: 64, Scope: "link"}),
			Stats: model.LinkStats{RxPackets: 9_000_000, TxPackets: 7_000_000, RxBytes: 12_000_000_000, TxBytes: 3_000_000_000,
				RxErrors: 3, RxDropped: 1500, TxDropped: 2, RxMissedErrors: 1497, RxCRCErrors: 3, Multicast: 40},
			Rate: model.InterfaceRate{Known: true, Interval: time.Second, RxBitsPerSec: 941e6, TxBitsPerSec: 12.5e6, RxPacketsPerSec: 81000, TxPacketsPerSec: 21000},
			Ethtool: []model.EthtoolStat{{Name: "rx_queue_0_packets", Value: 4_500_000}, {Name: "rx_queue_1_packets", Value: 4_500_000},
				{Name: "rx_missed_errors", Value: 1497}, {Name: "tx_timeout_count", Value: 0}},
			TC: []model.TCObject{
				{Kind: "mq", Handle: "0:", Parent: "root", Bytes: 3_000_000_000, Packets: 7_000_000, Drops: 2},
				{Kind: "fq_codel", Handle: "0:", Parent: ":1", Bytes: 1_500_000_000, Packets: 3_500_000, Drops: 2, Overlimits: 0, Requeues: 1},
				{Class: true, Kind: "mq", Handle: ":1", Parent: "root", Bytes: 1_500_000_000, Packets: 3_500_000, Drops: 2}}},
		{Index: 3, Name: "br0", Kind: "bridge", LinkType: "ether", Up: true, OperState: "up", Carrier: true, MTU: 1500,
			MAC: "02:42:ac:11:00:01", Qdisc: "noqueue",
			Addresses: addrs(model.InterfaceAddr{Family: "inet", Address: "172.17.0.1", PrefixLen: 16, Scope: "global"}),
			Stats:     model.LinkStats{RxPackets: 500, TxPackets: 400, RxBytes: 64000, TxBytes: 51200},
			Rate:      model.InterfaceRate{Known: true, Interval: time.Second, RxBitsPerSec: 1600, TxBitsPerSec: 800, RxPacketsPerSec: 2, TxPacketsPerSec: 1},
			Ethtool:   none, EthtoolNote: "the driver has no statistics", TC: []model.TCObject{{Kind: "noqueue", Handle: "0:", Parent: "root"}}},
		{Index: 4, Name: "veth1a", Kind: "veth", LinkType: "ether", Up: true, OperState: "up", Carrier: true, MTU: 1500, TxQueueLen: 1000,
			MAC: "0a:58:0a:f4:00:05", Master: "br0", MasterIndex: 3, LinkIndex: 5, Qdisc: "noqueue",
			Addresses: addrs(),
			Stats:     model.LinkStats{RxPackets: 400, TxPackets: 500, RxBytes: 51200, TxBytes: 64000, TxDropped: 7},
			Rate:      model.InterfaceRate{Known: true, Interval: time.Second, RxBitsPerSec: 800, TxBitsPerSec: 1600, RxPacketsPerSec: 1, TxPacketsPerSec: 2},
			Ethtool:   []model.EthtoolStat{{Name: "peer_ifindex", Value: 5}, {Name: "rx_queue_0_xdp_packets", Value: 0}},
			TC:        []model.TCObject{{Kind: "noqueue", Handle: "0:", Parent: "root"}}},
		{Index: 6, Name: "eth0.100", Kind: "vlan", LinkType: "ether", OperState: "down", MTU: 1500, MAC: "52:54:00:12:34:56",
			LinkIndex: 2, VLANID: 100, Qdisc: "noqueue", Addresses: addrs(), Ethtool: none, EthtoolNote: "the driver has no statistics",
			TC: []model.TCObject{}},
	}
}
