package ui

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/model"
	"netlens/model/drops"
)

// Drops table columns.
const (
	dropLayer = iota
	dropSource
	dropGroup
	dropInstance
	dropName
	dropValue
	dropDelta
	dropTotal
	dropRate
	dropSpark
)

// dropsView is one of the Drops tab's views.
type dropsView int

// Drops views, in the order v cycles through them.
const (
	viewFunnel      dropsView = iota // the drop counters, in packet order
	viewReasons                      // the drop monitor's reasons and locations (reasonView)
	viewDropSockets                  // the sockets with the most drops (dropSockView)
	numDropsViews
)

// recentWindow is how long after it moved a counter stays highlighted.
const recentWindow = 10 * time.Second

// dropsPage is the Drops tab: a netfilter section (netfilter.go) over
// one of three views, which v cycles through. The funnel (this type's
// own list) has every drop-like counter netlens knows
// (model/drops.Funnel), grouped by layer in the order a received
// packet meets them, with its delta over the last interval, since netlens
// started, its rate and a sparkline of its last samples; a counter that
// moved in the last recentWindow (of sample time) is highlighted; by
// default only counters that moved since netlens started are shown (a
// shows all); enter explains the selected counter (explain.go). The
// reasons view has the kernel drop monitor's drops per reason and
// location, or says why there is none; the sockets view the sockets with
// the most drops (model/drops.TopSockets). The filter is shared by
// the views. Not safe for concurrent use.
type dropsPage struct {
	listBase[model.CounterKey]
	all   bool
	moved int // counters that moved since start

	// fc is the funnel of snap.Counters (fcOf), the rows.
	fc   []drops.FunnelCounter
	fcOf []model.Counter

	glyphs Glyphs
	view   dropsView
	rs     *reasonView
	tr     *traceView // the reasons view when the eBPF tracer is the source
	ss     *dropSockView

	// The netfilter section above the views: the conntrack table's
	// health, of the collector ctName.
	ctName string
	ct     ctHealth

	// ed is e on a counter's explanation: it changes the counter's
	// governing sysctl (shared with the Sysctl tab, which confirms).
	ed *sysctlEditor
	// sample switches the tracer's sampled stream (S); nil: not here.
	sample DropSampleControl
}

func newDropsPage(c Common, deps []string, ctName string, g Glyphs) *dropsPage {
	p := &dropsPage{ctName: ctName, glyphs: g}
	p.Common, p.deps = c, deps
	p.detailH = 9
	cols := []column{
		dropLayer:    {title: "Layer", width: 9},
		dropSource:   {title: "Source", width: 12, flex: 2, keepTail: true, drop: 2},
		dropGroup:    {title: "Group", width: 6},
		dropInstance: {title: "Inst", width: 6, flex: 1},
		dropName:     {title: "Name", width: 16, flex: 3},
		dropValue:    {title: "Value", width: 11, right: true, drop: 1},
		dropDelta:    {title: "Delta", width: 6, right: true},
		dropTotal:    {title: "Total", width: 8, right: true},
		dropRate:     {title: "Rate/s", width: 7, right: true},
		dropSpark:    {title: "History", width: 10, flex: 6},
	}
	cs := func() []drops.FunnelCounter { return p.fc }
	sorts := []sortSpec{
		{name: "layer", col: dropLayer, cmp: func(a, b int) int { return cmp.Compare(a, b) }}, // the funnel's order
		{name: "name", col: dropName, cmp: func(a, b int) int {
			c := cs()
			return cmp.Or(cmp.Compare(c[a].Name, c[b].Name), cmp.Compare(c[a].Group, c[b].Group), cmp.Compare(c[a].Instance, c[b].Instance))
		}},
		{name: "delta", col: dropDelta, desc: true, cmp: func(a, b int) int { c := cs(); return cmp.Compare(c[a].Delta, c[b].Delta) }},
		{name: "total", col: dropTotal, desc: true, cmp: func(a, b int) int { c := cs(); return cmp.Compare(c[a].Total, c[b].Total) }},
		{name: "rate", col: dropRate, desc: true, cmp: func(a, b int) int { c := cs(); return cmp.Compare(c[a].Rate, c[b].Rate) }},
		{name: "value", col: dropValue, desc: true, cmp: func(a, b int) int { c := cs(); return cmp.Compare(c[a].Value, c[b].Value) }},
	}
	p.init(cols, sorts, 0)
	p.rs = newReasonView(c)
	p.tr = newTraceView(c, g)
	p.ss = newDropSockView(c)
	return p
}

