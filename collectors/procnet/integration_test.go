package procnet

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"netlens/internal/netnstest"
	"netlens/model"
)

// makeTraffic makes IPv4 and IPv6 TCP, UDP and ICMP traffic on loopback
// so that many counters are not zero: a TCP connection with data, a
// connect to a closed port (RST), UDP to a closed port (NoPorts, ICMP
// unreachable).
func makeTraffic(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		host := map[string]string{"tcp4": "127.0.0.1", "tcp6": "::1"}[network]
		ln, err := net.Listen(network, net.JoinHostPort(host, "0"))
		if err != nil {
			t.Error(err)
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err == nil {
				_, _ = c.Write(bytes.Repeat([]byte("x"), 100000))
				c.Close()
			}
		}()
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			t.Error(err)
			return
		}
		b := make([]byte, 1<<16)
		for {
			if _, err := c.Read(b); err != nil {
				break
			}
		}
		c.Close()
		<-done
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if _, err := net.DialTimeout(network, net.JoinHostPort(host, strconv.Itoa(port)), time.Second); err == nil {
			t.Error("connect to a closed port succeeded")
		}
		u, err := net.Dial(strings.Replace(network, "tcp", "udp", 1), net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = u.Write([]byte("ping"))
		u.Close()
	}
	time.Sleep(300 * time.Millisecond) // let the ICMP errors and final ACKs land
}

// readNstat runs `nstat -az` in the namespace: absolute values of every
// counter of snmp, netstat and snmp6, named Group+Name. A private history
// file keeps nstat from reading or writing the user's.
func readNstat(t *testing.T, ns *netnstest.NS) map[string]uint64 { return ns.Nstat(t) }

// nstatUseless are the fields nstat does not print (its useless_numbers:
// settings and gauges, not counters).
var nstatUseless = map[string]bool{
	"IpForwarding": true, "IpDefaultTTL": true, "TcpRtoAlgorithm": true, "TcpRtoMin": true,
	"TcpRtoMax": true, "TcpMaxConn": true, "TcpCurrEstab": true,
}

