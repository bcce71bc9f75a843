package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"netlens/collectors/kmod"
)

// checkUserns: root of a container (a process that ran `unshare -U -r -n`:
// uid 0 and every capability in its own user namespace, none in the
// initial one) can read the rules the host put in its network namespace but
// can neither change them through generic netlink nor bypass them through
// the net.netlens sysctls. The host enters the container's namespace and
// adds a DROP rule; the container then tries everything.
func checkUserns() error {
	if err := ensureLoaded(); err != nil {
		return err
	}
	self, err := os.Executable() // not /proc/self/exe: that is unshare's own binary in the child
	if err != nil {
		return err
	}
	cmd := exec.Command("/bin/unshare", "-U", "-r", "-n", self, "-userns-child")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var pid int
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "READY ") {
		return fmt.Errorf("container did not start: %q", lines.Text())
	}
	pid, _ = strconv.Atoi(strings.TrimPrefix(lines.Text(), "READY "))
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	ns := &netns{fd: fd}
	defer ns.Close()
	var rule kmod.Rule
	if err := ns.do(func() error {
		c, err := kmod.Dial(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		rule, err = c.Create(kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 5300, Max: 5300},
			Action: kmod.ActionDrop, Label: "host-policy"}, 0)
		return err
	}); err != nil {
		return fmt.Errorf("host rule in the container's namespace: %w", err)
	}
	fmt.Fprintf(stdin, "%d\n", rule.ID)
	var fails []string
	for lines.Scan() {
		l := lines.Text()
		logf("container: %s", l)
		if strings.HasPrefix(l, "FAIL") {
			fails = append(fails, l)
		}
	}
	if err := cmd.Wait(); err != nil && len(fails) == 0 {
		return fmt.Errorf("container: %w", err)
	}
	if len(fails) > 0 {
		return errors.New(strings.Join(fails, "; "))
	}
	// and the rule is still there, unchanged, for the host
	return ns.do(func() error {
		c, err := kmod.Dial(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		got, err := c.Get(rule.ID)
		if err != nil {
			return err
		}
		if got.Disabled || got.Action != kmod.ActionDrop || got.Packets == 0 {
			return fmt.Errorf("host rule after the container's attempts: %+v", got)
		}
		return nil
	})
}

// usernsChild runs inside `unshare -U -r -n`: uid 0 of a new user
// namespace, in a new network namespace. Prints one line per attempt.
func usernsChild() int {
	fmt.Printf("READY %d\n", os.Getpid())
	var id uint32
	if _, err := fmt.Scanf("%d\n", &id); err != nil {
		fmt.Println("FAIL: no rule id from the host:", err)
		return 1
	}
	bad := 0
	expect := func(what string, err error, want ...error) {
		for _, w := range want {
			if errors.Is(err, w) {
				fmt.Printf("ok: %s refused: %v\n", what, err)
				return
			}
		}
		fmt.Printf("FAIL: %s: got %v, want one of %v\n", what, err, want)
		bad++
	}
	ok := func(what string, err error) {
		if err != nil {
			fmt.Printf("FAIL: %s: %v\n", what, err)
			bad++
			return
		}
		fmt.Printf("ok: %s\n", what)
	}
	fmt.Printf("uid %d in a user namespace\n", os.Getuid())
	ok("lo up", sh("ip link set lo up"))
	for _, name := range []string{"enabled", "max_rules"} {
		err := os.WriteFile(sysctlDir+name, []byte("0\n"), 0)
		expect("write net.netlens."+name, err, syscall.EACCES, syscall.EPERM)
	}
	v, err := readFile(sysctlDir + "enabled")
	if err == nil && v != "1" {
		err = fmt.Errorf("enabled = %q", v)
	}
	ok("read net.netlens.enabled", err)
	c, err := kmod.Dial(nil)
	if err != nil {
		fmt.Println("FAIL: dial:", err)
		return 1
	}
	defer c.Close()
	_, err = c.Create(kmod.Rule{Action: kmod.ActionAccept}, 0)
	expect("create", err, syscall.EPERM)
	_, err = c.SetEnabled(id, false, 0)
	expect("disable the host's rule", err, syscall.EPERM)
	expect("delete the host's rule", c.Delete(id), syscall.EPERM)
	expect("flush", c.Flush(), syscall.EPERM)
	expect("confirm", c.Confirm(1), syscall.EPERM)
	rules, err := c.Dump()
	if err == nil && (len(rules) != 1 || rules[0].ID != id) {
		err = fmt.Errorf("dump = %+v", rules)
	}
	ok("dump shows the host's rule", err)
	_, err = c.Counters()
	ok("counters", err)
	b, err := os.ReadFile("/proc/net/netlens")
	if err == nil && !strings.Contains(string(b), "host-policy") {
		err = fmt.Errorf("/proc/net/netlens:\n%s", b)
	}
	ok("read /proc/net/netlens", err)
	const n = 20
	got, err := udpExchange("udp4", "127.0.0.1:5300", "127.0.0.1:5300", n)
	if err == nil && got != 0 {
		err = fmt.Errorf("%d of %d datagrams passed the host's DROP rule", got, n)
	}
	ok("the host's DROP rule still drops", err)
	if bad > 0 {
		return 1
	}
	return 0
}
