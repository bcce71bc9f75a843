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

// floodTopology: the root namespace routes between namespace a (10.93.1.2)
// and b (10.93.2.2), so a flood from a to b crosses PRE_ROUTING, FORWARD and
// POST_ROUTING of the root namespace, and a loopback flood crosses
// LOCAL_OUT, POST_ROUTING, PRE_ROUTING and LOCAL_IN: all five hooks.
func floodTopology() (a, b *netns, cleanup func(), err error) {
	if a, err = newNetns(); err != nil {
		return nil, nil, nil, err
	}
	if b, err = newNetns(); err != nil {
		a.Close()
		return nil, nil, nil, err
	}
	cleanup = func() {
		_ = sh("ip link del fla\nip link del flb")
		a.Close()
		b.Close()
	}
	if err = addVeth("fla", "eth0", a); err == nil {
		err = addVeth("flb", "eth0", b)
	}
	if err == nil {
		err = sh(`
			ip addr add 10.93.1.1/24 dev fla
			ip addr add 10.93.2.1/24 dev flb
			ip link set fla up
			ip link set flb up
			sysctl -w net.ipv4.ip_forward=1`)
	}
	for i, ns := range []*netns{a, b} {
		if err == nil {
			err = ns.sh(fmt.Sprintf(`
				ip addr add 10.93.%[1]d.2/24 dev eth0
				ip link set eth0 up
				ip route add default via 10.93.%[1]d.1`, i+1))
		}
	}
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return a, b, cleanup, nil
}

// flood sends UDP datagrams to dst as fast as it can until stop is set or
// the deadline passes, counting them in sent.
func flood(network, dst string, stop *atomic.Bool, sent *atomic.Int64, deadline time.Time) error {
	sc, err := net.Dial(network, dst)
	if err != nil {
		return err
	}
	defer sc.Close()
	for !stop.Load() && time.Now().Before(deadline) {
		_, _ = sc.Write([]byte("flood"))
		sent.Add(1)
	}
	return nil
}

