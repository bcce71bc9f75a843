package main

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

	"netlens/collectors"
	"netlens/collectors/kmod"
)

func sleepMS(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

func allChecks() []check {
	return []check{
		{"load", checkLoad},
		{"crud", checkCRUD},
		{"extack", checkExtack},
		{"limits", checkLimits},
		{"drop-udp-each-hook", checkDropUDPHooks},
		{"drop-udp6", checkDropUDP6},
		{"drop-tcp", checkDropTCP},
		{"drop-icmp", checkDropICMP},
		{"reject", checkReject},
		{"icmp-tcpflags-negation", checkL4Matches},
		{"ct-state-allowlist", checkCTState},
		{"sets", checkSets},
		{"packet-log", checkPacketLog},
		{"default-policy", checkPolicy},
		{"count", checkCount},
		{"priority-across-indexes", checkPriority},
		{"forward", checkForward},
		{"events", checkEvents},
		{"events-slow-subscriber", checkSlowSubscriber},
		{"revert", checkRevert},
		{"change-counts-once", checkChangeCountsOnce},
		{"netns-isolation", checkNetns},
		{"netns-select", checkNetnsSelect},
		{"unprivileged", checkUnpriv},
		{"userns-root-cannot-bypass", checkUserns},
		{"hooks-only-with-rules", checkLazyHooks},
		{"proc-sysctl", checkProcSysctl},
		{"10k-rules", checkManyRules},
		{"no-linear-scan", checkNoLinearScan},
		{"index-growth", checkIndexGrowth},
		{"malformed-100k", checkMalformed},
		{"rmmod-under-traffic", checkRmmodTraffic},
		{"load-unload-100", checkLoadCycles},
		{"rmmod-flood", checkRmmodFlood},
		{"nft-toggle-flood", checkNftToggleFlood},
		{"hookonly-flood", checkHookonlyFlood},
		{"filter-backend-exercise", checkFilterBackend},
		{"fixtures", checkFixtures},
		{"profile-syms", profileSyms},
		{"profile-hooks", profileHooks},
		{"profile-create", profileCreate},
		{"profile-catchall", profileCatchAll},
	}
}

func dial() (*kmod.Client, error) {
	if err := ensureLoaded(); err != nil {
		return nil, err
	}
	return kmod.Dial(nil)
}

// withClient runs f with a client on a flushed table and flushes after.
func withClient(f func(c *kmod.Client) error) error {
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Flush(); err != nil {
		return err
	}
	defer c.Flush()
	return f(c)
}

func hookStats(c *kmod.Client, fam kmod.Family, hook uint8) (kmod.HookCounters, error) {
	cs, err := c.Counters()
	if err != nil {
		return kmod.HookCounters{}, err
	}
	for _, h := range cs.Hooks {
		if h.Family == fam && h.Hook == hook {
			return h, nil
		}
	}
	return kmod.HookCounters{}, fmt.Errorf("no counters for %v hook %d", fam, hook)
}

func checkLoad() error {
	if moduleLoaded() {
		if err := unloadModule(); err != nil {
			return err
		}
	}
	if _, err := kmod.Dial(nil); !errors.Is(err, collectors.ErrNotSupported) {
		return fmt.Errorf("dial without module: err = %v, want ErrNotSupported", err)
	}
	if err := loadModule(""); err != nil {
		return err
	}
	c, err := kmod.Dial(nil)
	if err != nil {
		return err
	}
	return c.Close()
}

func checkCRUD() error {
	return withClient(func(c *kmod.Client) error {
		want := kmod.Rule{
			Hooks:    kmod.HookLocalIn | kmod.HookLocalOut,
			Proto:    17,
			Dst:      netip.MustParsePrefix("10.1.2.0/24"),
			DstPorts: kmod.PortRange{Min: 53, Max: 53},
			SrcPorts: kmod.PortRange{Min: 1024, Max: 65535},
			InIface:  "lo",
			Action:   kmod.ActionCount,
			Priority: 10,
			Label:    "dns to lab",
		}
		got, err := c.Create(want, 0)
		if err != nil {
			return err
		}
		want.ID, want.Family, want.LogRate = got.ID, kmod.FamilyIPv4, kmod.LogRateDefault
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("created\n got %+v\nwant %+v", got, want)
		}
		g, err := c.Get(got.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(g, want) {
			return fmt.Errorf("get\n got %+v\nwant %+v", g, want)
		}
		v6, err := c.Create(kmod.Rule{Src: netip.MustParsePrefix("fd00::/64"), Action: kmod.ActionDrop,
			Hooks: kmod.HookAll}, 0)
		if err != nil {
			return err
		}
		if v6.Family != kmod.FamilyIPv6 || v6.Src.String() != "fd00::/64" || v6.Hooks != kmod.HookAll {
			return fmt.Errorf("v6 rule = %+v", v6)
		}
		all, err := c.Dump()
		if err != nil {
			return err
		}
		if len(all) != 2 || all[0].ID != got.ID || all[1].ID != v6.ID {
			return fmt.Errorf("dump = %+v", all)
		}
		ch, err := c.Change(got.ID, kmod.Rule{Disabled: true, Label: "off", DstPorts: kmod.PortRange{Min: 5300, Max: 5399}},
			kmod.FieldDisabled|kmod.FieldLabel|kmod.FieldDstPorts, 0)
		if err != nil {
			return err
		}
		if !ch.Disabled || ch.Label != "off" || ch.Dst != want.Dst || ch.DstPorts.Min != 5300 || ch.DstPorts.Max != 5399 {
			return fmt.Errorf("changed = %+v", ch)
		}
		// clearing a prefix
		ch, err = c.Change(got.ID, kmod.Rule{}, kmod.FieldDst, 0)
		if err != nil {
			return err
		}
		if ch.Dst.IsValid() {
			return fmt.Errorf("dst not cleared: %+v", ch)
		}
		if err := c.Delete(got.ID); err != nil {
			return err
		}
		_, err = c.Get(got.ID)
		if !errors.Is(err, syscall.ENOENT) || kmod.KernelMessage(err) != "unknown rule id" {
			return fmt.Errorf("get deleted rule: err = %v, want ENOENT with extack", err)
		}
		if err := c.Flush(); err != nil {
			return err
		}
		all, err = c.Dump()
		if err != nil {
			return err
		}
		if len(all) != 0 {
			return errors.New("rules left after flush")
		}
		return nil
	})
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func checkExtack() error {
	return withClient(func(c *kmod.Client) error {
		base, err := c.Create(kmod.Rule{Action: kmod.ActionCount}, 0)
		if err != nil {
			return err
		}
		pending, err := c.Create(kmod.Rule{Action: kmod.ActionCount}, time.Minute)
		if err != nil {
			return err
		}
		cases := []struct {
			name  string
			do    func() error
			errno syscall.Errno
			msg   string
		}{
			{"v4 prefix too long", func() error {
				return raw(1, func(ae *netlink.AttributeEncoder) {
					ae.Bytes(9, []byte{10, 0, 0, 0}) // NETLENS_A_RULE_DST_ADDR
					ae.Uint8(10, 33)                 // NETLENS_A_RULE_DST_PLEN
					ae.Uint8(17, 2)                  // NETLENS_A_RULE_ACTION
				})
			}, syscall.EINVAL, "bad prefix length"},
			{"address of 5 bytes", func() error {
				return raw(1, func(ae *netlink.AttributeEncoder) {
					ae.Bytes(9, []byte{10, 0, 0, 0, 0})
					ae.Uint8(17, 2)
				})
			}, syscall.EINVAL, "4 (IPv4) or 16 (IPv6) bytes"},
			{"prefix length without address", func() error {
				return raw(1, func(ae *netlink.AttributeEncoder) {
					ae.Uint8(10, 8) // NETLENS_A_RULE_DST_PLEN
					ae.Uint8(17, 2)
				})
			}, syscall.EINVAL, "without an address"},
			{"read-only counter", func() error {
				return raw(1, func(ae *netlink.AttributeEncoder) {
					ae.Uint8(17, 2)
					ae.Uint64(20, 7) // NETLENS_A_RULE_PACKETS
				})
			}, syscall.EINVAL, "read-only"},
			{"rule id on create", func() error {
				return raw(1, func(ae *netlink.AttributeEncoder) {
					ae.Uint32(2, 7) // NETLENS_A_RULE_ID
					ae.Uint8(17, 2)
				})
			}, syscall.EINVAL, "assigned by the kernel"},
			{"revert deadline 0", func() error {
				return raw(1, func(ae *netlink.AttributeEncoder) {
					ae.Uint8(17, 2)
					ae.Uint32(23, 0) // NETLENS_A_REVERT_MS
				})
			}, syscall.ERANGE, "revert deadline out of range"},
			{"unknown attribute", func() error {
				return raw(1, func(ae *netlink.AttributeEncoder) {
					ae.Uint8(17, 2)
					ae.Uint32(200, 0)
				})
			}, syscall.EINVAL, ""},
			{"action out of range", func() error {
				return raw(1, func(ae *netlink.AttributeEncoder) { ae.Uint8(17, 9) })
			}, syscall.ERANGE, ""},
			{"get without id", func() error { return raw(4 /* NETLENS_CMD_GET */, nil) }, syscall.EINVAL, "rule id"},
			{"host bits", func() error {
				_, err := c.Create(kmod.Rule{Dst: pfx("10.0.0.1/8"), Action: kmod.ActionDrop}, 0)
				return err
			}, syscall.EINVAL, "bits set beyond"},
			{"port range reversed", func() error {
				_, err := c.Create(kmod.Rule{Proto: 6, DstPorts: kmod.PortRange{Min: 90, Max: 80}, Action: kmod.ActionDrop}, 0)
				return err
			}, syscall.EINVAL, "port range reversed"},
			{"ports without protocol", func() error {
				_, err := c.Create(kmod.Rule{DstPorts: kmod.PortRange{Min: 80, Max: 80}, Action: kmod.ActionDrop}, 0)
				return err
			}, syscall.EINVAL, "ports need protocol"},
			{"no action", func() error {
				_, err := c.Create(kmod.Rule{Proto: 6}, 0)
				return err
			}, syscall.EINVAL, "action"},
			{"family mismatch", func() error {
				_, err := c.Create(kmod.Rule{Family: kmod.FamilyIPv6, Dst: pfx("10.0.0.0/8"), Action: kmod.ActionDrop}, 0)
				return err
			}, syscall.EINVAL, "family"},
			{"mixed families", func() error {
				_, err := c.Create(kmod.Rule{Src: pfx("fd00::/8"), Dst: pfx("10.0.0.0/8"), Action: kmod.ActionDrop}, 0)
				return err
			}, syscall.EINVAL, "different families"},
			{"empty hook mask", func() error {
				_, err := c.Change(base.ID, kmod.Rule{}, kmod.FieldHooks, 0)
				return err
			}, syscall.EINVAL, "hook mask is empty"},
			{"unknown hook bit", func() error {
				_, err := c.Change(base.ID, kmod.Rule{Hooks: 1 << 7}, kmod.FieldHooks, 0)
				return err
			}, syscall.EINVAL, ""},
			{"label too long", func() error {
				_, err := c.Create(kmod.Rule{Action: kmod.ActionDrop, Label: strings.Repeat("x", kmod.LabelMax+1)}, 0)
				return err
			}, syscall.EINVAL, "label longer than 64 bytes"},
			{"interface name too long", func() error {
				_, err := c.Create(kmod.Rule{Action: kmod.ActionDrop, InIface: "an-interface-name"}, 0)
				return err
			}, syscall.EINVAL, "input interface name longer than 15 bytes"},
			{"label with a newline", func() error {
				_, err := c.Create(kmod.Rule{Action: kmod.ActionDrop, Label: "a\nfake line"}, 0)
				return err
			}, syscall.EINVAL, "control characters"},
			{"interface name with a slash", func() error {
				_, err := c.Create(kmod.Rule{Action: kmod.ActionDrop, OutIface: "eth0/1"}, 0)
				return err
			}, syscall.EINVAL, "not a valid interface name"},
			{"unknown rule id: delete", func() error { return c.Delete(999999) }, syscall.ENOENT, "unknown rule id"},
			{"unknown rule id: change", func() error {
				_, err := c.Change(999999, kmod.Rule{}, kmod.FieldDisabled, 0)
				return err
			}, syscall.ENOENT, "unknown rule id"},
			{"unknown txn", func() error { return c.Confirm(424242) }, syscall.ENOENT, "unknown transaction id"},
			{"change while pending", func() error {
				_, err := c.Change(pending.ID, kmod.Rule{Disabled: true}, kmod.FieldDisabled, 0)
				return err
			}, syscall.EBUSY, "unconfirmed change"},
			{"reject at post-routing", func() error {
				_, err := c.Create(kmod.Rule{Hooks: kmod.HookPostRouting, Action: kmod.ActionReject}, 0)
				return err
			}, syscall.EINVAL, "REJECT works at"},
			{"tcp reset without tcp", func() error {
				_, err := c.Create(kmod.Rule{Proto: 17, Action: kmod.ActionReject, RejectWith: kmod.RejectTCPReset}, 0)
				return err
			}, syscall.EINVAL, "needs protocol tcp"},
			{"icmp code for both families", func() error {
				_, err := c.Create(kmod.Rule{Action: kmod.ActionReject, RejectCode: 1, RejectCodeSet: true}, 0)
				return err
			}, syscall.EINVAL, "needs one family"},
			{"icmp code out of range", func() error {
				_, err := c.Create(kmod.Rule{Family: kmod.FamilyIPv6, Action: kmod.ActionReject, RejectCode: 9, RejectCodeSet: true}, 0)
				return err
			}, syscall.ERANGE, "unreachable codes"},
			{"reject code on a drop rule", func() error {
				return raw(1, func(ae *netlink.AttributeEncoder) {
					ae.Uint8(17, 2) // DROP
					ae.Uint8(30, 1) // NETLENS_A_RULE_REJECT_CODE
				})
			}, syscall.EINVAL, "action REJECT only"},
			// per-command policies: what a command does not use is refused
			{"revert deadline on delete", func() error {
				return raw(2, func(ae *netlink.AttributeEncoder) {
					ae.Uint32(2, base.ID) // NETLENS_A_RULE_ID
					ae.Uint32(23, 1000)   // NETLENS_A_REVERT_MS
				})
			}, syscall.EINVAL, "a deletion cannot be reverted"},
			{"revert deadline on flush", func() error {
				return raw(6, func(ae *netlink.AttributeEncoder) { ae.Uint32(23, 1000) })
			}, syscall.EINVAL, "a flush cannot be reverted"},
			{"revert deadline on confirm", func() error {
				return raw(7, func(ae *netlink.AttributeEncoder) {
					ae.Uint32(24, pending.PendingTxn) // NETLENS_A_TXN_ID
					ae.Uint32(23, 1000)
				})
			}, syscall.EINVAL, "a confirmation cannot be reverted"},
			{"transaction id on create", func() error {
				return raw(1, func(ae *netlink.AttributeEncoder) {
					ae.Uint8(17, 2)
					ae.Uint32(24, 1)
				})
			}, syscall.EINVAL, "only goes with CONFIRM"},
			{"label on delete", func() error {
				return raw(2, func(ae *netlink.AttributeEncoder) {
					ae.Uint32(2, base.ID)
					ae.String(19, "x") // NETLENS_A_RULE_LABEL
				})
			}, syscall.EINVAL, ""},
			{"rule id on counters", func() error {
				return raw(5, func(ae *netlink.AttributeEncoder) { ae.Uint32(2, base.ID) })
			}, syscall.EINVAL, ""},
		}
		for _, tc := range cases {
			err := tc.do()
			if err == nil {
				return fmt.Errorf("%s: accepted", tc.name)
			}
			msg := kmod.KernelMessage(err)
			logf("%-24s -> %v", tc.name, err)
			if !errors.Is(err, tc.errno) {
				return fmt.Errorf("%s: err = %v, want %v", tc.name, err, tc.errno)
			}
			if msg == "" {
				return fmt.Errorf("%s: no extack message in %v", tc.name, err)
			}
			if tc.msg != "" && !strings.Contains(msg, tc.msg) {
				return fmt.Errorf("%s: message %q, want it to contain %q", tc.name, msg, tc.msg)
			}
		}
		// the refused delete and flush changed nothing
		for _, id := range []uint32{base.ID, pending.ID} {
			if _, err := c.Get(id); err != nil {
				return fmt.Errorf("rule %d after the refused delete/flush: %w", id, err)
			}
		}
		return nil
	})
}

// raw sends a hand-built request, for what the typed client cannot express.
func raw(cmd uint8, enc func(*netlink.AttributeEncoder)) error {
	c, err := genetlink.Dial(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	f, err := c.GetFamily("netlens")
	if err != nil {
		return err
	}
	var data []byte
	if enc != nil {
		ae := netlink.NewAttributeEncoder()
		enc(ae)
		if data, err = ae.Encode(); err != nil {
			return err
		}
	}
	_, err = c.Execute(genetlink.Message{Header: genetlink.Header{Command: cmd, Version: 1}, Data: data},
		f.ID, netlink.Request|netlink.Acknowledge)
	return err
}

const sysctlDir = "/proc/sys/net/netlens/"

func checkLimits() error {
	return withClient(func(c *kmod.Client) error {
		old, err := readFile(sysctlDir + "max_rules")
		if err != nil {
			return err
		}
		if old != "65536" {
			return fmt.Errorf("default max_rules = %s, want 65536", old)
		}
		defer writeFile(sysctlDir+"max_rules", old)
		if err := writeFile(sysctlDir+"max_rules", "3"); err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			if _, err := c.Create(kmod.Rule{Action: kmod.ActionCount}, 0); err != nil {
				return err
			}
		}
		_, err = c.Create(kmod.Rule{Action: kmod.ActionCount}, 0)
		logf("4th rule with max_rules=3 -> %v", err)
		if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(kmod.KernelMessage(err), "rule limit reached") {
			return fmt.Errorf("4th rule: err = %v, want ENOSPC 'rule limit reached'", err)
		}
		for _, bad := range []string{"0", "2000000", "-1"} {
			if err := writeFile(sysctlDir+"max_rules", bad); err == nil {
				return fmt.Errorf("max_rules=%s accepted", bad)
			}
		}
		if err := writeFile(sysctlDir+"enabled", "2"); err == nil {
			return errors.New("enabled=2 accepted")
		}
		return nil
	})
}

// dropAt installs a DROP rule, checks that exactly the matching traffic is
// dropped and counted, then disables it and checks the traffic passes.
func dropCase(c *kmod.Client, r kmod.Rule, fam kmod.Family, hook uint8, send func() (int, error), n int) error {
	before, err := hookStats(c, fam, hook)
	if err != nil {
		return err
	}
	rule, err := c.Create(r, 0)
	if err != nil {
		return err
	}
	got, err := send()
	if err != nil {
		return err
	}
	if got != 0 {
		return fmt.Errorf("%s: %d of %d packets got through a DROP rule", kmod.HookName(hook), got, n)
	}
	rr, err := c.Get(rule.ID)
	if err != nil {
		return err
	}
	if rr.Packets != uint64(n) {
		return fmt.Errorf("%s: rule counted %d packets, sent %d", kmod.HookName(hook), rr.Packets, n)
	}
	if rr.LastHit.IsZero() {
		return fmt.Errorf("%s: last hit not set", kmod.HookName(hook))
	}
	after, err := hookStats(c, fam, hook)
	if err != nil {
		return err
	}
	if d := after.Dropped - before.Dropped; d != uint64(n) {
		return fmt.Errorf("%s: hook dropped counter moved by %d, want %d", kmod.HookName(hook), d, n)
	}
	if _, err := c.SetEnabled(rule.ID, false, 0); err != nil {
		return err
	}
	got, err = send()
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("%s: disabled rule: %d of %d packets arrived", kmod.HookName(hook), got, n)
	}
	rr2, err := c.Get(rule.ID)
	if err != nil {
		return err
	}
	if rr2.Packets != rr.Packets {
		return fmt.Errorf("disabled rule still counts: %d -> %d", rr.Packets, rr2.Packets)
	}
	logf("%s %s: dropped %d/%d, counted %d packets %d bytes", fam, kmod.HookName(hook), n, n, rr.Packets, rr.Bytes)
	return c.Delete(rule.ID)
}

func checkDropUDPHooks() error {
	return withClient(func(c *kmod.Client) error {
		const n = 25
		for _, f := range []struct {
			fam     kmod.Family
			network string
			ip      string
		}{{kmod.FamilyIPv4, "udp4", "127.0.0.1"}, {kmod.FamilyIPv6, "udp6", "::1"}} {
			for hook := uint8(0); hook < 5; hook++ {
				if hook == 2 { // FORWARD: see checkForward
					continue
				}
				port := 4000 + 10*int(f.fam) + int(hook)
				r := kmod.Rule{Hooks: 1 << hook, Family: f.fam, Proto: 17,
					DstPorts: kmod.PortRange{Min: uint16(port), Max: uint16(port)}, Action: kmod.ActionDrop}
				send := func() (int, error) {
					return udpExchange(f.network, udpAddr(f.ip, port), udpAddr(f.ip, port), n)
				}
				if err := dropCase(c, r, f.fam, hook, send, n); err != nil {
					return err
				}
			}
		}
		// untouched traffic to another port keeps flowing while a rule is in
		r, err := c.Create(kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 4100, Max: 4100}, Action: kmod.ActionDrop}, 0)
		if err != nil {
			return err
		}
		got, err := udpExchange("udp4", "127.0.0.1:4101", "127.0.0.1:4101", n)
		if err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("non-matching traffic: %d of %d arrived", got, n)
		}
		return c.Delete(r.ID)
	})
}

