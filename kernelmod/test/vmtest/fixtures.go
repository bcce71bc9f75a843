package main

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

	"netlens/collectors/kmod"
)

// checkFixtures prints the attribute bytes of real kernel replies as
// "FIXTURE name hex" lines; run-qemu.sh saves them under out/fixtures for
// the unit tests of collectors/kmod (testdata/).
func checkFixtures() error {
	return withClient(func(c *kmod.Client) error {
		gc, err := genetlink.Dial(nil)
		if err != nil {
			return err
		}
		defer gc.Close()
		f, err := gc.GetFamily("netlens")
		if err != nil {
			return err
		}
		var group uint32
		for _, g := range f.Groups {
			if g.Name == "events" {
				group = g.ID
			}
		}
		ec, err := genetlink.Dial(nil)
		if err != nil {
			return err
		}
		defer ec.Close()
		if err := ec.JoinGroup(group); err != nil {
			return err
		}
		get := func(name string, id uint32) error {
			ae := netlink.NewAttributeEncoder()
			ae.Uint32(2 /* NETLENS_A_RULE_ID */, id)
			b, _ := ae.Encode()
			msgs, err := gc.Execute(genetlink.Message{Header: genetlink.Header{Command: 4 /* GET */, Version: 1}, Data: b},
				f.ID, netlink.Request)
			if err != nil {
				return err
			}
			fmt.Printf("FIXTURE %s %s\n", name, hex.EncodeToString(msgs[0].Data))
			return nil
		}
		v4, err := c.Create(kmod.Rule{Hooks: kmod.HookLocalIn | kmod.HookForward, Proto: 6,
			Src: netip.MustParsePrefix("192.0.2.0/24"), Dst: netip.MustParsePrefix("198.51.100.7/32"),
			DstPorts: kmod.PortRange{Min: 22, Max: 22}, InIface: "lo", Action: kmod.ActionDrop, Priority: 100,
			Label: "ssh from test-net"}, 0)
		if err != nil {
			return err
		}
		if _, err := udpExchange("udp4", "127.0.0.1:5100", "127.0.0.1:5100", 1); err != nil {
			return err
		}
		cnt, err := c.Create(kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 5100, Max: 5100}, Action: kmod.ActionCount,
			Hooks: kmod.HookAll}, 0)
		if err != nil {
			return err
		}
		if _, err := udpExchange("udp4", "127.0.0.1:5100", "127.0.0.1:5100", 3); err != nil {
			return err
		}
		v6, err := c.Create(kmod.Rule{Family: kmod.FamilyIPv6, Src: netip.MustParsePrefix("2001:db8::/32"),
			SrcPorts: kmod.PortRange{Min: 1024, Max: 65535}, Proto: 17, OutIface: "eth0", Action: kmod.ActionAccept,
			Disabled: true}, time.Minute)
		if err != nil {
			return err
		}
		rej, err := c.Create(kmod.Rule{Family: kmod.FamilyIPv4, Proto: 17, DstPorts: kmod.PortRange{Min: 5111, Max: 5111},
			Action: kmod.ActionReject, RejectWith: kmod.RejectICMPUnreach, RejectCode: 13, RejectCodeSet: true}, 0)
		if err != nil {
			return err
		}
		l4, err := c.Create(kmod.Rule{Proto: 6, DstPorts: kmod.PortRange{Min: 22, Max: 22}, Negate: kmod.NegDstPorts,
			TCPFlags: kmod.TCPSyn, TCPFlagsMask: kmod.TCPSyn | kmod.TCPAck, CTState: kmod.CTNew | kmod.CTInvalid,
			Action: kmod.ActionDrop}, 0)
		if err != nil {
			return err
		}
		for _, g := range []struct {
			name string
			id   uint32
		}{{"rule-v4-drop", v4.ID}, {"rule-count-hit", cnt.ID}, {"rule-v6-pending", v6.ID}, {"rule-v4-reject", rej.ID},
			{"rule-l4-ct", l4.ID}} {
			if err := get(g.name, g.id); err != nil {
				return err
			}
		}
		msgs, err := gc.Execute(genetlink.Message{Header: genetlink.Header{Command: 5 /* COUNTERS */, Version: 1}},
			f.ID, netlink.Request)
		if err != nil {
			return err
		}
		fmt.Printf("FIXTURE counters %s\n", hex.EncodeToString(msgs[0].Data))
		if err := c.Confirm(v6.PendingTxn); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return err
		}
		_ = ec.SetReadDeadline(time.Now().Add(3 * time.Second))
		names := []string{"event-created-v4", "event-created-count", "event-created-v6", "event-created-reject",
			"event-created-l4", "event-confirmed", "event-flushed"}
		for i := 0; i < len(names); {
			ms, _, err := ec.Receive()
			if err != nil {
				return err
			}
			for _, m := range ms {
				if i < len(names) {
					fmt.Printf("FIXTURE %s %s\n", names[i], hex.EncodeToString(m.Data))
					i++
				}
			}
		}
		return nil
	})
}
