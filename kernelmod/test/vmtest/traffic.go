package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"
)

const payloadLen = 32

// udpExchange sends n datagrams of payloadLen bytes from a fresh socket to
// dst where a socket listens on listen, and returns how many arrived.
func udpExchange(network, listen, dst string, n int) (int, error) {
	lc, err := net.ListenPacket(network, listen)
	if err != nil {
		return 0, fmt.Errorf("listen %s: %w", listen, err)
	}
	defer lc.Close()
	raddr, err := net.ResolveUDPAddr(network, dst)
	if err != nil {
		return 0, err
	}
	sc, err := net.DialUDP(network, nil, raddr)
	if err != nil {
		return 0, fmt.Errorf("dial %s: %w", dst, err)
	}
	defer sc.Close()
	got := make(chan int, 1)
	go func() {
		buf := make([]byte, 2048)
		k := 0
		for k < n {
			_ = lc.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
			if _, _, err := lc.ReadFrom(buf); err != nil {
				break
			}
			k++
		}
		got <- k
	}()
	msg := make([]byte, payloadLen)
	for i := 0; i < n; i++ {
		// A dropped datagram may come back as EPERM at LOCAL_OUT; keep going.
		_, _ = sc.Write(msg)
	}
	return <-got, nil
}

// udpPort returns a fixed test port per check, so rules can target it.
func udpAddr(ip string, port int) string {
	return net.JoinHostPort(ip, fmt.Sprint(port))
}

// tcpConnect tries one TCP connection to a listener on addr.
func tcpConnect(network, addr string, timeout time.Duration) error {
	l, err := net.Listen(network, addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
	}()
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return err
	}
	return c.Close()
}

func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// ping sends n ICMP (v6: ICMPv6) echo requests to dst and counts replies.
func ping(v6 bool, dst string, n int) (int, error) {
	network, reqType, repType := "ip4:icmp", byte(8), byte(0)
	if v6 {
		network, reqType, repType = "ip6:ipv6-icmp", 128, 129
	}
	c, err := net.ListenPacket(network, "")
	if err != nil {
		return 0, fmt.Errorf("raw icmp socket: %w", err)
	}
	defer c.Close()
	addr, err := net.ResolveIPAddr("ip", dst)
	if err != nil {
		return 0, err
	}
	id := uint16(time.Now().UnixNano())
	for i := 0; i < n; i++ {
		b := make([]byte, 8+payloadLen)
		b[0] = reqType
		binary.BigEndian.PutUint16(b[4:], id)
		binary.BigEndian.PutUint16(b[6:], uint16(i))
		if !v6 {
			binary.BigEndian.PutUint16(b[2:], icmpChecksum(b))
		}
		// A drop at LOCAL_OUT shows as EPERM; the reply count decides.
		_, _ = c.WriteTo(b, addr)
	}
	replies := 0
	buf := make([]byte, 1500)
	for {
		_ = c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
		k, _, err := c.ReadFrom(buf)
		if err != nil {
			break
		}
		if k >= 8 && buf[0] == repType && binary.BigEndian.Uint16(buf[4:]) == id {
			replies++
		}
	}
	return replies, nil
}

// forwardExchange sends n datagrams from namespace a to dst (an address
// of namespace b, port 4600), routed through the root namespace, and counts
// arrivals.
func forwardExchange(a, b *netns, network, dst string, n int) (int, error) {
	var (
		lc  net.PacketConn
		sc  *net.UDPConn
		err error
	)
	laddr := udpAddr(dst, 4600)
	if err = b.do(func() (e error) { lc, e = net.ListenPacket(network, laddr); return }); err != nil {
		return 0, err
	}
	defer lc.Close()
	raddr := &net.UDPAddr{IP: net.ParseIP(dst), Port: 4600}
	if err = a.do(func() (e error) { sc, e = net.DialUDP(network, nil, raddr); return }); err != nil {
		return 0, err
	}
	defer sc.Close()
	got := make(chan int, 1)
	go func() {
		buf := make([]byte, 2048)
		k := 0
		for k < n {
			_ = lc.SetReadDeadline(time.Now().Add(time.Second))
			if _, _, err := lc.ReadFrom(buf); err != nil {
				break
			}
			k++
		}
		got <- k
	}()
	msg := make([]byte, payloadLen)
	for i := 0; i < n; i++ {
		_, _ = sc.Write(msg)
		if i == 0 {
			time.Sleep(100 * time.Millisecond) // let ARP/ND resolve on the first run
		}
	}
	return <-got, nil
}
