package main

import (
	"netlens/collectors/filter"
	"netlens/collectors/filter/kmodbackend"
	"netlens/collectors/kmod"
)

// checkFilterBackend runs the Filters pane's backend-independent end-to-end
// check (collectors/filter.Exercise) with the kmod backend against the real
// module: pending add reverted, confirmed add kept and counted, disable,
// unconfirmed enable reverted.
func checkFilterBackend() error {
	return withClient(func(*kmod.Client) error {
		b, err := kmodbackend.Dial("")
		if err != nil {
			return err
		}
		defer b.Close()
		return filter.Exercise(b, logf)
	})
}
