package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors/kmod"
)

// checkPolicy: a default DROP policy on one hook and family drops what no
// rule decides (and registers the hooks with no rule), an ACCEPT rule
// still lets its traffic through, a policy set with a revert deadline comes
// back by itself unless confirmed, and subscribers see each change.
func checkPolicy() error {
	return inNewNetns(func(c *kmod.Client) error {
		ev, err := kmod.Subscribe(nil)
		if err != nil {
			return err
		}
		defer ev.Close()
		const n = 10
		udp := func(dst string) int {
			got, _ := udpExchange(map[bool]string{true: "udp6", false: "udp4"}[dst[0] == '['], dst, dst, n)
			return got
		}
		state := func() (uint32, kmod.Action, error) {
			cs, err := c.Counters()
			if err != nil {
				return 0, 0, err
			}
			for _, h := range cs.Hooks {
				if h.Family == kmod.FamilyIPv4 && h.Hook == 1 {
					return cs.HooksRegistered, h.Policy, nil
				}
			}
			return 0, 0, fmt.Errorf("no ipv4 input counters")
		}
		in4 := kmod.Policy{Family: kmod.FamilyIPv4, Hook: 1, Verdict: kmod.ActionDrop}
		txn, err := c.SetPolicy(in4, 800*time.Millisecond)
		if err != nil {
			return err
		}
		hooks, pol, err := state()
		if err != nil {
			return err
		}
		// the pending change shows in COUNTERS; a second one is refused
		cs, err := c.Counters()
		if err != nil {
			return err
		}
		for _, h := range cs.Hooks {
			pending := h.Family == kmod.FamilyIPv4 && h.Hook == 1
			if pending != (h.PolicyTxn == txn) || (pending && (h.PolicyRevertIn <= 0 || h.PolicyRevertIn > 800*time.Millisecond)) {
				return fmt.Errorf("COUNTERS %v hook %d: policy txn %d, %v left; want txn %d on ipv4 input only", h.Family, h.Hook, h.PolicyTxn, h.PolicyRevertIn, txn)
			}
		}
		if _, err := c.SetPolicy(kmod.Policy{Family: kmod.FamilyIPv4, Hook: 1, Verdict: kmod.ActionAccept}, 0); !errors.Is(err, unix.EBUSY) ||
			!strings.Contains(kmod.KernelMessage(err), "the policy has an unconfirmed change") {
			return fmt.Errorf("a second change of a pending policy: %v (%q), want EBUSY", err, kmod.KernelMessage(err))
		}
		v4, v6 := udp("127.0.0.1:5800"), udp("[::1]:5800")
		logf("ipv4 input policy drop (txn %d, revert 800ms): %d hooks, policy %v; udp4 %d of %d, udp6 %d of %d", txn, hooks, pol, v4, n, v6, n)
		if txn == 0 || hooks != 1 || pol != kmod.ActionDrop || v4 != 0 || v6 != n {
			return fmt.Errorf("drop policy not in force as it should")
		}
		time.Sleep(1500 * time.Millisecond)
		hooks, pol, err = state()
		if err != nil {
			return err
		}
		v4 = udp("127.0.0.1:5800")
		logf("after the deadline: %d hooks, policy %v; udp4 %d of %d", hooks, pol, v4, n)
		if hooks != 0 || pol != kmod.ActionAccept || v4 != n {
			return fmt.Errorf("the policy was not reverted")
		}
		es, err := waitEvents(ev, 2, 3*time.Second)
		if err != nil {
			return err
		}
		if es[0].Type != kmod.EventPolicy || es[0].Policy == nil || es[0].Policy.Verdict != kmod.ActionDrop ||
			es[1].Type != kmod.EventPolicy || es[1].Txn != txn || es[1].Policy.Verdict != kmod.ActionAccept {
			return fmt.Errorf("policy events: %s", eventTypes(es))
		}
		// confirmed: it stays; an ACCEPT rule decides before the policy
		txn, err = c.SetPolicy(in4, time.Minute)
		if err != nil {
			return err
		}
		if err := c.Confirm(txn); err != nil {
			return err
		}
		acc, err := c.Create(kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 5801, Max: 5801}, Action: kmod.ActionAccept}, 0)
		if err != nil {
			return err
		}
		if a, d := udp("127.0.0.1:5801"), udp("127.0.0.1:5800"); a != n || d != 0 {
			return fmt.Errorf("confirmed drop policy with an accept rule: accepted port %d of %d, other %d of %d", a, n, d, n)
		}
		if err := c.Delete(acc.ID); err != nil {
			return err
		}
		if got := udp("127.0.0.1:5801"); got != 0 {
			return fmt.Errorf("drop policy without rules: %d of %d passed", got, n)
		}
		if _, err := c.SetPolicy(kmod.Policy{Family: kmod.FamilyIPv4, Hook: 1, Verdict: kmod.ActionAccept}, 0); err != nil {
			return err
		}
		hooks, _, err = state()
		if err != nil {
			return err
		}
		if got := udp("127.0.0.1:5801"); got != n || hooks != 0 {
			return fmt.Errorf("policy accept again: %d of %d passed, %d hooks", got, n, hooks)
		}
		logf("confirmed drop policy stays; an accept rule decides first; accept again unhooks")
		return nil
	})
}
