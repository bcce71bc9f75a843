package ui

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// capturePackets is how many of a flow's last packets the Capture tab
// decodes and shows.
const capturePackets = 20

// captureInfoLines are the lines above the Capture tab's table: totals
// and rates, what was lost, the per-protocol breakdown.
const captureInfoLines = 3

// Flow table columns.
const (
	cfProto = iota
	cfA
	cfB
	cfPackets
	cfBytes
	cfPPS
	cfBPS
)

// Host table columns.
const (
	chAddr = iota
	chSent
	chRecv
	chPackets
	chPPS
	chBPS
)

// capturePage is the Capture tab: the capture's rates and totals, what it
// lost (ring drops, decode errors: never hidden), its own CPU cost, the
// per-protocol breakdown, and the top flows or (v) top hosts by bytes.
// enter on a flow shows its last packets decoded layer by layer
// (CaptureControl.FlowPackets); w writes the stored packets, or
// the open flow's, to a pcapng file. Not safe for concurrent use.
type capturePage struct {
	Common
	flows *captureFlows
	hosts *captureHosts
	ctl   CaptureControl    // nil: no capture runs here
	run   CaptureRunControl // nil: c is off
	form  *captureForm      // the start form, when open
	busy  bool              // a start or stop is under way
	dir   string            // where w writes
	now   func() time.Time
	deps  []string

	snap      model.Snapshot
	showHosts bool

	// The packets view of one flow.
	open    bool
	flow    model.CaptureFlowKey
	pkts    []model.CapturedPacket
	pktCur  int
	loading bool

	msg    string
	msgErr bool
	filter string
}

func newCapturePage(c Common, deps []string, ctl CaptureControl, run CaptureRunControl, dir string, now func() time.Time) *capturePage {
	p := &capturePage{Common: c, ctl: ctl, run: run, dir: dir, now: now, deps: deps}
	p.flows = newCaptureFlows(c, deps)
	p.hosts = newCaptureHosts(c, deps)
	return p
}

// Title implements page.
func (p *capturePage) Title() string { return "Capture" }

// Init implements page.
func (p *capturePage) Init() tea.Cmd { return nil }

func (p *capturePage) cur() interface {
	page
	SetSize(w, h int)
} {
	if p.showHosts {
		return p.hosts
	}
	return p.flows
}

// SetSize implements page.
func (p *capturePage) SetSize(w, h int) {
	p.Common.SetSize(w, h)
	th := max(h-captureInfoLines-1, 1)
	p.flows.SetSize(w, th)
	p.hosts.SetSize(w, th)
}

// SetSnapshot implements page.
func (p *capturePage) SetSnapshot(s model.Snapshot) {
	p.snap = s
	p.flows.SetSnapshot(s)
	p.hosts.SetSnapshot(s)
}

// Sync implements page.
func (p *capturePage) Sync() { p.cur().Sync() }

// SetFilter implements page.
func (p *capturePage) SetFilter(f string) {
	p.filter = f
	p.flows.SetFilter(f)
	p.hosts.SetFilter(f)
}

// Filter implements page.
func (p *capturePage) Filter() string { return p.filter }

// CapturesKeys reports whether the packets view or the start form is
// open: it takes every key (esc closes either).
func (p *capturePage) CapturesKeys() bool { return p.open || p.form != nil }

// packetsMsg is a flow's last packets, decoded.
type packetsMsg struct {
	flow model.CaptureFlowKey
	pkts []model.CapturedPacket
}

// pcapngMsg is the result of writing a pcapng file.
type pcapngMsg struct {
	path string
	n    int
	flow *model.CaptureFlowKey
	err  error
}

// captureIfacesMsg is the links the start form offers.
type captureIfacesMsg struct {
	names []string
	err   error
}

// captureStartedMsg is the result of starting a capture.
type captureStartedMsg struct {
	req model.CaptureRequest
	err error
}

// captureStoppedMsg is the result of stopping it.
type captureStoppedMsg struct{ err error }

