package main

import (
	"fmt"
	"net"
	"time"

	"netlens/collectors/kmod"
)

// checkL4Matches: ICMP type/code, TCP flags and negated matches against
// real traffic over loopback.
func checkL4Matches() error {
	return withClient(func(c *kmod.Client) error {
		const n = 5
		// ICMP: dropping echo requests (type 8 code 0 / ICMPv6 128) stops ping;
		// a rule on another type (timestamp, 13) does not
		for _, tc := range []struct {
			v6        bool
			dst       string
			proto     uint8
			echo, odd uint8
		}{{false, "127.0.0.1", 1, 8, 13}, {true, "::1", 58, 128, 135}} {
			r, err := c.Create(kmod.Rule{Proto: tc.proto, ICMPType: tc.echo, ICMPTypeSet: true, ICMPCodeSet: true,
				Action: kmod.ActionDrop}, 0)
			if err != nil {
				return err
			}
			got, err := ping(tc.v6, tc.dst, n)
			if err != nil {
				return err
			}
			rr, _ := c.Get(r.ID)
			logf("ping %s with a DROP rule on ICMP type %d code 0: %d of %d answered, rule counted %d", tc.dst, tc.echo, got, n, rr.Packets)
			if got != 0 || rr.Packets != n {
				return fmt.Errorf("icmp type %d drop: %d answered, %d counted", tc.echo, got, rr.Packets)
			}
			if _, err := c.Change(r.ID, kmod.Rule{Proto: tc.proto, ICMPType: tc.odd, ICMPTypeSet: true}, kmod.FieldL4, 0); err != nil {
				return err
			}
			if got, err := ping(tc.v6, tc.dst, n); err != nil || got != n {
				return fmt.Errorf("icmp type %d drop: ping answered %d of %d (%v)", tc.odd, got, n, err)
			}
			// negated: every ICMP message but echo requests is dropped, so
			// requests arrive and replies (0 / 129) do not
			if _, err := c.Change(r.ID, kmod.Rule{Proto: tc.proto, ICMPType: tc.echo, ICMPTypeSet: true, Negate: kmod.NegICMP}, kmod.FieldL4, 0); err != nil {
				return err
			}
			if got, err := ping(tc.v6, tc.dst, n); err != nil || got != 0 {
				return fmt.Errorf("icmp type != %d drop: ping answered %d of %d (%v)", tc.echo, got, n, err)
			}
			if err := c.Delete(r.ID); err != nil {
				return err
			}
		}

		// TCP flags: dropping pure SYNs (SYN of SYN|ACK) stops new
		// connections; an established one keeps exchanging data
		ln, err := net.Listen("tcp4", "127.0.0.1:5710")
		if err != nil {
			return err
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 4)
		go func() {
			for {
				s, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- s
			}
		}()
		est, err := net.DialTimeout("tcp4", "127.0.0.1:5710", 3*time.Second)
		if err != nil {
			return err
		}
		defer est.Close()
		srv := <-accepted
		defer srv.Close()
		syn, err := c.Create(kmod.Rule{Proto: 6, DstPorts: kmod.PortRange{Min: 5710, Max: 5710},
			TCPFlags: kmod.TCPSyn, TCPFlagsMask: kmod.TCPSyn | kmod.TCPAck, Action: kmod.ActionDrop}, 0)
		if err != nil {
			return err
		}
		if _, err := net.DialTimeout("tcp4", "127.0.0.1:5710", time.Second); err == nil {
			return fmt.Errorf("a new connection got through a rule dropping SYNs")
		}
		for i := 0; i < 3; i++ {
			if _, err := est.Write([]byte("ping")); err != nil {
				return err
			}
			buf := make([]byte, 4)
			_ = srv.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := srv.Read(buf); err != nil {
				return fmt.Errorf("established connection with the SYN rule: %w", err)
			}
		}
		sr, _ := c.Get(syn.ID)
		logf("SYN-only DROP rule: new connect refused by timeout, established connection exchanged 3 messages; rule counted %d SYNs", sr.Packets)
		if sr.Packets == 0 {
			return fmt.Errorf("the SYN rule counted nothing")
		}
		if err := c.Delete(syn.ID); err != nil {
			return err
		}

		// negated destination and port
		neg, err := c.Create(kmod.Rule{Proto: 17, Dst: pfx("127.0.0.2/32"), Negate: kmod.NegDst,
			DstPorts: kmod.PortRange{Min: 5720, Max: 5721}, Action: kmod.ActionDrop}, 0)
		if err != nil {
			return err
		}
		for _, tc := range []struct {
			dst  string
			want int
		}{{"127.0.0.1:5720", 0}, {"127.0.0.2:5720", n}, {"127.0.0.3:5721", 0}, {"127.0.0.1:5722", n}} {
			if got, err := udpExchange("udp4", tc.dst, tc.dst, n); err != nil || got != tc.want {
				return fmt.Errorf("dst != 127.0.0.2 drop, to %s: %d of %d received, want %d (%v)", tc.dst, got, n, tc.want, err)
			}
		}
		if _, err := c.Change(neg.ID, kmod.Rule{Negate: kmod.NegDstPorts}, kmod.FieldL4, 0); err != nil {
			return err
		}
		for _, tc := range []struct {
			dst  string
			want int
		}{{"127.0.0.2:5720", n}, {"127.0.0.2:5730", 0}, {"127.0.0.1:5730", n}} {
			if got, err := udpExchange("udp4", tc.dst, tc.dst, n); err != nil || got != tc.want {
				return fmt.Errorf("dst 127.0.0.2 and dport not 5720-5721 drop, to %s: %d of %d received, want %d (%v)", tc.dst, got, n, tc.want, err)
			}
		}
		got, err := c.Get(neg.ID)
		if err != nil {
			return err
		}
		if got.Negate != kmod.NegDstPorts {
			return fmt.Errorf("negation read back as %#x", got.Negate)
		}
		logf("negated destination and negated port range drop exactly the datagrams they should")
		return nil
	})
}

