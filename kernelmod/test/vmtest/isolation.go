package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"netlens/collectors"
	"netlens/collectors/kmod"
)

func checkNetns() error {
	return withClient(func(c *kmod.Client) error {
		const n = 10
		root, err := c.Create(kmod.Rule{Action: kmod.ActionCount, Label: "root-only"}, 0)
		if err != nil {
			return err
		}
		ev, err := kmod.Subscribe(nil)
		if err != nil {
			return err
		}
		defer ev.Close()
		ns, err := newNetns()
		if err != nil {
			return err
		}
		defer ns.Close()
		var nsRule kmod.Rule
		err = ns.do(func() error {
			nc, err := kmod.Dial(nil)
			if err != nil {
				return err
			}
			defer nc.Close()
			rules, err := nc.Dump()
			if err != nil {
				return err
			}
			if len(rules) != 0 {
				return fmt.Errorf("new namespace sees %d rules", len(rules))
			}
			nsRule, err = nc.Create(kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 4700, Max: 4700},
				Action: kmod.ActionDrop, Label: "ns-only"}, 0)
			if err != nil {
				return err
			}
			if got, err := udpExchange("udp4", "127.0.0.1:4700", "127.0.0.1:4700", n); err != nil || got != 0 {
				return fmt.Errorf("namespace DROP: %d arrived (%v)", got, err)
			}
			b, err := os.ReadFile("/proc/thread-self/net/netlens")
			if err != nil {
				return err
			}
			if !strings.Contains(string(b), "ns-only") || strings.Contains(string(b), "root-only") {
				return fmt.Errorf("namespace /proc/net/netlens:\n%s", b)
			}
			// leave a pending revert behind for the namespace teardown
			_, err = nc.Create(kmod.Rule{Action: kmod.ActionCount}, time.Minute)
			return err
		})
		if err != nil {
			return err
		}
		if got, err := udpExchange("udp4", "127.0.0.1:4700", "127.0.0.1:4700", n); err != nil || got != n {
			return fmt.Errorf("root traffic hit the namespace's rule: %d of %d (%v)", got, n, err)
		}
		rules, err := c.Dump()
		if err != nil {
			return err
		}
		if len(rules) != 1 || rules[0].ID != root.ID {
			return fmt.Errorf("root dump = %+v", rules)
		}
		_, err = waitEvents(ev, 1, 300*time.Millisecond)
		if err == nil {
			return errors.New("root subscriber saw an event of another namespace")
		}
		logf("namespace rule %d invisible to root; root subscriber saw no namespace event", nsRule.ID)
		return nil
	})
}

// unprivFuzz is how many random requests the unprivileged half sends.
const unprivFuzz = 5056 // a multiple of fuzzBatch

func checkUnpriv() error {
	return withClient(func(c *kmod.Client) error {
		r, err := c.Create(kmod.Rule{Action: kmod.ActionCount, Label: "visible"}, 0)
		if err != nil {
			return err
		}
		cmd := exec.Command("/proc/self/exe", "-unpriv", "-rule", strconv.Itoa(int(r.ID)))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			logf("nobody: %s", l)
		}
		if err != nil {
			return fmt.Errorf("unprivileged half: %w", err)
		}
		return nil
	})
}

// unprivMain runs as uid 65534 without capabilities.
func unprivMain() int {
	if err := unpriv(); err != nil {
		fmt.Println("FAIL:", err)
		return 1
	}
	return 0
}