func (packetsMsg) captureMsg()        {}
func (pcapngMsg) captureMsg()         {}
func (captureIfacesMsg) captureMsg()  {}
func (captureStartedMsg) captureMsg() {}
func (captureStoppedMsg) captureMsg() {}

func captureIfacesCmd(run CaptureRunControl) tea.Cmd {
	return func() tea.Msg {
		names, err := run.Interfaces()
		return captureIfacesMsg{names: names, err: err}
	}
}

func captureStartCmd(run CaptureRunControl, req model.CaptureRequest) tea.Cmd {
	return func() tea.Msg { return captureStartedMsg{req: req, err: run.Start(req)} }
}

func captureStopCmd(run CaptureRunControl) tea.Cmd {
	return func() tea.Msg { return captureStoppedMsg{err: run.Stop()} }
}

// describeCapture is a request in words: "on veth0, filter "udp port
// 53", until 20 packets".
func describeCapture(r model.CaptureRequest) string {
	s := "on " + r.Interface
	if r.Filter != "" {
		s += ", filter " + strconv.Quote(r.Filter)
	}
	if r.Count > 0 {
		s += ", until " + itoa(r.Count) + " packets"
	}
	if r.Duration > 0 {
		s += ", for " + fmtDuration(r.Duration)
	}
	return s
}

// captureMsg is a result for the Capture tab, delivered whichever tab is
// shown.
type captureMsg interface{ captureMsg() }

// flowPacketsCmd decodes the flow's last packets off the UI goroutine.
func flowPacketsCmd(ctl CaptureControl, flow model.CaptureFlowKey) tea.Cmd {
	return func() tea.Msg {
		return packetsMsg{flow: flow, pkts: ctl.FlowPackets(flow, capturePackets)}
	}
}

// writePcapngCmd writes the stored packets (the flow's when flow is not
// nil) to path off the UI goroutine.
func writePcapngCmd(ctl CaptureControl, path string, flow *model.CaptureFlowKey) tea.Cmd {
	return func() tea.Msg {
		n, err := ctl.WritePcapng(path, flow)
		return pcapngMsg{path: path, n: n, flow: flow, err: err}
	}
}

// pcapngPath is where w writes: DIR/netlens-HOST-20261121T050010Z.pcapng.
func (p *capturePage) pcapngPath() string {
	host := strings.Map(func(r rune) rune {
		if r == '/' || r < 0x21 || r > 0x7e {
			return '_'
		}
		return r
	}, p.snap.Host)
	name := "netlens-" + host + "-" + p.now().UTC().Format("20060102T150405Z") + ".pcapng"
	if p.dir == "" || p.dir == "." {
		return name
	}
	return strings.TrimRight(p.dir, "/") + "/" + name
}

