package ui

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// Process view columns.
const (
	procName      = iota
	procContainer // shown when a process runs in a container
	procPIDs
	procConns
	procRx
	procTx
	procRetrans
	procSpark
)

// procHistLen is how many refreshes of each process's total rate the
// sparkline keeps.
const procHistLen = 60

// procView is the Connections tab's process view (P): the sockets
// grouped by the process holding them, with each process's TCP receive,
// send and retransmit rates from tcp_info and a sparkline of its total
// rate, busiest first: what nethogs shows, without capturing a packet.
// Not safe for concurrent use.
type procView struct {
	listBase[string]
	rows    []model.ProcessRate
	rater   model.ProcessRater  // groups each new table: mostly the last one's sockets
	hist    map[string][]uint64 // by procKey
	glyphs  Glyphs
	summary string
}

func newProcView(c Common, deps []string, g Glyphs) *procView {
	p := &procView{glyphs: g, hist: map[string][]uint64{}}
	p.Common, p.deps = c, deps
	cols := []column{
		procName:      {title: "Process", width: 12, flex: 2},
		procContainer: {title: "Container", width: 12, drop: 2, off: true},
		procPIDs:      {title: "PIDs", width: 10, flex: 1, drop: 1},
		procConns:     {title: "Conns", width: 5, right: true},
		procRx:        {title: "Rx/s", width: 6, right: true},
		procTx:        {title: "Tx/s", width: 6, right: true},
		procRetrans:   {title: "Retr/s", width: 6, right: true},
		procSpark:     {title: "Rx+Tx/s", width: 12, flex: 3},
	}
	rows := func() []model.ProcessRate { return p.rows }
	byName := func(a, b int) int {
		r := rows()
		return cmp.Or(cmp.Compare(r[a].Comm, r[b].Comm), cmp.Compare(r[a].Container, r[b].Container))
	}
	rated := func(f func(r *model.ProcessRate) float64) func(a, b int) int {
		return func(a, b int) int {
			r := rows()
			if r[a].HasRate() != r[b].HasRate() {
				if r[a].HasRate() {
					return 1
				}
				return -1
			}
			return cmp.Or(cmp.Compare(f(&r[a]), f(&r[b])), byName(b, a))
		}
	}
	sorts := []sortSpec{
		{name: "rate", col: procSpark, desc: true, cmp: rated(func(r *model.ProcessRate) float64 { return r.Total() })},
		{name: "rx/s", col: procRx, desc: true, cmp: rated(func(r *model.ProcessRate) float64 { return r.RxBps })},
		{name: "tx/s", col: procTx, desc: true, cmp: rated(func(r *model.ProcessRate) float64 { return r.TxBps })},
		{name: "retrans/s", col: procRetrans, desc: true, cmp: rated(func(r *model.ProcessRate) float64 { return r.RetransPerSec })},
		{name: "conns", col: procConns, desc: true, cmp: func(a, b int) int { return cmp.Or(cmp.Compare(rows()[a].Conns, rows()[b].Conns), byName(b, a)) }},
		{name: "process", col: procName, cmp: byName},
	}
	p.init(cols, sorts, 0)
	return p
}

// Title implements page.
func (p *procView) Title() string { return "Connections" }

// SetSnapshot implements page. The rows and the rate history move with
// every new socket table (and, while a capture runs, every capture
// update: UDP rates come from it), shown or not, so that the sparklines
// are full when the view is opened.
func (p *procView) SetSnapshot(s model.Snapshot) {
	if p.sameRows(p.snap, s) && p.snap.Seq != 0 {
		p.setSnapshot(p, s)
		return
	}
	rows := p.rater.Rates(s.Sockets, model.SampledUDPRates(s.Sockets, &s.Capture))
	hist := make(map[string][]uint64, len(rows))
	for i := range rows {
		k := procKey(&rows[i])
		h := p.hist[k]
		if len(h) == procHistLen {
			h = h[1:]
		}
		hist[k] = append(h, uint64(rows[i].Total()))
	}
	p.hist = hist
	p.setSnapshot(p, s) // captures the selection among the old rows
	p.rows = rows
	// The Container column shows when a process runs in a container.
	ctr := slices.ContainsFunc(rows, func(r model.ProcessRate) bool { return r.Container != "" })
	if p.tbl.cols[procContainer].off == ctr {
		p.tbl.cols[procContainer].off = !ctr
		p.tbl.layout()
	}
}

// procKey identifies a process row: its name and container.
func procKey(r *model.ProcessRate) string {
	if r.Container == "" {
		return r.Comm
	}
	return r.Comm + "\x00" + r.Container
}

// Sync implements page.
func (p *procView) Sync() {
	if p.fresh() {
		p.summary = procSummary(p.rows)
	}
	p.sync(p)
}

// Update implements page.
func (p *procView) Update(msg tea.Msg) (page, tea.Cmd) {
	p.update(msg)
	return p, nil
}

// sameRows: the rows are the same while the socket table is, and, when
// a live capture gives UDP sockets rates, while its statistics are.
func (p *procView) sameRows(a, b model.Snapshot) bool {
	return sameSockets(&a, &b) && sameSlice(a.Capture.UDPFlows, b.Capture.UDPFlows)
}
func (p *procView) count() int { return len(p.rows) }

