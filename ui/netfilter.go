package ui

import (
	"strconv"
	"strings"

	"netlens/model"
)

// The conntrack collector publishes its per-CPU statistics summed as
// counters of this source and group (collectors/conntrack counters), so
// that the Store derives their deltas and rates.
const (
	ctCounterSource = "ctnetlink"
	ctCounterGroup  = "conntrack"
)

// ctRate is one conntrack statistic as the Store derived it.
type ctRate struct {
	name  string
	known bool
	rate  float64 // per second, over the last interval
	delta uint64  // in the last interval
	total uint64  // since netlens started
}

// ctHealth is the state of the conntrack table as the UI shows it,
// derived from one snapshot by conntrackHealth.
type ctHealth struct {
	st          model.ConntrackStats
	statsKnown  bool // the collector has published statistics
	status      model.CollectorStatus
	statusKnown bool
	// rates are drop, early_drop, insert_failed and invalid, in that order.
	rates [4]ctRate
	// full: count >= max. dropping: drop or early_drop moved in the
	// last interval (both count only when the table is full).
	full, dropping bool
}

// ctRateNames are the statistics the health shows, in order.
var ctRateNames = [...]string{"drop", "early_drop", "insert_failed", "invalid"}

// conntrackHealth derives the conntrack table's health from snap; name is
// the conntrack collector's name.
func conntrackHealth(snap *model.Snapshot, name string) ctHealth {
	h := ctHealth{st: snap.Conntrack, statsKnown: !snap.Conntrack.At.IsZero()}
	h.status, h.statusKnown = snap.Status(name)
	for i, n := range ctRateNames {
		h.rates[i].name = n
	}
	for i := range snap.Counters {
		c := &snap.Counters[i]
		if c.Source != ctCounterSource || c.Group != ctCounterGroup || c.Instance != "" {
			continue
		}
		for k, n := range ctRateNames {
			if c.Name == n {
				h.rates[k] = ctRate{name: n, known: true, rate: c.Rate, delta: c.Delta, total: c.Total}
			}
		}
	}
	h.full = h.st.Full()
	h.dropping = h.rates[0].delta > 0 || h.rates[1].delta > 0
	return h
}

// alarm reports whether the table is full or dropping new flows: the
// banner shows on every tab.
func (h *ctHealth) alarm() bool { return h.full || h.dropping }

// banner is the TABLE FULL line in w cells: what happens, how bad, and
// what to do: the most that fits of count/max, the drop rates and the
// fix.
func (h *ctHealth) banner(w int) string {
	head := " !! CONNTRACK TABLE FULL"
	if h.st.Max > 0 {
		head += " " + strconv.FormatUint(h.st.Count, 10) + "/" + strconv.FormatUint(h.st.Max, 10)
	}
	var rates []string
	for _, r := range h.rates[:2] {
		if r.known {
			rates = append(rates, r.name+" "+fmtRate(r.rate)+"/s")
		}
	}
	const fix, short = "new connections fail: raise net.netfilter.nf_conntrack_max", "raise nf_conntrack_max"
	candidates := [][]string{
		append(append([]string{}, rates...), fix),
		append(append([]string{}, rates...), short),
		append(append([]string{}, rates[:min(len(rates), 1)]...), short),
		{short},
	}
	for _, parts := range candidates {
		text := head + "  " + strings.Join(parts, "  ") + " !!"
		if len(text) <= w {
			return text
		}
	}
	return head + " !!"
}

// healthLines is the height of the Drops tab's netfilter section.
const healthLines = 3

// netfilterSection renders the Drops tab's netfilter health: the
// conntrack table's fill with a bar, the rates of drop, early_drop,
// insert_failed and invalid, and their totals since netlens started with
// lost events and what the kernel does not keep. When the collector is
// down it says why and how to fix it. It returns exactly healthLines
// lines of w cells.
func netfilterSection(s *Styles, h *ctHealth, w int) string {
	lines := make([]string, 0, healthLines)
	lines = append(lines, fillLine(s, h, w))
	down := !h.statusKnown || h.status.State != model.StateOK
	switch {
	case down && !h.statusKnown:
		lines = append(lines, s.Dim.Render(fitString("   conntrack: the collector has not reported (not running here?)", w)))
	case down && h.status.State == model.StatePending:
		lines = append(lines, s.Dim.Render(fitString("   conntrack: waiting for the first sample", w)))
	case down:
		lines = append(lines, s.HealthBad.Render(fitString("   "+describe(h.status), w)))
		if t := ctHint(h.status); t != "" {
			lines = append(lines, s.PaneText.Render(fitString("   "+t, w)))
		}
	default:
		lines = append(lines, rateLine(s, h, w), totalLine(s, h, w))
	}
	return fixHeight(lines, healthLines)
}

