package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"netlens/collectors/conntrack"
	"netlens/jsonenc"
	"netlens/model"
)

// flowsOptions are the flags of `netlens flows`.
type flowsOptions struct {
	json   bool
	indent bool
	limit  int
}

// isTerminal reports whether w is a terminal (then JSON is indented for
// a reader).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// runFlows is `netlens flows`. Without --limit every entry is listed as
// it comes from the kernel (its order, like conntrack -L), streamed: no
// table is held. With --limit N the N entries with the most bytes are
// listed, most first, and whether that left some out is stated: a
// "truncated" field in JSON, a line on standard error.
func runFlows(cmd *cobra.Command, o flowsOptions) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if o.limit < 0 {
		return usageError{fmt.Errorf("--limit %d: want a number of entries, or 0 for all\n%s", o.limit, cmd.UsageString())}
	}
	indent := o.indent || isTerminal(stdout)
	if o.limit > 0 {
		flows, st, err := conntrack.DumpOnce(ctx, conntrack.Config{MaxFlows: o.limit})
		if err != nil {
			return err
		}
		if note := conntrack.FlowsNote(st); note != "" {
			fmt.Fprintf(stderr, "%s (--limit %d)\n", note, o.limit)
		}
		if !o.json {
			return conntrack.PrintFlows(stdout, flows, false)
		}
		w := jsonenc.NewWriter(stdout, indent)
		w.RawString(`{"limit":` + strconv.Itoa(o.limit) + `,"truncated":` + strconv.FormatBool(st.FlowsTruncated) +
			`,"count":` + strconv.FormatUint(st.Count, 10) + `,"flows":`)
		a := w.Array()
		for i := range flows {
			if err := a.Flow(&flows[i]); err != nil {
				return err
			}
		}
		a.Close()
		w.RawString("}")
		return w.Flush()
	}

	var (
		st          model.ConntrackStats
		interrupted bool
		err         error
	)
	if o.json {
		w := jsonenc.NewWriter(stdout, indent)
		a := w.Array()
		st, interrupted, err = conntrack.DumpEach(ctx, conntrack.Config{}, a.Flow)
		if err != nil {
			return err
		}
		a.Close()
		if err := w.Flush(); err != nil {
			return err
		}
	} else {
		bw := bufio.NewWriterSize(stdout, 256<<10)
		now := time.Now()
		var line []byte
		st, interrupted, err = conntrack.DumpEach(ctx, conntrack.Config{}, func(f *model.Flow) error {
			line = conntrack.AppendFlow(line[:0], f, now)
			line = append(line, '\n')
			_, err := bw.Write(line)
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, "netlens: %d flow entries shown.\n", st.FlowsHeld)
		if err := bw.Flush(); err != nil {
			return err
		}
	}
	if interrupted {
		fmt.Fprintln(stderr, "netlens: the kernel interrupted the dump (NLM_F_DUMP_INTR): entries may be missing or listed twice")
	}
	if note := conntrack.FlowsNote(st); note != "" && !o.json {
		fmt.Fprintln(stderr, note)
	}
	return nil
}
