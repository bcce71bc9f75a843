package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
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

func flowsCmd(g *options) *cobra.Command {
	var o flowsOptions
	cmd := &cobra.Command{
		Use:   "flows",
		Short: "Print the conntrack table once, with NAT, state and counters (for scripts)",
		Long: `flows prints every conntrack entry once, as the kernel lists them (like
conntrack -L), or with --limit N the N with the most bytes, most first.

Exit status: 0 on success; 1 when the table cannot be read (no
CAP_NET_ADMIN, no conntrack); 2 for invalid flags or arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runFlows(cmd, o, g.nsFD()) },
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON (the snapshot's flow objects), compact unless --indent or a terminal")
	cmd.Flags().BoolVar(&o.indent, "indent", false, "indent the JSON")
	cmd.Flags().IntVar(&o.limit, "limit", 0, "print only the `N` entries with the most bytes, and say whether others were left out (0: all)")
	return cmd
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
func runFlows(cmd *cobra.Command, o flowsOptions, netns int) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if o.limit < 0 {
		return UsageError{fmt.Errorf("--limit %d: want a number of entries, or 0 for all\n%s", o.limit, cmd.UsageString())}
	}
	if o.indent && !o.json {
		return UsageError{fmt.Errorf("--indent indents JSON: use it with --json\n%s", cmd.UsageString())}
	}
	indent := o.indent || isTerminal(stdout)
	if o.limit > 0 {
		flows, st, err := conntrack.DumpOnce(ctx, conntrack.Config{MaxFlows: o.limit, NetNS: netns})
		if err != nil {
			return err
		}
		if note := flowsNote(st); note != "" {
			fmt.Fprintf(stderr, "%s (--limit %d)\n", note, o.limit)
		}
		if !o.json {
			return printFlows(stdout, flows)
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
		st, interrupted, err = conntrack.DumpEach(ctx, conntrack.Config{NetNS: netns}, a.Flow)
		if err != nil {
			return err
		}
		a.Close()
		if err := w.Flush(); err != nil {
			return err
		}
	} else {
		p := newFlowPrinter(stdout)
		st, interrupted, err = conntrack.DumpEach(ctx, conntrack.Config{NetNS: netns}, p.flow)
		if err != nil {
			return err
		}
		if err := p.end(st.FlowsHeld); err != nil {
			return err
		}
	}
	if interrupted {
		fmt.Fprintln(stderr, "netlens: the kernel interrupted the dump (NLM_F_DUMP_INTR): entries may be missing or listed twice")
	}
	if note := flowsNote(st); note != "" && !o.json {
		fmt.Fprintln(stderr, note)
	}
	return nil
}

// printFlows writes flows to w, one line per flow laid out like
// `conntrack -L -o extended`, with the NAT at the end ("[DNAT
// 10.0.0.5:8080]"), and a last line "netlens: N flow entries shown." as
// conntrack(8) ends its listing. flowsNote says what else the reader
// should know (truncation, accounting off, table full). The JSON forms
// are written by jsonenc (runFlows).
func printFlows(w io.Writer, flows []model.Flow) error {
	p := newFlowPrinter(w)
	for i := range flows {
		if err := p.flow(&flows[i]); err != nil {
			return err
		}
	}
	return p.end(len(flows))
}

// flowPrinter writes printFlows's lines one flow at a time, reusing one
// line buffer, so that a streamed dump allocates nothing per flow.
type flowPrinter struct {
	bw   *bufio.Writer
	now  time.Time
	line []byte
}

func newFlowPrinter(w io.Writer) *flowPrinter {
	return &flowPrinter{bw: bufio.NewWriterSize(w, 256<<10), now: time.Now()}
}

func (p *flowPrinter) flow(f *model.Flow) error {
	p.line = append(conntrack.AppendFlow(p.line[:0], f, p.now), '\n')
	_, err := p.bw.Write(p.line)
	return err
}

// end writes the last line, saying n entries were shown, and flushes.
func (p *flowPrinter) end(n int) error {
	fmt.Fprintf(p.bw, "netlens: %d flow entries shown.\n", n)
	return p.bw.Flush()
}

// flowsNote returns what a reader of printFlows's output should know
// about the table, for standard error: "" when nothing, else for example
// "netlens: 65536 of 100000 entries shown (those with the most bytes);
// accounting off (net.netfilter.nf_conntrack_acct=0): no byte counts".
func flowsNote(st model.ConntrackStats) string {
	var notes []string
	if st.FlowsTruncated {
		notes = append(notes, fmt.Sprintf("%d of %d entries shown (those with the most bytes)", st.FlowsHeld, st.Count))
	}
	if !st.Accounting {
		notes = append(notes, "accounting off (net.netfilter.nf_conntrack_acct=0): no byte counts")
	}
	if st.Full() {
		notes = append(notes, fmt.Sprintf("TABLE FULL: %d of %d entries, new connections are dropped", st.Count, st.Max))
	}
	if len(notes) == 0 {
		return ""
	}
	return "netlens: " + strings.Join(notes, "; ")
}
