package main

import (
	"context"
	"os"
	"time"

	"netlens/jsonenc"
	"netlens/ui/export"
)

// snapshotOptions are the flags of `netlens snapshot`.
type snapshotOptions struct {
	out     string
	timeout time.Duration
	indent  bool
}

// runSnapshot is `netlens snapshot`: collect once, then stream the
// snapshot as JSON, compact unless --indent or stdout is a terminal.
func runSnapshot(ctx context.Context, o options, so snapshotOptions) error {
	store := newStore()
	r, err := o.runner(store)
	if err != nil {
		return err
	}
	// One sample: counters carry raw values; their deltas and rates are
	// zero, since there is no earlier sample to compare with.
	r.Once(ctx, so.timeout)
	r.Wait()
	snap := store.Snapshot()
	if so.out == "-" || so.out == "" {
		return jsonenc.WriteSnapshot(os.Stdout, snap, so.indent || isTerminal(os.Stdout))
	}
	return export.WriteFileIndent(so.out, snap, so.indent)
}
