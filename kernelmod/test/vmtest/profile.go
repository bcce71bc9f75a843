package main

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"netlens/collectors/kmod"
)

// The profile-* experiments are the guest half of kernelmod/test/tcgprof:
// each prints the kernel's and the module's text symbols ("KSYM" lines)
// and separates its phases with sync(2), where the host's TCG plugin
// writes out and resets its instruction counts (phase files N = 1, 2, ...).

// printSyms prints the text symbols of /proc/kallsyms (the kernel's too
// when all is set; the VM boots with nokaslr, so they are the same every
// boot of one kernel image).
func printSyms(all bool) error {
	b, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		return err
	}
	var sb strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || (f[1] != "t" && f[1] != "T") || (!all && !strings.Contains(l, "[netlens]")) {
			continue
		}
		sb.WriteString("KSYM " + l + "\n")
	}
	_, err = os.Stdout.WriteString(sb.String())
	return err
}

// profileSyms prints every text symbol; tcgprof/run.sh reads the address
// of __x64_sys_sync from it.
func profileSyms() error { return printSyms(true) }

// profileHooks: 10,000 indexed rules on all five hooks, then on LOCAL_IN;
// for each, 20 rounds of 1,000 datagrams with the rules on (phase 1, 5) and
// bypassed (phase 3, 7); phases 2, 4, 6 are the switches in between.
func profileHooks() error {
	return withClient(func(c *kmod.Client) error {
		s, err := newUDPSender()
		if err != nil {
			return err
		}
		defer s.Close()
		defer writeFile(sysctlDir+"enabled", "1")
		for _, hooks := range []kmod.Hooks{kmod.HookAll, kmod.HookLocalIn} {
			if err := c.Flush(); err != nil {
				return err
			}
			if _, err := loadRulesAt(c, 10000, indexedRule, hooks); err != nil {
				return err
			}
			if err := printSyms(false); err != nil {
				return err
			}
			for _, enabled := range []string{"1", "0"} {
				if err := writeFile(sysctlDir+"enabled", enabled); err != nil {
					return err
				}
				if err := profilePhase(s, 20, 1000); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// profileCreate: 100,000 indexed creates (the scale benchmark's shape);
// phase 1 is the first 10,000, phase 2 the next 80,000, phase 3 the last
// 10,000, phase 4 the flush.
func profileCreate() error {
	if err := ensureLoaded(); err != nil {
		return err
	}
	if err := writeFile(sysctlDir+"max_rules", "200000"); err != nil {
		return err
	}
	return withClient(func(c *kmod.Client) error {
		if err := printSyms(false); err != nil {
			return err
		}
		for _, r := range [][2]int{{0, 10000}, {10000, 90000}, {90000, 100000}} {
			unix.Sync()
			for i := r[0]; i < r[1]; i++ {
				rule := kmod.Rule{Dst: netip.PrefixFrom(addrN(netip.MustParseAddr("10.0.0.0"), i), 32), Action: kmod.ActionDrop}
				if _, err := c.Create(rule, 0); err != nil {
					return fmt.Errorf("rule %d: %w", i, err)
				}
			}
		}
		unix.Sync()
		err := c.Flush()
		unix.Sync()
		return err
	})
}

// profileCatchAll: 1,000 catch-all rules at LOCAL_IN (port ranges), 10
// rounds of 100 datagrams in phase 1.
func profileCatchAll() error {
	return withClient(func(c *kmod.Client) error {
		s, err := newUDPSender()
		if err != nil {
			return err
		}
		defer s.Close()
		if _, err := loadRulesAt(c, 1000, linearRule, kmod.HookLocalIn); err != nil {
			return err
		}
		if err := printSyms(false); err != nil {
			return err
		}
		return profilePhase(s, 10, 100)
	})
}

// profilePhase sends one warm-up round of n datagrams, then rounds rounds
// between two sync(2) calls: one phase file of the plugin.
func profilePhase(s *udpSender, rounds, n int) error {
	if _, err := s.round(n); err != nil {
		return err
	}
	unix.Sync()
	for i := 0; i < rounds; i++ {
		if _, err := s.round(n); err != nil {
			return err
		}
	}
	unix.Sync()
	return nil
}