// fillLine is " Netfilter  conntrack 1234/262144 [####......] 0.5%
// buckets 65536", with what the kernel does not keep (acct off, ts off,
// events off) in place of the buckets, and TABLE FULL at the end when it
// is.
func fillLine(s *Styles, h *ctHealth, w int) string {
	title := " Netfilter  conntrack "
	if !h.statsKnown || h.st.Max == 0 {
		text := title + "table fill unknown"
		if h.statsKnown {
			text = title + strconv.FormatUint(h.st.Count, 10) + " entries, max unknown"
		}
		return s.Summary.Render(fitString(text, w))
	}
	count := strconv.FormatUint(h.st.Count, 10) + "/" + strconv.FormatUint(h.st.Max, 10)
	pct := strconv.FormatFloat(100*h.st.Fill(), 'f', 1, 64) + "%"
	tail := " " + pct
	var off []string
	if !h.st.Accounting {
		off = append(off, "acct off")
	}
	if !h.st.Timestamps {
		off = append(off, "ts off")
	}
	if !h.st.Events {
		off = append(off, "events off")
	}
	switch {
	case len(off) > 0 && h.statusKnown && h.status.State == model.StateOK:
		tail += "  " + strings.Join(off, "  ")
	case h.st.Buckets > 0:
		tail += "  buckets " + strconv.FormatUint(h.st.Buckets, 10)
	}
	full := ""
	if h.alarm() {
		full = " TABLE FULL "
	}
	barW := min(max(w-len(title)-len(count)-len(tail)-len(full)-4, 6), 40)
	filled := min(int(h.st.Fill()*float64(barW)+0.5), barW)
	if h.st.Count > 0 && filled == 0 {
		filled = 1
	}
	barSt := s.HealthOK
	switch {
	case h.alarm() || h.st.Fill() >= 0.95:
		barSt = s.HealthBad
	case h.st.Fill() >= 0.8:
		barSt = s.Warn
	}
	used := len(title) + len(count) + 2 + barW + 1
	out := s.Summary.Render(title+count) + " [" + barSt.Render(strings.Repeat("#", filled)) + s.Dim.Render(strings.Repeat(".", barW-filled)) + "]"
	if used+len(tail) > w {
		return out + strings.Repeat(" ", max(w-used, 0))
	}
	out += tail
	used += len(tail)
	if full != "" && used+1+len(full) <= w {
		out += " " + s.Alarm.Render(full)
		used += 1 + len(full)
	}
	return out + strings.Repeat(" ", max(w-used, 0))
}

// rateLine is "   rate/s  drop 0  early_drop 0  insert_failed 0.50
// invalid 12.0", a statistic that moved in the last interval
// highlighted.
func rateLine(s *Styles, h *ctHealth, w int) string {
	return statLine(s, w, "   rate/s", h, func(r *ctRate) (string, bool) {
		if !r.known {
			return "-", false
		}
		return fmtRate(r.rate), r.delta > 0
	}, nil)
}

// totalLine is "   total  drop 0  early_drop 0 ...  lost 12 events": the
// totals since netlens started, and the conntrack events lost.
func totalLine(s *Styles, h *ctHealth, w int) string {
	var extra []string
	if n := h.st.EventsLost; n > 0 {
		extra = append(extra, "lost "+strconv.FormatUint(n, 10)+" events")
	}
	return statLine(s, w, "   total ", h, func(r *ctRate) (string, bool) {
		if !r.known {
			return "-", false
		}
		return strconv.FormatUint(r.total, 10), false
	}, extra)
}

// statLine lays out the four statistics after label, each value from val
// (hot ones highlighted), then as many of extra as fit, in w cells.
func statLine(s *Styles, w int, label string, h *ctHealth, val func(*ctRate) (string, bool), extra []string) string {
	var out strings.Builder
	out.WriteString(s.Dim.Render(label))
	used := len(label)
	for i := range h.rates {
		r := &h.rates[i]
		v, hot := val(r)
		item := "  " + r.name + " " + v
		if used+len(item) > w {
			break
		}
		st := s.PaneText
		if hot {
			st = s.HealthBad
		}
		out.WriteString("  " + r.name + " " + st.Render(v))
		used += len(item)
	}
	for i, e := range extra {
		sep := "  "
		if i == 0 {
			sep = "   "
		}
		if used+len(sep)+len(e) > w {
			break
		}
		out.WriteString(sep + s.Warn.Render(e))
		used += len(sep) + len(e)
	}
	return out.String() + strings.Repeat(" ", max(w-used, 0))
}