// checkRmmodFlood loads and unloads the module -stress-cycles times while
// floods run on both vCPUs through all five hooks of the root namespace and
// through a second namespace, each cycle with drop and count rules in both
// (so both have their hooks registered). Booted with slub_debug=FZPU
// init_on_free=1 page_poison=1: a packet that touched freed tables would
// read poison, and a freed rule or hook counter written by a late packet
// would show as a non-zero counter of a rule that matches nothing (fresh
// per-CPU memory is zeroed; the next load reuses the chunks) or as a slub
// report on the console (run-qemu.sh fails on either).
func checkRmmodFlood() error {
	if moduleLoaded() {
		if err := unloadModule(); err != nil {
			return err
		}
	}
	a, _, cleanup, err := floodTopology()
	if err != nil {
		return err
	}
	defer cleanup()
	stopFloods := startFloods(a)
	stopped := false
	defer func() {
		if !stopped {
			stopFloods()
		}
	}()

	rules := []kmod.Rule{
		{Proto: 17, DstPorts: kmod.PortRange{Min: 5100, Max: 5100}, Action: kmod.ActionCount, Hooks: kmod.HookAll},
		{Proto: 17, DstPorts: kmod.PortRange{Min: 5101, Max: 5101}, Action: kmod.ActionDrop, Hooks: kmod.HookAll},
		{Dst: pfx("127.0.0.1/32"), Action: kmod.ActionCount, Hooks: kmod.HookAll},
		{Dst: pfx("10.93.2.2/32"), Proto: 17, Action: kmod.ActionCount, Hooks: kmod.HookAll},
		{Proto: 17, DstPorts: kmod.PortRange{Min: 5103, Max: 5103}, Action: kmod.ActionDrop, Hooks: kmod.HookPostRouting},
		{Action: kmod.ActionCount, Hooks: kmod.HookAll, Priority: 10}, // catch-all, every packet
		// conntrack on in the namespace while the module is loaded
		{Proto: 17, DstPorts: kmod.PortRange{Min: 5102, Max: 5102}, CTState: kmod.CTNew | kmod.CTEstablished,
			Action: kmod.ActionCount, Hooks: kmod.HookPreRouting | kmod.HookLocalIn},
	}
	// sentinels: count rules nobody's traffic matches
	sentinels := []kmod.Rule{
		{Proto: 17, DstPorts: kmod.PortRange{Min: 9, Max: 9}, Action: kmod.ActionCount, Hooks: kmod.HookAll},
		{Dst: pfx("192.0.2.1/32"), Action: kmod.ActionCount, Hooks: kmod.HookAll},
		{Proto: 132, Action: kmod.ActionCount, Hooks: kmod.HookAll},
	}
	slab0, _ := slabObjects()
	pcpu0 := percpuKB()
	t0 := time.Now()
	var counted uint64
	for i := 0; i < *stressN; i++ {
		if err := loadModule(""); err != nil {
			return fmt.Errorf("cycle %d: %w", i, err)
		}
		c, err := kmod.Dial(nil)
		if err != nil {
			return fmt.Errorf("cycle %d: %w", i, err)
		}
		err = func() error {
			defer c.Close()
			// a namespace without rules has no hooks: nothing is seen
			cs, err := c.Counters()
			if err != nil {
				return err
			}
			for _, h := range cs.Hooks {
				if h.Seen != 0 || h.Accepted != 0 || h.Dropped != 0 || h.Examined != 0 {
					return fmt.Errorf("fresh module counts %+v", h)
				}
			}
			if !*floodRules {
				return nil
			}
			var ids []uint32
			for _, r := range append(append([]kmod.Rule{}, sentinels...), rules...) {
				got, err := c.Create(r, 0)
				if err != nil {
					return err
				}
				ids = append(ids, got.ID)
			}
			if err := a.do(func() error {
				nc, err := kmod.Dial(nil)
				if err != nil {
					return err
				}
				defer nc.Close()
				_, err = nc.Create(kmod.Rule{Proto: 17, Action: kmod.ActionCount, Hooks: kmod.HookAll}, 0)
				return err
			}); err != nil {
				return err
			}
			time.Sleep(time.Duration(5+i%20) * time.Millisecond)
			for _, id := range ids[:len(sentinels)] {
				r, err := c.Get(id)
				if err != nil {
					return err
				}
				if r.Packets != 0 || r.Bytes != 0 || r.LastHit != (time.Time{}) {
					return fmt.Errorf("sentinel rule %d counted %d packets, %d bytes: counter memory written by someone else", id, r.Packets, r.Bytes)
				}
			}
			last, err := c.Get(ids[len(sentinels)+5]) // the catch-all COUNT rule
			if err != nil {
				return err
			}
			counted += last.Packets
			return nil
		}()
		if err != nil {
			return fmt.Errorf("cycle %d: %w", i, err)
		}
		if err := unloadModule(); err != nil {
			return fmt.Errorf("cycle %d: %w", i, err)
		}
	}
	took := time.Since(t0)
	stopped = true
	sent, err := stopFloods()
	if err != nil {
		return fmt.Errorf("flood: %w", err)
	}
	time.Sleep(500 * time.Millisecond)
	slab1, _ := slabObjects()
	pcpu1 := percpuKB()
	logf("%d load/unload cycles under flood in %v (%v a cycle); %d datagrams sent, %d counted by the catch-all rules; kmalloc objects %d -> %d, percpu %d kB -> %d kB",
		*stressN, took.Round(time.Millisecond), (took / time.Duration(max(*stressN, 1))).Round(time.Millisecond),
		sent, counted, slab0, slab1, pcpu0, pcpu1)
	if counted == 0 && *floodRules {
		return errors.New("the floods never reached the hooks")
	}
	if pcpu1-pcpu0 > 256 {
		return fmt.Errorf("percpu grew by %d kB", pcpu1-pcpu0)
	}
	if err := loadModule(""); err != nil {
		return err
	}
	return checkCountExact()
}

// checkCountExact: after the stress, counters are exact again: n
// datagrams to a port give exactly n packets on a rule.
func checkCountExact() error {
	return withClient(func(c *kmod.Client) error {
		r, err := c.Create(kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 5199, Max: 5199}, Action: kmod.ActionCount}, 0)
		if err != nil {
			return err
		}
		defer c.Delete(r.ID)
		const n = 300
		if _, err := udpExchange("udp4", "127.0.0.1:5199", "127.0.0.1:5199", n); err != nil {
			return err
		}
		got, err := c.Get(r.ID)
		if err != nil {
			return err
		}
		if got.Packets != n {
			return fmt.Errorf("count rule after the stress: %d packets, want %d", got.Packets, n)
		}
		return nil
	})
}
