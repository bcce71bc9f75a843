package collectors

import (
	"context"
	"time"

	"netlens/model"
)

// Sample runs every collector of r once, then every interval runs them
// again and calls fn with the snapshots before and after, count times (0:
// until ctx ends). It is what the printing subcommands (`netlens drops`,
// `netlens drops --trace`) loop on. It returns fn's first error, else
// nil: ctx ending (Ctrl-C) is a normal end, before the first sample too.
func (r *Runner) Sample(ctx context.Context, interval time.Duration, count int, fn func(prev, cur model.Snapshot) error) error {
	if interval <= 0 {
		interval = time.Second
	}
	timeout := max(interval, 2*time.Second)
	r.Once(ctx, timeout)
	prev := r.store.Snapshot()
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; count <= 0 || i < count; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		r.Once(ctx, timeout)
		cur := r.store.Snapshot()
		if err := fn(prev, cur); err != nil {
			return err
		}
		prev = cur
	}
	return nil
}