// movedSinceStart reports whether a counter changed since netlens started.
func movedSinceStart(c *model.Counter) bool {
	if c.Kind == model.KindGauge {
		return !c.LastChange.IsZero()
	}
	return c.Total > 0 || c.Reset
}

// movedRecently reports whether c moved within window before now. now is
// the snapshot's time, not the wall clock: a paused or idle screen does
// not change.
func movedRecently(c *model.Counter, now time.Time, window time.Duration) bool {
	if c.LastChange.IsZero() {
		return false
	}
	if c.Kind != model.KindGauge && c.Delta > 0 {
		return true
	}
	return now.Sub(c.LastChange) < window
}

// Title implements page.
func (p *dropsPage) Title() string { return "Drops" }

// SetSnapshot implements page.
func (p *dropsPage) SetSnapshot(s model.Snapshot) {
	p.setSnapshot(p, s)
	p.rs.SetSnapshot(s)
	p.tr.SetSnapshot(s)
	p.ss.SetSnapshot(s)
}

// Sync implements page.
func (p *dropsPage) Sync() {
	if p.fresh() {
		p.ct = conntrackHealth(&p.snap, p.ctName)
		// The netfilter section says why conntrack is down, and how to
		// fix it, and a kernel without a drop monitor is a note, not
		// stale data: the warning over the counters need not say them.
		p.problems = slices.DeleteFunc(p.problems, func(pr problem) bool {
			return pr.status.Name == p.ctName || pr.status.Name == model.CollectorDropMon || pr.status.Name == model.CollectorDropTrace
		})
		if why := dropmonDown(&p.snap); why != "" && !p.tr.active() {
			p.notes = append(p.notes, "no drop reasons: "+why)
		}
		if d := &p.snap.DropTrace; !d.Supported && d.Reason != "" {
			p.notes = append(p.notes, "no drop trace: "+oneLine(d.Reason))
		}
		if !sameSlice(p.fcOf, p.snap.Counters) {
			p.fc, p.fcOf = drops.Funnel(p.snap.Counters), p.snap.Counters
		}
		p.moved = 0
		for i := range p.fc {
			if movedSinceStart(&p.fc[i].Counter) {
				p.moved++
			}
		}
	}
	p.sync(p)
	switch p.view {
	case viewReasons:
		if p.tr.active() {
			p.tr.Sync()
		} else {
			p.rs.Sync()
		}
	case viewDropSockets:
		p.ss.Sync()
	}
}

// dropmonDown says why the drop monitor gives no reasons, or "" when it
// runs or has not reported.
func dropmonDown(snap *model.Snapshot) string {
	dm := &snap.DropMonitor
	if dm.Supported {
		return ""
	}
	if dm.Reason != "" {
		return oneLine(dm.Reason)
	}
	if st, ok := snap.Status(model.CollectorDropMon); ok && st.State != model.StateOK && st.State != model.StatePending {
		return strings.TrimPrefix(describe(st), model.CollectorDropMon+": ")
	}
	return ""
}

