// Command capbench times netlens's offline decode of a capture file: the
// code path of `netlens capture --pcap FILE` (read, decode every layer,
// aggregate protocols, flows and hosts, keep the last packets), without
// the printing. It prints "packets seconds packets/s".
//
//	capbench -r mixed.pcap
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
	"netlens/model"
)

func main() {
	path := flag.String("r", "", "pcap or pcapng file")
	filter := flag.String("filter", "", "capture filter")
	flag.Parse()
	start := time.Now()
	pr, pw := io.Pipe()
	done := make(chan model.CaptureStats)
	go func() {
		var cs model.CaptureStats
		json.NewDecoder(pr).Decode(&cs)
		io.Copy(io.Discard, pr)
		done <- cs
	}()
	err := capture.RunCLI(context.Background(), pw, capture.CLIOptions{Options: capture.Options{File: *path, Filter: *filter}, JSON: true})
	pw.Close()
	el := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "capbench:", err)
		os.Exit(1)
	}
	cs := <-done
	fmt.Printf("%d %.3f %.0f\n", cs.Packets, el.Seconds(), float64(cs.Packets)/el.Seconds())
}
