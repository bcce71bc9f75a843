package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"netlens/export"
	"netlens/model"
	"netlens/model/rules"
)

func snapshotCmd(o *options) *cobra.Command {
	var out string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Collect everything once and write a JSON snapshot (stdout by default)",
		Long: `snapshot runs every collector once and writes one JSON document
(docs/snapshot.md) to standard output or -o FILE.

Exit status: 0 when at least one collector succeeded (the others say why
in their status); 1 when none did (the snapshot is still written, every
status filled) or the file could not be written; 2 for invalid flags or
arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return UsageError{fmt.Errorf("--timeout %s: must be positive\n%s", timeout, cmd.UsageString())}
			}
			return runSnapshot(cmd.Context(), *o, out, timeout)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "-", "write the snapshot to this file (atomically if a regular file; devices, FIFOs and /dev/fd/N directly; - for stdout)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "give up on a collector after this long")
	collectFlags(cmd.Flags(), o)
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
	if err := r.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, "netlens snapshot:", err)
	}
	snap := store.Snapshot()
	// A snapshot holds no control: an overdue change is reported loudly
	// (here and in the filters status) and left as it is.
	if note := rules.OverdueNote(rules.Overdue(snap.Rules, time.Now())); note != "" {
		fmt.Fprintln(os.Stderr, "netlens snapshot: filters:", note)
	}
	if out == "-" || out == "" {
		err = export.Write(os.Stdout, snap)
	} else {
		err = export.WriteFile(out, snap)
	}
	if err != nil {
		return err
	}
	return anyCollectorOK(snap)
}

// anyCollectorOK fails when no collector of snap succeeded: a snapshot
// with nothing in it must not look like a success.
func anyCollectorOK(snap model.Snapshot) error {
	var why []string
	for _, c := range snap.Collectors {
		if c.State == model.StateOK {
			return nil
		}
		why = append(why, c.Name+": "+c.Reason)
	}
	return fmt.Errorf("no collector succeeded (%s)", strings.Join(why, "; "))
}
