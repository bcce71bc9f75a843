package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"netlens/collectors"
	"netlens/collectors/all"
	"netlens/collectors/drops"
)

func dropsCmd(o *options) *cobra.Command {
	var asJSON bool
	var interval time.Duration
	var count int
	cmd := &cobra.Command{
		Use:   "drops",
		Short: "Print the drop counters that move, by layer, every interval (for scripts)",
		Long: `drops samples the drop-like counters of every layer (NIC, softnet,
qdisc, IP, netfilter, transport, socket, IPsec, and the kernel's drop
monitor where it exists) and prints, after each interval, those that moved:
the delta, the rate and the total since it started.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 100*time.Millisecond {
				return UsageError{fmt.Errorf("--interval %s is too short (minimum 100ms)\n%s", interval, cmd.UsageString())}
			}
			store := newStore()
			specs, err := all.Specs(all.Config{Refresh: interval, Only: all.DropsDeps})
			if err != nil {
				return err
			}
			r := collectors.NewRunner(store, specs...)
			defer r.Wait()
			return drops.Watch(cmd.Context(), cmd.OutOrStdout(), r, store, interval, count, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per sample")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between samples")
	cmd.Flags().IntVar(&count, "count", 1, "samples to print (0: until interrupted)")
	return cmd
}
