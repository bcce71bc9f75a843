// Command netlens is a terminal UI network inspector for Linux: sockets,
// conntrack flows, filter rules and per-layer drop counters, live, with JSON
// snapshots for the record. See README.md; the commands are in cli/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"netlens/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(); err != nil {
		if !errors.As(err, new(cli.ExitStatus)) {
			fmt.Fprintln(os.Stderr, "netlens:", err)
		}
		os.Exit(cli.ExitCode(err))
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	return cli.NewRoot(version).ExecuteContext(ctx)
}
