package ui

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"netlens/model"
)

// App is the root Bubble Tea model of the netlens TUI. Create it with New;
// it is driven by a tea.Program (see Run) and is not safe for concurrent
// use. Close releases its Store subscription.
type App struct {
	store *model.Store
	opts  Options

	styles Styles
	keys   *KeyMap

	pages  []page
	active int

	width, height int

	snap model.Snapshot // on screen
	// lease holds snap's socket list: every page reads the snapshot on
	// screen, and the sockets collector fills a list again once the
	// screen has moved to the next (model.Store.Hold).
	lease *model.Lease
	feed  feed // how the Store's snapshots reach the screen
	// same says that the last Update changed nothing on screen (a Store
	// notification to be applied later): View returns view again. Bubble
	// Tea calls View after every message, and collectors publish several
	// times a second while the screen takes new data once per refresh.
	same    bool
	view    string
	renders int // screens drawn (for tests)

	// ct is the conntrack table's health in snap; while it alarms (table
	// full, new flows dropped) a banner line shows under the header on
	// every tab.
	ct ctHealth

	mode    inputMode // who has the keyboard
	helpTop int       // the first line of the full help shown (it scrolls)
	input   []rune    // the filter being typed

	status    string
	statusErr bool
	// statusExtra is how many lines the status took beyond its own, from
	// the page's bottom, in the last render.
	statusExtra int
	// recReported is set once the status line said why the recorder
	// stopped by itself.
	recReported bool

	picker *nsPicker // the namespace picker's state while mode is inputPicker (netns.go)

	// flowCounters is what Controls.FlowCounters was last told: 0 not
	// yet, 1 not wanted, 2 wanted.
	flowCounters int8

	sub       <-chan struct{}
	unsub     func()
	done      chan struct{}
	closeOnce sync.Once
}

// feed is the state of one concern: how the Store's snapshots reach the
// screen (at most once per refresh interval, not while paused).
type feed struct {
	applied bool      // the snapshot on screen came from the Store
	last    time.Time // when it was taken
	socksAt time.Time // when its socket table was (see newSockets)
	paused  bool      // p: keep it on screen
	pending bool      // the Store changed since, while paused or waiting
	waiting bool      // a refreshMsg is on its way: the interval has not passed
}

// inputMode says who has the keyboard: the active page (which may itself
// hold a form or a question open: page.CapturesKeys), the search input
// (/), the full help (?), or the namespace picker (N).
type inputMode int

const (
	inputNormal inputMode = iota
	inputSearch
	inputHelp
	inputPicker
)

// New returns the TUI model reading store. It subscribes to the Store at
// once; call Close when the program has ended (Run does).
func New(store *model.Store, opts Options) *App {
	opts = opts.withDefaults()
	a := &App{
		store: store,
		opts:  opts,
		keys:  DefaultKeyMap(),
		done:  make(chan struct{}),
	}
	a.styles = *NewStyles(colorprofile.TrueColor)
	c := Common{Styles: &a.styles, Keys: a.keys}
	ed := &sysctlEditor{ctl: opts.Controls.Sysctl, now: opts.Now}
	ed.status = func(s string, isErr bool) { a.setStatus(s, isErr) }
	dp := newDropsPage(c, opts.Deps.Drops, ctCollector(opts.Deps), opts.Glyphs)
	dp.ed = ed
	dp.sample = opts.Controls.DropSample
	dp.tr.source, dp.rs.source = opts.DropSource, opts.DropSource
	if opts.Offline != nil {
		c.Changed, c.Offline = opts.Offline.Changed, true
	}
	a.pages = []page{
		newConnsPage(c, opts.Deps.Connections, opts.Deps.Flows, opts.Glyphs, opts.Controls.TCPInfo),
		dp,
		newSysctlPage(c, opts.Deps.Sysctl, ed),
		newFiltersPage(c, opts.Deps.Filters, opts.Controls.Filters, opts.Now).withPacketLog(opts.Controls.PacketLog),
		newCapturePage(c, opts.Deps.Capture, opts.Controls.Capture, opts.Controls.CaptureRun, opts.CaptureDir, opts.Now),
		newIfacesPage(c, opts.Deps.Interfaces, opts.Glyphs),
		newIPsecPage(c, opts.Deps.IPsec),
	}
	// The number keys: as many as there are tabs.
	nums := make([]string, len(a.pages))
	for i := range nums {
		nums[i] = strconv.Itoa(i + 1)
	}
	a.keys.Tab.SetKeys(nums...)
	a.keys.Tab.SetHelp("1-"+nums[len(nums)-1], "go to tab")
	a.sub, a.unsub = store.Subscribe()
	a.apply()
	if opts.Offline != nil && opts.Offline.Summary != "" {
		a.setStatus(opts.Offline.Summary, false)
	}
	if opts.Warning != "" {
		a.setStatus(opts.Warning, true)
	}
	return a
}

