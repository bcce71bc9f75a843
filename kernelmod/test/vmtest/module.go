package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// netlensDeps are the modules netlens.ko needs (conntrack and the REJECT
// helpers), in load order; there is no modprobe in the VM: run-qemu.sh
// copies them to /mods.
var netlensDeps = []string{"crc32c_generic", "libcrc32c", "nf_defrag_ipv4", "nf_defrag_ipv6", "nf_conntrack",
	"nf_reject_ipv4", "nf_reject_ipv6"}

// loadMods loads the modules of /mods in order, skipping loaded ones.
func loadMods(names []string) error {
	for _, m := range names {
		if _, err := os.Stat("/sys/module/" + m); err == nil {
			continue
		}
		f, err := os.Open("/mods/" + m + ".ko")
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && err != unix.EEXIST {
			return fmt.Errorf("load %s: %w", m, err)
		}
	}
	return nil
}

// loadModule inserts netlens.ko with finit_module, after what it needs.
func loadModule(params string) error {
	if err := loadMods(netlensDeps); err != nil {
		return err
	}
	f, err := os.Open(*modulePath)
	if err != nil {
		return fmt.Errorf("open module: %w", err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), params, 0); err != nil {
		return fmt.Errorf("finit_module %s: %w", *modulePath, err)
	}
	return nil
}

// unloadModule removes netlens; it retries while the module is busy.
func unloadModule() error {
	var err error
	for i := 0; i < 100; i++ {
		err = unix.DeleteModule("netlens", unix.O_NONBLOCK)
		if err != unix.EAGAIN && err != unix.EBUSY {
			break
		}
		sleepMS(20)
	}
	if err != nil {
		return fmt.Errorf("delete_module netlens: %w", err)
	}
	return nil
}

func moduleLoaded() bool {
	_, err := os.Stat("/sys/module/netlens")
	return err == nil
}

// ensureLoaded loads the module when it is not loaded.
func ensureLoaded() error {
	if moduleLoaded() {
		return nil
	}
	return loadModule("")
}
