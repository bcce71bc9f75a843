package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// hookKeysPinned says pinHookKeys has run: the pinning table then stays
// until the VM powers off.
var hookKeysPinned bool

// pinHookKeys adds the nftHookTable once, before the first check (main,
// with -pin-hooks; not for -bench or the experiments, which run unpinned
// as before), and never removes it. Any flip of the keys while a
// packet passes a hook site is the open TCG soft lockup
// (docs/kernelmod.md), and removing a pin flips them back: on Dec 5 CI
// locked up when rmmod-under-traffic removed its own pin at its end, just
// after its flood (ksoftirqd/0 in process_backlog, at
// ip_local_deliver+0x5c, the LOCAL_IN key's site, for 5 minutes). With the
// pin held, every check runs as on a host with an nftables or iptables
// base chain on each hook, where the keys never flip.
func pinHookKeys() error {
	if hookKeysPinned {
		return nil
	}
	if err := nftHookTable(true); err != nil {
		return fmt.Errorf("pin the hook static keys: %w", err)
	}
	hookKeysPinned = true
	fmt.Println("vmtest: hook static keys pinned for the run (inet table netlenspin, a base chain on each hook)")
	return nil
}

// errPinned refuses an experiment that needs the keys to flip once an
// earlier check has pinned them for good.
var errPinned = errors.New("the hook static keys are pinned by an earlier check; run this experiment alone (-only)")

// nftHookTable adds (or, with add false, removes) an inet table with an
// empty accepting base chain on each of the five hooks: while it exists the
// kernel's nf_hooks_needed static keys of every IPv4/IPv6 hook are on, so
// registering and unregistering other hooks patches no kernel text.
func nftHookTable(add bool) error {
	if err := loadNFT(); err != nil {
		return err
	}
	c, err := nftables.New(nftables.WithSockOptions(func(nc *netlink.Conn) error { return nil }))
	if err != nil {
		return err
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: "netlenspin"}
	c.DelTable(t)
	_ = c.Flush() // absent the first time
	if !add {
		return nil
	}
	c.AddTable(t)
	accept := nftables.ChainPolicyAccept
	for i, h := range []*nftables.ChainHook{nftables.ChainHookPrerouting, nftables.ChainHookInput,
		nftables.ChainHookForward, nftables.ChainHookOutput, nftables.ChainHookPostrouting} {
		c.AddChain(&nftables.Chain{Name: fmt.Sprintf("c%d", i), Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: h, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	}
	return c.Flush()
}

// startFloods runs the UDP floods of the stress checks (see floodTopology)
// until the returned stop function is called; it returns the datagrams sent.
func startFloods(a *netns) (stop func() (int64, error)) {
	var (
		quit atomic.Bool
		sent atomic.Int64
		wg   sync.WaitGroup
		errs = make(chan error, 8)
	)
	deadline := time.Now().Add(checkTimeout - 20*time.Second)
	for _, f := range []struct{ network, dst string }{
		{"udp4", "127.0.0.1:5100"}, {"udp6", "[::1]:5101"}, {"udp4", "127.0.0.1:5102"},
	} {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- flood(f.network, f.dst, &quit, &sent, deadline) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- a.do(func() error { return flood("udp4", "10.93.2.2:5103", &quit, &sent, deadline) })
	}()
	return func() (int64, error) {
		quit.Store(true)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return sent.Load(), err
			}
		}
		return sent.Load(), nil
	}
}

// checkNftToggleFlood is the control experiment of rmmod-flood without
// netlens: the same floods while an nftables table with base chains on all
// five hooks is added and removed -stress-cycles times (each time the
// kernel's nf_hooks_needed static keys flip and the kernel text of every
// hook site is live-patched).
func checkNftToggleFlood() error {
	if hookKeysPinned {
		return errPinned
	}
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
	stop := startFloods(a)
	t0 := time.Now()
	var cycleErr error
	i := 0
	for ; i < *stressN && cycleErr == nil; i++ {
		if cycleErr = nftHookTable(true); cycleErr == nil {
			time.Sleep(time.Duration(5+i%20) * time.Millisecond)
			cycleErr = nftHookTable(false)
		}
	}
	sent, err := stop()
	logf("nftables table with 5 base chains added/removed %d times under flood in %v; %d datagrams sent",
		i, time.Since(t0).Round(time.Millisecond), sent)
	if cycleErr != nil {
		return cycleErr
	}
	return err
}

// checkHookonlyFlood (experiment, run only with -only): the same floods
// while hookonly.ko — a module that registers netlens's ten hooks in every
// namespace and unregisters them in .pre_exit, and does nothing else — is
// loaded and unloaded -stress-cycles times: each unload flips the
// nf_hooks_needed static keys while a module is GOING, as netlens's does.
func checkHookonlyFlood() error {
	if hookKeysPinned {
		return errPinned
	}
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
	stop := startFloods(a)
	t0 := time.Now()
	var cycleErr error
	i := 0
	for ; i < *stressN && cycleErr == nil; i++ {
		f, err := os.Open("/hookonly.ko")
		if err != nil {
			cycleErr = err
			break
		}
		cycleErr = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if cycleErr != nil {
			break
		}
		time.Sleep(time.Duration(5+i%20) * time.Millisecond)
		for try := 0; try < 100; try++ {
			if cycleErr = unix.DeleteModule("hookonly", unix.O_NONBLOCK); cycleErr != unix.EAGAIN && cycleErr != unix.EBUSY {
				break
			}
			sleepMS(20)
		}
	}
	sent, err := stop()
	logf("hookonly.ko loaded/unloaded %d times under flood in %v; %d datagrams sent",
		i, time.Since(t0).Round(time.Millisecond), sent)
	if cycleErr != nil {
		return fmt.Errorf("cycle %d: %w", i, cycleErr)
	}
	return err
}