// Close ends the Store subscription and the command waiting on it. It is
// safe to call more than once.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		a.unsub()
		close(a.done)
		a.lease.Release()
	})
}

// renderFPS is how often Bubble Tea's renderer wakes to write what
// changed. Its ticker runs whether or not anything did, and each wake-up
// of an otherwise idle process costs (figures in docs/performance.md,
// "Waking up"); 15 keeps a key's echo under what a typist notices.
const renderFPS = 15

// Run runs the TUI on the terminal until the user quits, ctx is done, or
// the process gets SIGINT, SIGTERM or SIGHUP (the terminal is restored in
// every case; none of these is an error). It uses the alternate screen,
// reads keys from the controlling terminal even when stdin is redirected,
// and detects the colour profile from the terminal and environment
// (NO_COLOR with any non-empty value turns colours off), and, unless
// opts.Glyphs says, whether the sparklines may use block glyphs
// (DetectGlyphs).
func Run(ctx context.Context, store *model.Store, opts Options) error {
	if opts.Glyphs == GlyphsAuto {
		opts.Glyphs = detectGlyphs()
	}
	a := New(store, opts)
	defer a.Close()
	// Signals end the program through its context. Bubble Tea's own
	// handler is off: it can block forever sending QuitMsg to an event
	// loop that a cancelled context has already stopped.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithoutSignalHandler(), tea.WithFPS(renderFPS)}
	if os.Getenv("NO_COLOR") != "" {
		p := colorprofile.Detect(os.Stdout, os.Environ())
		popts = append(popts, tea.WithColorProfile(min(p, colorprofile.ASCII)))
	}
	_, err := tea.NewProgram(a, popts...).Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return nil
	}
	return err
}

// Init implements tea.Model.
func (a *App) Init() tea.Cmd {
	cmds := []tea.Cmd{waitStoreCmd(a.sub, a.done)}
	for _, p := range a.pages {
		cmds = append(cmds, p.Init())
	}
	return tea.Batch(cmds...)
}

// apply shows the Store's latest snapshot, if it is new.
func (a *App) apply() {
	a.feed.pending = false
	snap, lease := a.store.Hold()
	a.feed.last = a.opts.Now()
	if a.feed.applied && snap.Seq == a.snap.Seq {
		lease.Release()
		return
	}
	held := a.lease
	defer held.Release() // once every page has the new snapshot
	if snap.SocketsSeq != a.snap.SocketsSeq {
		a.feed.socksAt = a.feed.last
	}
	a.snap, a.lease, a.feed.applied = snap, lease, true
	a.checkRecorder()
	was := a.ct.alarm()
	a.ct = conntrackHealth(&a.snap, ctCollector(a.opts.Deps))
	if a.ct.alarm() != was {
		a.layout()
	}
	for _, p := range a.pages {
		p.SetSnapshot(snap)
	}
	a.pages[a.active].Sync()
}

// firstRows reports whether the Store has sockets and the screen none:
// the first socket table is shown at once, not up to a refresh interval
// after the empty screen of the start (the first frame at 100,000
// sockets, docs/performance.md); later tables wait for the interval.
func (a *App) firstRows() bool {
	if len(a.snap.Sockets) > 0 {
		return false
	}
	snap, lease := a.store.Hold()
	lease.Release()
	return len(snap.Sockets) > 0
}

// newSockets reports whether the Store has a socket table the screen has
// not, and the screen took its last one at least half an interval ago:
// a new socket table is shown as it arrives (at most two an interval),
// other changes at most once an interval. The screen then gives back
// the table it leaves before the sockets collector starts its next
// collection, which fills that table's memory again instead of taking
// 53 MB more at 100,000 sockets (docs/performance.md, "The TUI at
// 100k", round 3).
func (a *App) newSockets() bool {
	return a.store.SocketsSeq() != a.snap.SocketsSeq && a.opts.Now().Sub(a.feed.socksAt) >= a.opts.Refresh/2
}

// Update implements tea.Model.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	a.same = false
	m, cmd := a.update(msg)
	a.tellFlowCounters()
	// A page's timer runs on every tab (a pending filter change counts
	// down in the header).
	if t := a.tickCmds(); t != nil {
		cmd = tea.Batch(cmd, t)
	}
	return m, cmd
}

// tellFlowCounters tells Controls.FlowCounters, when it changed, whether
// the flows' counters are wanted: the Connections tab's Flows or Joined
// view is the active one (the help or the picker over it counts, so that
// a glance at the help does not stop the refresh), or the recorder runs.
func (a *App) tellFlowCounters() {
	ctl := a.opts.Controls.FlowCounters
	if ctl == nil {
		return
	}
	on := false
	if cp, ok := a.pages[a.active].(*connsPage); ok {
		on = cp.view == viewFlows || cp.view == viewJoined
	}
	if rc := a.opts.Controls.Recorder; !on && rc != nil {
		on, _ = rc.Recording()
	}
	v := int8(1)
	if on {
		v = 2
	}
	if v != a.flowCounters {
		a.flowCounters = v
		ctl.Want(on)
	}
}

