package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"netlens/model"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"netlens/collectors/capture"
	"netlens/internal/atomicfile"
)

func captureCmd(o *options) *cobra.Command {
	var opts captureOptions
	cmd := &cobra.Command{
		Use:   "capture (-i IFACE --count N | --pcap FILE) [--filter EXPR] [--json]",
		Short: "Capture (or read a pcap) once and print statistics and top flows (for scripts)",
		Long: `capture captures on an interface (until --count packets or --duration)
or reads a pcap/pcapng file, then prints the statistics, top flows and
hosts; -w also writes the packets as pcapng.

Exit status: 0 on success, and on Ctrl-C (the statistics of what was
captured are printed); 1 when it fails (no such interface, no
CAP_NET_RAW, a file that cannot be read or written); 2 for invalid flags
or arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Count < 0 || opts.Duration < 0 {
				return UsageError{fmt.Errorf("--count %d --duration %s: want a number of packets and a time, not negative\n%s", opts.Count, opts.Duration, cmd.UsageString())}
			}
			if opts.File == "" && opts.Count <= 0 && opts.Duration <= 0 {
				return UsageError{fmt.Errorf("%w\n%s", errCaptureNeedsCount, cmd.UsageString())}
			}
			if opts.RingMiB < 0 || opts.RingMiB > maxRingMiB {
				return UsageError{fmt.Errorf("--ring-mib %d: want 1 to %d MiB, or 0 for the default\n%s", opts.RingMiB, maxRingMiB, cmd.UsageString())}
			}
			opts.NetNS = o.nsFD()
			w := cmd.OutOrStdout()
			if opts.Write == "-" {
				w = cmd.ErrOrStderr() // standard output carries the pcapng
			}
			return runCapture(cmd.Context(), w, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Interface, "interface", "i", "", "interface to capture on (\"any\" for all)")
	f.StringVar(&opts.File, "pcap", "", "read this pcap or pcapng file instead of capturing")
	f.StringVar(&opts.Filter, "filter", "", "capture filter in tcpdump syntax")
	f.IntVar(&opts.Count, "count", 0, "stop after this many packets")
	f.DurationVar(&opts.Duration, "duration", 0, "stop a live capture after this long")
	f.IntVar(&opts.RingMiB, "ring-mib", 0, fmt.Sprintf("size of the kernel's capture ring in `MiB` (0: %d); a larger ring rides out longer stalls of netlens at high rates", capture.DefaultRingMiB))
	f.BoolVar(&opts.JSON, "json", false, "print the statistics as JSON (the snapshot's capture object)")
	f.StringVarP(&opts.Write, "write", "w", "", "also write the last packets to this pcapng file (new files 0600; - for stdout, statistics then on stderr)")
	return cmd
}

// captureOptions are the options of `netlens capture`.
type captureOptions struct {
	capture.OnceOptions
	// JSON prints the statistics as JSON (the snapshot's "capture"
	// object) instead of tables.
	JSON bool
}

// maxRingMiB bounds --ring-mib: the ring is kernel memory that cannot be
// swapped out.
const maxRingMiB = 1024

var errCaptureNeedsCount = errors.New("a live capture needs --count N or --duration D (or read a file with --pcap FILE)")

// runCapture captures once (capture.Once), then prints the statistics
// and top flows and hosts to w.
func runCapture(ctx context.Context, w io.Writer, opts captureOptions) error {
	if opts.File == "" && opts.Count <= 0 && opts.Duration <= 0 {
		return UsageError{errCaptureNeedsCount}
	}
	if opts.File != "" && opts.Interface != "" {
		return UsageError{errors.New("-i and --pcap exclude each other: capture on an interface or read a file")}
	}
	// -w is written once the capture ends: a path that cannot be
	// written fails now, not after the capture, losing it.
	if opts.Write != "" {
		if err := atomicfile.Check(opts.Write); err != nil {
			return err
		}
	}
	cs, n, runErr := capture.Once(ctx, opts.OnceOptions)
	if cs == nil {
		return runErr
	}
	if opts.Write != "" && !opts.JSON {
		fmt.Fprintf(w, "wrote %d packets to %s\n", n, opts.Write)
	}
	var outErr error
	if opts.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		outErr = enc.Encode(cs)
	} else {
		outErr = printCaptureStats(w, *cs)
	}
	return cmp.Or(runErr, outErr)
}

// printCaptureStats prints capture statistics as text tables.
func printCaptureStats(w io.Writer, cs model.CaptureStats) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	filter := ""
	if cs.Filter != "" {
		filter = fmt.Sprintf(" filter %q", cs.Filter)
	}
	fmt.Fprintf(tw, "capture (%s %s%s): %d packets, %d bytes, %.0f packets/s, %.0f bits/s\n",
		cs.Source, cs.Interface, filter, cs.Packets, cs.Bytes, cs.PacketsPerSec, cs.BitsPerSec)
	fmt.Fprintf(tw, "ring drops %d, ring freezes %d, decode errors %d, truncated %d, fragments %d, cpu %.3fs\n\n",
		cs.RingDrops, cs.RingFreezes, cs.DecodeErrors, cs.Truncated, cs.Fragments, cs.CPUSeconds)
	fmt.Fprintln(tw, "PROTOCOL\tPACKETS\tBYTES\tPACKETS/S\tBITS/S")
	for _, p := range cs.Protocols {
		if p.Packets > 0 {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.0f\n", p.Name, p.Packets, p.Bytes, p.PacketsPerSec, p.BitsPerSec)
		}
	}
	fmt.Fprintf(tw, "\nTOP FLOWS (%d tracked, %d evicted)\tPACKETS A>B\tBYTES A>B\tPACKETS B>A\tBYTES B>A\tBITS/S\n", cs.FlowsTracked, cs.FlowsEvicted)
	for _, f := range cs.TopFlows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.0f\n", f.Key, f.PacketsAToB, f.BytesAToB, f.PacketsBToA, f.BytesBToA, f.BitsPerSec)
	}
	fmt.Fprintf(tw, "\nTOP HOSTS (%d tracked, %d evicted)\tPACKETS SENT\tBYTES SENT\tPACKETS RECEIVED\tBYTES RECEIVED\tBITS/S\n", cs.HostsTracked, cs.HostsEvicted)
	for _, h := range cs.TopHosts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.0f\n", h.Addr, h.PacketsSent, h.BytesSent, h.PacketsRecv, h.BytesRecv, h.BitsPerSec)
	}
	return tw.Flush()
}
