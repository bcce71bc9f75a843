package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"netlens/model"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"netlens/collectors/conntrack"
)

func flowsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "flows",
		Short: "Print the conntrack table once, with NAT, state and counters (for scripts)",
		Long: `flows prints the conntrack table once, with NAT, state and counters.

Exit status: 0 on success; 1 when the table cannot be read (no
CAP_NET_ADMIN, no conntrack); 2 for invalid flags or arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flows, st, err := conntrack.DumpOnce(cmd.Context(), conntrack.Config{})
			if err != nil {
				return err
			}
			if note := flowsNote(st); note != "" && !asJSON {
				fmt.Fprintln(cmd.ErrOrStderr(), note)
			}
			return printFlows(cmd.OutOrStdout(), flows, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (the snapshot's flow objects)")
	return cmd
}

// printFlows writes flows to w: as JSON (an array of the snapshot's flow
// objects, docs/snapshot.md) when asJSON is set, else one line per flow
// laid out like `conntrack -L -o extended`, with the NAT at the end
// ("[DNAT 10.0.0.5:8080]"), and a last line "netlens: N flow entries
// shown." as conntrack(8) ends its listing. flowsNote says what else the
// reader should know (truncation, accounting off, table full).
func printFlows(w io.Writer, flows []model.Flow, asJSON bool) error {
	if asJSON {
		if flows == nil {
			flows = []model.Flow{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(flows)
	}
	bw := bufio.NewWriter(w)
	now := time.Now()
	for i := range flows {
		bw.WriteString(conntrack.FormatFlow(&flows[i], now))
		bw.WriteByte('\n')
	}
	fmt.Fprintf(bw, "netlens: %d flow entries shown.\n", len(flows))
	return bw.Flush()
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
