package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// loadModule inserts netlens.ko with finit_module.
func loadModule(params string) error {
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
