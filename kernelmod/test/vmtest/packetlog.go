package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"netlens/collectors/kmod"
)

// sendEach sends one datagram from each of n fresh sockets (n source
// ports) to dst, and returns the source ports in sending order.
func sendEach(dst string, n int) ([]uint16, error) {
	raddr, err := net.ResolveUDPAddr("udp4", dst)
	if err != nil {
		return nil, err
	}
	var ports []uint16
	for i := 0; i < n; i++ {
		c, err := net.DialUDP("udp4", nil, raddr)
		if err != nil {
			return nil, err
		}
		ports = append(ports, uint16(c.LocalAddr().(*net.UDPAddr).Port))
		_, _ = c.Write(make([]byte, payloadLen))
		c.Close()
	}
	return ports, nil
}

// collectPackets reads packet log events until want arrived or the log is
// quiet for 700 ms.
func collectPackets(p *kmod.Packets, want int) ([]kmod.Packet, error) {
	var got []kmod.Packet
	for len(got) < want {
		_ = p.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
		ps, err := p.Receive()
		if err != nil {
			if isTimeout(err) {
				break
			}
			return got, err
		}
		got = append(got, ps...)
	}
	return got, nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// checkPacketLog: a COUNT+LOG rule logs exactly the datagrams sent, tuple
// by tuple and in order (hook, interface, verdict, addresses, ports,
// length, conntrack state); a DROP+LOG rule at 10 events a second logs the
// first ones up to its burst and counts every other matched packet in
// LogDropped (logged + dropped = sent); nothing is counted while nobody
// listens.
func checkPacketLog() error {
	return withClient(func(c *kmod.Client) error {
		pk, err := kmod.SubscribePackets(nil)
		if err != nil {
			return err
		}
		defer pk.Close()
		_ = pk.SetReadBuffer(1 << 20)
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			return err
		}
		count, err := c.Create(kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 5770, Max: 5770},
			Action: kmod.ActionCount, Log: true, LogRate: kmod.LogRateMax, Label: "dry run"}, 0)
		if err != nil {
			return fmt.Errorf("create COUNT+LOG: %w (%s)", err, kmod.KernelMessage(err))
		}
		if !count.Log || count.LogRate != kmod.LogRateMax {
			return fmt.Errorf("created rule: log %v rate %d", count.Log, count.LogRate)
		}
		const n = 50
		ports, err := sendEach("127.0.0.1:5770", n)
		if err != nil {
			return err
		}
		got, err := collectPackets(pk, n)
		if err != nil {
			return err
		}
		if len(got) != n {
			return fmt.Errorf("COUNT+LOG: %d events for %d datagrams", len(got), n)
		}
		lh := netip.MustParseAddr("127.0.0.1")
		for i, p := range got {
			want := kmod.Packet{RuleID: count.ID, Hook: 1, InIf: uint32(lo.Index), Verdict: kmod.ActionCount,
				Family: kmod.FamilyIPv4, Proto: 17, Src: lh, Dst: lh, SrcPort: ports[i], DstPort: 5770, HasPorts: true,
				Len: 20 + 8 + payloadLen, CTState: kmod.CTUntracked, Time: p.Time}
			if p.CTState != kmod.CTUntracked && p.CTState != kmod.CTNew && p.CTState != kmod.CTInvalid {
				return fmt.Errorf("event %d: conntrack state %v", i, p.CTState)
			}
			want.CTState = p.CTState // conntrack may or may not be loaded by earlier checks
			if p != want {
				return fmt.Errorf("event %d:\n got %+v\nwant %+v", i, p, want)
			}
			if d := time.Since(p.Time); d < 0 || d > time.Minute {
				return fmt.Errorf("event %d: time %v", i, p.Time)
			}
		}
		if r, err := c.Get(count.ID); err != nil || r.Packets != n || r.LogDropped != 0 {
			return fmt.Errorf("COUNT+LOG rule: packets %d, log dropped %d (%v)", r.Packets, r.LogDropped, err)
		}
		logf("COUNT+LOG: %d datagrams, %d events, tuple by tuple", n, len(got))

		// over the rate: the burst is logged, the rest counted
		drop, err := c.Create(kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 5771, Max: 5771},
			Action: kmod.ActionDrop, Log: true, LogRate: 10}, 0)
		if err != nil {
			return err
		}
		const m = 40
		t0 := time.Now()
		ports, err = sendEach("127.0.0.1:5771", m)
		if err != nil {
			return err
		}
		took := time.Since(t0)
		got, err = collectPackets(pk, m)
		if err != nil {
			return err
		}
		r, err := c.Get(drop.ID)
		if err != nil {
			return err
		}
		maxLogged := 10 + int(took.Seconds()*10) + 1
		if len(got) < 10 || len(got) > maxLogged || uint64(len(got))+r.LogDropped != m || r.Packets != m {
			return fmt.Errorf("rate 10/s, %d sent in %v: %d logged, %d counted as not logged, rule packets %d",
				m, took, len(got), r.LogDropped, r.Packets)
		}
		// the burst is the first 10 sent; what the bucket refilled while
		// sending (TCG is slow) are later ones, in order
		next := 0
		for i, p := range got {
			if p.RuleID != drop.ID || p.Verdict != kmod.ActionDrop || p.DstPort != 5771 {
				return fmt.Errorf("rate-limited event %d: %+v", i, p)
			}
			for next < m && ports[next] != p.SrcPort {
				if i < 10 {
					return fmt.Errorf("rate-limited event %d: source port %d, want the burst's %d", i, p.SrcPort, ports[i])
				}
				next++
			}
			if next == m {
				return fmt.Errorf("rate-limited event %d: source port %d not sent, or out of order", i, p.SrcPort)
			}
			next++
		}
		logf("DROP+LOG at 10/s: %d sent in %v, %d logged (the first 10, then in order), %d counted in LogDropped", m, took, len(got), r.LogDropped)

		// nobody listens: nothing is built, nothing counted
		pk.Close()
		time.Sleep(1100 * time.Millisecond) // the bucket fills again
		if _, err := sendEach("127.0.0.1:5771", 30); err != nil {
			return err
		}
		if r2, err := c.Get(drop.ID); err != nil || r2.LogDropped != r.LogDropped {
			return fmt.Errorf("without a subscriber LogDropped went %d -> %d (%v)", r.LogDropped, r2.LogDropped, err)
		}
		return nil
	})
}