// Update implements page.
func (p *dropsPage) Update(msg tea.Msg) (page, tea.Cmd) {
	if p.ed != nil && p.ed.isOpen() {
		switch msg := msg.(type) {
		case tea.KeyPressMsg:
			return p, p.ed.key(msg)
		case tea.PasteMsg:
			p.ed.paste(msg.Content)
		}
		return p, nil
	}
	if msg, ok := msg.(tea.KeyPressMsg); ok && p.view == viewFunnel && p.ed != nil && key.Matches(msg, p.Keys.SysctlEdit) {
		p.editSysctl()
		return p, nil
	}
	if msg, ok := msg.(tea.MouseClickMsg); ok {
		msg.Y -= healthLines
		return p.updateView(msg)
	}
	if msg, ok := msg.(tea.KeyPressMsg); ok && key.Matches(msg, p.Keys.View) {
		p.view = (p.view + 1) % numDropsViews
		p.Sync()
		return p, nil
	}
	if msg, ok := msg.(tea.KeyPressMsg); ok && key.Matches(msg, p.Keys.DropSample) {
		return p, dropSampleToggleCmd(p.sample)
	}
	return p.updateView(msg)
}

// CloseView implements viewCloser: a reason's flows or samples go back
// a level.
func (p *dropsPage) CloseView() bool {
	return p.view == viewReasons && p.tr.active() && p.tr.CloseView()
}

// ClosePane implements paneCloser for the view shown.
func (p *dropsPage) ClosePane() bool {
	switch p.view {
	case viewReasons:
		if p.tr.active() {
			return p.tr.ClosePane()
		}
		return p.rs.ClosePane()
	case viewDropSockets:
		return p.ss.ClosePane()
	}
	return p.listBase.ClosePane()
}

func (p *dropsPage) updateView(msg tea.Msg) (page, tea.Cmd) {
	switch p.view {
	case viewReasons:
		if p.tr.active() {
			return p, p.tr.update(msg)
		}
		p.rs.update(msg)
		return p, nil
	case viewDropSockets:
		p.ss.update(msg)
		return p, nil
	}
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if key.Matches(msg, p.Keys.ShowAll) {
			p.all = !p.all
			p.invalidate()
			p.Sync()
			return p, nil
		}
		if key.Matches(msg, p.Keys.Details) {
			p.handleKey(msg)
			p.sizeDetail()
			return p, nil
		}
		p.handleKey(msg)
	case tea.MouseMsg:
		p.handleMouse(msg)
	}
	return p, nil
}

// CapturesKeys implements page: the sysctl editor takes every key.
func (p *dropsPage) CapturesKeys() bool { return p.ed != nil && p.ed.isOpen() }

// governingSysctl is the first sysctl among the settings of the selected
// counter's explanation that the snapshot holds, with its value, and how
// many such sysctls there are.
func (p *dropsPage) governingSysctl() (name, value string, n int) {
	i := p.selected()
	if i < 0 || p.fc[i].Entry == nil {
		return "", "", 0
	}
	c := &p.fc[i].Counter
	dev := ""
	if c.Layer == model.LayerNIC || c.Layer == model.LayerQdisc {
		dev, _, _ = strings.Cut(c.Instance, " ")
	}
	for _, s := range p.fc[i].Entry.SettingsNow(dev, p.snap.Sysctls) {
		if s.Known && strings.HasPrefix(s.Name, "net.") {
			if n == 0 {
				name, value = s.Name, s.Value
			}
			n++
		}
	}
	return name, value, n
}

// editSysctl is e on the funnel: it opens the editor on the selected
// counter's governing sysctl.
func (p *dropsPage) editSysctl() {
	name, value, n := p.governingSysctl()
	if n == 0 {
		p.ed.fromDrops = true
		p.ed.setMsg("e: the selected counter's explanation names no net.* sysctl this host has", true)
		return
	}
	if why := p.ed.open(name, value); why != "" {
		p.ed.fromDrops = true
		p.ed.setMsg(why, true)
		return
	}
	p.ed.fromDrops = true
	if n > 1 {
		p.ed.setMsg(name+" is the first of "+itoa(n)+" sysctls that govern this counter (the others: e on the Sysctl tab)", false)
	}
}