// Update implements page.
func (p *capturePage) Update(msg tea.Msg) (page, tea.Cmd) {
	k := p.Keys
	switch msg := msg.(type) {
	case packetsMsg:
		if p.open && msg.flow == p.flow {
			p.pkts, p.loading = msg.pkts, false
			p.pktCur = max(len(p.pkts)-1, 0)
		}
		return p, nil
	case pcapngMsg:
		what := "the last captured packets"
		if msg.flow != nil {
			what = "the packets of " + msg.flow.String()
		}
		if msg.err != nil {
			p.setMsg("pcapng write failed: "+oneLine(msg.err.Error()), true)
		} else {
			p.setMsg("wrote "+msg.path+": "+itoa(msg.n)+" packets, "+what, false)
		}
		return p, nil
	case captureIfacesMsg:
		if p.form != nil {
			p.form.setIfaces(msg.names, msg.err)
		}
		return p, nil
	case captureStartedMsg:
		p.busy = false
		if msg.err != nil {
			p.setMsg("capture not started: "+oneLine(msg.err.Error()), true)
		} else {
			p.setMsg("capture started "+describeCapture(msg.req)+"; c stops it, w writes pcapng", false)
		}
		return p, nil
	case captureStoppedMsg:
		p.busy = false
		if msg.err != nil {
			p.setMsg("stop: "+oneLine(msg.err.Error()), true)
		} else {
			p.setMsg("capture stopped: w writes its packets to pcapng", false)
		}
		return p, nil
	case tea.PasteMsg:
		if p.form != nil {
			p.form.paste(msg.Content)
		}
		return p, nil
	case tea.KeyPressMsg:
		if p.form != nil {
			return p, p.formKey(msg)
		}
		if key.Matches(msg, k.CaptureStart) && !p.open {
			return p, p.startStop()
		}
		// The capture reaches the UI once it has published statistics:
		// until then (or when it could not start) there is nothing to
		// show or write.
		ctl := p.ctl
		if p.snap.Capture.Source == "" {
			ctl = nil
		}
		switch {
		case key.Matches(msg, k.CaptureWrite):
			if ctl == nil {
				p.setMsg("nothing to write: the capture is not running here", true)
				return p, nil
			}
			var flow *model.CaptureFlowKey
			if p.open {
				f := p.flow
				flow = &f
			}
			p.setMsg("writing pcapng...", false)
			return p, writePcapngCmd(ctl, p.pcapngPath(), flow)
		case p.open && key.Matches(msg, k.Details, k.Escape, k.Quit):
			p.open, p.pkts = false, nil
			return p, nil
		case p.open && key.Matches(msg, k.Up):
			p.pktCur = max(p.pktCur-1, 0)
			return p, nil
		case p.open && key.Matches(msg, k.Down):
			p.pktCur = min(p.pktCur+1, max(len(p.pkts)-1, 0))
			return p, nil
		case p.open:
			return p, nil
		case key.Matches(msg, k.View):
			p.showHosts = !p.showHosts
			p.cur().Sync()
			return p, nil
		case !p.showHosts && key.Matches(msg, k.Details):
			f, ok := p.flows.selectedFlow()
			if !ok {
				return p, nil
			}
			if ctl == nil {
				p.setMsg("the packets are not available: the capture is not running here", true)
				return p, nil
			}
			p.open, p.flow, p.pkts, p.pktCur, p.loading = true, f, nil, 0, true
			return p, flowPacketsCmd(ctl, f)
		}
		p.cur().Update(msg)
	case tea.MouseClickMsg:
		msg.Y -= captureInfoLines
		p.cur().Update(msg)
	case tea.MouseMsg:
		p.cur().Update(msg)
	}
	return p, nil
}

func (p *capturePage) setMsg(s string, isErr bool) { p.msg, p.msgErr = s, isErr }

// startStop is c: it stops the capture started here when it runs, else
// opens the start form (and lists the links).
func (p *capturePage) startStop() tea.Cmd {
	switch {
	case p.run == nil:
		p.setMsg("c is off: netlens was started with --capture or --pcap (that capture runs until it quits), or shows a file", true)
		return nil
	case p.busy:
		return nil
	case p.run.Running():
		p.busy = true
		p.setMsg("stopping the capture...", false)
		return captureStopCmd(p.run)
	}
	p.form = newCaptureForm(p.run.CheckFilter)
	return captureIfacesCmd(p.run)
}

// formKey handles a key while the start form is open: enter starts a
// valid capture, esc cancels.
func (p *capturePage) formKey(msg tea.KeyPressMsg) tea.Cmd {
	f := p.form
	switch msg.String() {
	case "esc":
		p.form = nil
		p.setMsg("capture not started", false)
		return nil
	case "enter":
		req, _ := f.request()
		if !f.valid() {
			f.tried = true
			return nil
		}
		p.form, p.busy = nil, true
		p.setMsg("starting a capture "+describeCapture(req)+"...", false)
		return captureStartCmd(p.run, req)
	}
	f.key(msg)
	return nil
}

