// Package filtertest is the end-to-end check of a writable filter
// backend, shared by the nft integration tests and the kernel module's
// VM checks. It is test code, not API.
package filtertest

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"netlens/control/filter"
	"netlens/model"
	"netlens/model/rules"
)

// Exercise runs the end-to-end check of a writable backend with real
// traffic on 127.0.0.1 in the caller's network namespace: a commit-
// confirmed DROP rule for a UDP port stops exactly its datagrams and
// counts them; disabling it lets them through; left unconfirmed, a change
// is reverted by its deadline, and confirmed, it is kept. It leaves no
// rule behind. The kernel module's qemu test (kernelmod/test/vmtest) calls
// it with the kmod backend; the nft backend's integration test with nft.
// logf may be nil.
func Exercise(b filter.Backend, logf func(format string, args ...any)) (err error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if ro := b.ReadOnly(); ro != "" {
		return fmt.Errorf("%s backend is read-only: %s", b.Name(), ro)
	}
	start, err := b.List()
	if err != nil {
		return err
	}
	// The deadline leaves room for a slow machine between the apply and
	// the datagrams that must be dropped: under qemu's TCG on a loaded
	// host 1.5 s was once not enough (the rule was reverted before they
	// were sent).
	m := &filter.Manager{Backend: b, Revert: 3 * time.Second}
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer srv.Close()
	port := uint16(srv.LocalAddr().(*net.UDPAddr).Port)
	cli, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		return err
	}
	defer cli.Close()
	exchange := func(n int) (int, error) {
		for range n {
			if _, err := cli.Write([]byte("netlens-exercise")); err != nil {
				return 0, err
			}
		}
		return Received(srv), nil
	}
	expect := func(what string, n, want int) error {
		got, err := exchange(n)
		if err != nil {
			return err
		}
		logf("%s: %d of %d datagrams received (want %d)", what, got, n, want)
		if got != want {
			return fmt.Errorf("%s: %d of %d datagrams received, want %d", what, got, n, want)
		}
		return nil
	}
	rule := model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "udp",
		Dst: mustPrefix("127.0.0.1/32"), DstPorts: model.PortRange{Min: port, Max: port}, Action: model.ActionDrop, Label: "netlens exercise"}
	var id uint32
	defer func() {
		if id != 0 {
			if derr := b.Delete(id, 0); derr != nil && err == nil {
				err = derr
			}
		}
	}()
	apply := func(op rules.Op) (rules.Result, error) {
		p, err := m.Plan(op)
		if err != nil {
			return rules.Result{}, err
		}
		return m.Apply(p)
	}
	if err := expect("no rule", 5, 5); err != nil {
		return err
	}
	// 1. unconfirmed add: dropping until the deadline, then gone.
	res, err := apply(rules.Op{Kind: rules.OpAdd, Rule: rule})
	if err != nil {
		return fmt.Errorf("add: %w", err)
	}
	if res.Txn == 0 {
		return fmt.Errorf("a drop rule was added without a revert deadline")
	}
	if err := expect("pending drop rule", 5, 0); err != nil {
		return err
	}
	if err := waitRules(b, m.Revert+5*time.Second, func(rs []model.Rule) bool { return len(rs) == len(start) }); err != nil {
		return fmt.Errorf("unconfirmed add not reverted: %w", err)
	}
	if err := expect("reverted", 5, 5); err != nil {
		return err
	}
	// 2. confirmed add: kept past the deadline, counts what it drops.
	if res, err = apply(rules.Op{Kind: rules.OpAdd, Rule: rule}); err != nil {
		return fmt.Errorf("add: %w", err)
	}
	id = res.Rule.ID
	if err := m.Confirm(res.Txn); err != nil {
		return fmt.Errorf("confirm: %w", err)
	}
	time.Sleep(m.Revert + 300*time.Millisecond)
	if err := expect("confirmed drop rule", 10, 0); err != nil {
		return err
	}
	r, err := ruleByID(b, id)
	if err != nil {
		return err
	}
	if r.Packets != 10 || r.PendingTxn != 0 {
		return fmt.Errorf("confirmed rule: %d packets (want 10), pending %d", r.Packets, r.PendingTxn)
	}
	// 3. toggle: disabled lets traffic through and keeps the counters.
	if _, err := apply(rules.Op{Kind: rules.OpDisable, ID: id}); err != nil {
		return fmt.Errorf("disable: %w", err)
	}
	if err := expect("disabled", 5, 5); err != nil {
		return err
	}
	if r, err = ruleByID(b, id); err != nil || r.Packets != 10 || r.Enabled {
		return fmt.Errorf("disabled rule: %+v %v", r, err)
	}
	// 4. unconfirmed enable: reverted to disabled.
	if res, err = apply(rules.Op{Kind: rules.OpEnable, ID: id}); err != nil || res.Txn == 0 {
		return fmt.Errorf("enable: %v (txn %d)", err, res.Txn)
	}
	if err := expect("pending enable", 3, 0); err != nil {
		return err
	}
	if err := waitRules(b, m.Revert+5*time.Second, func(rs []model.Rule) bool {
		for _, r := range rs {
			if r.ID == id {
				return !r.Enabled && r.PendingTxn == 0
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("unconfirmed enable not reverted: %w", err)
	}
	return expect("enable reverted", 5, 5)
}

// Received counts the datagrams srv receives until none comes for 150 ms.
func Received(srv *net.UDPConn) int {
	got, buf := 0, make([]byte, 64)
	for {
		_ = srv.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		if _, _, err := srv.ReadFromUDP(buf); err != nil {
			return got
		}
		got++
	}
}

func mustPrefix(s string) netip.Prefix {
	p, err := rules.ParsePrefix(s)
	if err != nil {
		panic(err)
	}
	return p
}

func ruleByID(b filter.Backend, id uint32) (model.Rule, error) {
	rs, err := b.List()
	if err != nil {
		return model.Rule{}, err
	}
	for _, r := range rs {
		if r.ID == id {
			return r, nil
		}
	}
	return model.Rule{}, fmt.Errorf("rule %d is gone", id)
}

func waitRules(b filter.Backend, timeout time.Duration, ok func([]model.Rule) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		rs, err := b.List()
		if err != nil {
			return err
		}
		if ok(rs) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still %+v after %v", rs, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
