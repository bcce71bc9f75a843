package ui

import (
	"strings"

	"netlens/model"
)

// Default collector names each pane depends on (Options.Deps overrides).
var (
	DefaultConnectionsDeps = []string{model.CollectorSockets}
	DefaultFlowsDeps       = []string{model.CollectorConntrack}
	DefaultDropsDeps       = []string{model.CollectorCounters}
	DefaultSysctlDeps      = []string{model.CollectorSysctl}
	DefaultFiltersDeps     = []string{model.CollectorFilters}
	DefaultCaptureDeps     = []string{model.CollectorCapture}
	DefaultInterfacesDeps  = []string{model.CollectorLinks}
	DefaultIPsecDeps       = []string{model.CollectorIPsec}
)

// problem is a collector a pane depends on that is not ok.
type problem struct {
	status model.CollectorStatus
	known  bool // the collector has reported at all
}

// problems returns the collectors among names that are not ok, in order.
func problems(snap model.Snapshot, names []string) []problem {
	var out []problem
	for _, n := range names {
		st, ok := snap.Status(n)
		if !ok {
			out = append(out, problem{status: model.CollectorStatus{Name: n, State: model.StatePending}})
			continue
		}
		if st.State != model.StateOK {
			out = append(out, problem{status: st, known: true})
		}
	}
	return out
}

// describe says in one line what is wrong with a collector:
// "sockets: needs CAP_NET_ADMIN".
func describe(st model.CollectorStatus) string {
	// Reasons often start with the collector's name already.
	why := strings.TrimPrefix(oneLine(st.Reason), st.Name+": ")
	switch {
	case st.State == model.StatePending:
		return st.Name + ": waiting for the first sample"
	case why == "":
		return st.Name + ": " + string(st.State)
	}
	return st.Name + ": " + why
}

// hint says what the user can do about a collector's state.
func hint(st model.CollectorStatus) string {
	if st.Name == model.CollectorConntrack {
		switch st.State {
		case model.StateNoPermission:
			return "Conntrack needs CAP_NET_ADMIN. Run netlens with sudo, or grant it once: sudo setcap cap_net_admin+ep $(command -v netlens)"
		case model.StateNotSupported:
			return "No conntrack here: load it with sudo modprobe nf_conntrack_netlink (the kernel tracks flows once a firewall or NAT rule uses conntrack)."
		}
	}
	switch st.State {
	case model.StateNoPermission:
		return "Run netlens as root, or grant the binary the capabilities: sudo setcap cap_net_admin,cap_net_raw+ep $(command -v netlens)"
	case model.StateNotSupported:
		return "This kernel does not offer it; the rest of netlens works without it."
	case model.StateError:
		return "netlens retries it every interval."
	}
	return ""
}

// ctHint is hint for the conntrack collector in one short line.
func ctHint(st model.CollectorStatus) string {
	switch st.State {
	case model.StateNoPermission:
		return "fix: sudo netlens, or: sudo setcap cap_net_admin+ep $(command -v netlens)"
	case model.StateNotSupported:
		return "fix: sudo modprobe nf_conntrack_netlink"
	}
	return hint(st)
}

// oneLine turns a multi-line message into one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "\r\n\t") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return sanitize(s)
}

// paneMessage renders an explanation in place of a table: why the pane is
// empty and what to do (offline, a collector the snapshot files have no
// status of is not in them). It returns exactly h lines of at most w
// cells.
func paneMessage(s *Styles, w, h int, ps []problem, offline bool) string {
	var lines []string
	lines = append(lines, "")
	for _, p := range ps {
		if offline && !p.known {
			lines = append(lines, s.PaneTitle.Render(fitString("  "+p.status.Name+": not reported in this snapshot (taken by a netlens without it, or before it ran)", w)), "")
			continue
		}
		lines = append(lines, s.PaneTitle.Render(fitString("  "+describe(p.status), w)))
		if t := hint(p.status); t != "" {
			for _, l := range wrap(t, w-4) {
				lines = append(lines, s.PaneText.Render("    "+l))
			}
		}
		if !p.known {
			lines = append(lines, s.Dim.Render(fitString("    (the collector has not reported yet)", w)))
		}
		lines = append(lines, "")
	}
	return fixHeight(lines, h)
}

// wrap splits s into lines of at most w cells at spaces (a longer word is
// cut).
func wrap(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	var out []string
	var cur strings.Builder
	for _, word := range strings.Fields(s) {
		for width(word) > w {
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			out = append(out, word[:w])
			word = word[w:]
		}
		if cur.Len() > 0 && width(cur.String())+1+width(word) > w {
			out = append(out, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// fixHeight joins lines, cut or padded with empty lines to exactly h.
func fixHeight(lines []string, h int) string {
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}
