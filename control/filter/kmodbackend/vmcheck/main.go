// Command vmcheck runs the filter backend checks against the real netlens
// kernel module inside a qemu VM (run.sh boots it): filter.Exercise with
// the kmod backend (traffic stops and flows again, counters, commit-
// confirmed revert and confirm), a revert that survives SIGKILL of the
// process that made the change, selection (auto picks kmod), and the
// `netlens rules` command line, the default policy, and the stateful and
// L4 matches (ct state, tcp flags, icmp type, negation). It prints "--- PASS:"/"--- FAIL:" lines
// and FILTERS-VMCHECK-RC=<n>.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"netlens/cli"
	"netlens/control/filter"
	"netlens/control/filter/kmodbackend"
	"netlens/internal/filtertest"
	"netlens/model"
	"netlens/model/rules"
)

var (
	modulePath = flag.String("module", "/netlens.ko", "path of netlens.ko")
	child      = flag.Bool("child", false, "internal: add a commit-confirmed rule, print ARMED, wait to be killed")
)

func logf(format string, args ...any) { fmt.Printf("    "+format+"\n", args...) }

func main() {
	flag.Parse()
	if *child {
		os.Exit(childMain())
	}
	checks := []struct {
		name string
		fn   func() error
	}{
		{"load", load},
		{"select", checkSelect},
		{"exercise", func() error {
			b, err := kmodbackend.Dial("")
			if err != nil {
				return err
			}
			defer b.Close()
			return filtertest.Exercise(b, logf)
		}},
		{"revert-after-sigkill", checkSIGKILL},
		{"cli", checkCLI},
		{"verdicts", checkVerdicts},
		{"watch", checkWatch},
		{"policy", checkPolicy},
		{"matches", checkMatches},
	}
	failed := 0
	for _, c := range checks {
		t0 := time.Now()
		if err := c.fn(); err != nil {
			failed++
			fmt.Printf("--- FAIL: %s (%.2fs): %v\n", c.name, time.Since(t0).Seconds(), err)
			continue
		}
		fmt.Printf("--- PASS: %s (%.2fs)\n", c.name, time.Since(t0).Seconds())
	}
	fmt.Printf("FILTERS-VMCHECK-RC=%d\n", failed)
}

func load() error {
	f, err := os.Open(*modulePath)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.FinitModule(int(f.Fd()), "", 0)
}

