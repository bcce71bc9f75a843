package capture

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"netlens/model"
)

// CLIOptions are the options of `netlens capture`.
type CLIOptions struct {
	Options
	// Duration stops a live capture after this long (0: until Count
	// packets or ctx is done).
	Duration time.Duration
	// JSON prints the statistics as JSON (the snapshot's "capture"
	// object) instead of tables.
	JSON bool
	// Write, when set, writes the stored packets (the last
	// Options.StorePackets) as pcapng with atomicfile (a new file is
	// 0600); "-" is standard output, and the statistics then go to
	// stderr.
	Write string
}

// ErrUsage is wrapped by errors in how RunCLI was called.
var ErrUsage = errors.New("usage")

// RunCLI captures (live on opts.Interface until opts.Count packets,
// opts.Duration or ctx is done; or a whole opts.File), then prints the
// statistics and top flows and hosts to w, once. It is `netlens capture
// (-i IFACE --count N | --pcap FILE) [--filter EXPR] [--json]`.
func RunCLI(ctx context.Context, w io.Writer, opts CLIOptions) error {
	if opts.Write == "-" {
		w = os.Stderr // standard output carries the pcapng
	}
	if opts.File == "" && opts.Count <= 0 && opts.Duration <= 0 {
		return fmt.Errorf("%w: a live capture needs --count N or --duration D (or read a file with --pcap FILE)", ErrUsage)
	}
	e, err := newEngine(opts.Options)
	if err != nil {
		return err
	}
	start := time.Now()
	var runErr error
	if opts.File != "" {
		f, err := openFile(opts.File)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := e.setLink(f.link); err != nil {
			return err
		}
		// A file cut short (a capture copied while it was written) still
		// gives the statistics of what it holds, then the error.
		runErr = e.run(ctx, f, nil, time.Time{})
	} else {
		tp, attached, err := e.openLive()
		if err != nil {
			return err
		}
		defer tp.Close()
		if opts.Duration > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, opts.Duration)
			defer cancel()
		}
		e.prevCPUAt = start
		e.st.prevAt = start
		if err := e.run(ctx, tp, tp, attached); err != nil {
			return err
		}
	}
	now := time.Now()
	if opts.File == "" {
		e.st.prevAt = start
	}
	cs := e.snapshot(now)
	if opts.Write != "" {
		n, err := e.WritePcapng(opts.Write, nil)
		if err != nil {
			return err
		}
		if !opts.JSON {
			fmt.Fprintf(w, "wrote %d packets to %s\n", n, opts.Write)
		}
	}
	var outErr error
	if opts.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		outErr = enc.Encode(cs)
	} else {
		outErr = PrintStats(w, cs)
	}
	return cmp.Or(runErr, outErr)
}

// PrintStats prints capture statistics as text tables.
func PrintStats(w io.Writer, cs model.CaptureStats) error {
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
