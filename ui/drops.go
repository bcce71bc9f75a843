package ui

import (
	"cmp"
	"slices"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/model"
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
)

// dropsPage is the Drops tab: every counter, grouped by layer in the order
// a received packet meets them, with its delta over the last interval,
// since netlens started, and its rate. By default only counters that moved
// since netlens started are shown. Not safe for concurrent use.
type dropsPage struct {
	listBase[model.CounterKey]
	all   bool
	moved int // counters that moved since start

	// The netfilter section above the counters: the conntrack table's
	// health, of the collector ctName.
	ctName string
	ct     ctHealth
}

func newDropsPage(c Common, deps []string, ctName string) *dropsPage {
	p := &dropsPage{ctName: ctName}
	p.Common, p.deps = c, deps
	cols := []column{
		dropLayer:    {title: "Layer", width: 9},
		dropSource:   {title: "Source", width: 12, flex: 3, keepTail: true, drop: 1},
		dropGroup:    {title: "Group", width: 7},
		dropInstance: {title: "Inst", width: 6, flex: 1},
		dropName:     {title: "Name", width: 16, flex: 3},
		dropValue:    {title: "Value", width: 11, right: true},
		dropDelta:    {title: "Delta", width: 7, right: true},
		dropTotal:    {title: "Total", width: 9, right: true},
		dropRate:     {title: "Rate/s", width: 8, right: true},
	}
	cs := func() []model.Counter { return p.snap.Counters }
	sorts := []sortSpec{
		{name: "layer", col: dropLayer, cmp: func(a, b int) int { c := cs(); return cmp.Compare(c[a].Layer.Rank(), c[b].Layer.Rank()) }},
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
	return p
}

// movedSinceStart reports whether a counter changed since netlens started.
func movedSinceStart(c *model.Counter) bool {
	if c.Kind == model.KindGauge {
		return !c.LastChange.IsZero()
	}
	return c.Total > 0 || c.Reset
}

// Title implements page.
func (p *dropsPage) Title() string { return "Drops" }

// SetSnapshot implements page.
func (p *dropsPage) SetSnapshot(s model.Snapshot) { p.setSnapshot(p, s) }

// Sync implements page.
func (p *dropsPage) Sync() {
	if p.fresh() {
		p.ct = conntrackHealth(&p.snap, p.ctName)
		// The netfilter section says why conntrack is down, and how to
		// fix it: the warning over the counters need not say it again.
		p.problems = slices.DeleteFunc(p.problems, func(pr problem) bool { return pr.status.Name == p.ctName })
		p.moved = 0
		for i := range p.snap.Counters {
			if movedSinceStart(&p.snap.Counters[i]) {
				p.moved++
			}
		}
	}
	p.sync(p)
}

// Update implements page.
func (p *dropsPage) Update(msg tea.Msg) (page, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if key.Matches(msg, p.Keys.ShowAll) {
			p.all = !p.all
			p.invalidate()
			p.Sync()
			return p, nil
		}
		p.handleKey(msg)
	case tea.MouseClickMsg:
		msg.Y -= healthLines
		p.handleMouse(msg)
	case tea.MouseMsg:
		p.handleMouse(msg)
	}
	return p, nil
}

// SetSize implements page: the counters table gets what the netfilter
// section leaves.
func (p *dropsPage) SetSize(w, h int) {
	p.listBase.SetSize(w, max(h-healthLines, 1))
}

// ShortHelp implements page.
func (p *dropsPage) ShortHelp() []key.Binding {
	return []key.Binding{p.Keys.ShowAll, p.Keys.Details}
}

// FullHelp implements page.
func (p *dropsPage) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.Keys.ShowAll, p.Keys.Details}}
}

func (p *dropsPage) sameRows(a, b model.Snapshot) bool { return sameSlice(a.Counters, b.Counters) }
func (p *dropsPage) count() int                        { return len(p.snap.Counters) }
func (p *dropsPage) include(i int) bool {
	return p.all || movedSinceStart(&p.snap.Counters[i])
}
func (p *dropsPage) key(i int) model.CounterKey { return p.snap.Counters[i].Key() }

func (p *dropsPage) appendHaystack(b []byte, i int) []byte {
	for c := dropLayer; c <= dropRate; c++ {
		b = append(b, p.cell(i, c, false)...)
		b = append(b, ' ')
	}
	return b
}

// cell returns the text of column c for counter i. blankLayer leaves the
// layer out (a row below the first of its layer).
func (p *dropsPage) cell(i, c int, blankLayer bool) string {
	x := &p.snap.Counters[i]
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
		return fmtCount(x.Delta, 7)
	case dropTotal:
		if gauge {
			return "gauge"
		}
		return fmtCount(x.Total, 9)
	case dropRate:
		if gauge {
			return ""
		}
		return fmtRate(x.Rate)
	}
	return ""
}

// View implements page.
func (p *dropsPage) View() string {
	s := p.Styles
	n := len(p.snap.Counters)
	left := itoa(p.moved) + " of " + itoa(n) + " counters moved since start, by layer in packet order"
	if p.all {
		left = itoa(n) + " counters (" + itoa(p.moved) + " moved since start), by layer in packet order"
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
	return netfilterSection(s, &p.ct, p.Width) + "\n" + p.render(head, n, empty, func(i, c int) string {
		blank := grouped && c == dropLayer && i > p.tbl.offset &&
			p.snap.Counters[rows[i-1]].Layer == p.snap.Counters[rows[i]].Layer
		return p.cell(rows[i], c, blank)
	}, p.rowKind, p.detail)
}

// detail is the selected counter in full: where it comes from and how it
// moved.
func (p *dropsPage) detail(i int) []string {
	c := &p.snap.Counters[p.idx[i]]
	name := c.Name
	if c.Group != "" {
		name = c.Group + " " + name
	}
	if c.Instance != "" {
		name += " (" + sanitize(c.Instance) + ")"
	}
	first := name + "  layer " + string(c.Layer) + "  from " + c.Source
	val := strconv.FormatUint(c.Value, 10)
	if c.Kind == model.KindGauge {
		return []string{first, "gauge: " + val + " now (it goes up and down; no delta or rate)", lastMoved(c)}
	}
	second := "counter: " + val + "  +" + strconv.FormatUint(c.Delta, 10) + " in the last interval (" + fmtRate(c.Rate) + "/s)  +" +
		strconv.FormatUint(c.Total, 10) + " since netlens started"
	third := lastMoved(c)
	if c.Reset {
		third += "  (went backwards at the last sample: reset or wrapped)"
	}
	return []string{first, second, third}
}

// lastMoved says when a counter last changed, in UTC from the sample
// times (never the wall clock, so that it does not tick on an idle screen).
func lastMoved(c *model.Counter) string {
	if c.LastChange.IsZero() {
		return "has not moved since netlens started"
	}
	return "last moved at " + c.LastChange.UTC().Format("15:04:05") + " UTC"
}

func (p *dropsPage) rowKind(i int) rowKind {
	c := &p.snap.Counters[p.idx[i]]
	if c.Kind != model.KindGauge && c.Delta > 0 {
		return rowHot
	}
	return rowPlain
}
