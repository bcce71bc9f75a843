package ui

import (
	"fmt"
	"net/netip"
	"time"

	"netlens/model"
)

// t0 is the fixed start time of every fixture store.
var t0 = time.Date(2026, 11, 21, 5, 0, 0, 0, time.UTC)

// fixedClock returns a clock frozen at t0 + 10s.
func fixedClock() time.Time { return t0.Add(10 * time.Second) }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// fixtureSockets is a small, realistic socket table.
func fixtureSockets() []model.Socket {
	sshd := []model.Proc{{PID: 812, Comm: "sshd", FD: 3}}
	nginx := []model.Proc{{PID: 1402, Comm: "nginx", FD: 6}, {PID: 1403, Comm: "nginx", FD: 6}, {PID: 1404, Comm: "nginx", FD: 6}}
	pg := []model.Proc{{PID: 2210, Comm: "postgres", FD: 7}}
	socks := []model.Socket{
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("0.0.0.0:22"), Remote: ap("0.0.0.0:0"), State: model.StateListen, SendQ: 128, UID: 0, Inode: 1001, Procs: sshd},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv6, Local: ap("[::]:22"), Remote: ap("[::]:0"), State: model.StateListen, SendQ: 128, UID: 0, Inode: 1002, Procs: sshd},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("0.0.0.0:80"), Remote: ap("0.0.0.0:0"), State: model.StateListen, SendQ: 511, RecvQ: 3, UID: 0, Inode: 1003, Procs: nginx},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("0.0.0.0:443"), Remote: ap("0.0.0.0:0"), State: model.StateListen, SendQ: 511, UID: 0, Inode: 1004, Procs: nginx},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("127.0.0.1:5432"), Remote: ap("0.0.0.0:0"), State: model.StateListen, SendQ: 244, UID: 108, Inode: 1005, Procs: pg},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("10.20.0.5:22"), Remote: ap("192.168.100.200:51234"), State: model.StateEstablished, SendQ: 36, UID: 0, Inode: 1006, Procs: []model.Proc{{PID: 90211, Comm: "sshd", FD: 4}}},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv6, Local: ap("[2001:db8:10::5]:443"), Remote: ap("[2001:db8:ffff:1234:5678:9abc:def0:1]:60412"), State: model.StateEstablished, UID: 33, Inode: 1007, Procs: nginx[:1]},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("127.0.0.1:5432"), Remote: ap("127.0.0.1:40022"), State: model.StateEstablished, UID: 108, Inode: 1008, Procs: pg},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("127.0.0.1:40022"), Remote: ap("127.0.0.1:5432"), State: model.StateEstablished, RecvQ: 4096, UID: 33, Inode: 1009, Procs: []model.Proc{{PID: 3001, Comm: "app-server", FD: 12, Container: "3f4e5a6b7c8d"}}},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("10.20.0.5:443"), Remote: ap("10.20.0.77:33102"), State: model.StateCloseWait, RecvQ: 1, UID: 33, Inode: 1010, Procs: nginx[1:2]},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: ap("10.20.0.5:38800"), Remote: ap("10.20.0.9:6379"), State: model.StateSynSent, UID: 33, Inode: 1011, Procs: []model.Proc{{PID: 3001, Comm: "app-server", FD: 15, Container: "3f4e5a6b7c8d"}}},
		{Proto: model.ProtoUDP, Family: model.FamilyIPv4, Local: ap("127.0.0.53:53"), Remote: ap("0.0.0.0:0"), State: model.StateClose, UID: 101, Inode: 1020, Procs: []model.Proc{{PID: 640, Comm: "systemd-resolve", FD: 13}}, HasDrops: true},
		{Proto: model.ProtoUDP, Family: model.FamilyIPv4, Local: ap("0.0.0.0:514"), Remote: ap("0.0.0.0:0"), State: model.StateClose, RecvQ: 212992, UID: 0, Inode: 1021, Procs: []model.Proc{{PID: 701, Comm: "rsyslogd", FD: 5}}, Drops: 1234, HasDrops: true},
		{Proto: model.ProtoUDP, Family: model.FamilyIPv6, Local: ap("[fe80::1%eth0]:546"), Remote: ap("[::]:0"), State: model.StateClose, UID: 0, Inode: 1022, HasDrops: true},
		{Proto: model.ProtoRAW, Family: model.FamilyIPv6, Local: ap("[::]:58"), Remote: ap("[::]:0"), State: model.StateClose, UID: 0, Inode: 1030, Procs: []model.Proc{{PID: 955, Comm: "NetworkManager", FD: 21}}},
	}
	// tcp_info and rates of the TCP sockets past their handshake: busy
	// ones, an idle one, a new one (no rate yet).
	for i := range socks {
		s := &socks[i]
		if s.Proto != model.ProtoTCP || s.State == model.StateListen {
			continue
		}
		s.Cookie = 5000 + s.Inode
		s.TCP = &model.TCPInfo{Len: 232, RTO: 204000, ATO: 40000, SndMSS: 1448, RcvMSS: 1448, PMTU: 1500, RTT: 20512, RTTVar: 3100, MinRTT: 18100,
			SndSsthresh: 0x7fffffff, SndCwnd: 10, Reordering: 3, PacingRate: 1 << 20, MaxPacingRate: 1<<64 - 1, Congestion: "cubic",
			BytesAcked: 1 << 20, BytesReceived: 64 << 10, SegsOut: 900, SegsIn: 700, DataSegsOut: 800, DataSegsIn: 300,
			BusyTime: 9e6, RwndLimited: 1e6, SndbufLimited: 2e5, BytesSent: 1<<20 + 4096, BytesRetrans: 4096, TotalRetrans: 3}
		if s.State == model.StateSynSent {
			s.TCP = &model.TCPInfo{Len: 232, RTO: 1000000, SndMSS: 536, SndCwnd: 10, SndSsthresh: 0x7fffffff, Backoff: 1, Retransmits: 1, TotalRetrans: 1, Congestion: "cubic"}
			continue // seen for the first time: no rate yet
		}
		s.Rate = &model.SocketRate{Known: true, Interval: time.Second,
			Limits: model.SendLimits{Window: 12 * time.Second, Busy: 9 * time.Second, Rwnd: 6 * time.Second, Sndbuf: 600 * time.Millisecond}}
	}
	for i, r := range []struct {
		inode           uint64
		rx, tx, retrans float64
		caState         model.CAState
	}{
		{1006, 1200, 35000, 0, model.CAOpen},
		{1007, 800, 5.5e6, 2, model.CARecovery},
		{1008, 1.5e6, 200e3, 0, model.CAOpen},
		{1009, 200e3, 1.5e6, 0.5, model.CADisorder},
	} {
		for j := range socks {
			if s := &socks[j]; s.Inode == r.inode {
				s.Rate.RxBps, s.Rate.TxBps, s.Rate.RetransPerSec, s.TCP.CAState = r.rx, r.tx, r.retrans, r.caState
				s.TCP.Lost, s.TCP.Unacked = uint32(i), uint32(2*i)
			}
		}
	}
	for i := range 12 {
		socks = append(socks, model.Socket{
			Proto: model.ProtoTCP, Family: model.FamilyIPv4,
			Local: ap("10.20.0.5:443"), Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)}), uint16(40000+i*7)),
			State: model.StateTimeWait,
		})
	}
	return socks
}

