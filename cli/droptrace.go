package cli

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
	"netlens/collectors/all"
	"netlens/collectors/droptrace"
	"netlens/model"
)

// traceSample is one sample of `netlens drops --trace --json`: the traced
// flows that dropped in the interval, with their owners, and the
// accounting.
type traceSample struct {
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
	// Missed counts drops the kernel did not run the tracer for
	// (model.DropTrace.Missed).
	Missed uint64 `json:"missed"`
	// Rows are the flows with drops in the interval, most first.
	Rows []traceRow `json:"rows"`
	// Sampling is the sampled stream (--drop-trace-sample): its counts
	// since the tracer started and the samples read in the interval,
	// newest first. Absent when sampling is off.
	Sampling *model.DropTraceSampling `json:"sampling,omitempty"`
}

// traceRow is one traced flow with its owner.
type traceRow struct {
	model.DropTraceFlow
	// Owner is the socket the drop belongs to, with its processes; Exact
	// is true when it was joined by socket cookie, false by tuple.
	Owner *model.Socket `json:"owner,omitempty"`
	Exact bool          `json:"owner_exact,omitempty"`
}

// newTraceSample builds the sample of snap.
func newTraceSample(prev, snap model.Snapshot) traceSample {
	d := snap.DropTrace
	s := traceSample{TakenAt: snap.TakenAt, Supported: d.Supported, Reason: d.Reason, Attach: d.Attach,
		Seen: d.Seen, Attributed: d.Attributed, Unattributed: d.Unattributed, UnattributedShare: d.UnattributedShare(), Missed: d.Missed, Rows: []traceRow{}}
	if !prev.TakenAt.IsZero() {
		s.Interval = snap.TakenAt.Sub(prev.TakenAt).Seconds()
	}
	if !d.Supported && s.Reason == "" {
		if st, ok := snap.Status(droptrace.Name); ok {
			s.Reason = st.Reason
		}
	}
	for _, f := range d.Flows {
		if f.Delta == 0 {
			continue
		}
		r := traceRow{DropTraceFlow: f}
		if so, exact, ok := snap.DropOwner(f); ok {
			r.Owner, r.Exact = &so, exact
		}
		s.Rows = append(s.Rows, r)
	}
	slices.SortStableFunc(s.Rows, func(a, b traceRow) int { return cmp.Compare(b.Delta, a.Delta) })
	if sp := d.Sampling; sp.Every > 0 {
		// The samples read since prev: Read counts them.
		n := min(int(sp.Read-min(prev.DropTrace.Sampling.Read, sp.Read)), len(sp.Samples))
		sp.Samples = slices.Clone(sp.Samples[:n])
		s.Sampling = &sp
	}
	return s
}

// maxSampleLines bounds the samples the table prints per interval.
const maxSampleLines = 10