// off reports whether no capture runs: the collector has never reported.
func (p *capturePage) off() bool {
	_, known := p.snap.Status(p.deps[0])
	return !known && p.snap.Capture.At.IsZero()
}

// View implements page.
func (p *capturePage) View() string {
	s, w := p.Styles, p.Width
	if p.form != nil {
		return p.form.view(s, w, p.Height-1) + "\n" + p.msgLine()
	}
	if p.off() {
		lines := []string{"",
			s.PaneTitle.Render(fitString("  Capture is off", w)),
		}
		text := "Packet capture is opt-in (it costs CPU). Press c to start one here: pick the interface (or any), type a filter (tcpdump syntax), and set a packet or time limit; it needs CAP_NET_RAW. Or start netlens with --capture IFACE (--capture-filter EXPR), or with --pcap FILE to replay a pcap or pcapng file into this tab."
		if p.run == nil {
			text = "Packet capture is opt-in (it costs CPU). Start netlens with --capture IFACE to capture live on an interface (\"any\" for all; needs CAP_NET_RAW), or with --pcap FILE to replay a pcap or pcapng file into this tab. --capture-filter EXPR (tcpdump syntax) narrows what is captured."
		}
		for _, l := range wrap(text, w-4) {
			lines = append(lines, s.PaneText.Render("    "+l))
		}
		lines = append(lines, "", p.msgLine())
		return fixHeight(lines, p.Height)
	}
	cs := &p.snap.Capture
	if cs.At.IsZero() {
		ps := problems(p.snap, p.deps)
		return paneMessage(s, w, p.Height, ps, p.Offline)
	}
	var b strings.Builder
	b.WriteString(p.infoView())
	b.WriteByte('\n')
	if p.open {
		b.WriteString(p.packetsView(p.Height - captureInfoLines - 1))
	} else {
		b.WriteString(p.cur().View())
	}
	b.WriteByte('\n')
	b.WriteString(p.msgLine())
	return b.String()
}

// infoView is the three lines above the table.
func (p *capturePage) infoView() string {
	s, w := p.Styles, p.Width
	cs := &p.snap.Capture
	src := "live on " + sanitize(cs.Interface)
	if cs.Source == "file" {
		src = "file " + sanitize(cs.Interface)
	}
	if cs.Filter != "" {
		src += " filter " + strconv.Quote(sanitize(cs.Filter))
	}
	state := "running"
	if !cs.Running {
		state = "stopped"
		if cs.Source == "file" {
			state = "file read to its end"
		}
	}
	rates := fmtRate(cs.PacketsPerSec) + " pkt/s  " + fmtBits(cs.BitsPerSec) + "  "
	if !cs.Running {
		rates = "" // a stopped capture's last interval is not now
	}
	first := " Capture " + src + "  " + state + "  " + rates +
		"total " + fmtCount(cs.Packets, 5) + " pkts " + fmtCount(cs.Bytes, 5) + "B"
	lost := " lost: ring drops " + fmtCount(cs.RingDrops, 9) + "  freezes " + fmtCount(cs.RingFreezes, 6) +
		"  decode errors " + fmtCount(cs.DecodeErrors, 9) + "  truncated " + fmtCount(cs.Truncated, 9)
	if cs.NonEthernet > 0 {
		lost += "  non-ethernet " + fmtCount(cs.NonEthernet, 9)
	}
	lost += "  | cpu " + strconv.FormatFloat(cs.CPUPercent, 'f', 1, 64) + "% (" + strconv.FormatFloat(cs.CPUSeconds, 'f', 1, 64) + " s)"
	lostSt := s.Dim
	if cs.RingDrops > 0 || cs.DecodeErrors > 0 {
		lostSt = s.Warn
	}
	var pb strings.Builder
	byProto := " pkt/s by proto:"
	if !cs.Running {
		byProto = " packets by proto:"
	}
	pb.WriteString(byProto)
	for _, pr := range cs.Protocols {
		if pr.Packets == 0 {
			continue
		}
		if cs.Running {
			pb.WriteString(" " + pr.Name + " " + fmtRate(pr.PacketsPerSec))
		} else {
			pb.WriteString(" " + pr.Name + " " + fmtCount(pr.Packets, 7))
		}
	}
	if pb.Len() == len(byProto) {
		pb.WriteString(" nothing captured yet")
	}
	return s.Summary.Render(fitString(first, w)) + "\n" + lostSt.Render(fitString(lost, w)) + "\n" + s.Dim.Render(fitString(pb.String(), w))
}

