package cli

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"netlens/export"
	"netlens/jsonenc"
)

// snapshotOptions are the flags of `netlens snapshot`.
type snapshotOptions struct {
	out     string
	timeout time.Duration
	indent  bool
}

func snapshotCmd(o *options) *cobra.Command {
	var so snapshotOptions
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Collect everything once and write a JSON snapshot (stdout by default)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSnapshot(cmd.Context(), *o, so)
		},
	}
	cmd.Flags().StringVarP(&so.out, "output", "o", "-", "write the snapshot to this file (atomically); - for stdout")
	cmd.Flags().DurationVar(&so.timeout, "timeout", 10*time.Second, "give up on a collector after this long")
	cmd.Flags().BoolVar(&so.indent, "indent", false, "indent the JSON (it is compact unless written to a terminal)")
	return cmd
}

// runSnapshot is `netlens snapshot`: collect once, then stream the
// snapshot as JSON, compact unless --indent or stdout is a terminal.
func runSnapshot(ctx context.Context, o options, so snapshotOptions) error {
	store := o.newStore()
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