// tickCmds are the pages' next ticks (nil when none needs one).
func (a *App) tickCmds() tea.Cmd {
	var cmds []tea.Cmd
	for i, p := range a.pages {
		if t := p.TickCmd(a.shown(i)); t != nil {
			cmds = append(cmds, t)
		}
	}
	return tea.Batch(cmds...)
}

// shown reports whether page i is on screen: the active tab, neither the
// full help nor the namespace picker over it, the terminal not too small.
func (a *App) shown(i int) bool {
	return i == a.active && a.mode != inputHelp && a.mode != inputPicker && !a.tooSmall()
}

// background hands a page the results of its commands and its ticks,
// whichever tab is shown; ok is false when msg is no page's.
func (a *App) background(msg tea.Msg) (cmd tea.Cmd, ok bool) {
	refresh := func() {
		if !a.feed.paused {
			a.apply()
		}
	}
	for _, p := range a.pages {
		if cmd, ok := p.Background(msg, refresh); ok {
			return cmd, true
		}
	}
	return nil, false
}

func (a *App) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if cmd, ok := a.background(msg); ok {
		return a, cmd
	}
	switch msg := msg.(type) {
	case netnsListMsg, netnsSwitchedMsg:
		return a.updateNetNS(msg)
	case showConnectionMsg:
		for i, pg := range a.pages {
			if _, ok := pg.(*connsPage); ok {
				a.switchTab(i)
				a.setFilter(msg.filter)
				a.input = []rune(msg.filter)
			}
		}
		return a, nil
	case tea.WindowSizeMsg:
		a.width, a.height = msg.Width, msg.Height
		a.layout()
		return a, nil
	case tea.ColorProfileMsg:
		a.styles = *NewStyles(msg.Profile)
		return a, nil
	case storeChangedMsg:
		cmd := waitStoreCmd(a.sub, a.done)
		a.feed.pending = true
		if a.feed.paused {
			a.same = true
			return a, cmd
		}
		wait := a.opts.Refresh - a.opts.Now().Sub(a.feed.last)
		if wait <= 0 || a.firstRows() || a.newSockets() {
			a.apply()
			return a, cmd
		}
		a.same = true
		if a.feed.waiting {
			return a, cmd
		}
		a.feed.waiting = true
		return a, tea.Batch(cmd, refreshCmd(wait))
	case refreshMsg:
		a.feed.waiting = false
		if a.feed.pending && !a.feed.paused {
			a.apply()
		}
		return a, nil
	case recordMsg:
		a.recReported = false
		if msg.err != nil {
			a.setStatus("recorder: "+oneLine(msg.err.Error()), true)
		} else {
			a.setStatus(msg.text, false)
		}
		return a, nil
	case dropSampleMsg:
		if msg.err != nil {
			a.setStatus("drop samples: "+oneLine(msg.err.Error()), true)
		} else {
			a.setStatus(msg.text, false)
		}
		return a, nil
	case snapshotSavedMsg:
		if msg.err != nil {
			a.setStatus("snapshot failed: "+oneLine(msg.err.Error()), true)
		} else {
			a.setStatus("snapshot saved: "+msg.path, false)
		}
		return a, nil
	case tea.KeyPressMsg:
		return a.handleKey(msg)
	case tea.PasteMsg:
		// A paste into the filter input (bracketed paste): its first line;
		// into a page's form when one is open.
		if a.pages[a.active].CapturesKeys() && a.mode != inputSearch {
			return a.updatePage(msg)
		}
		if a.mode == inputSearch {
			text, _, _ := strings.Cut(msg.Content, "\n")
			a.input = append(a.input, []rune(sanitize(strings.TrimRight(text, "\r")))...)
			a.setFilter(string(a.input))
		}
		return a, nil
	case tea.MouseWheelMsg:
		if a.mode != inputHelp && a.mode != inputPicker && !a.tooSmall() {
			return a.updatePage(msg)
		}
		return a, nil
	case tea.MouseClickMsg:
		return a.handleClick(msg)
	}
	return a.updatePage(msg)
}

// handleClick switches tabs on a click in the tab bar and hands clicks in
// the page area to the page, with Y relative to the page.
func (a *App) handleClick(msg tea.MouseClickMsg) (tea.Model, tea.Cmd) {
	if a.mode == inputHelp || a.mode == inputPicker || a.tooSmall() || msg.Button != tea.MouseLeft {
		return a, nil
	}
	switch {
	case msg.Y == a.top()-1:
		for i, r := range a.tabRanges() {
			if msg.X >= r[0] && msg.X < r[1] {
				a.switchTab(i)
			}
		}
		return a, nil
	case msg.Y >= a.top() && msg.Y < a.height-chromeBottom-a.statusExtra:
		m := msg
		m.Y -= a.top()
		return a.updatePage(m)
	}
	return a, nil
}