// include keeps the processes with a TCP connection or a UDP socket
// with a sampled rate: the others (UDP without a capture, raw,
// listeners only) have no rates to show.
func (p *procView) include(i int) bool { return p.rows[i].Conns > 0 || p.rows[i].Sampled > 0 }
func (p *procView) key(i int) string   { return procKey(&p.rows[i]) }

func (p *procView) appendHaystack(b []byte, i int) []byte {
	r := &p.rows[i]
	b = append(b, procLabel(r.Comm)...)
	if r.Container != "" {
		b = append(b, ' ')
		b = append(b, r.Container...)
	}
	for _, pid := range r.PIDs {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(pid), 10)
	}
	return b
}

// procLabel names a process row; sockets without a known holder are
// "(no owner)".
func procLabel(comm string) string {
	if comm == "" {
		return "(no owner)"
	}
	return sanitize(comm)
}

func (p *procView) cell(i, c int) string {
	r := &p.rows[i]
	rate := func(v float64) string {
		switch {
		case !r.HasRate():
			return "-"
		case r.Sampled > 0:
			return fmtRateFit(v, 5) + "~" // partly sampled by a capture
		}
		return fmtRateFit(v, 6)
	}
	switch c {
	case procName:
		return procLabel(r.Comm)
	case procContainer:
		if r.Container == "" {
			return "-"
		}
		return sanitize(r.Container)
	case procPIDs:
		return fmtPIDList(r.PIDs, 3)
	case procConns:
		return strconv.Itoa(r.Conns)
	case procRx:
		return rate(r.RxBps)
	case procTx:
		return rate(r.TxBps)
	case procRetrans:
		if r.Rated == 0 {
			return "-"
		}
		return fmtRateFit(r.RetransPerSec, 6)
	case procSpark:
		return sparkString(p.hist[procKey(r)], p.tbl.ColWidth(procSpark), p.glyphs)
	}
	return ""
}

// fmtPIDList lists up to n PIDs, then "+K" for the rest: "1402,1403,+1".
func fmtPIDList(pids []int, n int) string {
	var b strings.Builder
	for i, pid := range pids {
		if i > 0 {
			b.WriteByte(',')
		}
		if i == n {
			b.WriteString("+" + strconv.Itoa(len(pids)-n))
			break
		}
		b.WriteString(strconv.Itoa(pid))
	}
	return b.String()
}

// View implements page.
func (p *procView) View() string {
	head := summaryLine(p.Styles, "[processes] "+p.summary, p.rightLabel(len(p.rows)), p.Width)
	empty := p.emptyText("processes", "no process holds a TCP connection")
	rows := p.idx
	return p.render(head, len(p.snap.Sockets), empty, func(i, c int) string { return p.cell(rows[i], c) }, p.rowKind, p.detail)
}

func (p *procView) rowKind(i int) rowKind {
	if r := &p.rows[p.idx[i]]; r.RetransPerSec > 0 || p.Changed != nil && p.Changed.Procs[r.Comm] {
		return rowHot
	}
	return rowPlain
}

// detail is the selected process in full: every PID, its sockets and
// rates.
func (p *procView) detail(i int) []string {
	r := &p.rows[p.idx[i]]
	pids := make([]string, len(r.PIDs))
	for j, pid := range r.PIDs {
		pids[j] = strconv.Itoa(pid)
	}
	first := procLabel(r.Comm)
	if r.Container != "" {
		first += "  container " + sanitize(r.Container)
	}
	if len(pids) > 0 {
		first += "  pids " + strings.Join(pids, ", ")
	}
	second := strconv.Itoa(r.Conns) + " TCP connections (" + strconv.Itoa(r.Rated) + " with a rate this refresh), " + strconv.Itoa(r.Sockets) + " sockets in all"
	if r.Sampled > 0 {
		second += ", " + strconv.Itoa(r.Sampled) + " UDP with a sampled rate"
	}
	third := "rates: none yet (a rate needs two refreshes; UDP and raw sockets have none without a capture)"
	switch {
	case r.Sampled > 0:
		third = "rx " + fmtRate(r.RxBps) + "B/s  tx " + fmtRate(r.TxBps) + "B/s (~ sampled: UDP from the capture, TCP from tcp_info)  retransmits " + fmtRate(r.RetransPerSec) + "/s"
	case r.Rated > 0:
		third = "rx " + fmtRate(r.RxBps) + "B/s  tx " + fmtRate(r.TxBps) + "B/s  retransmits " + fmtRate(r.RetransPerSec) + "/s (TCP, from tcp_info)"
	}
	return []string{first, second, third}
}

// procSummary totals the process rows: "7 processes, 41 connections:
// rx 1.2MB/s tx 8.0MB/s retrans 0.50/s".
func procSummary(rows []model.ProcessRate) string {
	n, conns := 0, 0
	var rx, tx, re float64
	for i := range rows {
		if rows[i].Conns == 0 && rows[i].Sampled == 0 {
			continue
		}
		n++
		conns += rows[i].Conns
		rx, tx, re = rx+rows[i].RxBps, tx+rows[i].TxBps, re+rows[i].RetransPerSec
	}
	return nouns(n, "process", "processes") + ", " + nouns(conns, "connection", "connections") + ": rx " + fmtRate(rx) + "B/s tx " + fmtRate(tx) + "B/s retrans " + fmtRate(re) + "/s"
}

// nouns is "1 process", "2 processes".
func nouns(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