// SetSize implements page: the views get what the netfilter section
// leaves.
func (p *dropsPage) SetSize(w, h int) {
	h = max(h-healthLines, 1)
	p.listBase.SetSize(w, h)
	p.sizeDetail()
	p.rs.SetSize(w, h)
	p.tr.SetSize(w, h)
	p.ss.SetSize(w, h)
}

// sizeDetail gives the explanation most of the page, leaving the table
// its header and at least three rows (the selected one among them).
func (p *dropsPage) sizeDetail() {
	p.detailH = max(min(p.Height-1-1-4-1, 18), 3)
	p.tbl.SetSize(p.Width, max(p.tableHeight(), 1))
}

// SetFilter implements page: the filter applies to every view.
func (p *dropsPage) SetFilter(f string) {
	p.listBase.SetFilter(f)
	p.rs.SetFilter(f)
	p.tr.SetFilter(f)
	p.ss.SetFilter(f)
}

// ShortHelp implements page.
func (p *dropsPage) ShortHelp() []key.Binding {
	if p.view != viewFunnel {
		return []key.Binding{p.Keys.shortView, p.Keys.Details}
	}
	if p.ed != nil && p.ed.ctl != nil {
		return []key.Binding{p.Keys.shortView, p.Keys.ShowAll, p.explainKey(), p.Keys.SysctlEdit}
	}
	return []key.Binding{p.Keys.shortView, p.Keys.ShowAll, p.explainKey()}
}

// explainKey is the enter key with the funnel's help text.
func (p *dropsPage) explainKey() key.Binding {
	b := p.Keys.Details
	b.SetHelp(b.Help().Key, "explain")
	return b
}

// FullHelp implements page.
func (p *dropsPage) FullHelp() [][]key.Binding {
	if p.sample != nil {
		return [][]key.Binding{{p.Keys.View, p.Keys.ShowAll, p.explainKey(), p.Keys.DropSample}}
	}
	return [][]key.Binding{{p.Keys.View, p.Keys.ShowAll, p.explainKey()}}
}

func (p *dropsPage) sameRows(a, b model.Snapshot) bool { return sameSlice(a.Counters, b.Counters) }
func (p *dropsPage) count() int                        { return len(p.fc) }
func (p *dropsPage) include(i int) bool {
	return p.all || movedSinceStart(&p.fc[i].Counter)
}
func (p *dropsPage) key(i int) model.CounterKey { return p.fc[i].Key() }

func (p *dropsPage) appendHaystack(b []byte, i int) []byte {
	for c := dropLayer; c <= dropRate; c++ {
		b = append(b, p.cell(i, c, false)...)
		b = append(b, ' ')
	}
	if g := p.fc[i].Group; g == "statistics" {
		b = append(b, g...)
	}
	return b
}

// cell returns the text of column c for counter i. blankLayer leaves the
// layer out (a row below the first of its layer).
func (p *dropsPage) cell(i, c int, blankLayer bool) string {
	x := &p.fc[i].Counter
	gauge := x.Kind == model.KindGauge
	switch c {
	case dropLayer:
		if blankLayer {
			return ""
		}
		return string(x.Layer)
	case dropSource:
		return x.Source
	case dropGroup:
		if x.Group == "statistics" { // the interface's: Source says which
			return ""
		}
		return x.Group
	case dropInstance:
		return sanitize(x.Instance)
	case dropName:
		return x.Name
	case dropValue:
		return fmtCount(x.Value, 11)
	case dropDelta:
		if gauge {
			return ""
		}
		return fmtCount(x.Delta, 6)
	case dropTotal:
		if gauge {
			return "gauge"
		}
		return fmtCount(x.Total, 8)
	case dropRate:
		if gauge {
			return ""
		}
		return fmtRate(x.Rate)
	case dropSpark:
		return sparkString(x.History, p.tbl.ColWidth(dropSpark), p.glyphs)
	}
	return ""
}

