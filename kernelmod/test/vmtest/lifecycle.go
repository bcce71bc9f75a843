package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"netlens/collectors/kmod"
)

// checkRmmodTraffic unloads the module while packets flow through its
// hooks, rules drop and count, a revert is pending, a subscriber listens
// and another namespace holds rules; then loads it again.
func checkRmmodTraffic() error {
	c, err := dial()
	if err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	for _, r := range []kmod.Rule{
		{Proto: 17, DstPorts: kmod.PortRange{Min: 5000, Max: 5000}, Action: kmod.ActionCount, Hooks: kmod.HookAll},
		{Proto: 17, DstPorts: kmod.PortRange{Min: 5001, Max: 5001}, Action: kmod.ActionDrop},
		{Dst: pfx("127.0.0.1/32"), Action: kmod.ActionCount, Hooks: kmod.HookAll},
	} {
		if _, err := c.Create(r, 0); err != nil {
			return err
		}
	}
	if _, err := c.Create(kmod.Rule{Action: kmod.ActionCount}, time.Minute); err != nil {
		return err
	}
	ns, err := newNetns()
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := ns.do(func() error {
		nc, err := kmod.Dial(nil)
		if err != nil {
			return err
		}
		defer nc.Close()
		_, err = nc.Create(kmod.Rule{Action: kmod.ActionDrop, Proto: 17}, 0)
		return err
	}); err != nil {
		return err
	}
	ev, err := kmod.Subscribe(nil)
	if err != nil {
		return err
	}
	defer ev.Close()
	c.Close()

	var (
		stop atomic.Bool
		sent atomic.Int64
		wg   sync.WaitGroup
	)
	for _, port := range []int{5000, 5001} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc, err := net.Dial("udp4", udpAddr("127.0.0.1", port))
			if err != nil {
				return
			}
			defer sc.Close()
			deadline := time.Now().Add(20 * time.Second)
			for !stop.Load() && time.Now().Before(deadline) {
				_, _ = sc.Write([]byte("x"))
				sent.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	err = unloadModule()
	took := time.Since(t0)
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		return err
	}
	logf("rmmod under traffic took %v; %d packets sent meanwhile", took.Round(time.Millisecond), sent.Load())
	if _, err := os.Stat("/proc/net/netlens"); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("/proc/net/netlens after rmmod: %v", err)
	}
	if _, err := os.Stat(sysctlDir); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sysctls after rmmod: %v", err)
	}
	if err := loadModule(""); err != nil {
		return err
	}
	c, err = kmod.Dial(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	rules, err := c.Dump()
	if err != nil {
		return err
	}
	if len(rules) != 0 {
		return fmt.Errorf("%d rules after reload", len(rules))
	}
	return nil
}

func checkLoadCycles() error {
	if moduleLoaded() {
		if err := unloadModule(); err != nil {
			return err
		}
	}
	time.Sleep(300 * time.Millisecond)
	slab0, _ := slabObjects()
	pcpu0 := percpuKB()
	t0 := time.Now()
	const cycles = 100
	for i := 0; i < cycles; i++ {
		if err := loadModule(fmt.Sprintf("max_rules=%d", 1000+i)); err != nil {
			return fmt.Errorf("cycle %d: %w", i, err)
		}
		if i%10 == 0 {
			if v, _ := readFile(sysctlDir + "max_rules"); v != fmt.Sprint(1000+i) {
				return fmt.Errorf("cycle %d: module parameter max_rules=%d shows as sysctl %q", i, 1000+i, v)
			}
			c, err := kmod.Dial(nil)
			if err != nil {
				return fmt.Errorf("cycle %d: %w", i, err)
			}
			_, err = c.Create(kmod.Rule{Action: kmod.ActionCount, Proto: 17}, 0)
			c.Close()
			if err != nil {
				return fmt.Errorf("cycle %d: %w", i, err)
			}
		}
		if err := unloadModule(); err != nil {
			return fmt.Errorf("cycle %d: %w", i, err)
		}
	}
	took := time.Since(t0)
	time.Sleep(500 * time.Millisecond)
	slab1, _ := slabObjects()
	pcpu1 := percpuKB()
	b, _ := os.ReadFile("/proc/modules")
	logf("%d load/unload cycles in %v; kmalloc objects %d -> %d, percpu %d kB -> %d kB", cycles,
		took.Round(time.Millisecond), slab0, slab1, pcpu0, pcpu1)
	if strings.Contains(string(b), "netlens") {
		return errors.New("netlens still in /proc/modules")
	}
	if slab1-slab0 > 5000 {
		return fmt.Errorf("kmalloc objects grew by %d", slab1-slab0)
	}
	if pcpu1-pcpu0 > 256 {
		return fmt.Errorf("percpu grew by %d kB", pcpu1-pcpu0)
	}
	return loadModule("")
}
