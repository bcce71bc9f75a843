package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"

	"netlens/collectors/kmod"
)

// setMember is the i-th member (127.1.x.y) or non-member (127.2.x.y) of
// the 10k set: loopback addresses, every one of them local in the VM.
func setMember(i int, member bool) netip.Addr {
	b := byte(1)
	if !member {
		b = 2
	}
	return netip.AddrFrom4([4]byte{127, b, byte(i / 250), byte(i%250 + 1)})
}

// sendFrom sends one datagram from each source address to dst and returns
// the sources the listener on dst saw.
func sendFrom(srcs []netip.Addr, dst netip.AddrPort) (map[netip.Addr]int, error) {
	lc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return nil, err
	}
	defer lc.Close()
	_ = lc.SetReadBuffer(8 << 20)
	got := make(chan map[netip.Addr]int, 1)
	go func() {
		seen := map[netip.Addr]int{}
		buf := make([]byte, 2048)
		for n := 0; n < len(srcs); n++ {
			_ = lc.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
			_, from, err := lc.ReadFromUDPAddrPort(buf)
			if err != nil {
				break
			}
			seen[from.Addr()]++
		}
		got <- seen
	}()
	msg := make([]byte, payloadLen)
	for i, src := range srcs {
		sc, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)),
			net.UDPAddrFromAddrPort(dst))
		if err != nil {
			return nil, fmt.Errorf("source %d %s: %w", i, src, err)
		}
		_, _ = sc.Write(msg)
		sc.Close()
		if i%500 == 499 {
			time.Sleep(time.Millisecond) // let the listener keep up
		}
	}
	return <-got, nil
}