func checkDropUDP6() error {
	return withClient(func(c *kmod.Client) error {
		const n = 25
		r := kmod.Rule{Hooks: kmod.HookLocalIn, Proto: 17, Dst: pfx("::1/128"),
			DstPorts: kmod.PortRange{Min: 4200, Max: 4200}, Action: kmod.ActionDrop}
		send := func() (int, error) { return udpExchange("udp6", "[::1]:4200", "[::1]:4200", n) }
		if err := dropCase(c, r, kmod.FamilyIPv6, 1, send, n); err != nil {
			return err
		}
		r = kmod.Rule{Hooks: kmod.HookLocalOut, Family: kmod.FamilyIPv6, Proto: 17, Action: kmod.ActionDrop,
			SrcPorts: kmod.PortRange{Min: 1, Max: 65535}}
		send = func() (int, error) { return udpExchange("udp6", "[::1]:4201", "[::1]:4201", n) }
		return dropCase(c, r, kmod.FamilyIPv6, 3, send, n)
	})
}

func checkDropTCP() error {
	return withClient(func(c *kmod.Client) error {
		for _, tc := range []struct{ network, addr string }{{"tcp4", "127.0.0.1:4300"}, {"tcp6", "[::1]:4301"}} {
			ap := netip.MustParseAddrPort(tc.addr)
			fam := kmod.FamilyIPv4
			if tc.network == "tcp6" {
				fam = kmod.FamilyIPv6
			}
			before, err := hookStats(c, fam, 1)
			if err != nil {
				return err
			}
			r, err := c.Create(kmod.Rule{Proto: 6, DstPorts: kmod.PortRange{Min: ap.Port(), Max: ap.Port()},
				Action: kmod.ActionDrop}, 0)
			if err != nil {
				return err
			}
			if err := tcpConnect(tc.network, tc.addr, 1500*time.Millisecond); err == nil {
				return fmt.Errorf("%s: connected through a DROP rule", tc.network)
			}
			g, err := c.Get(r.ID)
			if err != nil {
				return err
			}
			after, err := hookStats(c, fam, 1)
			if err != nil {
				return err
			}
			if g.Packets == 0 || g.Packets != after.Dropped-before.Dropped {
				return fmt.Errorf("%s: rule counted %d SYNs, LOCAL_IN dropped %d", tc.network, g.Packets,
					after.Dropped-before.Dropped)
			}
			logf("%s: connect blocked, %d SYNs dropped", tc.network, g.Packets)
			if err := c.Delete(r.ID); err != nil {
				return err
			}
			if err := tcpConnect(tc.network, tc.addr, 3*time.Second); err != nil {
				return fmt.Errorf("%s after delete: %w", tc.network, err)
			}
		}
		return nil
	})
}

