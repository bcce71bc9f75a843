package diff

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"netlens/model"
)

// WriteJSON writes r as one indented JSON object; lists with nothing in
// them are empty arrays, never null.
func WriteJSON(w io.Writer, r Report) error {
	nonNil(&r.SocketsAppeared)
	nonNil(&r.SocketsGone)
	nonNil(&r.Counters)
	nonNil(&r.Sysctls)
	nonNil(&r.RulesAdded)
	nonNil(&r.RulesRemoved)
	nonNil(&r.RulesChanged)
	nonNil(&r.RuleCounters)
	nonNil(&r.FlowsAppeared)
	nonNil(&r.FlowsGone)
	nonNil(&r.Collectors)
	out := struct {
		Report
		Equal   bool `json:"equal"`
		Changes int  `json:"changes"`
	}{r, r.Equal(), r.Changes()}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func nonNil[T any](s *[]T) {
	if *s == nil {
		*s = []T{}
	}
}

// WriteText writes r for a person: a header line, then one section per
// kind of change that has any, "+" for what appeared, "-" for what went
// away, "~" for what changed.
func WriteText(w io.Writer, r Report) error {
	bw := bufio.NewWriter(w)
	host := r.HostA
	if r.HostB != r.HostA {
		host = r.HostA + " -> " + r.HostB
	}
	fmt.Fprintf(bw, "%s: %s -> %s (%s)\n", host, r.TakenA.UTC().Format(time.RFC3339), r.TakenB.UTC().Format(time.RFC3339), r.Interval.Round(time.Millisecond))
	if r.Equal() {
		fmt.Fprintln(bw, "no differences")
		return bw.Flush()
	}
	section := func(title string, n int) bool {
		if n == 0 {
			return false
		}
		fmt.Fprintf(bw, "\n%s (%d)\n", title, n)
		return true
	}
	if section("sockets appeared", len(r.SocketsAppeared)) {
		for _, s := range r.SocketsAppeared {
			fmt.Fprintf(bw, "  + %s\n", socketLine(s))
		}
	}
	if section("sockets gone", len(r.SocketsGone)) {
		for _, s := range r.SocketsGone {
			fmt.Fprintf(bw, "  - %s\n", socketLine(s))
		}
	}
	if section("drop counters moved, in funnel order", len(r.Counters)) {
		for _, c := range r.Counters {
			name := c.Source
			if c.Group != "" {
				name += " " + c.Group
			}
			name += " " + c.Name
			if c.Instance != "" {
				name += " [" + c.Instance + "]"
			}
			reset := ""
			if c.Reset {
				reset = " (reset)"
			}
			fmt.Fprintf(bw, "  ~ %-9s %s  +%d  %s/s%s\n", c.Layer, name, c.Delta, rateText(c.Rate), reset)
		}
	}
	if section("sysctls changed", len(r.Sysctls)) {
		for _, s := range r.Sysctls {
			fmt.Fprintf(bw, "  ~ %s: %s -> %s\n", s.Name, orNone(s.A), orNone(s.B))
		}
	}
	if section("rules added", len(r.RulesAdded)) {
		for _, x := range r.RulesAdded {
			fmt.Fprintf(bw, "  + #%d %s\n", x.ID, x.Summary)
		}
	}
	if section("rules removed", len(r.RulesRemoved)) {
		for _, x := range r.RulesRemoved {
			fmt.Fprintf(bw, "  - #%d %s\n", x.ID, x.Summary)
		}
	}
	if section("rules changed", len(r.RulesChanged)) {
		for _, x := range r.RulesChanged {
			fmt.Fprintf(bw, "  ~ #%d %s\n      -> %s\n", x.ID, x.A, x.B)
		}
	}
	if section("rule counters moved", len(r.RuleCounters)) {
		for _, x := range r.RuleCounters {
			fmt.Fprintf(bw, "  ~ #%d %s  +%d packets  +%d bytes  %s pkt/s\n", x.ID, strconv.Quote(x.Label), x.PacketsDelta, x.BytesDelta, rateText(x.PacketsRate))
		}
	}
	if section("flows appeared", len(r.FlowsAppeared)) {
		for _, f := range r.FlowsAppeared {
			fmt.Fprintf(bw, "  + %s\n", flowLine(f))
		}
	}
	if section("flows gone", len(r.FlowsGone)) {
		for _, f := range r.FlowsGone {
			fmt.Fprintf(bw, "  - %s\n", flowLine(f))
		}
	}
	if section("collectors changed", len(r.Collectors)) {
		for _, c := range r.Collectors {
			reason := ""
			if c.ReasonB != "" {
				reason = " (" + c.ReasonB + ")"
			}
			fmt.Fprintf(bw, "  ~ %s: %s -> %s%s\n", c.Name, orNone(string(c.A)), orNone(string(c.B)), reason)
		}
	}
	return bw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func socketLine(s Socket) string {
	line := fmt.Sprintf("%s %s %s", s.Proto, s.State, s.Local)
	if s.Remote.Port() != 0 || (s.Remote.Addr().IsValid() && !s.Remote.Addr().IsUnspecified()) {
		line += " -> " + s.Remote.String()
	}
	return line + owners(s.Owners)
}

// owners is ss -p's users:(("comm",pid=N,fd=N),...).
func owners(ps []model.Proc) string {
	if len(ps) == 0 {
		return ""
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("(%q,pid=%d,fd=%d)", p.Comm, p.PID, p.FD)
	}
	return " users:(" + strings.Join(parts, ",") + ")"
}

func flowLine(f Flow) string {
	line := f.Proto.String()
	if f.State != "" {
		line += " " + f.State
	}
	line += " " + f.Orig.String()
	if f.Zone != 0 {
		line += fmt.Sprintf(" zone=%d", f.Zone)
	}
	return line
}

// rateText is a rate a person reads: whole above 100, else three
// significant digits (0.00765, 30.1), "<0.0001" for less.
func rateText(r float64) string {
	switch {
	case r == 0:
		return "0"
	case r >= 100:
		return strconv.FormatFloat(r, 'f', 0, 64)
	case r < 0.0001:
		return "<0.0001"
	}
	return strconv.FormatFloat(r, 'g', 3, 64)
}