// TestIntegrationNstatOracle compares the collector's snmp, netstat and
// snmp6 counters with `nstat -az` in a namespace with some traffic. The
// collector is read before and after nstat (A, then nstat N, then B) and
// each counter must satisfy A <= N <= B: nothing runs in the namespace
// then, so in practice A == N == B, and the bounds only absorb a late
// timer (a delayed ACK, an ICMP rate-limit token) without flaking.
func TestIntegrationNstatOracle(t *testing.T) {
	if _, err := exec.LookPath("nstat"); err != nil {
		t.Skip("needs nstat(8) from iproute2 (apt-get install -y iproute2)")
	}
	ns := netnstest.New(t, "nlpn-nstat")
	var before, after []model.RawCounter
	var nst map[string]uint64
	ns.Do(t, func() {
		makeTraffic(t)
		c := New("/proc/thread-self")
		var err error
		if before, err = c.collect(context.Background()); err != nil {
			t.Error(err)
		}
		nst = readNstat(t, ns)
		if after, err = c.collect(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	bySource := map[string]bool{SourceSNMP: true, SourceNetstat: true, SourceSNMP6: true}
	afterBy := map[model.CounterKey]uint64{}
	for _, c := range after {
		afterBy[c.Key()] = c.Value
	}
	seen := map[string]bool{}
	equal, moved, nonzero := 0, 0, 0
	for _, c := range before {
		if !bySource[c.Source] {
			continue
		}
		name := c.Group + c.Name
		seen[name] = true
		n, ok := nst[name]
		if !ok {
			if !nstatUseless[name] {
				t.Errorf("%s (%s) not printed by nstat", name, c.Source)
			}
			continue
		}
		a, b := c.Value, afterBy[c.Key()]
		switch {
		case a == n && n == b:
			equal++
		case a <= n && n <= b:
			moved++
			t.Logf("%s moved during the test: %d <= nstat %d <= %d", name, a, n, b)
		default:
			t.Errorf("%s: netlens %d then %d, nstat %d", name, a, b, n)
		}
		if n != 0 {
			nonzero++
		}
	}
	for name := range nst {
		if !seen[name] && !strings.HasPrefix(name, "Sctp") {
			t.Errorf("nstat prints %s, netlens does not", name)
		}
	}
	t.Logf("%d counters equal, %d moved within bounds, %d non-zero", equal, moved, nonzero)
	if nonzero < 30 {
		t.Errorf("only %d non-zero counters: the traffic did not happen?", nonzero)
	}
	for _, want := range []string{"TcpActiveOpens", "TcpOutRsts", "UdpNoPorts", "Udp6NoPorts", "IcmpOutDestUnreachs", "Ip6InReceives", "TcpExtTCPOrigDataSent"} {
		if nst[want] == 0 {
			t.Errorf("%s is 0 after the traffic", want)
		}
	}
}

// ipLink is the part of `ip -s -s -j link` that /proc/net/dev prints.
type ipLink struct {
	Name  string `json:"ifname"`
	Stats struct {
		RX struct {
			Bytes, Packets, Errors, Dropped, Multicast uint64
			Over                                       uint64 `json:"over_errors"`
			Length                                     uint64 `json:"length_errors"`
			CRC                                        uint64 `json:"crc_errors"`
			Frame                                      uint64 `json:"frame_errors"`
			FIFO                                       uint64 `json:"fifo_errors"`
			Missed                                     uint64 `json:"missed_errors"`
		} `json:"rx"`
		TX struct {
			Bytes, Packets, Errors, Dropped, Collisions uint64
			Carrier                                     uint64 `json:"carrier_errors"`
			Aborted                                     uint64 `json:"aborted_errors"`
			FIFO                                        uint64 `json:"fifo_errors"`
			Window                                      uint64 `json:"window_errors"`
			Heartbeat                                   uint64 `json:"heartbeat_errors"`
		} `json:"tx"`
	} `json:"stats64"`
}

// TestIntegrationNetDevOracle compares /proc/net/dev as the collector
// reads it with `ip -s -s -j link` for an idle veth pair between two
// namespaces (IPv6 off, so no router solicitations or DAD move the
// counters) after a few pings over it, folding ip's fine fields the way
// the kernel does for /proc/net/dev.
func TestIntegrationNetDevOracle(t *testing.T) {
	ns1 := netnstest.New(t, "nlpn-dev1")
	ns2 := netnstest.New(t, "nlpn-dev2")
	for _, ns := range []*netnstest.NS{ns1, ns2} {
		ns.Run(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	ns1.Run(t, "ip", "link", "add", "nlpn-a", "type", "veth", "peer", "name", "nlpn-b", "netns", ns2.Name)
	ns1.Run(t, "ip", "addr", "add", "10.231.0.1/24", "dev", "nlpn-a")
	ns2.Run(t, "ip", "addr", "add", "10.231.0.2/24", "dev", "nlpn-b")
	ns1.Run(t, "ip", "link", "set", "nlpn-a", "up")
	ns2.Run(t, "ip", "link", "set", "nlpn-b", "up")
	ns1.Run(t, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.231.0.2")
	time.Sleep(200 * time.Millisecond)

	var got []model.RawCounter
	ns1.Do(t, func() {
		var err error
		if got, err = NetDev("/proc/thread-self"); err != nil {
			t.Error(err)
		}
	})
	var links []ipLink
	if err := json.Unmarshal([]byte(ns1.Run(t, "ip", "-s", "-s", "-j", "link", "show")), &links); err != nil {
		t.Fatal(err)
	}
	if len(links) != 2 {
		t.Fatalf("%d links in the namespace, want lo and nlpn-a", len(links))
	}
	vals := map[string]uint64{}
	for _, c := range got {
		vals[c.Instance+" "+c.Group+" "+c.Name] = c.Value
	}
	for _, l := range links {
		rx, tx := l.Stats.RX, l.Stats.TX
		want := map[string]uint64{
			"Receive bytes": rx.Bytes, "Receive packets": rx.Packets, "Receive errs": rx.Errors,
			"Receive drop": rx.Dropped + rx.Missed, "Receive fifo": rx.FIFO,
			"Receive frame": rx.Length + rx.Over + rx.CRC + rx.Frame, "Receive multicast": rx.Multicast,
			"Transmit bytes": tx.Bytes, "Transmit packets": tx.Packets, "Transmit errs": tx.Errors,
			"Transmit drop": tx.Dropped, "Transmit fifo": tx.FIFO, "Transmit colls": tx.Collisions,
			"Transmit carrier": tx.Carrier + tx.Aborted + tx.Window + tx.Heartbeat,
		}
		for k, w := range want {
			if g, ok := vals[l.Name+" "+k]; !ok || g != w {
				t.Errorf("%s %s: netlens %d (present %v), ip %d", l.Name, k, g, ok, w)
			}
		}
		if l.Name == "nlpn-a" && (rx.Packets < 3 || tx.Packets < 3) {
			t.Errorf("veth saw %d rx, %d tx packets after 3 pings", rx.Packets, tx.Packets)
		}
	}
}

// TestIntegrationDropDeltas makes drops of known size in a namespace and
// checks that the collector, through a model.Store, attributes them to the
// right layer and counter with the exact delta: UDP datagrams to a closed
// port (Udp NoPorts) and an overflowing UDP receive buffer (Udp
// RcvbufErrors and InErrors: sent minus what the socket could queue).
func TestIntegrationDropDeltas(t *testing.T) {
	ns := netnstest.New(t, "nlpn-drops")
	const sent = 200
	store := model.NewStore("h", "k", time.Unix(0, 0))
	ns.Do(t, func() {
		c := New("/proc/thread-self")
		tick := time.Unix(100, 0)
		c.Now = func() time.Time { return tick }
		if err := c.Collect(context.Background(), store); err != nil {
			t.Error(err)
			return
		}

		// A closed port: bind and close to find one that is free.
		closed, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Error(err)
			return
		}
		closedAddr := closed.LocalAddr().String()
		closed.Close()
		// A socket with the smallest receive buffer, never read while
		// the datagrams arrive.
		full, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Error(err)
			return
		}
		defer full.Close()
		if err := full.SetReadBuffer(1); err != nil {
			t.Error(err)
			return
		}
		// An unconnected sender: a connected one would take the ICMP
		// port unreachable as an error and fail every other write.
		src, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Error(err)
			return
		}
		defer src.Close()
		for _, dst := range []string{closedAddr, full.LocalAddr().String()} {
			addr, err := net.ResolveUDPAddr("udp4", dst)
			if err != nil {
				t.Error(err)
				return
			}
			for range sent {
				if _, err := src.WriteTo(make([]byte, 1000), addr); err != nil {
					t.Error(err)
					return
				}
			}
		}
		delivered := 0
		_ = full.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for b := make([]byte, 2000); ; delivered++ {
			if _, err := full.Read(b); err != nil {
				break
			}
		}
		tick = tick.Add(2 * time.Second)
		if err := c.Collect(context.Background(), store); err != nil {
			t.Error(err)
			return
		}
		t.Logf("%d of %d datagrams fit the small receive buffer", delivered, sent)

		got := map[string]model.Counter{}
		for _, x := range store.Snapshot().Counters {
			if x.Source == SourceSNMP {
				got[x.Group+x.Name] = x
			}
		}
		for name, want := range map[string]uint64{
			"UdpNoPorts":      sent,
			"UdpRcvbufErrors": uint64(sent - delivered),
			"UdpInErrors":     uint64(sent - delivered),
			"UdpInDatagrams":  uint64(delivered),
		} {
			x := got[name]
			if x.Delta != want || x.Layer != model.LayerTransport || x.Rate != float64(want)/2 {
				t.Errorf("%s: delta %d rate %.1f layer %s, want delta %d rate %.1f layer transport", name, x.Delta, x.Rate, x.Layer, want, float64(want)/2)
			}
		}
		if sent-delivered < sent/2 {
			t.Errorf("only %d drops: the receive buffer was not small", sent-delivered)
		}
	})
}
