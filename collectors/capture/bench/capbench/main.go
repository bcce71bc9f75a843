// Command capbench times netlens's offline decode of a capture file: the
// code path of `netlens capture --pcap FILE` (read, decode every layer,
// aggregate protocols, flows and hosts, keep the last packets), without
// the printing. It prints "packets seconds packets/s".
//
// With -i it captures live on an interface for -d instead and prints
// "packets ring_drops capture_cpu_seconds": the CPU the capture thread
// used, as the Capture tab shows it.
//
//	capbench -r mixed.pcap
//	capbench -i veth0 -d 5s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"netlens/collectors/capture"
)

func main() {
	path := flag.String("r", "", "pcap or pcapng file")
	filter := flag.String("filter", "", "capture filter")
	iface := flag.String("i", "", "capture live on this interface instead")
	dur := flag.Duration("d", 5*time.Second, "live capture duration")
	flag.Parse()
	start := time.Now()
	opts := capture.OnceOptions{Options: capture.Options{File: *path, Filter: *filter}}
	if *iface != "" {
		opts.Options.Interface, opts.Options.File, opts.Duration = *iface, "", *dur
	}
	// The work of `netlens capture --json`: capture, then encode.
	stats, _, err := capture.Once(context.Background(), opts)
	if err == nil {
		err = json.NewEncoder(io.Discard).Encode(stats)
	}
	el := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "capbench:", err)
		os.Exit(1)
	}
	cs := *stats
	if *iface != "" {
		fmt.Printf("%d %d %.3f\n", cs.Packets, cs.RingDrops, cs.CPUSeconds)
		return
	}
	fmt.Printf("%d %.3f %.0f\n", cs.Packets, el.Seconds(), float64(cs.Packets)/el.Seconds())
}
