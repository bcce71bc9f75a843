package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"netlens/export"
	"netlens/jsonenc"
	"netlens/model"
	"netlens/model/rules"
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
		Long: `snapshot runs every collector once and writes one JSON document
(docs/snapshot.md) to standard output or -o FILE.

Exit status: 0 when at least one collector succeeded (the others say why
in their status); 1 when none did (the snapshot is still written, every
status filled), when interrupted (Ctrl-C, SIGTERM) before every collector
had run (written too, those saying pending), or the file could not be
written; 2 for invalid flags or arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if so.timeout <= 0 {
				return UsageError{fmt.Errorf("--timeout %s: must be positive\n%s", so.timeout, cmd.UsageString())}
			}
			return runSnapshot(cmd.Context(), *o, so)
		},
	}
	cmd.Flags().StringVarP(&so.out, "output", "o", "-", "write the snapshot to this file (atomically if a regular file; devices, FIFOs and /dev/fd/N directly; - for stdout)")
	cmd.Flags().DurationVar(&so.timeout, "timeout", 10*time.Second, "give up on a collector after this long")
	cmd.Flags().BoolVar(&so.indent, "indent", false, "indent the JSON (it is compact unless written to a terminal)")
	collectFlags(cmd.Flags(), o)
	return cmd
}

// runSnapshot is `netlens snapshot`: collect once, then stream the
// snapshot as JSON, compact unless --indent or stdout is a terminal.
func runSnapshot(ctx context.Context, o options, so snapshotOptions) error {
	store := o.newStore()
	o.once = true
	r, err := o.runner(store)
	if err != nil {
		return err
	}
	// One sample: counters carry raw values; their deltas and rates are
	// zero, since there is no earlier sample to compare with.
	r.Once(ctx, so.timeout)
	if err := r.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, "netlens snapshot:", err)
	}
	snap := store.Snapshot()
	// A snapshot holds no control: an overdue change is reported loudly
	// (here and in the filters status) and left as it is.
	if note := rules.OverdueNote(rules.Overdue(snap.Rules, time.Now())); note != "" {
		fmt.Fprintln(os.Stderr, "netlens snapshot: filters:", note)
	}
	if so.out == "-" || so.out == "" {
		err = jsonenc.WriteSnapshot(os.Stdout, snap, so.indent || isTerminal(os.Stdout))
	} else {
		err = export.WriteFileIndent(so.out, snap, so.indent)
	}
	if err != nil {
		return err
	}
	return snapshotStatus(ctx, snap)
}

// snapshotStatus is how a written snapshot ends: an error when ctx was
// cancelled (Ctrl-C, SIGTERM) before every collector had run, naming
// those that had not (the file holds what the others read), else
// anyCollectorOK.
func snapshotStatus(ctx context.Context, snap model.Snapshot) error {
	if ctx.Err() != nil {
		var pending []string
		for _, c := range snap.Collectors {
			if c.State == model.StatePending {
				pending = append(pending, c.Name)
			}
		}
		if len(pending) > 0 {
			return fmt.Errorf("interrupted before %s had run: the snapshot was written without them (their status says pending)", strings.Join(pending, ", "))
		}
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