func (a *App) updatePage(msg tea.Msg) (tea.Model, tea.Cmd) {
	p, cmd := a.pages[a.active].Update(msg)
	a.pages[a.active] = p
	p.Sync()
	return a, cmd
}

func (a *App) setStatus(s string, isErr bool) {
	a.status, a.statusErr = s, isErr
}

func (a *App) handleKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := a.keys
	switch msg.String() {
	case "ctrl+c":
		return a, tea.Quit
	case "ctrl+z":
		return a, tea.Suspend
	}
	if a.mode == inputPicker {
		return a.handlePickerKey(msg)
	}
	if a.mode == inputSearch {
		return a.handleFilterKey(msg)
	}
	// A form or a question on the page takes every key.
	if a.pages[a.active].CapturesKeys() && a.mode != inputHelp {
		return a.updatePage(msg)
	}
	if a.mode == inputHelp {
		switch {
		case key.Matches(msg, k.Quit):
			return a, tea.Quit
		case key.Matches(msg, k.Help), key.Matches(msg, k.Escape):
			a.mode = inputNormal
		case key.Matches(msg, k.Down):
			a.helpTop++
		case key.Matches(msg, k.Up):
			a.helpTop--
		case key.Matches(msg, k.PageDown, k.End):
			a.helpTop += a.height
		case key.Matches(msg, k.PageUp, k.Home):
			a.helpTop = 0
		}
		return a, nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		return a, tea.Quit
	case key.Matches(msg, k.Help):
		a.mode, a.helpTop = inputHelp, 0
	case key.Matches(msg, k.NextTab):
		a.switchTab((a.active + 1) % len(a.pages))
	case key.Matches(msg, k.PrevTab):
		a.switchTab((a.active + len(a.pages) - 1) % len(a.pages))
	case key.Matches(msg, k.Tab):
		if n := int(msg.Code - '1'); len(msg.Text) == 1 && n >= 0 && n < len(a.pages) {
			a.switchTab(n)
		}
	case key.Matches(msg, k.Filter):
		a.mode = inputSearch
		a.input = []rune(a.pages[a.active].Filter())
	case key.Matches(msg, k.Escape):
		vc, hasView := a.pages[a.active].(viewCloser)
		pc, hasPane := a.pages[a.active].(paneCloser)
		switch {
		case hasView && vc.CloseView():
		case a.pages[a.active].Filter() != "":
			a.setFilter("")
		case hasPane && pc.ClosePane():
		default:
			a.setStatus("", false)
		}
	case key.Matches(msg, k.NetNS):
		return a.openNetNSPicker()
	case key.Matches(msg, k.Redraw):
		// A full repaint, for a screen garbled by another program's output
		// or a flaky link.
		return a, tea.ClearScreen
	case key.Matches(msg, k.Pause):
		a.feed.paused = !a.feed.paused
		if !a.feed.paused && a.feed.pending {
			a.apply()
		}
	case key.Matches(msg, k.Record):
		if a.opts.Controls.Recorder == nil {
			a.setStatus("the recorder is not available here", true)
			return a, nil
		}
		return a, recordToggleCmd(a.opts.Controls.Recorder)
	case key.Matches(msg, k.Snapshot):
		if a.opts.SaveSnapshot == nil {
			a.setStatus("snapshots are not available here", true)
			return a, nil
		}
		a.setStatus("saving snapshot...", false)
		return a, saveSnapshotCmd(a.opts.SaveSnapshot, a.snap, a.lease.Retain())
	default:
		return a.updatePage(msg)
	}
	return a, nil
}

func (a *App) handleFilterKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := a.keys
	switch {
	case key.Matches(msg, k.Escape):
		a.mode = inputNormal
		a.setFilter("")
	case key.Matches(msg, k.FilterAccept):
		a.mode = inputNormal
	case key.Matches(msg, k.FilterDelete):
		if len(a.input) > 0 {
			a.input = a.input[:len(a.input)-1]
			a.setFilter(string(a.input))
		}
	case key.Matches(msg, k.FilterClear):
		a.input = a.input[:0]
		a.setFilter("")
	case msg.Text != "" && msg.Mod&^tea.ModShift == 0:
		a.input = append(a.input, []rune(sanitize(msg.Text))...)
		a.setFilter(string(a.input))
	case key.Matches(msg, k.Up, k.Down, k.PageUp, k.PageDown):
		return a.updatePage(msg)
	}
	return a, nil
}

func (a *App) setFilter(f string) {
	p := a.pages[a.active]
	p.SetFilter(f)
	p.Sync()
	if f == "" {
		a.input = a.input[:0]
	}
}