func fixtureCounters(step int) []model.RawCounter {
	v := func(base, per uint64) uint64 { return base + per*uint64(step) }
	return []model.RawCounter{
		{Layer: model.LayerNIC, Source: "/sys/class/net", Group: "statistics", Instance: "eth0", Name: "rx_dropped", Kind: model.KindCounter, Value: v(17, 1)},
		{Layer: model.LayerNIC, Source: "/sys/class/net", Group: "statistics", Instance: "eth0", Name: "rx_missed_errors", Kind: model.KindCounter, Value: v(0, 0)},
		{Layer: model.LayerNIC, Source: "/sys/class/net", Group: "statistics", Instance: "eth0", Name: "tx_dropped", Kind: model.KindCounter, Value: v(2, 0)},
		{Layer: model.LayerSoftnet, Source: "/proc/net/softnet_stat", Instance: "cpu0", Name: "dropped", Kind: model.KindCounter, Value: v(0, 0)},
		{Layer: model.LayerSoftnet, Source: "/proc/net/softnet_stat", Instance: "cpu1", Name: "dropped", Kind: model.KindCounter, Value: v(40, 3)},
		{Layer: model.LayerSoftnet, Source: "/proc/net/softnet_stat", Instance: "cpu1", Name: "time_squeeze", Kind: model.KindCounter, Value: v(1200, 25)},
		{Layer: model.LayerIP, Source: "/proc/net/snmp", Group: "Ip", Name: "InDiscards", Kind: model.KindCounter, Value: v(5, 0)},
		{Layer: model.LayerIP, Source: "/proc/net/snmp", Group: "Ip", Name: "InHdrErrors", Kind: model.KindCounter, Value: v(0, 0)},
		{Layer: model.LayerIP, Source: "/proc/net/netstat", Group: "IpExt", Name: "InNoRoutes", Kind: model.KindCounter, Value: v(3, 1)},
		{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "InErrors", Kind: model.KindCounter, Value: v(9000, 5)},
		{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "NoPorts", Kind: model.KindCounter, Value: v(321, 0)},
		{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "RcvbufErrors", Kind: model.KindCounter, Value: v(9000, 5)},
		{Layer: model.LayerTransport, Source: "/proc/net/netstat", Group: "TcpExt", Name: "ListenDrops", Kind: model.KindCounter, Value: v(88, 2)},
		{Layer: model.LayerTransport, Source: "/proc/net/netstat", Group: "TcpExt", Name: "ListenOverflows", Kind: model.KindCounter, Value: v(88, 2)},
		{Layer: model.LayerTransport, Source: "/proc/net/netstat", Group: "TcpExt", Name: "TCPBacklogDrop", Kind: model.KindCounter, Value: v(0, 0)},
		{Layer: model.LayerTransport, Source: "/proc/net/netstat", Group: "TcpExt", Name: "TCPZeroWindowDrop", Kind: model.KindCounter, Value: v(12345678901, 0)},
		{Layer: model.LayerQdisc, Source: "rtnetlink", Group: "qdisc", Instance: "eth0 fq_codel 0: root", Name: "backlog", Kind: model.KindGauge, Value: v(42, 1)},
		{Layer: model.LayerQdisc, Source: "rtnetlink", Group: "qdisc", Instance: "eth0 fq_codel 0: root", Name: "drops", Kind: model.KindCounter, Value: v(12, 0)},
	}
}

