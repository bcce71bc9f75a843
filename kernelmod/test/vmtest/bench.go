package main

import (
	"fmt"
	"net/netip"
	"runtime"
	"sort"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"

	"netlens/collectors/kmod"
)

// nftModules are loaded in this order for the nftables comparison;
// run-qemu.sh copies them from /lib/modules into /mods.
var nftModules = []string{"crc32c_generic", "libcrc32c", "nfnetlink", "nf_tables"}

func loadNFT() error { return loadMods(nftModules) }

// nftChain installs n "ip daddr 10.x.y.z drop" rules (the destination
// rules of indexedRule, all non-matching) in an input chain, or removes
// the table when n is 0.
func nftChain(n int) error {
	c, err := nftables.New(nftables.WithSockOptions(func(nc *netlink.Conn) error {
		return nc.SetReadBuffer(4 << 20)
	}))
	if err != nil {
		return err
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "netlensbench"}
	c.DelTable(t)
	_ = c.Flush() // absent the first time
	if n == 0 {
		return nil
	}
	c.AddTable(t)
	ch := c.AddChain(&nftables.Chain{Name: "in", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
	for i := 0; i < n; i++ {
		a := addrN(netip.MustParseAddr("10.0.0.0"), i).As4()
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
		if i%100 == 99 {
			if err := c.Flush(); err != nil {
				return fmt.Errorf("nft rule %d: %w", i, err)
			}
		}
	}
	return c.Flush()
}

// benchCost prints the per-packet cost with 100 and 10,000 non-matching
// rules: netlens with indexed rules (on LOCAL_IN like the nftables chain,
// and on all five hooks), destination-only rules and unindexed rules, each
// as a ratio to the same rules bypassed (measured in alternating rounds, see
// pairedCost), and an nftables input chain of the same destination rules as
// a ratio to an empty chain.
func benchCost() error {
	return withClient(func(c *kmod.Client) error {
		const pk, rounds = 300, 40
		row := func(kind string, n int, d, base time.Duration, ratio float64) {
			fmt.Printf("BENCH %-20s rules=%-6d ns/packet=%-8d baseline=%-8d ratio=%.2f\n", kind, n,
				d.Nanoseconds(), base.Nanoseconds(), ratio)
		}
		// the hooks themselves: the module loaded without rules against no module
		var noMod, noRules time.Duration
		for r := 0; r < 3; r++ {
			if err := unloadModule(); err != nil {
				return err
			}
			d, err := packetCost(pk, rounds/3)
			if err != nil {
				return err
			}
			if err := loadModule(""); err != nil {
				return err
			}
			d2, err := packetCost(pk, rounds/3)
			if err != nil {
				return err
			}
			if r == 0 || d < noMod {
				noMod = d
			}
			if r == 0 || d2 < noRules {
				noRules = d2
			}
		}
		c, err := kmod.Dial(nil) // the reload made the old client's family id stale
		if err != nil {
			return err
		}
		defer c.Close()
		row("netlens-loaded", 0, noRules, noMod, float64(noRules)/float64(noMod))
		for _, n := range []int{100, 10000} {
			for _, kind := range []struct {
				name  string
				mk    func(int) kmod.Rule
				hooks kmod.Hooks
			}{
				{"netlens-indexed", indexedRule, kmod.HookLocalIn},
				{"netlens-indexed-all", indexedRule, kmod.HookAll},
				{"netlens-dst-only", func(i int) kmod.Rule { return indexedRule(3 * i) }, kmod.HookLocalIn},
				{"netlens-unindexed", linearRule, kmod.HookLocalIn},
			} {
				if err := c.Flush(); err != nil {
					return err
				}
				if _, err := loadRulesAt(c, n, kind.mk, kind.hooks); err != nil {
					return err
				}
				p, r := pk, rounds
				if kind.name == "netlens-unindexed" && n > 1000 {
					p, r = 20, 5
				}
				on, off, ratio, err := pairedCost(p, r)
				if err != nil {
					return err
				}
				row(kind.name, n, on, off, ratio)
			}
		}
		if err := c.Flush(); err != nil {
			return err
		}
		if err := loadNFT(); err != nil {
			fmt.Printf("BENCH nftables skipped: %v\n", err)
			return nil
		}
		if err := nftChain(0); err != nil {
			return err
		}
		// an nftables chain cannot be bypassed in place: best rounds against
		// an empty chain measured just before
		for _, n := range []int{100, 10000} {
			if err := nftChain(0); err != nil {
				return err
			}
			base, err := packetCost(pk, rounds)
			if err != nil {
				return err
			}
			if err := nftChain(n); err != nil {
				return err
			}
			p, r := pk, rounds
			if n > 1000 {
				p, r = 100, 5
			}
			d, err := packetCost(p, r)
			if err != nil {
				return err
			}
			row("nftables-chain", n, d, base, float64(d)/float64(base))
		}
		return nftChain(0)
	})
}

// nftSetTable makes table ip netlensset with a set s of the n addresses
// setMember(i, true) and, when chain is set, an input chain with the one
// rule "ip saddr @s drop"; chain false removes the chain and keeps the set.
func nftSetTable(c *nftables.Conn, n int, chain bool) error {
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "netlensset"}
	set := &nftables.Set{Table: t, Name: "s", KeyType: nftables.TypeIPAddr}
	ch := &nftables.Chain{Name: "in", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter}
	if n > 0 {
		c.DelTable(t)
		_ = c.Flush() // absent the first time
		c.AddTable(t)
		if err := c.AddSet(set, nil); err != nil {
			return err
		}
		for i := 0; i < n; i += 1000 {
			var els []nftables.SetElement
			for j := i; j < min(n, i+1000); j++ {
				a := setMember(j, true).As4()
				els = append(els, nftables.SetElement{Key: a[:]})
			}
			if err := c.SetAddElements(set, els); err != nil {
				return err
			}
			if err := c.Flush(); err != nil {
				return fmt.Errorf("nft set elements %d: %w", i, err)
			}
		}
		return nil
	}
	if !chain {
		c.FlushChain(ch)
		c.DelChain(ch)
		return c.Flush()
	}
	c.AddChain(ch)
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: "s"},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}})
	return c.Flush()
}

