package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors/kmod"
)

// nftModules are loaded in this order for the nftables comparison;
// run-qemu.sh copies them from /lib/modules into /mods.
var nftModules = []string{"crc32c_generic", "libcrc32c", "nfnetlink", "nf_tables"}

func loadNFT() error {
	for _, m := range nftModules {
		if _, err := os.Stat(filepath.Join("/sys/module", m)); err == nil {
			continue
		}
		f, err := os.Open(filepath.Join("/mods", m+".ko"))
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && err != unix.EEXIST {
			return fmt.Errorf("load %s: %w", m, err)
		}
	}
	return nil
}

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

// benchCost prints the per-packet cost with 0, 100 and 10,000 non-matching
// rules: netlens indexed, netlens unindexed, and an nftables chain of the
// same destination rules.
func benchCost() error {
	return withClient(func(c *kmod.Client) error {
		const pk, rounds = 3000, 9
		base, err := costWith(c, 0, nil, pk, rounds)
		if err != nil {
			return err
		}
		row := func(kind string, n int, d time.Duration) {
			fmt.Printf("BENCH %-22s rules=%-6d ns/packet=%-8d ratio=%.2f\n", kind, n, d.Nanoseconds(), float64(d)/float64(base))
		}
		row("none", 0, base)
		for _, n := range []int{100, 10000} {
			d, err := costWith(c, n, indexedRule, pk, rounds)
			if err != nil {
				return err
			}
			row("netlens-indexed", n, d)
			if d, err = costWith(c, n, func(i int) kmod.Rule { return indexedRule(3 * i) }, pk, rounds); err != nil {
				return err
			}
			row("netlens-dst-only", n, d)
			p, r := pk, rounds
			if n > 1000 {
				p, r = 300, 1
			}
			if d, err = costWith(c, n, linearRule, p, r); err != nil {
				return err
			}
			row("netlens-unindexed", n, d)
		}
		if b2, err := costWith(c, 0, nil, pk, rounds); err == nil && b2 < base {
			fmt.Printf("BENCH (second baseline %d ns/packet is lower; ratios above used the first)\n", b2.Nanoseconds())
		}
		if err := loadNFT(); err != nil {
			fmt.Printf("BENCH nftables skipped: %v\n", err)
			return nil
		}
		for _, n := range []int{0, 100, 10000} {
			if err := nftChain(n); err != nil {
				return err
			}
			p, r := pk, rounds
			if n > 1000 {
				p, r = 1000, 3
			}
			d, err := packetCost(p, r)
			if err != nil {
				return err
			}
			row("nftables-chain", n, d)
		}
		return nftChain(0)
	})
}