func fixtureSysctls() []model.Sysctl {
	return []model.Sysctl{
		{Name: "net.core.netdev_budget", Value: "300", Watched: true, Why: "Packets one softirq run may process across all devices; softnet time_squeeze grows when it is too small."},
		{Name: "net.core.netdev_max_backlog", Value: "1000", Watched: true, Why: "Per-CPU input queue length; softnet dropped counts packets lost when it is full."},
		{Name: "net.core.rmem_default", Value: "212992", Watched: true, Why: "Default socket receive buffer; UDP RcvbufErrors grow when receivers cannot keep up."},
		{Name: "net.core.rmem_max", Value: "212992", Watched: true, Why: "Largest SO_RCVBUF an application may set."},
		{Name: "net.core.somaxconn", Value: "4096", Watched: true, Why: "Upper bound on a listen() backlog; TcpExt ListenOverflows grow when accept queues fill."},
		{Name: "net.core.busy_poll", Value: "0"},
		{Name: "net.core.default_qdisc", Value: "fq_codel"},
		{Name: "net.ipv4.conf.all.rp_filter", Value: "2", Watched: true, Why: "Reverse-path filtering: 1 strict, 2 loose. Strict mode drops asymmetric-routed packets (IpExt InNoRoutes)."},
		{Name: "net.ipv4.conf.eth0.forwarding", Value: "0"},
		{Name: "net.ipv4.ip_forward", Value: "0", Watched: true, Why: "Whether the host routes packets between interfaces."},
		{Name: "net.ipv4.ip_local_port_range", Value: "32768\t60999", Watched: true, Why: "Ephemeral ports for outgoing connections; exhaustion shows as connect() EADDRNOTAVAIL."},
		{Name: "net.ipv4.tcp_max_syn_backlog", Value: "512", Watched: true, Why: "Half-open connections per listener before SYN cookies or drops."},
		{Name: "net.ipv4.tcp_rmem", Value: "4096\t131072\t6291456", Watched: true, Why: "TCP receive buffer min, default and max (autotuning range)."},
		{Name: "net.ipv4.tcp_syncookies", Value: "1"},
		{Name: "net.ipv4.tcp_tw_reuse", Value: "2"},
		{Name: "net.ipv4.udp_mem", Value: "188430\t251242\t376860", Watched: true, Why: "UDP memory pressure thresholds in pages; above the max, UDP MemErrors grow."},
		{Name: "net.ipv6.conf.all.disable_ipv6", Value: "0"},
		{Name: "net.netfilter.nf_conntrack_max", Value: "262144", Watched: true, Why: "Conntrack table size; when full, new flows are dropped (\"table full, dropping packet\")."},
		{Name: "net.unix.max_dgram_qlen", Value: "512"},
	}
}