func (a *App) switchTab(i int) {
	if i == a.active {
		return
	}
	if a.mode == inputSearch {
		a.mode = inputNormal
	}
	a.active = i
	a.pages[i].Sync()
}

// Chrome around the page: header, health and tab lines above (and the
// TABLE FULL banner under the header while it shows); status and help
// lines below.
const (
	chromeTop    = 3
	chromeBottom = 2
)

// top is the number of lines above the page.
func (a *App) top() int {
	if a.ct.alarm() {
		return chromeTop + 1
	}
	return chromeTop
}

// ctCollector is the name of the conntrack collector.
func ctCollector(d Deps) string {
	if len(d.Flows) > 0 {
		return d.Flows[0]
	}
	return model.CollectorConntrack
}

func (a *App) layout() {
	for _, p := range a.pages {
		p.SetSize(a.width, max(a.height-a.top()-chromeBottom, 1))
	}
}

// tooSmall reports whether the terminal is below the minimum size.
func (a *App) tooSmall() bool { return a.width < MinWidth || a.height < MinHeight }

// View implements tea.Model.
func (a *App) View() tea.View {
	if !a.same {
		a.view = a.render()
		a.renders++
	}
	v := tea.NewView(a.view)
	v.AltScreen = true
	if !a.opts.NoMouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	return v
}

// render draws the whole screen.
func (a *App) render() string {
	if a.width == 0 || a.height == 0 {
		return ""
	}
	if a.tooSmall() {
		return a.tooSmallView()
	}
	var b strings.Builder
	// The screen's lines and their escape sequences: one allocation
	// rather than a doubling series of them.
	b.Grow(a.height * (a.width + 48))
	b.WriteString(a.headerView())
	b.WriteByte('\n')
	if a.ct.alarm() {
		b.WriteString(a.styles.Alarm.Render(fitString(a.ct.banner(a.width), a.width)))
		b.WriteByte('\n')
	}
	b.WriteString(a.healthView())
	b.WriteByte('\n')
	b.WriteString(a.tabsView())
	b.WriteByte('\n')
	var body string
	if a.mode == inputHelp {
		body = a.fullHelpView()
	} else if a.mode == inputPicker {
		body = a.pickerView(max(a.height-a.top()-chromeBottom, 1))
	} else {
		body = a.pages[a.active].View()
	}
	status := a.statusView()
	a.statusExtra = strings.Count(status, "\n")
	if n := a.statusExtra; n > 0 {
		// An error that needs more lines takes the page's last ones.
		lines := strings.Split(body, "\n")
		body = strings.Join(lines[:max(len(lines)-n, 1)], "\n")
	}
	b.WriteString(body)
	b.WriteByte('\n')
	b.WriteString(status)
	b.WriteByte('\n')
	b.WriteString(a.footerView())
	return b.String()
}

func (a *App) tooSmallView() string {
	var lines []string // wrapped, not cut: the sizes and q fit in 20x5
	for _, l := range []string{
		"terminal too small",
		"need " + itoa(MinWidth) + "x" + itoa(MinHeight) + ", have " + itoa(a.width) + "x" + itoa(a.height),
		"enlarge the window, or press q to quit",
	} {
		lines = append(lines, wrap(l, a.width)...)
	}
	out := make([]string, 0, a.height)
	top := max((a.height-len(lines))/2, 0)
	for range top {
		out = append(out, "")
	}
	for _, l := range lines {
		pad := max((a.width-len(l))/2, 0)
		out = append(out, fitString(strings.Repeat(" ", pad)+l, a.width))
	}
	return fixHeight(out, a.height)
}

// alarm is what a page wants the header to show on every tab (the
// countdown of a pending filter change), or "".
func (a *App) alarm() string {
	for _, p := range a.pages {
		if t := p.Alarm(a.width); t != "" {
			return t
		}
	}
	return ""
}

func (a *App) headerView() string {
	s := &a.styles
	left := " netlens"
	if a.opts.Version != "" {
		left += " " + a.opts.Version
	}
	left += "  host " + sanitize(a.snap.Host) + netnsHeader(a.snap.NetNS) + "  kernel " + sanitize(a.snap.Kernel) + "  refresh " + fmtDuration(a.opts.Refresh)
	if a.opts.DropSource != "" {
		// Where drop reasons come from, and why (droptrace.Select).
		left += "  drops " + sanitize(a.opts.DropSource)
	}
	state, st := " LIVE ", s.Live
	if a.feed.paused {
		state, st = " PAUSED ", s.Paused
	}
	if a.opts.Offline != nil {
		left = " netlens  " + a.offlineHeader()
		state, st = " OFFLINE ", s.Paused
	}
	if rec := a.recordState(); rec != "" {
		state = rec + state
	}
	if rev := a.alarm(); rev != "" {
		return s.Header.Render(fitString(left, a.width-len(state)-len(rev))) + s.Alarm.Render(rev) + st.Render(state)
	}
	return s.Header.Render(fitString(left, a.width-len(state))) + st.Render(state)
}

