// Command sockbench drives the socket benchmark of collectors/sockets
// (see ../run.sh): it opens many loopback TCP connections and holds them,
// and times netlens's socket collection beside ss(8).
//
//	sockbench hold -n 50000            open 50000 connections, print READY, hold until stdin closes
//	sockbench time -runs 7             time collection vs ss -tan / ss -tanp, print a Markdown table row
//	sockbench print [-owners] [-proc]  print the socket table as `ss -tuwanpH` would (for eyeballing)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sockbench hold|time|print [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "hold":
		err = hold(os.Args[2:])
	case "time":
		err = timeIt(os.Args[2:])
	case "print":
		err = printTable(context.Background(), os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: sockbench hold|time|print [flags]")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockbench:", err)
		os.Exit(1)
	}
}

var _ = flag.ErrHelp