func unpriv() error {
	c, err := kmod.Dial(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	rules, err := c.Dump()
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	if len(rules) != 1 || uint32(*unprivRule) != rules[0].ID {
		return fmt.Errorf("dump = %+v", rules)
	}
	if _, err := c.Get(rules[0].ID); err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if _, err := c.Counters(); err != nil {
		return fmt.Errorf("counters: %w", err)
	}
	if _, err := os.ReadFile("/proc/net/netlens"); err != nil {
		return err
	}
	ev, err := kmod.Subscribe(nil)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	ev.Close()
	id := rules[0].ID
	for name, do := range map[string]func() error{
		"create":  func() error { _, err := c.Create(kmod.Rule{Action: kmod.ActionDrop}, 0); return err },
		"change":  func() error { _, err := c.SetEnabled(id, false, 0); return err },
		"delete":  func() error { return c.Delete(id) },
		"flush":   c.Flush,
		"confirm": func() error { return c.Confirm(1) },
	} {
		err := do()
		if !errors.Is(err, syscall.EPERM) || !errors.Is(err, collectors.ErrPermission) {
			return fmt.Errorf("%s: err = %v, want EPERM wrapping ErrPermission", name, err)
		}
		fmt.Printf("%s: %v\n", name, err)
	}
	fmt.Println("dump, get, counters, /proc/net/netlens and events allowed")
	// malformed and well-formed requests as nobody: nothing changes
	errnos, err := fuzzFamily(unprivFuzz, 200, 7)
	if err != nil {
		return fmt.Errorf("unprivileged fuzz: %w", err)
	}
	after, err := c.Dump()
	if err != nil || len(after) != 1 || !reflect.DeepEqual(after[0], rules[0]) {
		return fmt.Errorf("after the unprivileged fuzz (%d requests succeeded): rules %+v (%v)", errnos[0], after, err)
	}
	fmt.Printf("%d random requests: errno histogram %v; the rules are unchanged\n", unprivFuzz, errnos)
	return nil
}

func checkProcSysctl() error {
	return withClient(func(c *kmod.Client) error {
		const n = 7
		r, err := c.Create(kmod.Rule{Proto: 17, Dst: pfx("127.0.0.1/32"), DstPorts: kmod.PortRange{Min: 4800, Max: 4800},
			Action: kmod.ActionDrop, Label: "proc-check"}, 0)
		if err != nil {
			return err
		}
		send := func() (int, error) { return udpExchange("udp4", "127.0.0.1:4800", "127.0.0.1:4800", n) }
		if got, _ := send(); got != 0 {
			return fmt.Errorf("DROP: %d arrived", got)
		}
		b, err := os.ReadFile("/proc/net/netlens")
		if err != nil {
			return err
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		logf("/proc/net/netlens:\n      %s", strings.Join(lines, "\n      "))
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "id enabled action") {
			return fmt.Errorf("unexpected /proc/net/netlens")
		}
		f := strings.Fields(lines[1])
		want := []string{strconv.Itoa(int(r.ID)), "1", "drop", "0", "0x02", "ipv4", "17", "*", "*", "127.0.0.1/32", "4800", "*", "*",
			strconv.Itoa(n), strconv.Itoa(n * (28 + payloadLen))}
		for i, w := range want {
			if i >= len(f) || f[i] != w {
				return fmt.Errorf("column %d = %q, want %q", i, f[i], w)
			}
		}
		if f[len(f)-1] != "proc-check" {
			return fmt.Errorf("label column = %q", f[len(f)-1])
		}
		if v, _ := readFile(sysctlDir + "enabled"); v != "1" {
			return fmt.Errorf("enabled = %q", v)
		}
		if err := writeFile(sysctlDir+"enabled", "0"); err != nil {
			return err
		}
		got, _ := send()
		if err := writeFile(sysctlDir+"enabled", "1"); err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("enabled=0: %d of %d arrived", got, n)
		}
		if g, _ := c.Get(r.ID); g.Packets != n {
			return fmt.Errorf("enabled=0: rule still counted (%d)", g.Packets)
		}
		if got, _ := send(); got != 0 {
			return fmt.Errorf("enabled=1 again: %d arrived", got)
		}
		return nil
	})
}

// checkLazyHooks: a namespace without rules has no hooks (0 registered, its
// packets never enter the module); its first rule registers the hooks it
// sits at (here IPv4 and IPv6 input: 2), and its
// last rule's deletion, a flush or a reverted create removes them.
func checkLazyHooks() error {
	return inNewNetns(func(c *kmod.Client) error {
		state := func() (uint32, uint64, error) {
			cs, err := c.Counters()
			if err != nil {
				return 0, 0, err
			}
			var seen uint64
			for _, h := range cs.Hooks {
				seen += h.Seen
			}
			return cs.HooksRegistered, seen, nil
		}
		traffic := func() error {
			_, err := udpExchange("udp4", "127.0.0.1:5400", "127.0.0.1:5400", 10)
			return err
		}
		expect := func(step string, wantHooks uint32, seenGrows bool) error {
			_, seen0, err := state()
			if err != nil {
				return err
			}
			if err := traffic(); err != nil {
				return err
			}
			hooks, seen1, err := state()
			if err != nil {
				return err
			}
			logf("%-28s hooks registered %2d, packets seen %d -> %d", step, hooks, seen0, seen1)
			if hooks != wantHooks {
				return fmt.Errorf("%s: %d hooks registered, want %d", step, hooks, wantHooks)
			}
			if grew := seen1 > seen0; grew != seenGrows {
				return fmt.Errorf("%s: packets seen %d -> %d", step, seen0, seen1)
			}
			return nil
		}
		if err := expect("no rule", 0, false); err != nil {
			return err
		}
		r, err := c.Create(kmod.Rule{Action: kmod.ActionCount, Proto: 17}, 0)
		if err != nil {
			return err
		}
		if err := expect("one rule (IPv4+IPv6 input)", 2, true); err != nil {
			return err
		}
		if err := c.Delete(r.ID); err != nil {
			return err
		}
		if err := expect("last rule deleted", 0, false); err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			if _, err := c.Create(kmod.Rule{Action: kmod.ActionCount}, 0); err != nil {
				return err
			}
		}
		if err := c.Flush(); err != nil {
			return err
		}
		if err := expect("flushed", 0, false); err != nil {
			return err
		}
		if _, err := c.Create(kmod.Rule{Action: kmod.ActionCount}, 300*time.Millisecond); err != nil {
			return err
		}
		time.Sleep(time.Second)
		return expect("create reverted", 0, false)
	})
}