// benchSetVsNft compares, side by side in alternating rounds on the same
// sockets, the per-packet cost of one netlens rule with a 10,000-address
// source set (the packets are not in it) with nftables' "ip saddr @s drop"
// over the same 10,000 addresses, both at LOCAL_IN/input: round A has only
// the netlens rule (nftables chain absent), round B only the nftables chain
// (netlens without rules: 0 hooks), round C neither, in an order that
// rotates every round. It prints the best round of each and the medians of
// the per-round ratios A/B and of the added costs (A-C)/(B-C).
func benchSetVsNft() error {
	if err := loadNFT(); err != nil {
		return fmt.Errorf("nftables modules: %w", err)
	}
	return withClient(func(c *kmod.Client) error {
		// 120 rounds: a round's ratio scatters by ±20% under TCG on a
		// shared machine, so the median needs many of them (30 rounds
		// gave medians from 0.76 to 1.20 for the same module)
		const n, pk, rounds = 10000, 1000, 120
		nc, err := nftables.New()
		if err != nil {
			return err
		}
		defer nc.CloseLasting()
		if err := nftSetTable(nc, n, false); err != nil {
			return err
		}
		defer func() {
			nc.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "netlensset"})
			_ = nc.Flush()
		}()
		members := make([]netip.Prefix, n)
		for i := range members {
			members[i] = netip.PrefixFrom(setMember(i, true), 32)
		}
		rule := kmod.Rule{Hooks: kmod.HookLocalIn, SrcSet: members, Action: kmod.ActionDrop}
		s, err := newUDPSender()
		if err != nil {
			return err
		}
		defer s.Close()
		best := [3]time.Duration{1 << 62, 1 << 62, 1 << 62}
		var ratios, added []float64
		for r := 0; r < rounds; r++ {
			var d [3]time.Duration
			for j := 0; j < 3; j++ {
				k := (j + r) % 3 // rotate the order: no side always runs first
				switch k {
				case 0:
					if _, err := c.Create(rule, 0); err != nil {
						return err
					}
				case 1:
					if err := nftSetTable(nc, 0, true); err != nil {
						return err
					}
				}
				// the setup's own work settles: the Go heap of a 10,000-element
				// request (a GC in the round would be charged to its side),
				// the kernel's RCU frees and allocations
				runtime.GC()
				time.Sleep(20 * time.Millisecond)
				if d[k], err = s.round(pk); err != nil {
					return err
				}
				switch k {
				case 0:
					if err := c.Flush(); err != nil {
						return err
					}
				case 1:
					if err := nftSetTable(nc, 0, false); err != nil {
						return err
					}
				}
				best[k] = min(best[k], d[k])
			}
			ratios = append(ratios, float64(d[0])/float64(d[1]))
			if d[1] > d[2] {
				added = append(added, float64(d[0]-d[2])/float64(d[1]-d[2]))
			}
		}
		sort.Float64s(ratios)
		sort.Float64s(added)
		med := func(v []float64) float64 {
			if len(v) == 0 {
				return 0
			}
			return v[len(v)/2]
		}
		fmt.Printf("BENCH set-vs-nft members=%d netlens-ns/packet=%d nft-ns/packet=%d neither-ns/packet=%d ratio=%.2f (p25 %.2f, p75 %.2f) added-ratio=%.2f (%d of %d rounds with nft above neither)\n",
			n, best[0].Nanoseconds(), best[1].Nanoseconds(), best[2].Nanoseconds(), med(ratios),
			ratios[len(ratios)/4], ratios[3*len(ratios)/4], med(added), len(added), rounds)
		// the nftables rule really looks the set up: a member's datagram is dropped
		if err := nftSetTable(nc, 0, true); err != nil {
			return err
		}
		seen, err := sendFrom([]netip.Addr{setMember(7, true), setMember(7, false)}, netip.MustParseAddrPort("127.0.0.1:4901"))
		if err != nil {
			return err
		}
		if len(seen) != 1 || seen[setMember(7, false)] != 1 {
			return fmt.Errorf("nftables set rule: the listener saw %v, want the non-member only", seen)
		}
		return nftSetTable(nc, 0, false)
	})
}
