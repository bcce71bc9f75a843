package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"netlens/collectors/conntrack"
)

func flowsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "flows",
		Short: "Print the conntrack table once, with NAT, state and counters (for scripts)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flows, st, err := conntrack.DumpOnce(cmd.Context(), conntrack.Config{})
			if err != nil {
				return err
			}
			if note := conntrack.FlowsNote(st); note != "" && !asJSON {
				fmt.Fprintln(cmd.ErrOrStderr(), note)
			}
			return conntrack.PrintFlows(cmd.OutOrStdout(), flows, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (the snapshot's flow objects)")
	return cmd
}