// fixtureStore returns a Store filled deterministically: every time in it
// derives from t0, every slice is in a fixed order.
func fixtureStore() *model.Store {
	s := model.NewStore("web-1", "6.12.48-netlens", t0)
	for _, st := range []model.CollectorStatus{
		{Name: "conntrack", State: model.StateNoPermission, Reason: "needs CAP_NET_ADMIN: permission denied", Interval: time.Second},
		{Name: "counters", State: model.StateOK, Interval: time.Second, LastRun: t0.Add(time.Second), LastSuccess: t0.Add(time.Second)},
		{Name: "sockets", State: model.StateOK, Interval: time.Second, Source: "sock_diag", LastRun: t0.Add(time.Second), LastSuccess: t0.Add(time.Second)},
		{Name: "sysctl", State: model.StateOK, Interval: 5 * time.Second, LastRun: t0, LastSuccess: t0},
	} {
		s.Publish(model.StatusUpdate{Status: st})
	}
	s.Publish(model.SocketsUpdate{At: t0.Add(time.Second), Sockets: fixtureSockets()})
	s.Publish(model.CountersUpdate{Collector: "counters", At: t0, Counters: fixtureCounters(0)})
	s.Publish(model.CountersUpdate{Collector: "counters", At: t0.Add(time.Second), Counters: fixtureCounters(1)})
	s.Publish(model.SysctlsUpdate{At: t0, Sysctls: fixtureSysctls()})
	return s
}

// notedStore is fixtureStore with a sockets collector that could not see
// every socket's owner.
func notedStore() *model.Store {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "sockets", State: model.StateOK, Interval: time.Second, Source: "sock_diag",
		LastDuration: 1500 * time.Microsecond, Note: "owners of 3 of 90 processes unreadable (needs root or CAP_SYS_PTRACE)"}})
	return s
}

// degradedStore has no sockets and no sysctls because their collectors
// lack privileges, and counters still starting.
func degradedStore() *model.Store {
	s := model.NewStore("web-1", "6.12.48-netlens", t0)
	for _, st := range []model.CollectorStatus{
		{Name: "counters", State: model.StatePending, Interval: time.Second},
		{Name: "sockets", State: model.StateNoPermission, Reason: "sock_diag needs CAP_NET_ADMIN: permission denied", Interval: time.Second},
		{Name: "sysctl", State: model.StateNotSupported, Reason: "/proc/sys/net: not supported by this kernel", Interval: time.Second},
	} {
		s.Publish(model.StatusUpdate{Status: st})
	}
	return s
}

// bigSockets returns n distinct sockets for benchmarks.
func bigSockets(n int) []model.Socket {
	out := make([]model.Socket, n)
	states := []model.SockState{model.StateEstablished, model.StateEstablished, model.StateEstablished, model.StateTimeWait, model.StateListen, model.StateCloseWait}
	for i := range out {
		out[i] = model.Socket{
			Proto: model.ProtoTCP, Family: model.FamilyIPv4,
			Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 16), byte(i >> 8)}), uint16(1024+i%60000)),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(20000+i%40000)),
			State:  states[i%len(states)],
			RecvQ:  uint32(i % 7), SendQ: uint32(i % 11),
			UID: uint32(i % 3), Inode: uint64(100000 + i),
			Procs: []model.Proc{{PID: 1000 + i%500, Comm: fmt.Sprintf("worker-%d", i%500), FD: 3 + i%100}},
		}
	}
	return out
}