// packetsView is the open flow's last packets, one line each, and the
// layers of the selected one.
func (p *capturePage) packetsView(h int) string {
	s, w := p.Styles, p.Width
	lines := []string{s.Summary.Render(fitString(" "+p.flow.String()+": last packets, oldest first  (up/down select, enter/esc back, w writes them)", w))}
	switch {
	case p.loading:
		lines = append(lines, s.Dim.Render(fitString("  decoding...", w)))
	case len(p.pkts) == 0:
		lines = append(lines, s.Dim.Render(fitString("  none of its packets is among the "+itoa(p.snap.Capture.StorePackets)+" the capture keeps", w)))
	}
	listH := min(len(p.pkts), max(h/2-1, 3))
	top := max(min(p.pktCur-listH/2, len(p.pkts)-listH), 0)
	for i := top; i < top+listH && i < len(p.pkts); i++ {
		pk := &p.pkts[i]
		text := "  " + pk.At.UTC().Format("15:04:05.000000") + " " + sanitize(pk.Summary)
		if i == p.pktCur {
			lines = append(lines, s.Selected.Render(fitString(text, w)))
		} else {
			lines = append(lines, fitString(text, w))
		}
	}
	if p.pktCur < len(p.pkts) {
		pk := &p.pkts[p.pktCur]
		lines = append(lines, s.Dim.Render(repeat('-', w)))
		lines = append(lines, fitString(" packet "+itoa(p.pktCur+1)+" of "+itoa(len(p.pkts))+": "+itoa(pk.Length)+" bytes on the wire, "+itoa(pk.CaptureLength)+" captured", w))
		lines = append(lines, layerLines(s, pk, w)...)
	}
	return fixHeight(lines, h)
}

// layerLines are a decoded packet's layers, one or more lines each
// ("IPv4  version=4  ihl=5 ..."), and why decoding stopped, if it did.
func layerLines(s *Styles, pk *model.CapturedPacket, w int) []string {
	var lines []string
	for _, l := range pk.Layers {
		var fb strings.Builder
		for i, f := range l.Fields {
			if i > 0 {
				fb.WriteString("  ")
			}
			fb.WriteString(sanitize(f.Name) + "=" + sanitize(f.Value))
		}
		for j, t := range wrap(fb.String(), max(w-14, 10)) {
			head := "            "
			if j == 0 {
				head = fitCells(" "+sanitize(l.Name), len(l.Name)+1, 12, false, false)
			}
			lines = append(lines, fitString(head+"  "+t, w))
		}
	}
	if pk.Error != "" {
		lines = append(lines, s.Warn.Render(fitString(" decoding stopped: "+sanitize(pk.Error), w)))
	}
	return lines
}

func (p *capturePage) msgLine() string { return resultLine(p.Styles, p.msg, p.msgErr, p.Width) }

// ShortHelp implements page.
func (p *capturePage) ShortHelp() []key.Binding {
	if p.run != nil {
		return []key.Binding{p.Keys.CaptureStart, p.Keys.CaptureWrite, p.Keys.Details, p.Keys.View}
	}
	return []key.Binding{p.Keys.CaptureWrite, p.Keys.Details, p.Keys.View}
}

// FullHelp implements page.
func (p *capturePage) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.Keys.View, p.Keys.Details, p.Keys.CaptureWrite, p.Keys.CaptureStart}}
}

