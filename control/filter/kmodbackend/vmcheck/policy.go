package main

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"netlens/cli"
	"netlens/collectors/kmod"
	"netlens/control/filter/kmodbackend"
	"netlens/internal/filtertest"
	"netlens/model"
	"netlens/model/rules"
)

// udpThrough sends n datagrams to a listener on addr (127.0.0.1 or ::1)
// and returns how many arrived.
func udpThrough(network, addr string, n int) (int, error) {
	srv, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(addr)})
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	c, err := net.DialUDP(network, nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	for range n {
		if _, err := c.Write([]byte("netlens-policy")); err != nil {
			return 0, err
		}
	}
	return filtertest.Received(srv), nil
}

// policyOf returns the IPv4 LOCAL_IN default policy the backend reports.
func policyOf(b *kmodbackend.Backend) (model.RuleAction, error) {
	vs, err := b.Verdicts()
	if err != nil {
		return "", err
	}
	for _, v := range vs {
		if v.Family == model.FamilyIPv4 && v.Hook == model.HookInput {
			return v.Policy, nil
		}
	}
	return "", fmt.Errorf("no ipv4 input verdicts in %+v", vs)
}

func hooksRegistered() (uint32, error) {
	c, err := kmod.Dial(nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	cs, err := c.Counters()
	return cs.HooksRegistered, err
}

var txnRE = regexp.MustCompile(`netlens rules confirm (\d+)`)

// checkPolicy: the default policy end to end through `netlens rules
// policy` (the Manager, the guard, the kernel's revert deadline): a DROP
// policy that would cut the (simulated) SSH session is refused and names
// the policy; forced with --revert 5s and not confirmed it drops IPv4
// (not IPv6) and is reverted by the kernel at the deadline, the hook
// unregistered; a second change while one is pending is refused (EBUSY);
// confirmed, it stays past its deadline; ACCEPT again needs no deadline.
func checkPolicy() error {
	b, err := kmodbackend.Dial("")
	if err != nil {
		return err
	}
	defer b.Close()
	if pol, err := policyOf(b); err != nil || pol != model.ActionAccept {
		return fmt.Errorf("start: policy %q %v, want accept", pol, err)
	}
	out, err := run("policy", "input", "drop", "--family", "ipv4")
	if !errors.Is(err, cli.ErrWouldCutSession) || !strings.Contains(err.Error(), "the default policy (drop at ipv4 input)") {
		return fmt.Errorf("unforced drop policy: %v %s, want refused naming the policy", err, out)
	}
	logf("guard: %v", err)
	if pol, _ := policyOf(b); pol != model.ActionAccept {
		return fmt.Errorf("refused policy applied: %s", pol)
	}

	// not confirmed: the kernel reverts it at the deadline
	out, err = run("policy", "input", "drop", "--family", "ipv4", "--force", "--revert", "5s")
	applied := time.Now()
	if err != nil {
		return fmt.Errorf("forced drop policy: %v %s", err, out)
	}
	logf("%s", strings.TrimSpace(out))
	m := txnRE.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("no transaction in %q", out)
	}
	txn, _ := strconv.ParseUint(m[1], 10, 32)
	if pol, _ := policyOf(b); pol != model.ActionDrop {
		return fmt.Errorf("after the policy: %s, want drop", pol)
	}
	if pcs := rules.PendingChanges(b, nil); len(pcs) != 1 || pcs[0].Txn != uint32(txn) ||
		pcs[0].RevertAt.Sub(applied) > 5100*time.Millisecond || pcs[0].RevertAt.Sub(applied) < 4*time.Second {
		return fmt.Errorf("pending %+v, want txn %d reverting in ~5s", pcs, txn)
	}
	if n, err := hooksRegistered(); err != nil || n != 1 {
		return fmt.Errorf("hooks registered %d %v, want 1 (ipv4 input)", n, err)
	}
	if got, err := udpThrough("udp4", "127.0.0.1", 10); err != nil || got != 0 {
		return fmt.Errorf("ipv4 under the drop policy: %d of 10 arrived (%v)", got, err)
	}
	if got, err := udpThrough("udp6", "::1", 10); err != nil || got != 10 {
		return fmt.Errorf("ipv6 under the ipv4 drop policy: %d of 10 arrived (%v)", got, err)
	}
	if out, err := run("policy", "input", "accept", "--family", "ipv4"); err == nil || !strings.Contains(err.Error(), "unconfirmed change") {
		return fmt.Errorf("second change while pending: %v %s, want refused (EBUSY)", err, out)
	}
	var reverted time.Duration
	for time.Since(applied) < 12*time.Second {
		if pol, err := policyOf(b); err != nil {
			return err
		} else if pol == model.ActionAccept {
			reverted = time.Since(applied)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if reverted == 0 {
		return fmt.Errorf("the drop policy was not reverted 12s after a 5s deadline")
	}
	if reverted < 4900*time.Millisecond {
		return fmt.Errorf("reverted after %v, before its 5s deadline", reverted)
	}
	logf("not confirmed: reverted by the kernel %v after it was applied (deadline 5s)", reverted.Round(10*time.Millisecond))
	if got, err := udpThrough("udp4", "127.0.0.1", 10); err != nil || got != 10 {
		return fmt.Errorf("ipv4 after the revert: %d of 10 arrived (%v)", got, err)
	}
	if n, err := hooksRegistered(); err != nil || n != 0 {
		return fmt.Errorf("after the revert: hooks registered %d %v, want 0", n, err)
	}
	if pcs := rules.PendingChanges(b, nil); len(pcs) != 0 {
		return fmt.Errorf("pending after the revert: %+v", pcs)
	}

	// confirmed: it stays past its deadline
	if out, err = run("policy", "input", "drop", "--family", "ipv4", "--force", "--revert", "5s"); err != nil {
		return fmt.Errorf("drop policy again: %v %s", err, out)
	}
	if out, err = run("confirm"); err != nil {
		return fmt.Errorf("confirm: %v %s", err, out)
	}
	time.Sleep(5500 * time.Millisecond)
	if pol, _ := policyOf(b); pol != model.ActionDrop {
		return fmt.Errorf("confirmed drop policy after its deadline: %s", pol)
	}
	if got, _ := udpThrough("udp4", "127.0.0.1", 5); got != 0 {
		return fmt.Errorf("ipv4 under the confirmed drop policy: %d of 5 arrived", got)
	}
	logf("confirmed: still drop after the deadline")
	out, err = run("policy", "input", "accept", "--family", "ipv4")
	if err != nil || !strings.Contains(out, "policy accept at ipv4 input: done") {
		return fmt.Errorf("accept policy: %v %s (want done, no deadline)", err, out)
	}
	if n, err := hooksRegistered(); err != nil || n != 0 {
		return fmt.Errorf("after accept: hooks registered %d %v, want 0", n, err)
	}
	return nil
}