// checkCTState: a stateful allowlist. ACCEPT ct state established,related
// before DROP tcp to the port: a connection opened before the DROP rule
// keeps exchanging data, a new one is dropped; a rule matching ct state new
// counts exactly the new connection's first packets.
func checkCTState() error {
	return withClient(func(c *kmod.Client) error {
		const port = 5740
		ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return err
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 4)
		go func() {
			for {
				s, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- s
			}
		}()
		// conntrack on first (a ct rule that only counts), then connect
		newc, err := c.Create(kmod.Rule{Proto: 6, DstPorts: kmod.PortRange{Min: port, Max: port}, CTState: kmod.CTNew,
			Action: kmod.ActionCount, Priority: 1}, 0)
		if err != nil {
			return err
		}
		est, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), 3*time.Second)
		if err != nil {
			return err
		}
		defer est.Close()
		srv := <-accepted
		defer srv.Close()
		if _, err := c.Create(kmod.Rule{CTState: kmod.CTEstablished | kmod.CTRelated, Action: kmod.ActionAccept, Priority: 5}, 0); err != nil {
			return err
		}
		drop, err := c.Create(kmod.Rule{Proto: 6, DstPorts: kmod.PortRange{Min: port, Max: port}, Action: kmod.ActionDrop, Priority: 10}, 0)
		if err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			if _, err := est.Write([]byte("data")); err != nil {
				return err
			}
			_ = srv.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := srv.Read(make([]byte, 4)); err != nil {
				return fmt.Errorf("established connection under the allowlist: %w", err)
			}
		}
		if s, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			s.Close()
			return fmt.Errorf("a new connection passed the allowlist")
		}
		n, _ := c.Get(newc.ID)
		d, _ := c.Get(drop.ID)
		logf("allowlist: established connection exchanged 3 messages; new connect dropped (DROP counted %d SYNs); ct state new counted %d packets",
			d.Packets, n.Packets)
		// the first connect's SYN plus the refused one's SYN and retransmits
		if n.Packets < 2 || d.Packets == 0 || d.Packets > n.Packets-1 {
			return fmt.Errorf("ct new counted %d, drop counted %d", n.Packets, d.Packets)
		}
		return nil
	})
}