// fmtBits formats bits per second: "0 bit/s", "12.5 kbit/s", "3.4 Mbit/s".
func fmtBits(r float64) string {
	if r < 1000 {
		return strconv.FormatFloat(r, 'f', 0, 64) + " bit/s"
	}
	for _, suf := range []string{"k", "M", "G", "T"} {
		r /= 1000
		if r < 1000 {
			return strconv.FormatFloat(r, 'f', 1, 64) + " " + suf + "bit/s"
		}
	}
	return strconv.FormatFloat(r, 'e', 1, 64) + " bit/s"
}

// captureFlows is the Capture tab's top flows table.
type captureFlows struct {
	listBase[model.CaptureFlowKey]
}

func newCaptureFlows(c Common, deps []string) *captureFlows {
	p := &captureFlows{}
	p.Common, p.deps = c, deps
	cols := []column{
		cfProto:   {title: "Proto", width: 6},
		cfA:       {title: "A", width: 15, flex: 1, keepTail: true},
		cfB:       {title: "B", width: 15, flex: 1, keepTail: true},
		cfPackets: {title: "Packets", width: 7, right: true},
		cfBytes:   {title: "Bytes", width: 7, right: true},
		cfPPS:     {title: "Pkt/s", width: 6, right: true, drop: 1},
		cfBPS:     {title: "Bit/s", width: 7, right: true},
	}
	fs := func() []model.CaptureFlow { return p.snap.Capture.TopFlows }
	sorts := []sortSpec{
		{name: "bytes", col: cfBytes, desc: true, cmp: func(a, b int) int { f := fs(); return cmp.Compare(f[a].Bytes(), f[b].Bytes()) }},
		{name: "packets", col: cfPackets, desc: true, cmp: func(a, b int) int { f := fs(); return cmp.Compare(f[a].Packets(), f[b].Packets()) }},
		{name: "bit/s", col: cfBPS, desc: true, cmp: func(a, b int) int { f := fs(); return cmp.Compare(f[a].BitsPerSec, f[b].BitsPerSec) }},
	}
	p.init(cols, sorts, 0)
	return p
}

func (p *captureFlows) Title() string                { return "Capture" }
func (p *captureFlows) SetSnapshot(s model.Snapshot) { p.setSnapshot(p, s) }
func (p *captureFlows) Sync()                        { p.fresh(); p.sync(p) }
func (p *captureFlows) sameRows(a, b model.Snapshot) bool {
	return sameSlice(a.Capture.TopFlows, b.Capture.TopFlows)
}
func (p *captureFlows) count() int                     { return len(p.snap.Capture.TopFlows) }
func (p *captureFlows) include(int) bool               { return true }
func (p *captureFlows) key(i int) model.CaptureFlowKey { return p.snap.Capture.TopFlows[i].Key }
func (p *captureFlows) Update(msg tea.Msg) (page, tea.Cmd) {
	p.update(msg)
	return p, nil
}

func (p *captureFlows) appendHaystack(b []byte, i int) []byte {
	for c := cfProto; c <= cfBPS; c++ {
		b = append(b, p.cell(i, c)...)
		b = append(b, ' ')
	}
	return b
}

func (p *captureFlows) selectedFlow() (model.CaptureFlowKey, bool) {
	i := p.selected()
	if i < 0 {
		return model.CaptureFlowKey{}, false
	}
	return p.snap.Capture.TopFlows[i].Key, true
}

func (p *captureFlows) cell(i, c int) string {
	f := &p.snap.Capture.TopFlows[i]
	switch c {
	case cfProto:
		return f.Key.Proto.String()
	case cfA:
		return flowAddr(f.Key.A)
	case cfB:
		return flowAddr(f.Key.B)
	case cfPackets:
		return fmtCount(f.Packets(), 7)
	case cfBytes:
		return fmtCount(f.Bytes(), 5)
	case cfPPS:
		return captureRate(&p.snap.Capture, f.PacketsPerSec)
	case cfBPS:
		return captureRate(&p.snap.Capture, f.BitsPerSec)
	}
	return ""
}

