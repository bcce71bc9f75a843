// Command sockbench drives the socket benchmark of collectors/sockets
// (see ../run.sh): it opens many loopback TCP connections and holds them,
// and times netlens's socket collection beside ss(8).
//
//	sockbench hold -n 50000            open 50000 connections, print READY, hold until stdin closes
//	sockbench time -runs 7             time collection vs ss -tan / ss -tanp, print a Markdown table row
//	sockbench once [-owners] [-no-tcp-info] [-tcp-source iter/tcp|sock_diag]  collect once and exit (a cold process, for hyperfine)
//	sockbench print [-owners] [-proc]  print the socket table as `ss -tuwanpH` would (for eyeballing)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"netlens/collectors/sockets"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sockbench hold|time|once|print [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "hold":
		err = hold(os.Args[2:])
	case "time":
		err = timeIt(os.Args[2:])
	case "once":
		err = once(os.Args[2:])
	case "print":
		err = printTable(context.Background(), os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: sockbench hold|time|once|print [flags]")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockbench:", err)
		os.Exit(1)
	}
}

// once collects the socket table once and exits: a cold process, for
// timing with hyperfine beside ss.
func once(args []string) error {
	fs := flag.NewFlagSet("once", flag.ExitOnError)
	owners := fs.Bool("owners", false, "resolve owning processes")
	noInfo := fs.Bool("no-tcp-info", false, "leave INET_DIAG_INFO and INET_DIAG_CONG out of the TCP dumps")
	tcpSource := fs.String("tcp-source", "", "read TCP from "+sockets.TCPSourceIter+" or "+sockets.TCPSourceSockDiag+" (default: the iterator when it loads)")
	_ = fs.Parse(args)
	c := sockets.New(sockets.Options{NoOwners: !*owners, NoTCPInfo: *noInfo, TCPSource: *tcpSource})
	defer c.Close()
	_, _, err := c.Sockets(context.Background())
	return err
}