func checkSelect() error {
	b, err := filter.Open(filter.Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	if b.Name() != rules.BackendKmod || b.ReadOnly() != "" {
		return fmt.Errorf("auto chose %s (%s), want kmod", b.Name(), b.ReadOnly())
	}
	return nil
}

// childMain adds a commit-confirmed DROP rule and waits to be killed.
func childMain() int {
	b, err := kmodbackend.Dial("")
	if err != nil {
		fmt.Println("child:", err)
		return 1
	}
	m := &filter.Manager{Backend: b, Revert: 2 * time.Second}
	p, err := m.Plan(rules.Op{Kind: rules.OpAdd, Rule: model.Rule{Enabled: true, Action: model.ActionDrop, Proto: "udp",
		DstPorts: model.PortRange{Min: 9, Max: 9}, Label: "killed before confirm"}})
	if err == nil {
		_, err = m.Apply(p)
	}
	if err != nil {
		fmt.Println("child:", err)
		return 1
	}
	fmt.Println("ARMED")
	time.Sleep(time.Minute)
	return 0
}

func checkSIGKILL() error {
	cmd := exec.Command("/proc/self/exe", "-child")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "ARMED") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return fmt.Errorf("child did not arm: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	killed := time.Now()
	b, err := kmodbackend.Dial("")
	if err != nil {
		return err
	}
	defer b.Close()
	rs, err := b.List()
	if err != nil {
		return err
	}
	if len(rs) != 1 || rs[0].PendingTxn == 0 {
		return fmt.Errorf("after SIGKILL, before the deadline: %+v", rs)
	}
	for time.Since(killed) < 8*time.Second {
		if rs, err = b.List(); err != nil {
			return err
		}
		if len(rs) == 0 {
			logf("the kernel reverted the change %v after the process was killed", time.Since(killed).Round(10*time.Millisecond))
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not reverted: %+v", rs)
}

func run(args ...string) (string, error) {
	cmd := cli.RulesCmd(cli.RulesConfig{
		Guard: func(context.Context) filter.GuardInput {
			s, _ := filter.ParseSSHConnection("192.0.2.7 50022 10.0.2.15 22")
			return filter.GuardInput{SSH: &s}
		},
	})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func checkCLI() error {
	out, err := run("add", "--action", "accept", "--proto", "tcp", "--dport", "22", "--label", "keep ssh")
	if err != nil {
		return fmt.Errorf("add accept: %v %s", err, out)
	}
	logf("%s", strings.TrimSpace(out))
	out, err = run("add", "--action", "drop", "--priority", "10", "--label", "drop all", "--revert", "5s")
	if err != nil {
		return fmt.Errorf("add drop: %v %s", err, out)
	}
	logf("%s", strings.TrimSpace(out))
	if out, err = run("confirm"); err != nil {
		return fmt.Errorf("confirm: %v %s", err, out)
	}
	b, err := kmodbackend.Dial("")
	if err != nil {
		return err
	}
	defer b.Close()
	rs, err := b.List()
	if err != nil || len(rs) != 2 {
		return fmt.Errorf("rules: %v %+v", err, rs)
	}
	if out, err = run("disable", fmt.Sprint(rs[0].ID)); !errors.Is(err, cli.ErrWouldCutSession) {
		return fmt.Errorf("disable of the accept: %v %s", err, out)
	}
	logf("%v", err)
	if _, err = run("add", "--action", "drop", "--proto", "tcp", "--dport", "2000-1000"); cli.ExitCode(err) != 2 {
		return fmt.Errorf("bad input: %v, want a usage error (exit 2)", err)
	}
	out, err = run("list")
	if err != nil {
		return err
	}
	fmt.Print(out)
	if !strings.Contains(out, "backend: kmod") || !strings.Contains(out, "keep ssh") {
		return fmt.Errorf("list: %s", out)
	}
	rs, _ = b.List()
	for _, r := range rs {
		if err := b.Delete(r.ID, 0); err != nil {
			return err
		}
	}
	return nil
}

func checkVerdicts() error {
	b, err := kmodbackend.Dial("")
	if err != nil {
		return err
	}
	defer b.Close()
	v, err := b.Verdicts()
	if err != nil {
		return err
	}
	if len(v) != 10 {
		return fmt.Errorf("%d hook counters, want 10 (2 families x 5 hooks): %+v", len(v), v)
	}
	var dropped uint64
	for _, h := range v {
		dropped += h.Dropped
	}
	if dropped == 0 {
		return fmt.Errorf("no drops counted after the exercise: %+v", v)
	}
	logf("hook verdicts: %d dropped in all", dropped)
	return nil
}

// checkWatch: Watch reports a change made by another client, and the
// kernel's revert of an unconfirmed change.
func checkWatch() error {
	b, err := kmodbackend.Dial("")
	if err != nil {
		return err
	}
	defer b.Close()
	other, err := kmodbackend.Dial("")
	if err != nil {
		return err
	}
	defer other.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() { done <- b.Watch(ctx, func() { calls <- struct{}{} }) }()
	time.Sleep(300 * time.Millisecond)
	wait := func(what string) error {
		select {
		case <-calls:
			return nil
		case err := <-done:
			return fmt.Errorf("watch ended before %s: %v", what, err)
		case <-time.After(5 * time.Second):
			return fmt.Errorf("no callback for %s", what)
		}
	}
	r, err := other.Add(model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Action: model.ActionDrop, Proto: "udp",
		DstPorts: model.PortRange{Min: 7, Max: 7}}, 500*time.Millisecond)
	if err != nil {
		return err
	}
	if err := wait("the create"); err != nil {
		return err
	}
	if err := wait("the revert"); err != nil {
		return err
	}
	rs, _ := b.List()
	for _, x := range rs {
		if x.ID == r.ID {
			return fmt.Errorf("rule %d still there after its revert", r.ID)
		}
	}
	cancel()
	return <-done
}
