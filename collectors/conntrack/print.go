package conntrack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"netlens/model"
)

// DumpOnce reads the conntrack table and its statistics once, for
// `netlens flows`: no event listener, at most cfg.MaxFlows flows (the
// ones with the most bytes; stats.FlowsTruncated says so), most bytes
// first. It keeps no table: the flows are decoded into one slab that is
// sorted in place and returned. Errors wrap collectors.ErrPermission
// ("needs CAP_NET_ADMIN") or collectors.ErrNotSupported as Collect's do.
func DumpOnce(ctx context.Context, cfg Config) ([]model.Flow, model.ConntrackStats, error) {
	cfg.NoEvents = true
	c := NewCollector(cfg)
	defer c.Close()
	start := c.cfg.Now()
	st, err := c.baseStats(start)
	if err != nil {
		return nil, st, err
	}
	var d *topN
	bad, err := dumpFast(ctx, c.query, start, func() { d = newTopN(c.cfg.MaxFlows, int(st.Count+st.Count/8)) }, func(f *model.Flow) { d.add(*f) })
	end := c.cfg.Now()
	if err != nil {
		return nil, st, err
	}
	sortFlows(d.flows)
	st.FlowsHeld, st.FlowsTruncated = len(d.flows), d.seen > len(d.flows)
	st.Dumps, st.LastDump, st.DumpDuration, st.DecodeErrors = 1, end, end.Sub(start), bad
	return d.flows, st, nil
}

type recorder struct {
	flows []model.Flow
	stats model.ConntrackStats
}

func (r *recorder) Publish(u model.Update) {
	switch u := u.(type) {
	case model.FlowsUpdate:
		r.flows = u.Flows
	case model.ConntrackStatsUpdate:
		r.stats = u.Stats
	}
}

// PrintFlows writes flows to w: as JSON (an array of the snapshot's flow
// objects, docs/snapshot.md) when asJSON is set, else one line per flow
// laid out like `conntrack -L -o extended`, with the NAT at the end
// ("[DNAT 10.0.0.5:8080]"), and a last line "netlens: N flow entries
// shown." as conntrack(8) ends its listing. FlowsNote says what else the
// reader should know (truncation, accounting off, table full).
func PrintFlows(w io.Writer, flows []model.Flow, asJSON bool) error {
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
		bw.WriteString(FormatFlow(&flows[i], now))
		bw.WriteByte('\n')
	}
	fmt.Fprintf(bw, "netlens: %d flow entries shown.\n", len(flows))
	return bw.Flush()
}

// FlowsNote returns what a reader of PrintFlows's output should know
// about the table, for standard error: "" when nothing, else for example
// "netlens: 65536 of 100000 entries shown (those with the most bytes);
// accounting off (net.netfilter.nf_conntrack_acct=0): no byte counts".
func FlowsNote(st model.ConntrackStats) string {
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

// FormatFlow returns one flow as a `conntrack -L -o extended` line:
//
//	ipv4     2 tcp      6 431999 ESTABLISHED src=... dst=... sport=... dport=... [packets=... bytes=...] src=... [ASSURED] mark=0 zone=3 use=1
//
// (without "use", which netlens does not keep), plus "[SNAT addr:port]"
// / "[DNAT addr:port]" when the flow is translated.
func FormatFlow(f *model.Flow, now time.Time) string {
	return string(AppendFlow(make([]byte, 0, 256), f, now))
}

// AppendFlow appends FormatFlow's line for f to b.
func AppendFlow(b []byte, f *model.Flow, now time.Time) []byte {
	fam, l3 := "ipv4", 2
	if f.Family == model.FamilyIPv6 {
		fam, l3 = "ipv6", 10
	}
	b = fmt.Appendf(b, "%-8s %d %-8s %d ", fam, l3, f.Proto, f.ProtoNum)
	b = strconv.AppendInt(b, int64(f.TimeoutLeft(now).Round(time.Second)/time.Second), 10)
	b = append(b, ' ')
	if s := f.State(); s != "" {
		b = append(b, s...)
		b = append(b, ' ')
	}
	b = append(b, f.Orig.String()...)
	if f.CountersKnown {
		b = fmt.Appendf(b, " packets=%d bytes=%d", f.OrigPackets, f.OrigBytes)
	}
	if f.Status&model.StatusSeenReply == 0 {
		b = append(b, " [UNREPLIED]"...)
	}
	b = append(b, ' ')
	b = append(b, f.Reply.String()...)
	if f.CountersKnown {
		b = fmt.Appendf(b, " packets=%d bytes=%d", f.ReplyPackets, f.ReplyBytes)
	}
	for _, fl := range []struct {
		bit  model.FlowStatus
		name string
	}{{model.StatusAssured, " [ASSURED]"}, {model.StatusOffload, " [OFFLOAD]"}, {model.StatusHWOffload, " [HW_OFFLOAD]"}} {
		if f.Status&fl.bit != 0 {
			b = append(b, fl.name...)
		}
	}
	b = fmt.Appendf(b, " mark=%d", f.Mark)
	if f.Zone != 0 {
		b = fmt.Appendf(b, " zone=%d", f.Zone)
	}
	if f.Helper != "" {
		b = fmt.Appendf(b, " helper=%s", f.Helper)
	}
	if f.NATSrc.IsValid() {
		b = fmt.Appendf(b, " [SNAT %s]", f.NATSrc)
	}
	if f.NATDst.IsValid() {
		b = fmt.Appendf(b, " [DNAT %s]", f.NATDst)
	}
	return b
}

// DumpEach reads the conntrack table once and calls fn with each flow as
// it is decoded, in the kernel's order (as `conntrack -L` lists them),
// holding no table: memory stays flat however many entries there are.
// The flow passed to fn is only valid during the call; an error from fn
// stops the dump and is returned. An interrupted dump (NLM_F_DUMP_INTR)
// is not restarted, since what fn was given cannot be taken back: it runs
// to its end and interrupted is set: entries may then be missing or
// repeated, as with conntrack -L. Errors wrap
// collectors.ErrPermission or collectors.ErrNotSupported as Collect's do.
func DumpEach(ctx context.Context, cfg Config, fn func(*model.Flow) error) (st model.ConntrackStats, interrupted bool, err error) {
	cfg.NoEvents = true
	c := NewCollector(cfg)
	defer c.Close()
	start := c.cfg.Now()
	st, err = c.baseStats(start)
	if err != nil {
		return st, false, err
	}
	n := 0
	bad, intr, err := dumpEach(ctx, c.query, start, func() {}, func(f *model.Flow) error {
		n++
		return fn(f)
	}, true)
	end := c.cfg.Now()
	st.FlowsHeld, st.FlowsLimit, st.FlowsTruncated = n, 0, false
	st.Dumps, st.LastDump, st.DumpDuration, st.DecodeErrors = 1, end, end.Sub(start), bad
	return st, intr, err
}