func (p *captureFlows) View() string {
	cs := &p.snap.Capture
	n := len(cs.TopFlows)
	left := " top " + itoa(n) + " flows by bytes (" + itoa(cs.FlowsTracked) + " tracked"
	if cs.FlowsEvicted > 0 {
		left += ", " + strconv.FormatUint(cs.FlowsEvicted, 10) + " evicted"
	}
	left += ")  enter: packets  w: pcapng  v: hosts"
	head := summaryLine(p.Styles, left, p.rightLabel(n), p.Width)
	return p.render(head, n, p.emptyText("flows", "no flow captured yet"), func(i, c int) string { return p.cell(p.idx[i], c) }, p.rowKind, p.detail)
}

func (p *captureFlows) rowKind(i int) rowKind {
	f := &p.snap.Capture.TopFlows[p.idx[i]]
	return capturedKind(p.Changed, p.Changed != nil && p.Changed.CaptureFlows[f.Key], nowRate(&p.snap.Capture, f.PacketsPerSec))
}

// captureRate is a rate cell of the capture's flows and hosts: "-" once
// it stopped (its last interval's rates are not the traffic now).
func captureRate(cs *model.CaptureStats, v float64) string {
	if !cs.Running {
		return "-"
	}
	return fmtRate(v)
}

// nowRate is a rate of the capture while it runs, 0 once it stopped.
func nowRate(cs *model.CaptureStats, v float64) float64 {
	if !cs.Running {
		return 0
	}
	return v
}

// capturedKind is the row kind of a captured flow or host: hot when it
// is moving (perSec) at the time of the snapshot, or in a diff
// (changed != nil) when it moved between the two (moved).
func capturedKind(changed *Changed, moved bool, perSec float64) rowKind {
	if moved || changed == nil && perSec > 0 {
		return rowHot
	}
	return rowPlain
}

func (p *captureFlows) detail(i int) []string {
	f := &p.snap.Capture.TopFlows[p.idx[i]]
	return []string{
		f.Key.String(),
		"A->B " + strconv.FormatUint(f.PacketsAToB, 10) + " pkts " + strconv.FormatUint(f.BytesAToB, 10) + " bytes; B->A " +
			strconv.FormatUint(f.PacketsBToA, 10) + " pkts " + strconv.FormatUint(f.BytesBToA, 10) + " bytes",
		"first seen " + f.FirstSeen.UTC().Format("15:04:05") + " UTC, last " + f.LastSeen.UTC().Format("15:04:05") + " UTC",
	}
}

// captureHosts is the Capture tab's top hosts table.
type captureHosts struct {
	listBase[string]
}

func newCaptureHosts(c Common, deps []string) *captureHosts {
	p := &captureHosts{}
	p.Common, p.deps = c, deps
	cols := []column{
		chAddr:    {title: "Address", width: 15, flex: 1, keepTail: true},
		chSent:    {title: "Sent", width: 7, right: true},
		chRecv:    {title: "Received", width: 8, right: true},
		chPackets: {title: "Packets", width: 7, right: true},
		chPPS:     {title: "Pkt/s", width: 6, right: true},
		chBPS:     {title: "Bit/s", width: 7, right: true},
	}
	hs := func() []model.CaptureHost { return p.snap.Capture.TopHosts }
	bytesOf := func(h model.CaptureHost) uint64 { return h.BytesSent + h.BytesRecv }
	sorts := []sortSpec{
		{name: "bytes", col: chSent, desc: true, cmp: func(a, b int) int { h := hs(); return cmp.Compare(bytesOf(h[a]), bytesOf(h[b])) }},
		{name: "bit/s", col: chBPS, desc: true, cmp: func(a, b int) int { h := hs(); return cmp.Compare(h[a].BitsPerSec, h[b].BitsPerSec) }},
	}
	p.init(cols, sorts, 0)
	return p
}