func checkDropICMP() error {
	return withClient(func(c *kmod.Client) error {
		const n = 5
		for _, tc := range []struct {
			v6    bool
			proto uint8
			dst   string
			fam   kmod.Family
		}{{false, 1, "127.0.0.1", kmod.FamilyIPv4}, {true, 58, "::1", kmod.FamilyIPv6}} {
			got, err := ping(tc.v6, tc.dst, n)
			if err != nil {
				return err
			}
			if got != n {
				return fmt.Errorf("%s: %d of %d echo replies without a rule", tc.dst, got, n)
			}
			r, err := c.Create(kmod.Rule{Family: tc.fam, Proto: tc.proto, Action: kmod.ActionDrop}, 0)
			if err != nil {
				return err
			}
			got, err = ping(tc.v6, tc.dst, n)
			if err != nil {
				return err
			}
			g, err := c.Get(r.ID)
			if err != nil {
				return err
			}
			if got != 0 || g.Packets != n {
				return fmt.Errorf("%s: %d replies (want 0), %d counted (want %d)", tc.dst, got, g.Packets, n)
			}
			logf("%s: %d echo requests dropped and counted", tc.dst, g.Packets)
			if err := c.Delete(r.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

func checkCount() error {
	return withClient(func(c *kmod.Client) error {
		const n = 40
		r, err := c.Create(kmod.Rule{Proto: 17, Dst: pfx("127.0.0.1/32"), DstPorts: kmod.PortRange{Min: 4400, Max: 4400},
			Action: kmod.ActionCount}, 0)
		if err != nil {
			return err
		}
		r6, err := c.Create(kmod.Rule{Proto: 17, Family: kmod.FamilyBoth, DstPorts: kmod.PortRange{Min: 4400, Max: 4400},
			Action: kmod.ActionCount, Priority: 5}, 0)
		if err != nil {
			return err
		}
		got, err := udpExchange("udp4", "127.0.0.1:4400", "127.0.0.1:4400", n)
		if err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("COUNT rule: %d of %d arrived", got, n)
		}
		for _, id := range []uint32{r.ID, r6.ID} {
			g, err := c.Get(id)
			if err != nil {
				return err
			}
			if want := uint64(n * (20 + 8 + payloadLen)); g.Packets != n || g.Bytes != want {
				return fmt.Errorf("rule %d counted %d packets %d bytes, want %d / %d", id, g.Packets, g.Bytes, n, want)
			}
		}
		// counters survive a change
		if _, err := c.Change(r.ID, kmod.Rule{Label: "renamed"}, kmod.FieldLabel, 0); err != nil {
			return err
		}
		g, err := c.Get(r.ID)
		if err != nil {
			return err
		}
		if g.Packets != n {
			return fmt.Errorf("counters lost on change: %d", g.Packets)
		}
		return nil
	})
}

// checkPriority puts an ACCEPT and a DROP for the same packets in
// different indexes and checks that priority, not index, decides.
func checkPriority() error {
	return withClient(func(c *kmod.Client) error {
		const n = 10
		acc, err := c.Create(kmod.Rule{Dst: pfx("127.0.0.1/32"), Action: kmod.ActionAccept, Priority: 10, Family: kmod.FamilyIPv4,
			Hooks: kmod.HookLocalIn}, 0)
		if err != nil {
			return err
		}
		drop, err := c.Create(kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 4500, Max: 4500}, Action: kmod.ActionDrop,
			Priority: 20}, 0)
		if err != nil {
			return err
		}
		cnt, err := c.Create(kmod.Rule{Src: pfx("127.0.0.0/8"), Action: kmod.ActionCount, Priority: 15}, 0)
		if err != nil {
			return err
		}
		send := func() (int, error) { return udpExchange("udp4", "127.0.0.1:4500", "127.0.0.1:4500", n) }
		got, err := send()
		if err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("ACCEPT(10) before DROP(20): %d of %d arrived", got, n)
		}
		g, _ := c.Get(cnt.ID)
		a0, _ := c.Get(acc.ID)
		if g.Packets != 0 || a0.Packets != n {
			return fmt.Errorf("COUNT(15) after ACCEPT(10) counted %d (want 0), ACCEPT counted %d (want %d)",
				g.Packets, a0.Packets, n)
		}
		if _, err := c.Change(drop.ID, kmod.Rule{Priority: 5}, kmod.FieldPriority, 0); err != nil {
			return err
		}
		if _, err := c.Change(cnt.ID, kmod.Rule{Priority: 1}, kmod.FieldPriority, 0); err != nil {
			return err
		}
		got, err = send()
		if err != nil {
			return err
		}
		if got != 0 {
			return fmt.Errorf("DROP(5) before ACCEPT(10): %d of %d arrived", got, n)
		}
		g, _ = c.Get(cnt.ID)
		a, _ := c.Get(acc.ID)
		if g.Packets != n || a.Packets != a0.Packets {
			return fmt.Errorf("COUNT(1) counted %d (want %d), ACCEPT counted %d more (want 0)", g.Packets, n,
				a.Packets-a0.Packets)
		}
		return nil
	})
}

// checkForward routes between two namespaces through the VM's root
// namespace and drops at FORWARD.
func checkForward() error {
	a, err := newNetns()
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := newNetns()
	if err != nil {
		return err
	}
	defer b.Close()
	if err := addVeth("fwa", "eth0", a); err != nil {
		return err
	}
	defer sh("ip link del fwa")
	if err := addVeth("fwb", "eth0", b); err != nil {
		return err
	}
	defer sh("ip link del fwb")
	if err := sh(`
		sysctl -w net.ipv6.conf.fwa.accept_dad=0
		sysctl -w net.ipv6.conf.fwb.accept_dad=0
		ip addr add 10.91.1.1/24 dev fwa
		ip addr add 10.91.2.1/24 dev fwb
		ip -6 addr add fd91:1::1/64 dev fwa
		ip -6 addr add fd91:2::1/64 dev fwb
		ip link set fwa up
		ip link set fwb up
		sysctl -w net.ipv4.ip_forward=1
		sysctl -w net.ipv6.conf.all.forwarding=1`); err != nil {
		return err
	}
	for i, ns := range []*netns{a, b} {
		if err := ns.sh(fmt.Sprintf(`
			sysctl -w net.ipv6.conf.eth0.accept_dad=0
			ip addr add 10.91.%[1]d.2/24 dev eth0
			ip -6 addr add fd91:%[1]d::2/64 dev eth0
			ip link set eth0 up
			ip route add default via 10.91.%[1]d.1
			ip -6 route add default via fd91:%[1]d::1`, i+1)); err != nil {
			return err
		}
	}
	return withClient(func(c *kmod.Client) error {
		const n = 20
		for _, f := range []struct {
			fam     kmod.Family
			network string
			dst     string
			bits    int
		}{{kmod.FamilyIPv4, "udp4", "10.91.2.2", 32}, {kmod.FamilyIPv6, "udp6", "fd91:2::2", 128}} {
			send := func() (int, error) { return forwardExchange(a, b, f.network, f.dst, n) }
			if k, err := send(); err != nil || k != n {
				return fmt.Errorf("%v forwarding without rules: %d of %d (%v)", f.fam, k, n, err)
			}
			r := kmod.Rule{Hooks: kmod.HookForward, Dst: netip.PrefixFrom(netip.MustParseAddr(f.dst), f.bits), Proto: 17,
				InIface: "fwa", OutIface: "fwb", Action: kmod.ActionDrop}
			if err := dropCase(c, r, f.fam, 2, send, n); err != nil {
				return err
			}
		}
		return nil
	})
}
