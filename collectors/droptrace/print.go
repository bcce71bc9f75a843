package droptrace

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"netlens/collectors"
	"netlens/model"
)

// Sample is one sample of `netlens drops --trace --json`: the traced
// flows that dropped in the interval, with their owners, and the
// accounting.
type Sample struct {
	TakenAt  time.Time `json:"taken_at"`
	Interval float64   `json:"interval_s"`
	// Source is how drops are traced ("eBPF tp_btf/kfree_skb"), or why
	// they are not (Supported false).
	Supported bool   `json:"supported"`
	Reason    string `json:"reason,omitempty"`
	Attach    string `json:"attach,omitempty"`
	// The accounting since the tracer started (docs/snapshot.md, drop
	// trace).
	Seen              uint64  `json:"seen"`
	Attributed        uint64  `json:"attributed"`
	Unattributed      uint64  `json:"unattributed"`
	UnattributedShare float64 `json:"unattributed_share"`
	// Rows are the flows with drops in the interval, most first.
	Rows []Row `json:"rows"`
}

// Row is one traced flow with its owner.
type Row struct {
	model.DropTraceFlow
	// Owner is the socket the drop belongs to, with its processes; Exact
	// is true when it was joined by socket cookie, false by tuple.
	Owner *model.Socket `json:"owner,omitempty"`
	Exact bool          `json:"owner_exact,omitempty"`
}

// NewSample builds the sample of snap.
func NewSample(prev, snap model.Snapshot) Sample {
	d := snap.DropTrace
	s := Sample{TakenAt: snap.TakenAt, Supported: d.Supported, Reason: d.Reason, Attach: d.Attach,
		Seen: d.Seen, Attributed: d.Attributed, Unattributed: d.Unattributed, UnattributedShare: d.UnattributedShare(), Rows: []Row{}}
	if !prev.TakenAt.IsZero() {
		s.Interval = snap.TakenAt.Sub(prev.TakenAt).Seconds()
	}
	if !d.Supported && s.Reason == "" {
		if st, ok := snap.Status(CollectorName); ok {
			s.Reason = st.Reason
		}
	}
	for _, f := range d.Flows {
		if f.Delta == 0 {
			continue
		}
		r := Row{DropTraceFlow: f}
		if so, exact, ok := snap.DropOwner(f); ok {
			r.Owner, r.Exact = &so, exact
		}
		s.Rows = append(s.Rows, r)
	}
	slices.SortStableFunc(s.Rows, func(a, b Row) int { return cmp.Compare(b.Delta, a.Delta) })
	return s
}

// Print writes the sample as a table, or as one JSON object.
func (s Sample) Print(w io.Writer, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(s)
	}
	if !s.Supported {
		_, err := fmt.Fprintf(w, "drop trace: %s\n", cmp.Or(s.Reason, "not running"))
		return err
	}
	fmt.Fprintf(w, "%s  %s: %d drops seen, %d attributed, %d unattributed (%.1f%%)\n",
		s.TakenAt.Format(time.TimeOnly), s.Attach, s.Seen, s.Attributed, s.Unattributed, 100*s.UnattributedShare)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DELTA\tTOTAL\tREASON\tLOCATION\tPROTO\tSOURCE\tDESTINATION\tOWNER")
	for _, r := range s.Rows {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Delta, r.Packets, r.Reason, r.Location,
			cmp.Or(r.Proto, r.L3), endpoint(r.Src, r.SrcPort, r.DropTraceFlow), endpoint(r.Dst, r.DstPort, r.DropTraceFlow), owner(r))
	}
	return tw.Flush()
}

// endpoint formats an address and port ("10.0.0.1:53", "[fd00::1]:53");
// ICMP flows show type/code on the destination.
func endpoint(a netip.Addr, port uint16, f model.DropTraceFlow) string {
	switch {
	case !a.IsValid():
		return "-"
	case f.Proto == "icmp" || f.Proto == "icmpv6":
		return a.String()
	case port == 0:
		return a.String()
	}
	return netip.AddrPortFrom(a, port).String()
}

// owner formats a row's owner: "python3[1234]" (by cookie), or
// "~python3[1234]" when joined by tuple; "-" when none.
func owner(r Row) string {
	if r.Owner == nil {
		return "-"
	}
	var ps []string
	for _, p := range r.Owner.Procs {
		ps = append(ps, p.Comm+"["+strconv.Itoa(p.PID)+"]")
	}
	s := strings.Join(ps, ",")
	if s == "" {
		s = "socket:" + strconv.FormatUint(r.Owner.Inode, 10)
	}
	if !r.Exact {
		s = "~" + s
	}
	return s
}

// Watch runs the collectors of r (the sockets and droptrace collectors)
// every interval and prints the flows that dropped, count times (0:
// until ctx ends).
func Watch(ctx context.Context, w io.Writer, r *collectors.Runner, interval time.Duration, count int, asJSON bool) error {
	return r.Sample(ctx, interval, count, func(prev, cur model.Snapshot) error {
		return NewSample(prev, cur).Print(w, asJSON)
	})
}
