package main

import (
	"netlens/collectors/kmod"
	"netlens/control/filter/kmodbackend"
	"netlens/internal/filtertest"
)

// checkFilterBackend runs the Filters pane's backend-independent end-to-end
// check (internal/filtertest.Exercise) with the kmod backend against the real
// module: pending add reverted, confirmed add kept and counted, disable,
// unconfirmed enable reverted.
func checkFilterBackend() error {
	return withClient(func(*kmod.Client) error {
		b, err := kmodbackend.Dial("")
		if err != nil {
			return err
		}
		defer b.Close()
		return filtertest.Exercise(b, logf)
	})
}
