package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestIntegrationE2EFilterPolicy sets a DROP default policy through the
// Filters tab's P key of the real binary (nftables backend, a namespace
// of its own, --revert 5s): P, f (ipv4), enter. Not confirmed, it drops
// TCP to the namespace's listener until the revert helper puts the accept
// policy back at the deadline (the tab says REVERTED, nft has no policy
// rule, connects pass). Set again and kept with c, it still drops past
// the deadline; P then sets accept again, which needs no deadline.
func TestIntegrationE2EFilterPolicy(t *testing.T) {
	requireTmux(t)
	requireTools(t, "nft", "socat")
	const port = "47796"
	s, ns := startFilterTUI(t, port, "--revert", "5s")
	policyRule := func() bool {
		out, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "chain", "inet", "netlens", "input").Output()
		return strings.Contains(string(out), `meta nfproto ipv4 counter`) && strings.Contains(string(out), `drop comment "netlens default policy"`)
	}
	s.waitFor("the listener", 10*time.Second, func(scr string) bool { return strings.Contains(scr, ":"+port) })
	if got := tcpConnects(ns, port, 2); got != 2 {
		t.Fatalf("before any policy: %d of 2 connects succeeded", got)
	}
	s.keys("4")
	s.waitText("backend nft:", 10*time.Second)
	s.waitText("in evaluation order; policy accept", 10*time.Second)

	setDrop := func() time.Time {
		s.keys("P")
		s.waitText("Default policy:", 5*time.Second)
		s.keys("f")
		s.waitText("set: drop at ipv4 input", 5*time.Second)
		s.keys("Enter")
		s.waitText("the default policy drop at ipv4 input: applied; press c to keep it", 10*time.Second)
		applied := time.Now()
		s.waitText("REVERT IN", 5*time.Second)
		if !policyRule() {
			t.Fatal("nft has no policy rule after the TUI set a DROP policy")
		}
		if got := tcpConnects(ns, port, 2); got != 0 {
			t.Fatalf("with the DROP policy: %d of 2 connects succeeded", got)
		}
		s.waitText("policy DROP at in4, else accept", 10*time.Second)
		return applied
	}

	// not confirmed: reverted at the deadline
	applied := setDrop()
	s.waitText("REVERTED: the default policy drop at ipv4 input was undone at its deadline", 20*time.Second)
	took := time.Since(applied)
	if policyRule() {
		t.Fatal("nft still has the policy rule after the revert")
	}
	if got := tcpConnects(ns, port, 2); got != 2 {
		t.Fatalf("after the revert: %d of 2 connects succeeded", got)
	}
	s.waitText("in evaluation order; policy accept", 10*time.Second)
	t.Logf("DROP policy reverted and shown %.1f s after it was applied (deadline 5 s)", took.Seconds())

	// confirmed: it stays past the deadline
	applied = setDrop()
	s.keys("c")
	s.waitText("confirmed: the default policy drop at ipv4 input is kept", 10*time.Second)
	time.Sleep(time.Until(applied.Add(7 * time.Second)))
	if !policyRule() {
		t.Fatal("the confirmed DROP policy is gone past the deadline")
	}
	if got := tcpConnects(ns, port, 2); got != 0 {
		t.Fatalf("confirmed DROP policy past the deadline: %d of 2 connects succeeded", got)
	}
	if scr := s.screen(); strings.Contains(scr, "REVERTED") || !strings.Contains(scr, "policy DROP at in4, else accept") {
		t.Fatalf("after the confirm and the deadline:\n%s", scr)
	}

	// accept again: not drop-capable, done at once
	s.keys("P")
	s.waitText("Default policy:", 5*time.Second)
	s.keys("f", "a")
	s.waitText("set: accept at ipv4 input", 5*time.Second)
	s.keys("Enter")
	s.waitText("the default policy accept at ipv4 input: done", 10*time.Second)
	if policyRule() {
		t.Fatal("nft has the policy rule after accept")
	}
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}
