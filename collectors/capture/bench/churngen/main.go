// Command churngen writes a deterministic pcap of N Ethernet frames that
// churns flows and hosts, for the whole-process capture benchmark
// (issue 19): at any time F TCP connections are open (default 5,000),
// between hosts drawn from a pool of H addresses (default 3,000) that is
// itself renewed as connections end; 10% of frames carry an 802.1Q tag
// and 30% of connections are over IPv6. Each connection lasts a random
// number of packets (mean N/4F, so the set of open connections turns
// over about four times in the file), packets go both ways, and payloads are 0,
// 64, 512 or 1,400 bytes. The same flags give the same bytes.
//
//	churngen -n 1000000 -flows 5000 -hosts 3000 -o churn.pcap
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

type conn struct {
	cli, srv     int // indexes into the host pool
	v6           bool
	cport, sport uint16
	left         int // packets until it ends
	cseq, sseq   uint32
	vlan         uint16 // 0: untagged
	clientNext   bool
}

type gen struct {
	r      *rand.Rand
	hosts  []net.IP // the pool; index i holds an IPv4 and an IPv6 form
	hosts6 []net.IP
	nextID uint32 // next fresh host number
	mean   int
}

func main() {
	n := flag.Int("n", 1000000, "frames to write (at most 10,000,000)")
	flows := flag.Int("flows", 5000, "TCP connections open at any time")
	hosts := flag.Int("hosts", 3000, "addresses in the churning host pool")
	vlanPct := flag.Int("vlan", 10, "percent of connections tagged 802.1Q")
	v6Pct := flag.Int("v6", 30, "percent of connections over IPv6")
	seed := flag.Uint64("seed", 19, "random seed")
	out := flag.String("o", "churn.pcap", "output file")
	flag.Parse()
	if *n < 1 || *n > 10_000_000 || *flows < 1 || *flows > 1_000_000 || *hosts < 2 {
		fmt.Fprintln(os.Stderr, "churngen: -n 1..10000000, -flows 1..1000000, -hosts >= 2")
		os.Exit(2)
	}
	if err := run(*n, *flows, *hosts, *vlanPct, *v6Pct, *seed, *out); err != nil {
		fmt.Fprintln(os.Stderr, "churngen:", err)
		os.Exit(1)
	}
}

func (g *gen) host(i int, v6 bool) net.IP {
	if v6 {
		return g.hosts6[i]
	}
	return g.hosts[i]
}

// fresh puts a new address in pool slot i.
func (g *gen) fresh(i int) {
	id := g.nextID
	g.nextID++
	g.hosts[i] = net.IPv4(10, byte(id>>16), byte(id>>8), byte(id)).To4()
	g.hosts6[i] = net.IP{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
}

func (g *gen) newConn(c *conn, vlanPct, v6Pct int) {
	// Each new connection retires one pool address in two: the pool
	// churns while its size stays fixed.
	if g.r.IntN(2) == 0 {
		g.fresh(g.r.IntN(len(g.hosts)))
	}
	c.cli = g.r.IntN(len(g.hosts))
	c.srv = g.r.IntN(len(g.hosts))
	if c.srv == c.cli {
		c.srv = (c.cli + 1) % len(g.hosts)
	}
	c.v6 = g.r.IntN(100) < v6Pct
	c.cport = uint16(1024 + g.r.IntN(60000))
	c.sport = [...]uint16{443, 8443, 9443, 10443, 20443}[g.r.IntN(5)] // ports tcpdump has no payload printer for
	c.left = 1 + g.r.IntN(2*g.mean)
	c.cseq, c.sseq = g.r.Uint32(), g.r.Uint32()
	c.vlan = 0
	if g.r.IntN(100) < vlanPct {
		c.vlan = uint16(10 + g.r.IntN(4))
	}
	c.clientNext = true
}

func run(n, flows, hosts, vlanPct, v6Pct int, seed uint64, path string) error {
	g := &gen{r: rand.New(rand.NewPCG(seed, 0x6e65746c656e73)), hosts: make([]net.IP, hosts), hosts6: make([]net.IP, hosts), mean: max(1, n/flows/4)}
	for i := range hosts {
		g.fresh(i)
	}
	conns := make([]conn, flows)
	for i := range conns {
		g.newConn(&conns[i], vlanPct, v6Pct)
		// Spread the first ends so the turnover is steady from the start.
		conns[i].left = 1 + g.r.IntN(2*g.mean)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		return err
	}
	mac1, mac2 := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	payload := make([]byte, 1400)
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	var (
		eth  layers.Ethernet
		tag  layers.Dot1Q
		ip4  layers.IPv4
		ip6  layers.IPv6
		tcp  layers.TCP
		ls   = make([]gopacket.SerializableLayer, 0, 5)
		t0   = time.Unix(1700000000, 0)
		size int64
	)
	ended := 0
	for i := range n {
		c := &conns[g.r.IntN(len(conns))]
		src, dst := c.cli, c.srv
		sp, dp := c.cport, c.sport
		seq, ack := &c.cseq, c.sseq
		if !c.clientNext {
			src, dst, sp, dp, seq, ack = dst, src, dp, sp, &c.sseq, c.cseq
		}
		c.clientNext = !c.clientNext
		pl := payload[:[...]int{0, 0, 0, 64, 512, 1400}[g.r.IntN(6)]]
		tcp = layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: *seq, Ack: ack, ACK: true, PSH: len(pl) > 0, Window: 502}
		*seq += uint32(len(pl))
		ls = ls[:0]
		eth = layers.Ethernet{SrcMAC: mac1, DstMAC: mac2}
		l3 := layers.EthernetTypeIPv4
		if c.v6 {
			l3 = layers.EthernetTypeIPv6
		}
		ls = append(ls, &eth)
		if c.vlan != 0 {
			eth.EthernetType = layers.EthernetTypeDot1Q
			tag = layers.Dot1Q{VLANIdentifier: c.vlan, Type: l3}
			ls = append(ls, &tag)
		} else {
			eth.EthernetType = l3
		}
		if c.v6 {
			ip6 = layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: g.host(src, true), DstIP: g.host(dst, true)}
			tcp.SetNetworkLayerForChecksum(&ip6)
			ls = append(ls, &ip6)
		} else {
			ip4 = layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: g.host(src, false), DstIP: g.host(dst, false)}
			tcp.SetNetworkLayerForChecksum(&ip4)
			ls = append(ls, &ip4)
		}
		ls = append(ls, &tcp, gopacket.Payload(pl))
		if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
			return err
		}
		fr := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(fr), Length: len(fr)}
		if err := w.WritePacket(ci, fr); err != nil {
			return err
		}
		size += int64(len(fr))
		if c.left--; c.left <= 0 {
			g.newConn(c, vlanPct, v6Pct)
			ended++
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "churngen: %d frames (%d MiB), %d connections open, %d ended, %d host addresses used, to %s\n",
		n, size>>20, flows, ended, g.nextID, path)
	return nil
}