func (p *captureHosts) Title() string                { return "Capture" }
func (p *captureHosts) SetSnapshot(s model.Snapshot) { p.setSnapshot(p, s) }
func (p *captureHosts) Sync()                        { p.fresh(); p.sync(p) }
func (p *captureHosts) sameRows(a, b model.Snapshot) bool {
	return sameSlice(a.Capture.TopHosts, b.Capture.TopHosts)
}
func (p *captureHosts) count() int       { return len(p.snap.Capture.TopHosts) }
func (p *captureHosts) include(int) bool { return true }
func (p *captureHosts) key(i int) string { return p.snap.Capture.TopHosts[i].Addr.String() }
func (p *captureHosts) Update(msg tea.Msg) (page, tea.Cmd) {
	p.update(msg)
	return p, nil
}

func (p *captureHosts) appendHaystack(b []byte, i int) []byte {
	for c := chAddr; c <= chBPS; c++ {
		b = append(b, p.cell(i, c)...)
		b = append(b, ' ')
	}
	return b
}

func (p *captureHosts) cell(i, c int) string {
	h := &p.snap.Capture.TopHosts[i]
	switch c {
	case chAddr:
		return h.Addr.String()
	case chSent:
		return fmtCount(h.BytesSent, 5)
	case chRecv:
		return fmtCount(h.BytesRecv, 5)
	case chPackets:
		return fmtCount(h.PacketsSent+h.PacketsRecv, 7)
	case chPPS:
		return captureRate(&p.snap.Capture, h.PacketsPerSec)
	case chBPS:
		return captureRate(&p.snap.Capture, h.BitsPerSec)
	}
	return ""
}

func (p *captureHosts) View() string {
	cs := &p.snap.Capture
	n := len(cs.TopHosts)
	left := " top " + itoa(n) + " hosts by bytes, sent and received (" + itoa(cs.HostsTracked) + " tracked"
	if cs.HostsEvicted > 0 {
		left += ", " + strconv.FormatUint(cs.HostsEvicted, 10) + " evicted"
	}
	left += ")  v: flows"
	head := summaryLine(p.Styles, left, p.rightLabel(n), p.Width)
	return p.render(head, n, p.emptyText("hosts", "no host seen yet"), func(i, c int) string { return p.cell(p.idx[i], c) }, p.rowKind, p.detail)
}

func (p *captureHosts) rowKind(i int) rowKind {
	h := &p.snap.Capture.TopHosts[p.idx[i]]
	return capturedKind(p.Changed, p.Changed != nil && p.Changed.CaptureHosts[h.Addr], nowRate(&p.snap.Capture, h.PacketsPerSec))
}

func (p *captureHosts) detail(i int) []string {
	h := &p.snap.Capture.TopHosts[p.idx[i]]
	return []string{
		h.Addr.String(),
		"sent " + strconv.FormatUint(h.PacketsSent, 10) + " pkts " + strconv.FormatUint(h.BytesSent, 10) + " bytes; received " +
			strconv.FormatUint(h.PacketsRecv, 10) + " pkts " + strconv.FormatUint(h.BytesRecv, 10) + " bytes",
		"last seen " + h.LastSeen.UTC().Format("15:04:05") + " UTC",
	}
}

// Background implements page: the results of the tab's commands,
// whichever tab is shown.
func (p *capturePage) Background(msg tea.Msg, _ func()) (tea.Cmd, bool) {
	if _, ok := msg.(captureMsg); !ok {
		return nil, false
	}
	_, cmd := p.Update(msg)
	return cmd, true
}

// HelpLines implements page.
func (p *capturePage) HelpLines(width int) []string {
	return helpText(width,
		"Capture: c starts a capture (interface, filter, limit) and stops it; "+
			"enter on a flow shows its last packets layer by layer; w writes the "+
			"stored packets (or the open flow's) to a pcapng file in --snapshot-dir. "+
			"Ring drops are packets the kernel lost before netlens saw them.")
}