// healthView is one line of collector health: those that are down first,
// with their reasons, then those starting, then the healthy ones.
func (a *App) healthView() string {
	s := &a.styles
	type seg struct {
		text string
		st   *lipgloss.Style
	}
	var bad, pending, ok []string
	for _, c := range a.snap.Collectors {
		switch c.State {
		case model.StateOK:
			ok = append(ok, c.Name)
		case model.StatePending:
			pending = append(pending, c.Name)
		default:
			bad = append(bad, describe(c))
		}
	}
	// When it all does not fit, the longest reasons of the collectors
	// that are down are cut to what the list of healthy ones leaves (the
	// help's Collectors list and each tab's pane say them in full); the
	// starting ones may go.
	rest := 1 + 3*len(bad)
	if len(ok) > 0 {
		rest += len("ok: "+strings.Join(ok, " ")) + 3
	}
	for i, t := range bad {
		bad[i] = shortReason(t)
	}
	if c := fillCap(bad, a.width-rest, 24); c >= 0 && len(ok) > 0 {
		for i, t := range bad {
			if width(t) > c {
				bad[i] = fitString(t, c)
			}
		}
	}
	var segs []seg
	for _, t := range bad {
		segs = append(segs, seg{t, &s.HealthBad})
	}
	if len(pending) > 0 {
		segs = append(segs, seg{"starting: " + strings.Join(pending, " "), &s.HealthPending})
	}
	if len(ok) > 0 {
		segs = append(segs, seg{"ok: " + strings.Join(ok, " "), &s.HealthOK})
	}
	if len(segs) == 0 {
		return fitString(" collectors: none yet", a.width)
	}
	var b strings.Builder
	used := 0
	b.WriteByte(' ')
	used++
	for i, g := range segs {
		sep := ""
		if i > 0 {
			sep = " | "
		}
		room := a.width - used - len(sep)
		if room <= 1 {
			break
		}
		t := g.text
		if width(t) > room {
			t = fitString(t, room)
		}
		b.WriteString(sep)
		b.WriteString(g.st.Render(t))
		used += len(sep) + width(t)
	}
	return b.String() + strings.Repeat(" ", max(a.width-used, 0))
}

// shortReason shortens a collector's reason for the health line: what
// it needs is enough without "permission denied", and "not supported by
// this kernel" is "not supported".
func shortReason(s string) string {
	if w, ok := strings.CutSuffix(s, ": permission denied"); ok && strings.Contains(w, "needs ") {
		return w
	}
	if w, ok := strings.CutSuffix(s, " by this kernel"); ok {
		return w
	}
	return s
}

// fillCap returns the largest width c (at least least) such that the
// texts cut to c cells take at most room cells, or -1 when they fit as
// they are.
func fillCap(texts []string, room, least int) int {
	total, longest := 0, 0
	for _, t := range texts {
		total += width(t)
		longest = max(longest, width(t))
	}
	if total <= room {
		return -1
	}
	c := longest
	for c > least {
		sum := 0
		for _, t := range texts {
			sum += min(width(t), c)
		}
		if sum <= room {
			break
		}
		c--
	}
	return c
}

// shortTitles are the tab titles used when even unpadded full titles do
// not fit the tab bar.
var shortTitles = map[string]string{"Connections": "Conns", "Interfaces": "Ifaces"}

// tabLabel is the text of tab i in the tab bar at compaction level lvl:
// 0 the full title padded, 1 unpadded (how seven tabs fit 80 columns),
// 2 the short title unpadded.
func (a *App) tabLabel(i, lvl int) string {
	p := a.pages[i]
	title := p.Title()
	if short, ok := shortTitles[title]; ok && lvl > 1 {
		title = short
	}
	pad := " "
	if lvl > 0 {
		pad = ""
	}
	if p.Filter() != "" {
		return pad + itoa(i+1) + " " + title + " [/]" + pad
	}
	return pad + itoa(i+1) + " " + title + pad
}

// tabLevel is the least compaction level at which every tab fits the
// width (the last level when none does: the tabs that fit are shown).
func (a *App) tabLevel() int {
	const last = 2
	for lvl := 0; lvl < last; lvl++ {
		x := 0
		for i := range a.pages {
			x += 1 + len(a.tabLabel(i, lvl))
		}
		if x <= a.width {
			return lvl
		}
	}
	return last
}

// tabRanges returns the columns [start, end) of each tab that fits in the
// tab bar.
func (a *App) tabRanges() [][2]int {
	var out [][2]int
	x := 0
	lvl := a.tabLevel()
	for i := range a.pages {
		n := len(a.tabLabel(i, lvl))
		if x+1+n > a.width {
			break
		}
		out = append(out, [2]int{x + 1, x + 1 + n})
		x += 1 + n
	}
	return out
}