// checkSets: a rule with a 10,000-address source set drops exactly its
// members (each member and 10,000 non-members sent once, by the rule's
// counter and by the sources the listener saw); the set reads back whole;
// prefix and port sets, negation, an IPv6 set, a change that removes a set,
// and the rejections with their extack messages.
func checkSets() error {
	return withClient(func(c *kmod.Client) error {
		const n = 10000
		members := make([]netip.Prefix, n)
		var srcs []netip.Addr
		for i := 0; i < n; i++ {
			members[i] = netip.PrefixFrom(setMember(i, true), 32)
			srcs = append(srcs, setMember(i, true), setMember(i, false))
		}
		t0 := time.Now()
		r, err := c.Create(kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 5760, Max: 5760},
			SrcSet: members, Action: kmod.ActionDrop, Label: "set-10k"}, 0)
		if err != nil {
			return fmt.Errorf("create 10k set rule: %w (%s)", err, kmod.KernelMessage(err))
		}
		logf("10,000-address set rule created in %v", time.Since(t0).Round(time.Millisecond))
		if r.Family != kmod.FamilyIPv4 || r.SetSizes[kmod.SetSrc] != n {
			return fmt.Errorf("created rule: family %v, set sizes %v", r.Family, r.SetSizes)
		}
		seen, err := sendFrom(srcs, netip.MustParseAddrPort("127.0.0.1:5760"))
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if k := seen[setMember(i, true)]; k != 0 {
				return fmt.Errorf("member %s got through (%d)", setMember(i, true), k)
			}
			if k := seen[setMember(i, false)]; k != 1 {
				return fmt.Errorf("non-member %s arrived %d times, want 1", setMember(i, false), k)
			}
		}
		if len(seen) != n {
			return fmt.Errorf("listener saw %d sources, want the %d non-members", len(seen), n)
		}
		got, err := c.Get(r.ID)
		if err != nil {
			return err
		}
		if got.Packets != n {
			return fmt.Errorf("set rule counted %d packets, want %d", got.Packets, n)
		}
		cmpPfx := func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) }
		back := slices.Clone(got.SrcSet)
		slices.SortFunc(back, cmpPfx)
		want := slices.Clone(members)
		slices.SortFunc(want, cmpPfx)
		if !slices.Equal(back, want) {
			return fmt.Errorf("set read back: %d elements, want the %d sent", len(back), len(want))
		}
		proc, err := readFile("/proc/net/netlens")
		if err != nil || !strings.Contains(proc, " set:10000 ") {
			return fmt.Errorf("/proc/net/netlens has no set:10000 (%v):\n%s", err, proc)
		}
		logf("10,000 members dropped and counted, 10,000 non-members through, set read back whole")

		// prefixes of several lengths and a port set; then negated
		pr, err := c.Create(kmod.Rule{Proto: 17, Action: kmod.ActionCount, Label: "set-mixed",
			SrcSet:     []netip.Prefix{pfx("127.3.0.0/24"), pfx("127.3.1.0/25"), pfx("127.3.2.9/32")},
			DstPortSet: []uint16{5761, 5763}}, 0)
		if err != nil {
			return fmt.Errorf("create prefix/port set rule: %w (%s)", err, kmod.KernelMessage(err))
		}
		probe := []struct {
			src  string
			port uint16
		}{{"127.3.0.7", 5761}, {"127.3.1.5", 5763}, {"127.3.1.200", 5761}, {"127.3.2.9", 5762}, {"127.3.2.9", 5763}}
		send := func() error {
			for _, p := range probe {
				if _, err := sendFrom([]netip.Addr{netip.MustParseAddr(p.src)},
					netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), p.port)); err != nil {
					return err
				}
			}
			return nil
		}
		if err := send(); err != nil {
			return err
		}
		if got, err := c.Get(pr.ID); err != nil || got.Packets != 3 {
			return fmt.Errorf("prefix/port set rule counted %d, want 3 (%v)", got.Packets, err)
		}
		if _, err := c.Change(pr.ID, kmod.Rule{Negate: kmod.NegSrc}, kmod.FieldL4, 0); err != nil {
			return fmt.Errorf("negate the set: %w (%s)", err, kmod.KernelMessage(err))
		}
		if err := send(); err != nil {
			return err
		}
		if got, err := c.Get(pr.ID); err != nil || got.Packets != 4 {
			return fmt.Errorf("negated set rule: %d, want 3+1 (%v)", got.Packets, err)
		}
		// a change without FieldSets keeps the sets; an empty set removes one
		if got, err := c.Change(pr.ID, kmod.Rule{Label: "kept"}, kmod.FieldLabel, 0); err != nil ||
			got.SetSizes != [4]uint32{3, 0, 0, 2} {
			return fmt.Errorf("change of the label: set sizes %v (%v)", got.SetSizes, err)
		}
		if got, err := c.Change(pr.ID, kmod.Rule{DstPortSet: []uint16{5762}}, kmod.FieldSets, 0); err != nil ||
			got.SetSizes != [4]uint32{0, 0, 0, 1} || got.Negate != 0 {
			return fmt.Errorf("change of the sets: set sizes %v negate %v (%v %s)", got.SetSizes, got.Negate,
				err, kmod.KernelMessage(err))
		}

		// IPv6: a destination set
		r6, err := c.Create(kmod.Rule{Proto: 17, Action: kmod.ActionDrop,
			DstSet: []netip.Prefix{pfx("::1/128"), pfx("2001:db8::/32")}}, 0)
		if err != nil {
			return fmt.Errorf("create IPv6 set rule: %w (%s)", err, kmod.KernelMessage(err))
		}
		if k, err := udpExchange("udp6", "[::1]:5764", "[::1]:5764", 5); err != nil || k != 0 {
			return fmt.Errorf("IPv6 set rule: %d of 5 arrived (%v)", k, err)
		}
		if got, err := c.Get(r6.ID); err != nil || got.Packets != 5 || got.Family != kmod.FamilyIPv6 {
			return fmt.Errorf("IPv6 set rule: %+v (%v)", got, err)
		}

		// rejections
		many := make([]uint16, kmod.SetMax+1)
		for i := range many {
			many[i] = uint16(i)
		}
		for _, tt := range []struct {
			name  string
			r     kmod.Rule
			errno syscall.Errno
			msg   string
		}{
			{"set and prefix", kmod.Rule{Action: kmod.ActionDrop, Src: pfx("10.0.0.0/8"),
				SrcSet: []netip.Prefix{pfx("10.1.0.0/16")}}, syscall.EINVAL, "a source prefix or a source set, not both"},
			{"mixed families", kmod.Rule{Action: kmod.ActionDrop,
				DstSet: []netip.Prefix{pfx("10.1.0.0/16"), pfx("::1/128")}}, syscall.EINVAL, "IPv4 or IPv6 prefixes, not both"},
			{"set family vs prefix", kmod.Rule{Action: kmod.ActionDrop, Dst: pfx("::1/128"),
				SrcSet: []netip.Prefix{pfx("10.1.0.0/16")}}, syscall.EINVAL, "different families"},
			{"bits beyond", kmod.Rule{Action: kmod.ActionDrop,
				SrcSet: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("10.1.2.3"), 16)}}, syscall.EINVAL,
				"bits set beyond its prefix length"},
			{"port set without proto", kmod.Rule{Action: kmod.ActionDrop, DstPortSet: []uint16{1}},
				syscall.EINVAL, "ports need protocol"},
			{"port set and range", kmod.Rule{Action: kmod.ActionDrop, Proto: 6, DstPorts: kmod.PortRange{Min: 1, Max: 9},
				DstPortSet: []uint16{1}}, syscall.EINVAL, "destination port range or a destination port set"},
			{"too many", kmod.Rule{Action: kmod.ActionDrop, Proto: 6, DstPortSet: many},
				syscall.E2BIG, "at most 65536 elements"},
		} {
			_, err := c.Create(tt.r, 0)
			if !errors.Is(err, tt.errno) || !strings.Contains(kmod.KernelMessage(err), tt.msg) {
				return fmt.Errorf("%s: err %v, extack %q; want %v and %q", tt.name, err, kmod.KernelMessage(err),
					tt.errno, tt.msg)
			}
		}
		return nil
	})
}
