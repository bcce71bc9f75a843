package cli

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"netlens/export"
)

func snapshotCmd(o *options) *cobra.Command {
	var out string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Collect everything once and write a JSON snapshot (stdout by default)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSnapshot(cmd.Context(), *o, out, timeout)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "-", "write the snapshot to this file (atomically); - for stdout")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "give up on a collector after this long")
	return cmd
}

func runSnapshot(ctx context.Context, o options, out string, timeout time.Duration) error {
	store := newStore()
	r, err := o.runner(store)
	if err != nil {
		return err
	}
	// One sample: counters carry raw values; their deltas and rates are
	// zero, since there is no earlier sample to compare with.
	r.Once(ctx, timeout)
	r.Wait()
	snap := store.Snapshot()
	if out == "-" || out == "" {
		return export.Write(os.Stdout, snap)
	}
	return export.WriteFile(out, snap)
}
