package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"netlens/diff"
	"netlens/snapshot"
)

func diffCmd() *cobra.Command {
	var asJSON, force bool
	cmd := &cobra.Command{
		Use:   "diff A B [--json] [--force]",
		Short: "Show what changed between two snapshots of one host (exit 0 same, 1 different, 2 bad input)",
		Long: `diff compares two snapshots of one host (files written by 's', netlens
snapshot or netlens record; plain, gzip or zstd): the sockets that
appeared and went away, the drop counters that moved (delta and rate,
in funnel order), the sysctls that changed, the filter rules added,
removed or changed and their counters, the conntrack flows that appeared
and went away, and the collectors whose health changed.

Like diff(1) it exits 0 when nothing changed, 1 when something did and
2 on bad input (unreadable, truncated or too new a file, or snapshots
of two hosts without --force) or when the output cannot be written.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return UsageError{fmt.Errorf("diff needs two snapshot files, got %d\n%s", len(args), cmd.UsageString())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := snapshot.ReadFile(args[0])
			if err != nil {
				return UsageError{err}
			}
			b, err := snapshot.ReadFile(args[1])
			if err != nil {
				return UsageError{err}
			}
			r, err := diff.Compare(a, b, diff.Options{Force: force})
			if errors.Is(err, diff.ErrDifferentHosts) {
				return UsageError{err}
			} else if err != nil {
				return err
			}
			if asJSON {
				err = diff.WriteJSON(cmd.OutOrStdout(), r)
			} else {
				err = diff.WriteText(cmd.OutOrStdout(), r)
			}
			if err != nil {
				// Trouble, as diff(1) has it: 2 whether or not they
				// differ (1 would say "different", 0 "same").
				return UsageError{fmt.Errorf("write standard output: %w", err)}
			}
			if !r.Equal() {
				return ExitStatus(1)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the changes as one JSON object")
	cmd.Flags().BoolVar(&force, "force", false, "compare snapshots of different hosts")
	return cmd
}