// print writes the sample as a table, or as one JSON object.
func (s traceSample) print(w io.Writer, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(s)
	}
	if !s.Supported {
		_, err := fmt.Fprintf(w, "drop trace: %s\n", cmp.Or(s.Reason, "not running"))
		return err
	}
	fmt.Fprintf(w, "%s  %s: %d drops seen, %d attributed, %d unattributed (%.1f%%)",
		s.TakenAt.Format(time.TimeOnly), s.Attach, s.Seen, s.Attributed, s.Unattributed, 100*s.UnattributedShare)
	if s.Missed > 0 {
		fmt.Fprintf(w, ", %d missed (the tracer was already running on that CPU)", s.Missed)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DELTA\tTOTAL\tREASON\tLOCATION\tPROTO\tSOURCE\tDESTINATION\tOWNER")
	for _, r := range s.Rows {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Delta, r.Packets, r.Reason, r.Location,
			cmp.Or(r.Proto, r.L3), traceEndpoint(r.Src, r.SrcPort, r.DropTraceFlow), traceEndpoint(r.Dst, r.DstPort, r.DropTraceFlow), traceOwner(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if sp := s.Sampling; sp != nil {
		fmt.Fprintf(w, "sampled 1 in %d: %d sampled, %d emitted, %d lost (%d over the cap of %d/s per CPU), %d read\n",
			sp.Every, sp.Sampled, sp.Emitted, sp.Lost, sp.LostLimit, sp.MaxPerSecond, sp.Read)
		for i, x := range sp.Samples {
			if i == maxSampleLines {
				fmt.Fprintf(w, "  (%d more samples)\n", len(sp.Samples)-i)
				break
			}
			fmt.Fprintf(w, "  %s  %s  %s  %s\n", x.Packet.At.Format("15:04:05.000000"), x.Flow.Reason, x.Flow.Location, x.Packet.Summary)
		}
	}
	return nil
}

// traceEndpoint formats an address and port ("10.0.0.1:53", "[fd00::1]:53");
// ICMP flows show type/code on the destination.
func traceEndpoint(a netip.Addr, port uint16, f model.DropTraceFlow) string {
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

// traceOwner formats a row's owner: "python3[1234]" (by cookie), or
// "~python3[1234]" when joined by tuple; "-" when none.
func traceOwner(r traceRow) string {
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

// dropSampleUsage is the --drop-trace-sample help.
const dropSampleUsage = "the eBPF drop tracer also sends one drop in N (per CPU, at most 1,000 a second per CPU) with its headers: the Drops tab shows them on Enter on a traced flow, drops --trace prints them; every sampled drop is counted as emitted or lost (0: off)"

// dropSourceUsage is the --drop-source help.
const dropSourceUsage = "where drop reasons come from: ebpf (the eBPF drop tracer: needs CAP_BPF and CAP_PERFMON), netdm (the kernel's drop monitor: CAP_NET_ADMIN), counters (none) or auto (ebpf where permitted, else netdm, else counters)"

// dropChoice parses --drop-source and decides the drop source; auto
// probes this machine once.
func (o options) dropChoice() (droptrace.Choice, error) {
	src, err := droptrace.ParseSource(o.dropSource)
	if err != nil {
		return droptrace.Choice{}, UsageError{err}
	}
	return all.DropChoice(all.Config{Drops: droptrace.Choice{Source: src}}), nil
}

// requireDropSource fails a command that prints drops (not the TUI,
// whose Drops tab says why a source cannot run) when the source named by
// --drop-source cannot run here: asked for by name, it is not replaced
// by another, and printing samples without it would exit 0 with nothing
// the user asked for. auto and counters always run.
func requireDropSource(src droptrace.Source) error {
	switch src {
	case droptrace.SourceEBPF:
		if err := droptrace.ProbeEBPF(); err != nil {
			return fmt.Errorf("--drop-source ebpf: the eBPF drop tracer cannot run here: %w (--drop-source auto picks what can)", err)
		}
	case droptrace.SourceNetDM:
		if err := droptrace.ProbeNetDM(); err != nil {
			return fmt.Errorf("--drop-source netdm: the kernel's drop monitor cannot run here: %w (--drop-source auto picks what can)", err)
		}
	}
	return nil
}

// watchDropTrace is `netlens drops --trace`: the sockets (for owners) and
// the eBPF tracer, sampled every interval; each sample prints the flows
// that dropped, with reason, location and owner, count times (0: until
// ctx ends).
func watchDropTrace(ctx context.Context, w io.Writer, o options, interval time.Duration, count int, asJSON bool) error {
	// The tracer is all this command shows: without it, fail now
	// rather than print why every interval.
	if err := droptrace.ProbeEBPF(); err != nil {
		return fmt.Errorf("drops --trace: the eBPF drop tracer: %w", err)
	}
	cfg := all.Config{Refresh: interval, Owners: !o.noOwners, NetNS: o.nsFD(), DropTraceAll: o.dropTraceAll, DropTraceSample: o.dropSample,
		Only: []string{all.Sockets, all.DropTrace}, Drops: droptrace.Choice{Source: droptrace.SourceEBPF}}
	specs, err := all.Specs(cfg)
	if err != nil {
		return UsageError{err}
	}
	r := collectors.NewRunner(newStore(), specs...)
	defer r.Wait()
	return r.Sample(ctx, interval, count, func(prev, cur model.Snapshot) error {
		return newTraceSample(prev, cur).print(w, asJSON)
	})
}
