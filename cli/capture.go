package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"netlens/collectors/capture"
)

func captureCmd() *cobra.Command {
	var opts capture.CLIOptions
	cmd := &cobra.Command{
		Use:   "capture (-i IFACE --count N | --pcap FILE) [--filter EXPR] [--json]",
		Short: "Capture (or read a pcap) once and print statistics and top flows (for scripts)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := capture.RunCLI(cmd.Context(), cmd.OutOrStdout(), opts)
			if errors.Is(err, capture.ErrUsage) {
				return UsageError{fmt.Errorf("%w\n%s", err, cmd.UsageString())}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Interface, "interface", "i", "", "interface to capture on (\"any\" for all)")
	f.StringVar(&opts.File, "pcap", "", "read this pcap or pcapng file instead of capturing")
	f.StringVar(&opts.Filter, "filter", "", "capture filter in tcpdump syntax")
	f.IntVar(&opts.Count, "count", 0, "stop after this many packets")
	f.DurationVar(&opts.Duration, "duration", 0, "stop a live capture after this long")
	f.BoolVar(&opts.JSON, "json", false, "print the statistics as JSON (the snapshot's capture object)")
	f.StringVarP(&opts.Write, "write", "w", "", "also write the last packets to this pcapng file (atomically)")
	return cmd
}