// View implements page.
func (p *dropsPage) View() string {
	if p.ed != nil && p.ed.isOpen() {
		h := p.Height - 1
		return p.ed.view(p.Styles, p.Width, h) + "\n" + resultLine(p.Styles, p.ed.msg, p.ed.msgErr, p.Width)
	}
	var body string
	switch p.view {
	case viewReasons:
		if p.tr.active() {
			body = p.tr.View()
		} else {
			body = p.rs.View()
		}
	case viewDropSockets:
		body = p.ss.View()
	default:
		body = p.funnelView()
	}
	return netfilterSection(p.Styles, &p.ct, p.Width) + "\n" + body
}

// funnelView renders the funnel: summary, table and explanation.
func (p *dropsPage) funnelView() string {
	s := p.Styles
	n := len(p.fc)
	left := "[funnel] " + itoa(p.moved) + " of " + itoa(n) + " counters moved since start, in packet order"
	if p.all {
		left = "[funnel] " + itoa(n) + " counters (" + itoa(p.moved) + " moved since start), in packet order"
	}
	right := p.sortLabel()
	if f := p.shownLabel(n); f != "" && p.filter != "" {
		right = f + "  " + right
	}
	head := summaryLine(s, left, right, p.Width)
	empty := "no counter has moved since netlens started (a: show all)"
	switch {
	case p.filter != "":
		empty = "no counters match the filter " + strconv.Quote(p.filter)
	case p.all:
		empty = "no counters"
	}
	rows := p.idx
	grouped := p.sortIdx == 0 && !p.desc
	return p.render(head, len(p.snap.Counters), empty, func(i, c int) string {
		blank := grouped && c == dropLayer && i > p.tbl.offset &&
			p.fc[rows[i-1]].Layer == p.fc[rows[i]].Layer
		return p.cell(rows[i], c, blank)
	}, p.rowKind, p.detail)
}

// detail is the explanation of the selected counter (explain.go), cut
// to the pane; a cut explanation says where the rest is.
func (p *dropsPage) detail(i int) []string {
	lines := explainLines(&p.fc[p.idx[i]], p.snap.Sysctls, p.Width)
	if h := p.detailH; len(lines) > h {
		lines = append(lines[:h-1:h-1], "... (the rest: a taller terminal, or docs/drops.md)")
	}
	return lines
}

// lastMoved says when a counter last changed, in UTC from the sample
// times (never the wall clock, so that it does not tick on an idle screen).
func lastMoved(c *model.Counter) string {
	if c.LastChange.IsZero() {
		return "has not moved since netlens started"
	}
	return "last moved at " + c.LastChange.UTC().Format("15:04:05") + " UTC"
}

// rowKind highlights a counter that moved in the last recentWindow
// before the snapshot.
func (p *dropsPage) rowKind(i int) rowKind {
	if movedRecently(&p.fc[p.idx[i]].Counter, p.snap.TakenAt, recentWindow) {
		return rowHot
	}
	return rowPlain
}

// HelpLines is what the full help says about the Drops tab, in w cells.
func (p *dropsPage) HelpLines(w int) []string {
	return helpText(w,
		"Funnel: every drop counter netlens knows, in the order a received packet "+
			"meets them. History: one cell per sample, newest right, scaled to the "+
			"largest shown (blank: zero). A row stays highlighted 10 s after it "+
			"moved. enter explains a counter: what increments it, causes, its "+
			"settings with their values, traps. v: drop reasons per location (eBPF "+
			"tracer or drop monitor; with the tracer, enter lists a reason's flows "+
			"with owner and conntrack state, enter on a flow shows it in Connections, "+
			"left goes back), then the sockets with most drops. Netfilter: drop = a "+
			"new flow refused, table full; early_drop = an unassured flow evicted to "+
			"make room; insert_failed = lost an insert race (clash); invalid = a "+
			"packet that fits no valid state (e.g. out of window). TABLE FULL: raise "+
			"net.netfilter.nf_conntrack_max (and nf_conntrack_buckets).")
}