func (a *App) tabsView() string {
	s := &a.styles
	var b strings.Builder
	used := 0
	lvl := a.tabLevel()
	for i, r := range a.tabRanges() {
		b.WriteByte(' ')
		if i == a.active {
			b.WriteString(s.TabActive.Render(a.tabLabel(i, lvl)))
		} else {
			b.WriteString(s.TabInactive.Render(a.tabLabel(i, lvl)))
		}
		used = r[1]
	}
	return b.String() + strings.Repeat(" ", max(a.width-used, 0))
}

// statusLines is the most lines the status takes (the page gives up its
// last ones); a longer one is cut.
const statusLines = 3

func (a *App) statusView() string {
	s := &a.styles
	w := a.width
	switch {
	case a.mode == inputSearch:
		prompt := " filter /"
		text := string(a.input)
		room := w - len(prompt) - 1
		if width(text) > room {
			text = ellipsis + string([]rune(text)[len([]rune(text))-(room-1):])
		}
		line := s.FilterPrompt.Render(prompt) + text + s.Cursor.Render(" ")
		return line + strings.Repeat(" ", max(w-len(prompt)-width(text)-1, 0))
	case a.status != "":
		st := s.Status
		if a.statusErr {
			st = s.StatusErr
		}
		if width(a.status)+1 <= w {
			return st.Render(fitString(" "+a.status, w))
		}
		// A status is read whole (an error, the path a snapshot went
		// to): on up to statusLines lines.
		lines := wrap(a.status, w-1)
		if len(lines) > statusLines {
			lines = append(lines[:statusLines-1], strings.Join(lines[statusLines-1:], " "))
		}
		for i, l := range lines {
			lines[i] = st.Render(fitString(" "+l, w))
		}
		return strings.Join(lines, "\n")
	case a.pages[a.active].Filter() != "":
		return s.Dim.Render(fitString(" filter: "+a.pages[a.active].Filter()+"   (/ edit, esc clear)", w))
	}
	return strings.Repeat(" ", w)
}

func (a *App) footerView() string {
	p := a.pages[a.active]
	var bs []key.Binding
	if a.mode == inputSearch {
		bs = []key.Binding{a.keys.FilterAccept, a.keys.Escape, a.keys.FilterClear}
	} else {
		g := a.keys.globalShort()
		bs = append(append(g[:len(g)-1:len(g)-1], p.ShortHelp()...), g[len(g)-1])
	}
	return shortHelp(&a.styles, bs, a.width)
}

// shortHelp renders bindings on one line of w cells, in order, leaving out
// those that do not fit but always keeping the last one (quit).
func shortHelp(s *Styles, bs []key.Binding, w int) string {
	var enabled []key.Binding
	for _, b := range bs {
		if b.Enabled() {
			enabled = append(enabled, b)
		}
	}
	if len(enabled) == 0 {
		return strings.Repeat(" ", w)
	}
	itemWidth := func(b key.Binding) int { return 2 + width(b.Help().Key) + 1 + width(b.Help().Desc) }
	last := enabled[len(enabled)-1]
	room := w - itemWidth(last)
	var out strings.Builder
	used := 0
	for _, b := range enabled[:len(enabled)-1] {
		iw := itemWidth(b)
		if used+iw > room {
			continue
		}
		out.WriteString("  " + s.Help.ShortKey.Render(b.Help().Key) + " " + s.Help.ShortDesc.Render(b.Help().Desc))
		used += iw
	}
	if used+itemWidth(last) <= w {
		out.WriteString("  " + s.Help.ShortKey.Render(last.Help().Key) + " " + s.Help.ShortDesc.Render(last.Help().Desc))
		used += itemWidth(last)
	}
	return out.String()[1:] + strings.Repeat(" ", max(w-used+1, 0))
}

func (a *App) fullHelpView() string {
	h := max(a.height-a.top()-chromeBottom, 1)
	p := a.pages[a.active]
	groups := []helpGroup{}
	for _, g := range p.FullHelp() {
		groups = append(groups, helpGroup{p.Title(), g})
	}
	titles := []string{"Move", "Tables", "netlens"}
	for i, g := range a.keys.globalFull() {
		groups = append(groups, helpGroup{titles[i], g})
	}
	lines := []string{a.styles.Summary.Render(fitString(" Keys", a.width))}
	lines = append(lines, fullHelp(&a.styles, groups, a.width)...)
	lines = append(lines, "")
	lines = append(lines, helpText(a.width, "/ keeps rows with every word in their columns, any case; "+
		"o sorts by the next column (^ or v in its header); s saves the snapshot on screen, even paused.")...)
	lines = append(lines, p.HelpLines(a.width)...)
	lines = append(lines, helpText(a.width, "? or esc closes this help.")...)
	lines = append(lines,
		"", a.styles.Summary.Render(fitString(" Collectors", a.width)))
	lines = append(lines, a.collectorLines()...)
	// Longer than the screen (80x24): it scrolls, and says so.
	if len(lines) <= h {
		a.helpTop = 0
	} else {
		body := h - 1 // and a line that says there is more
		a.helpTop = max(min(a.helpTop, len(lines)-body), 0)
		more := a.styles.Dim.Render(fitString(" -- more: down/j, pgdn --", a.width))
		if a.helpTop+body >= len(lines) {
			more = a.styles.Dim.Render(fitString(" -- end: up/k, home --", a.width))
		}
		lines = append(lines[a.helpTop:a.helpTop+body:a.helpTop+body], more)
	}
	return fixHeight(lines, h)
}

