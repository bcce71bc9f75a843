package drops

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

func ctr(layer model.Layer, source, group, inst, name string, delta uint64) model.Counter {
	return model.Counter{RawCounter: model.RawCounter{Layer: layer, Source: source, Group: group, Instance: inst, Name: name, Kind: model.KindCounter, Value: 100 + delta}, Delta: delta, Total: delta, Rate: float64(delta)}
}

func names(fc []FunnelCounter) []string {
	var out []string
	for _, c := range fc {
		out = append(out, strings.Join(strings.Fields(c.Group+" "+c.Instance+" "+c.Name), " "))
	}
	return out
}

func TestFunnel(t *testing.T) {
	cs := []model.Counter{
		ctr(model.LayerTransport, "/proc/net/snmp", "Udp", "", "InDatagrams", 9), // not a drop counter
		ctr(model.LayerTransport, "/proc/net/snmp", "Udp", "", "RcvbufErrors", 3),
		ctr(model.LayerTransport, "/proc/net/snmp", "Udp", "", "NoPorts", 0),
		ctr(model.LayerNIC, "/proc/net/dev", "Receive", "eth0", "drop", 1), // eth0 has finer counters
		ctr(model.LayerNIC, "/proc/net/dev", "Receive", "tun9", "drop", 2), // tun9 has not
		ctr(model.LayerNIC, "rtnetlink", "statistics", "eth0", "rx_dropped", 1),
		ctr(model.LayerNIC, "rtnetlink", "statistics", "eth0", "rx_missed_errors", 0),
		ctr(model.LayerNIC, "/sys/class/net", "statistics", "eth0", "rx_dropped", 1), // rtnetlink has it
		ctr(model.LayerNIC, "/sys/class/net", "statistics", "eth7", "rx_crc_errors", 0),
		ctr(model.LayerSoftnet, "/proc/net/softnet_stat", "", "cpu1", "dropped", 4),
		ctr(model.LayerSoftnet, "/proc/net/softnet_stat", "", "cpu0", "dropped", 0),
		ctr(model.LayerQdisc, "rtnetlink", "qdisc", "eth0 tbf 1: root", "drops", 5),
		ctr(model.LayerNetfilter, "drop_monitor", "reason", "", "NETFILTER_DROP", 6),
		ctr(model.LayerOther, "drop_monitor", "location", "", "0xffffffff81000010", 1),
		ctr(model.LayerTransport, "/proc/net/netstat", "TcpExt", "", "ListenOverflows", 2),
		ctr(model.LayerTransport, "/proc/net/netstat", "TcpExt", "", "ListenDrops", 2),
	}
	got := names(Funnel(cs))
	want := []string{
		// nic: the knowledge file's order, rx before tx; the sum only for tun9
		"statistics eth0 rx_missed_errors", "statistics eth7 rx_crc_errors", "statistics eth0 rx_dropped", "Receive tun9 drop",
		"cpu0 dropped", "cpu1 dropped",
		"qdisc eth0 tbf 1: root drops",
		"reason NETFILTER_DROP",
		"TcpExt ListenOverflows", "TcpExt ListenDrops", "Udp NoPorts", "Udp RcvbufErrors",
		"location 0xffffffff81000010",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	moved := names(Moved(Funnel(cs)))
	if diff := cmp.Diff([]string{"statistics eth0 rx_dropped", "Receive tun9 drop", "cpu1 dropped", "qdisc eth0 tbf 1: root drops",
		"reason NETFILTER_DROP", "TcpExt ListenOverflows", "TcpExt ListenDrops", "Udp RcvbufErrors", "location 0xffffffff81000010"}, moved); diff != "" {
		t.Errorf("moved (-want +got)\n%s", diff)
	}
}

func TestTopSockets(t *testing.T) {
	s := func(port uint16, drops uint64, known bool) model.Socket {
		return model.Socket{Proto: model.ProtoUDP, Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), Drops: drops, HasDrops: known}
	}
	socks := []model.Socket{s(1, 5, true), s(2, 0, true), s(3, 9, false), s(4, 50, true), s(5, 5, true), s(6, 7, true)}
	got := TopSockets(socks, 3)
	var ports []uint16
	for _, k := range got {
		ports = append(ports, k.Local.Port())
	}
	if diff := cmp.Diff([]uint16{4, 6, 1}, ports); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if len(TopSockets(socks, -1)) != 4 || socks[0].Local.Port() != 1 {
		t.Error("n < 0 must return all with drops, and socks must not change")
	}
}

func TestSettingsNow(t *testing.T) {
	e, ok := Lookup(model.CounterKey{Source: "/proc/net/netstat", Group: "TcpExt", Name: "IPReversePathFilter"})
	if !ok {
		t.Fatal("IPReversePathFilter not found")
	}
	sysctls := []model.Sysctl{{Name: "net.ipv4.conf.all.rp_filter", Value: "2"}, {Name: "net.ipv4.conf.eth0.rp_filter", Value: "1"}}
	var got []string
	for _, s := range e.SettingsNow("eth0", sysctls) {
		got = append(got, s.Name+"="+s.Value)
	}
	if diff := cmp.Diff([]string{"net.ipv4.conf.all.rp_filter=2", "net.ipv4.conf.eth0.rp_filter=1"}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	e, _ = Lookup(model.CounterKey{Source: "/proc/net/snmp", Group: "Udp", Name: "RcvbufErrors"})
	s := e.SettingsNow("", nil)
	if len(s) != 3 || s[0].Known || s[2].Name != "setsockopt SO_RCVBUF" {
		t.Errorf("RcvbufErrors settings: %+v", s)
	}
}

// BenchmarkFunnel builds the funnel of a host with 64 interfaces and 2
// CPUs: every counter procnet and rtnetlink publish, most not drop-like.
func BenchmarkFunnel(b *testing.B) {
	var cs []model.Counter
	for i := range 64 {
		for _, n := range []string{"rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped",
			"multicast", "collisions", "rx_length_errors", "rx_over_errors", "rx_crc_errors", "rx_frame_errors", "rx_fifo_errors",
			"rx_missed_errors", "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors", "tx_heartbeat_errors", "tx_window_errors",
			"rx_compressed", "tx_compressed", "rx_nohandler", "rx_otherhost_dropped"} {
			cs = append(cs, ctr(model.LayerNIC, "rtnetlink", "statistics", "veth"+strconv.Itoa(i), n, 1))
		}
		for _, n := range []string{"drops", "overlimits", "requeues", "bytes", "packets", "backlog", "qlen"} {
			cs = append(cs, ctr(model.LayerQdisc, "rtnetlink", "qdisc", "veth"+strconv.Itoa(i)+" noqueue 0: root", n, 0))
		}
	}
	for _, g := range []string{"Ip", "Udp", "Tcp", "Icmp"} {
		for i := range 30 {
			cs = append(cs, ctr(model.LayerIP, "/proc/net/snmp", g, "", "Field"+strconv.Itoa(i), 0))
		}
	}
	cs = append(cs, ctr(model.LayerTransport, "/proc/net/snmp", "Udp", "", "RcvbufErrors", 3))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(Funnel(cs))
	}
	b.ReportMetric(float64(len(cs)), "counters")
	b.ReportMetric(float64(n), "funnel")
}