// collectorLines describes every collector, wrapped: name, state,
// where its data comes from or why it is down, and how long its last run
// took.
func (a *App) collectorLines() []string {
	s := &a.styles
	if len(a.snap.Collectors) == 0 {
		return []string{fitString(" none has reported yet", a.width)}
	}
	nw := 0
	for _, c := range a.snap.Collectors {
		nw = max(nw, len(c.Name))
	}
	var out []string
	for _, c := range a.snap.Collectors {
		st := s.HealthOK
		text := string(c.State)
		switch c.State {
		case model.StateOK:
			if c.Source != "" {
				text += "  from " + sanitize(c.Source)
			}
			if c.LastDuration > 0 {
				text += "  took " + fmtDuration(c.LastDuration.Round(time.Microsecond))
			}
			if n := oneLine(c.Note); n != "" {
				text += "  note: " + n
			}
		case model.StatePending:
			st = s.HealthPending
		default:
			st = s.HealthBad
			if r := oneLine(c.Reason); r != "" {
				text += ": " + r
			}
		}
		// Wrapped under the state, not cut: a reason can be long.
		tw := max(a.width-nw-3, 1)
		parts := []string{text}
		if width(text) > tw {
			parts = wrap(text, tw)
		}
		for i, l := range parts {
			name := ""
			if i == 0 {
				name = c.Name
			}
			out = append(out, " "+fitString(name, nw)+"  "+st.Render(fitString(l, tw)))
		}
	}
	return out
}

// helpText is a paragraph of the full help wrapped to w cells: each line
// indented by one space and fitted to w.
func helpText(w int, para string) []string {
	var out []string
	for _, l := range wrap(para, max(w-1, 1)) {
		out = append(out, fitString(" "+l, w))
	}
	return out
}

// helpGroup is a titled column of the full help.
type helpGroup struct {
	title string
	keys  []key.Binding
}

// fullHelp lays groups out in columns, left to right, starting a new band
// of columns below when the next one does not fit in w.
func fullHelp(s *Styles, groups []helpGroup, w int) []string {
	type block struct {
		lines []string
		width int
	}
	var blocks []block
	for _, g := range groups {
		kw, dw := 0, len(g.title)
		for _, b := range g.keys {
			if b.Enabled() {
				kw = max(kw, width(b.Help().Key))
			}
		}
		for _, b := range g.keys {
			if b.Enabled() {
				dw = max(dw, kw+1+width(b.Help().Desc))
			}
		}
		bl := block{width: dw, lines: []string{s.Summary.Render(fitString(g.title, dw))}}
		for _, b := range g.keys {
			if !b.Enabled() {
				continue
			}
			k := b.Help().Key
			bl.lines = append(bl.lines, s.Help.FullKey.Render(k)+strings.Repeat(" ", kw-width(k)+1)+
				s.Help.FullDesc.Render(fitString(b.Help().Desc, dw-kw-1)))
		}
		blocks = append(blocks, bl)
	}
	const gap = 2
	var out []string
	for len(blocks) > 0 {
		n, used := 0, 1
		for n < len(blocks) && (n == 0 || used+gap+blocks[n].width <= w) {
			if n > 0 {
				used += gap
			}
			used += blocks[n].width
			n++
		}
		band := blocks[:n]
		blocks = blocks[n:]
		rows := 0
		for _, b := range band {
			rows = max(rows, len(b.lines))
		}
		out = append(out, "")
		for r := range rows {
			var line strings.Builder
			line.WriteByte(' ')
			for i, b := range band {
				if i > 0 {
					line.WriteString(strings.Repeat(" ", gap))
				}
				text := ""
				if r < len(b.lines) {
					text = b.lines[r]
				}
				line.WriteString(text + strings.Repeat(" ", max(b.width-width(stripSGR(text)), 0)))
			}
			out = append(out, line.String())
		}
	}
	return out
}

// stripSGR removes escape sequences, to measure styled text.
func stripSGR(s string) string { return ansi.Strip(s) }
