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
	"netlens/model/rules"
)

// Filters table columns.
const (
	frID = iota
	frOn
	frHooks
	frFamily
	frMatch
	frAction
	frPackets
	frBytes
	frRate
	frLastHit
	frLabel
)

// filtersMode is what the Filters tab shows: the rules, the rule form, or
// a question (delete? the guard's second confirmation).
type filtersMode uint8

const (
	modeRules filtersMode = iota
	modeForm
	modeDelete
	modeGuard
	modeLog    // a rule's live packet log
	modePolicy // choosing a default policy to set (filterpolicy.go)
)

// filtersInfoLines are the lines above the rules table: the backend (or
// why rules are read-only, and the fix) and the per-hook verdicts or the
// pending change's countdown.
const filtersInfoLines = 2

// filtersPage is the Filters tab: the rules of the backend in use with
// their counters, the per-hook verdicts, and the changes made through
// Options.Filters: space toggles, a adds, e edits, d deletes, c confirms.
// Every change is planned first (filter.Manager.Plan); one that would cut
// the operator's SSH session or established connections asks a second
// time; a drop-capable one is applied with a revert deadline whose
// countdown shows here and in the header. Calls to the control run in
// tea.Cmds. Not safe for concurrent use.
type filtersPage struct {
	listBase[uint32]
	ctl FilterControl
	// logCtl streams packet logs (Enter on a rule); nil: Enter is details.
	logCtl PacketLogControl
	log    *packetLogView // the open packet log (modeLog)
	now    func() time.Time
	// ticking says that a countdownMsg is on its way.
	ticking bool

	rules []model.Rule // of snap (nil when there is no rules section)

	mode    filtersMode
	form    *ruleForm
	plan    rules.Plan // waiting for the guard's second confirmation
	yes     int        // y pressed at the guard prompt
	delID   uint32     // the rule the delete question is about
	busy    bool       // a call to the control is running
	msg     string     // the result of the last action
	msgErr  bool
	pageH   int        // the page's height (the list's is less)
	mine    pendingTxn // the change this UI applied last, until it ends
	confirm bool       // mine was confirmed here
	// confirming: a Confirm call is in flight. Until its answer, a refresh
	// that no longer lists mine as pending is that confirm's doing, not
	// "confirmed elsewhere".
	confirming bool
	pol        policyChoice

	// sys is the other view (v): the nftables ruleset outside netlens's
	// table, read only; showSys says it is on screen.
	sys     *nftView
	showSys bool
}

// pendingTxn is a change applied with a revert deadline.
type pendingTxn struct {
	txn      uint32
	revertAt time.Time
	what     string
	seen     bool // the collector has reported it pending
	// ns is the namespace it was made in (nsInode), nsName what the tab
	// calls it; away says the tab has said it is pending there while
	// another namespace is shown.
	ns     uint64
	nsName string
	away   bool
}

// elsewhere says whether the namespace shown is not the one mine was made
// in: the rules and pending changes on screen say nothing about it.
func (p *filtersPage) elsewhere() bool {
	return !p.mine.revertAt.IsZero() && nsInode(p.snap.NetNS) != p.mine.ns
}

// pendingThere is the status of mine while another namespace is shown:
// "add rule 5: pending in hx-a (c there keeps it; undone at 12:00:30)".
func (p *filtersPage) pendingThere() string {
	return p.mine.what + ": pending in " + p.mine.nsName + " (c there keeps it; undone at " + p.mine.revertAt.Local().Format("15:04:05") + ")"
}

// nsLabel is what the tabs call the namespace n a change was made in.
func nsLabel(n *model.NetNS) string {
	switch {
	case nsInode(n) == 0:
		return "netlens's own namespace"
	case n.Name != "":
		return sanitize(n.Name)
	}
	return "net:[" + strconv.FormatUint(n.Inode, 10) + "]"
}

func newFiltersPage(c Common, deps []string, ctl FilterControl, now func() time.Time) *filtersPage {
	p := &filtersPage{ctl: ctl, now: now, sys: newNFTView(c, []string{model.CollectorNFTables})}
	p.Common, p.deps = c, deps
	cols := []column{
		frID:      {title: "ID", width: 4, right: true},
		frOn:      {title: "On", width: 4},
		frHooks:   {title: "Hooks", width: 6, flex: 1, drop: 2},
		frFamily:  {title: "Fam", width: 4, drop: 4},
		frMatch:   {title: "Match", width: 16, flex: 4},
		frAction:  {title: "Action", width: 6},
		frPackets: {title: "Packets", width: 7, right: true},
		frBytes:   {title: "Bytes", width: 7, right: true},
		frRate:    {title: "Pkt/s", width: 6, right: true, drop: 3},
		frLastHit: {title: "Last hit", width: 8, drop: 5},
		frLabel:   {title: "Label", width: 8, flex: 2, drop: 1},
	}
	rs := func() []model.Rule { return p.rules }
	sorts := []sortSpec{
		{name: "order", col: frID, cmp: func(a, b int) int { return cmp.Compare(a, b) }},
		{name: "id", col: frID, cmp: func(a, b int) int { r := rs(); return cmp.Compare(r[a].ID, r[b].ID) }},
		{name: "packets", col: frPackets, desc: true, cmp: func(a, b int) int { r := rs(); return cmp.Compare(r[a].Packets, r[b].Packets) }},
		{name: "rate", col: frRate, desc: true, cmp: func(a, b int) int { r := rs(); return cmp.Compare(r[a].Rate, r[b].Rate) }},
	}
	p.init(cols, sorts, 0)
	return p
}

// Title implements page.
func (p *filtersPage) Title() string { return "Filters" }

// SetSnapshot implements page.
func (p *filtersPage) SetSnapshot(s model.Snapshot) {
	p.setSnapshot(p, s)
	p.sys.SetSnapshot(s)
}

// SetFilter implements page: the filter applies to both views.
func (p *filtersPage) SetFilter(f string) {
	p.listBase.SetFilter(f)
	p.sys.SetFilter(f)
}

// ClosePane implements paneCloser for the view shown.
func (p *filtersPage) ClosePane() bool {
	if p.showSys {
		return p.sys.ClosePane()
	}
	return p.listBase.ClosePane()
}

// namespaceSwitched closes the packet log open when the TUI moved to
// another namespace: it streams a rule of the namespace left, which the
// tab no longer shows. It reports whether one was open.
func (p *filtersPage) namespaceSwitched() bool {
	if p.log == nil {
		return false
	}
	p.log.close()
	p.log = nil
	if p.mode == modeLog {
		p.mode = modeRules
	}
	return true
}

// Sync implements page.
func (p *filtersPage) Sync() {
	if p.fresh() {
		p.rules = nil
		if p.snap.Rules != nil {
			p.rules = p.snap.Rules.Rules
			// The collector's note is the read-only reason, shown above.
			if ro := p.snap.Rules.ReadOnly; ro != "" {
				p.notes = slices.DeleteFunc(p.notes, func(n string) bool { return strings.Contains(n, oneLine(ro)) })
			}
		}
		p.followPending()
	}
	p.sync(p)
	if p.showSys {
		p.sys.Sync()
	}
}

// followPending notices the end of the change this UI applied: confirmed
// here, confirmed elsewhere, or reverted at its deadline (the collector
// reports it gone). While another namespace is shown (N), whose pending
// changes are not mine's, it only says mine is pending there.
func (p *filtersPage) followPending() {
	if p.mine.revertAt.IsZero() || p.confirming {
		return
	}
	if p.elsewhere() {
		if p.now().After(p.mine.revertAt.Add(revertGrace)) {
			// Not to count down for ever: the helper has undone it there
			// unless a c there (netlens rules confirm) kept it.
			p.setMsg(p.mine.what+" (in "+p.mine.nsName+"): its deadline "+p.mine.revertAt.Local().Format("15:04:05")+" passed while another namespace was shown: undone unless confirmed there", true)
			p.mine, p.confirm = pendingTxn{}, false
			return
		}
		if !p.mine.away {
			p.setMsg(p.pendingThere(), false)
			p.mine.away = true
		}
		return
	}
	now := p.now()
	overdue := now.After(p.mine.revertAt.Add(revertGrace))
	if p.snap.Rules == nil && !overdue {
		// Nothing read yet (just back from another namespace, say).
		return
	}
	present := false
	if p.snap.Rules != nil && p.mine.txn != 0 {
		for _, pc := range p.snap.Rules.Pending {
			if pc.Txn == p.mine.txn {
				present = true
			}
		}
	}
	if present {
		p.mine.seen = true
		if p.mine.away {
			p.mine.away = false
			p.setMsg(p.mine.what+": still pending; press c to keep it, else it is undone at "+p.mine.revertAt.Local().Format("15:04:05"), false)
		}
		return
	}
	// Not (or no longer) pending. Before the collector has shown it at
	// all, only the deadline tells.
	if !p.mine.seen && !overdue && !p.confirm {
		return
	}
	switch {
	case p.confirm:
		// the confirm's own message stays
	case !now.Before(p.mine.revertAt):
		p.setMsg("REVERTED: "+p.mine.what+" was undone at its deadline (not confirmed)", true)
	default:
		p.setMsg(p.mine.what+": confirmed elsewhere", false)
	}
	p.mine, p.confirm = pendingTxn{}, false
}

// revertGrace is how long past its deadline a change the collector never
// reported pending is still counted down (the helper or the kernel may
// take a moment to revert it).
const revertGrace = 5 * time.Second

func (p *filtersPage) setMsg(s string, isErr bool) { p.msg, p.msgErr = s, isErr }

// CapturesKeys reports whether the page takes every key (the form and
// the questions), the App's global keys included.
func (p *filtersPage) CapturesKeys() bool { return p.mode != modeRules }

// SetSize implements page: the table gets what the info lines and the
// message line leave.
func (p *filtersPage) SetSize(w, h int) {
	p.pageH = h
	p.listBase.SetSize(w, max(h-filtersInfoLines-1, 1))
	p.sys.SetSize(w, max(h-1, 1)) // under the views line
}

// filtersMsg is a result for the Filters tab, delivered to it whichever
// tab is shown.
type filtersMsg interface{ filtersMsg() }

// planDoneMsg is the result of FilterControl.Plan.
type planDoneMsg struct {
	plan rules.Plan
	err  error
}

// applyDoneMsg is the result of FilterControl.Apply.
type applyDoneMsg struct {
	plan rules.Plan
	res  rules.Result
	err  error
}

// confirmDoneMsg is the result of FilterControl.Confirm.
type confirmDoneMsg struct {
	txn  uint32
	what string // the change confirmed, as the UI named it when applied
	err  error
}

func (planDoneMsg) filtersMsg()    {}
func (applyDoneMsg) filtersMsg()   {}
func (confirmDoneMsg) filtersMsg() {}

// planCmd plans op off the UI goroutine.
func planCmd(ctl FilterControl, op rules.Op) tea.Cmd {
	return func() tea.Msg {
		pl, err := ctl.Plan(op)
		return planDoneMsg{plan: pl, err: err}
	}
}

// applyCmd applies a plan off the UI goroutine.
func applyCmd(ctl FilterControl, pl rules.Plan) tea.Cmd {
	return func() tea.Msg {
		res, err := ctl.Apply(pl)
		return applyDoneMsg{plan: pl, res: res, err: err}
	}
}

// confirmCmd confirms txn (0: every pending change) off the UI goroutine.
func confirmCmd(ctl FilterControl, txn uint32, what string) tea.Cmd {
	return func() tea.Msg {
		return confirmDoneMsg{txn: txn, what: what, err: ctl.Confirm(txn)}
	}
}

// readOnly returns why rules cannot be changed here, or "".
func (p *filtersPage) readOnly() string {
	switch {
	case p.ctl == nil:
		return "changing rules is not available here"
	case p.snap.Rules != nil && p.snap.Rules.ReadOnly != "":
		return p.snap.Rules.ReadOnly
	}
	return ""
}

// Update implements page.
func (p *filtersPage) Update(msg tea.Msg) (page, tea.Cmd) {
	switch msg := msg.(type) {
	case planDoneMsg:
		return p, p.planned(msg)
	case applyDoneMsg:
		p.applied(msg)
		return p, nil
	case confirmDoneMsg:
		p.busy, p.confirming = false, false
		if msg.err != nil {
			p.setMsg("confirm failed: "+oneLine(msg.err.Error()), true)
			return p, nil
		}
		what := "the pending change"
		if msg.what != "" {
			what = msg.what
		}
		p.setMsg("confirmed: "+what+" is kept", false)
		if msg.txn == p.mine.txn {
			// (else it confirmed this namespace's, mine waits in another)
			p.mine, p.confirm = pendingTxn{}, false
		}
		return p, nil
	case packetLogMsg:
		if p.log != nil {
			return p, p.log.handle(msg)
		}
		return p, nil
	case tea.PasteMsg:
		if p.mode == modeForm {
			p.form.paste(msg.Content)
		}
	case tea.KeyPressMsg:
		switch p.mode {
		case modeForm:
			return p, p.formKey(msg)
		case modeDelete:
			return p, p.deleteKey(msg)
		case modeGuard:
			return p, p.guardKey(msg)
		case modePolicy:
			return p, p.policyKey(msg)
		case modeLog:
			if p.log.key(p.Keys, msg, p.pageH) {
				p.log.close()
				p.log, p.mode = nil, modeRules
			}
			return p, nil
		}
		if key.Matches(msg, p.Keys.View) {
			p.showSys = !p.showSys
			p.Sync()
			return p, nil
		}
		if p.showSys {
			p.sys.update(msg)
			return p, nil
		}
		return p, p.rulesKey(msg)
	case tea.MouseClickMsg:
		if p.showSys && p.mode == modeRules {
			msg.Y-- // the views line
			p.sys.handleMouse(msg)
			return p, nil
		}
		if p.mode == modeRules {
			msg.Y -= filtersInfoLines
			p.handleMouse(msg)
		}
	case tea.MouseMsg:
		if p.showSys && p.mode == modeRules {
			p.sys.handleMouse(msg)
			return p, nil
		}
		if p.mode == modeRules {
			p.handleMouse(msg)
		}
	}
	return p, nil
}

// selectedRule returns the selected rule, if any.
func (p *filtersPage) selectedRule() (model.Rule, bool) {
	i := p.selected()
	if i < 0 || i >= len(p.rules) {
		return model.Rule{}, false
	}
	return p.rules[i], true
}

// start plans op, unless the rules are read-only or a call is running.
func (p *filtersPage) start(op rules.Op) tea.Cmd {
	if ro := p.readOnly(); ro != "" {
		p.setMsg("cannot change rules: "+ro, true)
		return nil
	}
	if p.busy {
		p.setMsg("busy: the last change has not finished", true)
		return nil
	}
	p.busy = true
	p.setMsg("checking "+opText(op)+"...", false)
	return planCmd(p.ctl, op)
}

func opText(op rules.Op) string {
	switch op.Kind {
	case rules.OpAdd:
		return "the new rule"
	case rules.OpLoad:
		return "the rule set"
	case rules.OpPolicy:
		return "the default policy " + op.Policy.String()
	}
	return string(op.Kind) + " rule " + strconv.FormatUint(uint64(op.ID), 10)
}

func (p *filtersPage) rulesKey(msg tea.KeyPressMsg) tea.Cmd {
	k := p.Keys
	switch {
	case key.Matches(msg, k.RuleToggle):
		r, ok := p.selectedRule()
		if !ok {
			p.setMsg("no rule selected", true)
			return nil
		}
		kind := rules.OpEnable
		if r.Enabled {
			kind = rules.OpDisable
		}
		return p.start(rules.Op{Kind: kind, ID: r.ID})
	case key.Matches(msg, k.RuleAdd):
		if ro := p.readOnly(); ro != "" {
			p.setMsg("cannot add rules: "+ro, true)
			return nil
		}
		p.form = newRuleForm(model.Rule{Enabled: true, Action: model.ActionDrop, Hooks: []string{model.HookInput}}, 0)
		p.mode = modeForm
	case key.Matches(msg, k.RuleEdit):
		r, ok := p.selectedRule()
		switch {
		case !ok:
			p.setMsg("no rule selected", true)
		case r.Foreign:
			p.setMsg("rule "+strconv.FormatUint(uint64(r.ID), 10)+" was not made by netlens: change it where it was made (d deletes it)", true)
		case p.readOnly() != "":
			p.setMsg("cannot edit rules: "+p.readOnly(), true)
		default:
			p.form = newRuleForm(r, r.ID)
			p.mode = modeForm
		}
	case key.Matches(msg, k.RuleDelete):
		r, ok := p.selectedRule()
		switch {
		case !ok:
			p.setMsg("no rule selected", true)
		case p.readOnly() != "":
			p.setMsg("cannot delete rules: "+p.readOnly(), true)
		default:
			p.delID = r.ID
			p.mode = modeDelete
		}
	case key.Matches(msg, k.RulePolicy):
		if ro := p.readOnly(); ro != "" {
			p.setMsg("cannot set a policy: "+ro, true)
			return nil
		}
		p.openPolicy()
	case key.Matches(msg, k.RuleLog) && p.hasLog():
		r, ok := p.selectedRule()
		if !ok {
			p.setMsg("no rule selected", true)
			return nil
		}
		var cmd tea.Cmd
		p.log, cmd = openPacketLog(p.logCtl, r)
		p.mode = modeLog
		return cmd
	case key.Matches(msg, k.RuleConfirm):
		if ro := p.readOnly(); ro != "" {
			p.setMsg("cannot confirm: "+ro, true)
			return nil
		}
		txn, what := p.mine.txn, p.mine.what
		if p.elsewhere() {
			// The control is this namespace's: it confirms this one's
			// pending changes, never mine.
			txn, what = 0, ""
		}
		if txn == 0 && (p.snap.Rules == nil || len(p.snap.Rules.Pending) == 0) {
			if p.elsewhere() {
				p.setMsg("nothing to confirm here: "+p.pendingThere(), true)
				return nil
			}
			p.setMsg("nothing to confirm: no change is pending", true)
			return nil
		}
		if p.busy {
			p.setMsg("busy: the last change has not finished", true)
			return nil
		}
		p.busy, p.confirming = true, true
		p.setMsg("confirming...", false)
		return confirmCmd(p.ctl, txn, what)
	default:
		p.handleKey(msg)
	}
	return nil
}

func (p *filtersPage) deleteKey(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "y", "Y":
		p.mode = modeRules
		return p.start(rules.Op{Kind: rules.OpDelete, ID: p.delID})
	case "n", "N", "esc", "q":
		p.mode = modeRules
		p.setMsg("delete cancelled", false)
	}
	return nil
}

func (p *filtersPage) guardKey(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "Y":
		p.yes = 2
	case "y":
		p.yes++
	case "n", "N", "esc", "q":
		p.mode, p.yes, p.busy = modeRules, 0, false
		p.setMsg("cancelled: nothing was changed", false)
		return nil
	default:
		return nil
	}
	if p.yes < 2 {
		return nil
	}
	p.mode, p.yes = modeRules, 0
	p.setMsg("applying "+opText(p.plan.Op)+"...", false)
	return applyCmd(p.ctl, p.plan)
}

func (p *filtersPage) formKey(msg tea.KeyPressMsg) tea.Cmd {
	f := p.form
	switch msg.String() {
	case "esc":
		p.mode, p.form = modeRules, nil
		p.setMsg("form cancelled: nothing was changed", false)
		return nil
	case "enter":
		r, err := f.rule()
		if err != nil {
			f.tried = true
			p.setMsg("not applied: "+oneLine(err.Error()), true)
			return nil
		}
		op := rules.Op{Kind: rules.OpAdd, Rule: r}
		if f.id != 0 {
			op = rules.Op{Kind: rules.OpChange, ID: f.id, Rule: r}
		}
		p.mode, p.form = modeRules, nil
		return p.start(op)
	}
	f.key(msg)
	return nil
}

// planned is the plan's result: apply it at once, or ask the guard's
// second confirmation first.
func (p *filtersPage) planned(msg planDoneMsg) tea.Cmd {
	if msg.err != nil {
		p.busy = false
		p.setMsg("refused: "+oneLine(msg.err.Error()), true)
		return nil
	}
	if msg.plan.NeedsSecondConfirm() {
		p.plan, p.yes, p.mode = msg.plan, 0, modeGuard
		p.setMsg("", false)
		return nil
	}
	p.setMsg("applying "+opText(msg.plan.Op)+"...", false)
	return applyCmd(p.ctl, msg.plan)
}

func (p *filtersPage) applied(msg applyDoneMsg) {
	p.busy = false
	what := opText(msg.plan.Op)
	if msg.res.Rule.ID != 0 && msg.plan.Op.Kind == rules.OpAdd {
		what = "add rule " + strconv.FormatUint(uint64(msg.res.Rule.ID), 10)
	}
	if msg.err != nil {
		p.setMsg(what+" failed: "+oneLine(msg.err.Error()), true)
		return
	}
	if msg.plan.Revert > 0 && !msg.res.RevertAt.IsZero() {
		p.mine, p.confirm = pendingTxn{txn: msg.res.Txn, revertAt: msg.res.RevertAt, what: what,
			ns: nsInode(p.snap.NetNS), nsName: nsLabel(p.snap.NetNS)}, false
		p.setMsg(what+": applied; press c to keep it, else it is undone at "+msg.res.RevertAt.Local().Format("15:04:05"), false)
		return
	}
	p.setMsg(what+": done", false)
}

// revertAt returns the earliest pending deadline: of the change applied
// here, or of any the collector reports (another netlens, the CLI).
func (p *filtersPage) revertAt() (time.Time, int) {
	var at time.Time
	n := 0
	if p.mine.txn != 0 || !p.mine.revertAt.IsZero() {
		at, n = p.mine.revertAt, 1
	}
	if p.snap.Rules != nil {
		for _, pc := range p.snap.Rules.Pending {
			if pc.Txn == p.mine.txn && p.mine.txn != 0 && !p.elsewhere() {
				continue
			}
			n++
			if at.IsZero() || pc.RevertAt.Before(at) {
				at = pc.RevertAt
			}
		}
	}
	return at, n
}

// countdown is "REVERT IN 25s (c keeps)", or "" when nothing is pending.
func (p *filtersPage) countdown() string {
	at, n := p.revertAt()
	if n == 0 {
		return ""
	}
	left := at.Sub(p.now())
	if left < 0 {
		return "REVERTING (deadline passed)"
	}
	secs := int((left + time.Second - 1) / time.Second)
	s := "REVERT IN " + strconv.Itoa(secs) + "s"
	if n > 1 {
		s += " (" + strconv.Itoa(n) + " changes)"
	}
	return s
}

func (p *filtersPage) sameRows(a, b model.Snapshot) bool {
	if a.Rules == nil || b.Rules == nil {
		return a.Rules == b.Rules
	}
	return sameSlice(a.Rules.Rules, b.Rules.Rules)
}
func (p *filtersPage) count() int {
	if p.snap.Rules == nil {
		return 0
	}
	return len(p.snap.Rules.Rules)
}
func (p *filtersPage) include(int) bool { return true }
func (p *filtersPage) key(i int) uint32 { return p.snap.Rules.Rules[i].ID }

func (p *filtersPage) appendHaystack(b []byte, i int) []byte {
	for c := frID; c <= frLabel; c++ {
		b = append(b, p.cell(i, c)...)
		b = append(b, ' ')
	}
	return b
}

// foreignBase is the first id of a foreign nft rule (2^31 + its handle).
const foreignBase = 1 << 31

// ruleID is a rule's id for the table: a foreign rule's is f and its
// nftables handle ("f52"), which fits; the detail pane gives the full id.
func ruleID(r *model.Rule) string {
	if r.Foreign && r.ID >= foreignBase {
		return "f" + strconv.FormatUint(uint64(r.ID-foreignBase), 10)
	}
	return strconv.FormatUint(uint64(r.ID), 10)
}

// hookAbbrev is a hook's short name in the table.
var hookAbbrev = map[string]string{
	model.HookPreRouting: "pre", model.HookInput: "in", model.HookForward: "fwd",
	model.HookOutput: "out", model.HookPostRouting: "post",
}

func hooksCell(hs []string) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		if a, ok := hookAbbrev[h]; ok {
			out[i] = a
		} else {
			out[i] = sanitize(h)
		}
	}
	return strings.Join(out, ",")
}

func (p *filtersPage) cell(i, c int) string {
	r := &p.snap.Rules.Rules[i]
	switch c {
	case frID:
		return ruleID(r)
	case frOn:
		s := "off"
		if r.Enabled {
			s = "on"
		}
		if r.PendingTxn != 0 {
			s += "*"
		}
		return s
	case frHooks:
		if len(r.Hooks) == 0 {
			return "-"
		}
		return hooksCell(r.Hooks)
	case frFamily:
		switch r.Family {
		case model.FamilyIPv4:
			return "ip4"
		case model.FamilyIPv6:
			return "ip6"
		}
		return "any"
	case frMatch:
		if r.Foreign {
			return "(foreign rule)"
		}
		nf := *r
		nf.Family = "" // the Fam column says it
		return sanitize(rules.Summary(nf))
	case frAction:
		return string(r.Action)
	case frPackets:
		return fmtCount(r.Packets, 7)
	case frBytes:
		return fmtBytes(r.Bytes)
	case frRate:
		return fmtRate(r.Rate)
	case frLastHit:
		if r.LastHit.IsZero() {
			return "-"
		}
		return r.LastHit.UTC().Format("15:04:05")
	case frLabel:
		return sanitize(r.Label)
	}
	return ""
}

// fmtBytes formats a byte count in at most 7 cells: "512", "1.5k", "12M".
func fmtBytes(v uint64) string { return fmtCount(v, 7) }

// View implements page.
func (p *filtersPage) View() string {
	switch p.mode {
	case modeForm:
		return p.formView()
	case modeGuard:
		return p.guardView()
	case modePolicy:
		return p.policyView()
	case modeLog:
		return p.log.view(p.Styles, p.Width, p.pageH)
	}
	if p.showSys {
		return p.viewsLine() + "\n" + p.sys.View()
	}
	s := p.Styles
	n := p.count()
	on := 0
	for i := range p.rules {
		if p.rules[i].Enabled {
			on++
		}
	}
	left := " " + nouns(n, "rule", "rules") + ", " + itoa(on) + " on, in evaluation order"
	if p.snap.Rules != nil {
		left += policySummary(p.snap.Rules.Hooks)
	}
	head := summaryLine(s, left, p.rightLabel(n), p.Width)
	empty := "no rules (a adds one)"
	if p.readOnly() != "" {
		empty = "no rules"
	}
	if p.filter != "" {
		empty = "no rules match the filter " + strconv.Quote(p.filter)
	}
	body := p.render(head, n, empty, func(i, c int) string { return p.cell(p.idx[i], c) }, p.rowKind, p.detail)
	return p.infoView() + "\n" + body + "\n" + p.msgLine()
}

// infoView is the two lines above the table: the backend, or why it is
// read-only and the fix; the pending change's countdown, or the per-hook
// verdicts.
func (p *filtersPage) infoView() string {
	s, w := p.Styles, p.Width
	var lines []string
	rs := p.snap.Rules
	switch {
	case rs == nil:
		lines = append(lines, s.Dim.Render(fitString(" backend: not known yet", w)))
	case rs.ReadOnly != "":
		why := strings.TrimPrefix(oneLine(rs.ReadOnly), "read-only: ")
		lines = append(lines, s.Warn.Render(fitString(" backend "+rs.Backend+" READ-ONLY: "+why, w)))
		lines = append(lines, s.PaneText.Render(fitString("   fix: sudo netlens, or: sudo setcap cap_net_admin+ep $(command -v netlens)", w)))
	case p.ctl == nil:
		lines = append(lines, s.Dim.Render(fitString(" backend "+rs.Backend+": rules are shown; changing them is not available here", w)))
	default:
		lines = append(lines, s.Dim.Render(fitString(" backend "+rs.Backend+":  space on/off  a add  e edit  d delete  c confirm  P policy", w)))
	}
	if cd := p.countdown(); cd != "" {
		text := " " + cd + ": press c to keep the change, else it is undone"
		switch {
		case p.elsewhere():
			text = " " + cd + ": " + p.mine.what + " -- pending in " + p.mine.nsName + ": c there keeps it, else it is undone"
		case p.mine.what != "":
			text = " " + cd + ": " + p.mine.what + " -- press c to keep it, else it is undone"
		}
		lines = append(lines, s.Alarm.Render(fitString(text, w)))
	}
	if ev := p.lastEvent(); ev != "" && len(lines) < filtersInfoLines {
		lines = append(lines, ev)
	}
	if len(lines) < filtersInfoLines {
		lines = append(lines, s.Dim.Render(fitString(p.verdictLine(), w)))
	}
	return fixHeight(lines, filtersInfoLines)
}

// eventShown is how long the latest revert log entry stays above the
// table (`netlens rules list` shows the log whole).
const eventShown = time.Hour

// lastEvent is the latest entry of the revert log, if it is recent:
// " revert log 12:00:01: txn 7 revert helper (pid 42): reverted at the
// deadline", as an alarm when it is an error.
func (p *filtersPage) lastEvent() string {
	rs := p.snap.Rules
	if rs == nil || len(rs.Events) == 0 {
		return ""
	}
	e := rs.Events[len(rs.Events)-1]
	if p.now().Sub(e.At) > eventShown {
		return ""
	}
	text := " revert log " + e.At.Local().Format("15:04:05") + ": txn " + strconv.FormatUint(uint64(e.Txn), 10) + " " + e.By + ": " + oneLine(e.Message)
	if e.Error {
		return p.Styles.Alarm.Render(fitString(" REVERT ERROR"+strings.TrimPrefix(text, " revert log"), p.Width))
	}
	return p.Styles.Dim.Render(fitString(text, p.Width))
}

// verdictLine is the per-hook verdict counters on one line:
// " verdicts ipv4 in 1200 seen 3 dropped | out 800/0".
func (p *filtersPage) verdictLine() string {
	rs := p.snap.Rules
	if rs == nil || rs.ReadOnly != "" && len(rs.Hooks) == 0 {
		return ""
	}
	if rs.Backend == rules.BackendNFT {
		// nftables keeps no verdict counters; the policies are netlens's
		return " per-hook verdicts: not kept by nftables (the kernel module keeps them)"
	}
	if len(rs.Hooks) == 0 {
		return " per-hook verdicts: none"
	}
	var b strings.Builder
	b.WriteString(" verdicts seen/dropped:")
	for _, h := range rs.Hooks {
		if h.Seen == 0 && h.Dropped == 0 {
			continue
		}
		fam := "4"
		if h.Family == model.FamilyIPv6 {
			fam = "6"
		}
		b.WriteString(" " + hookAbbrev[h.Hook] + fam + " " + fmtCount(h.Seen, 6) + "/" + fmtCount(h.Dropped, 6))
	}
	if b.Len() == len(" verdicts seen/dropped:") {
		b.WriteString(" no packet seen yet")
	}
	return b.String()
}

// msgLine is the page's last line: the last action's result.
func (p *filtersPage) msgLine() string {
	s, w := p.Styles, p.Width
	if p.mode == modeDelete {
		q := " Delete rule " + strconv.FormatUint(uint64(p.delID), 10)
		for i := range p.rules {
			if p.rules[i].ID == p.delID && p.rules[i].Label != "" {
				q += " (" + strconv.Quote(sanitize(p.rules[i].Label)) + ")"
			}
		}
		return s.FilterPrompt.Render(fitString(q+"? y deletes it, n or esc keeps it", w))
	}
	return resultLine(s, p.msg, p.msgErr, w)
}

// resultLine is a page's line for the result of its last action (an
// error stands out), w cells.
func resultLine(s *Styles, msg string, isErr bool, w int) string {
	switch {
	case msg == "":
		return strings.Repeat(" ", w)
	case isErr:
		return s.StatusErr.Render(fitString(" "+msg, w))
	}
	return s.Status.Render(fitString(" "+msg, w))
}

func (p *filtersPage) rowKind(i int) rowKind {
	r := &p.snap.Rules.Rules[p.idx[i]]
	switch {
	case r.PendingTxn != 0:
		return rowMarked
	case p.Changed != nil && p.Changed.Rules[r.ID]:
		return rowHot
	case !r.Enabled:
		return rowDim
	case r.Rate > 0:
		return rowHot
	}
	return rowPlain
}

// detail is the selected rule in full.
func (p *filtersPage) detail(i int) []string {
	r := p.snap.Rules.Rules[p.idx[i]]
	first := "rule " + strconv.FormatUint(uint64(r.ID), 10) + " (" + ruleID(&r) + ")  " + string(r.Action) + "  " + sanitize(rules.Summary(r)) +
		"  hooks " + strings.Join(r.Hooks, ",") + "  priority " + strconv.FormatUint(uint64(r.Priority), 10)
	second := strconv.FormatUint(r.Packets, 10) + " packets, " + strconv.FormatUint(r.Bytes, 10) + " bytes, " + fmtRate(r.Rate) + " pkt/s"
	if !r.LastHit.IsZero() {
		second += ", last hit " + r.LastHit.UTC().Format("15:04:05") + " UTC"
	}
	third := "label " + strconv.Quote(sanitize(r.Label))
	if r.PendingTxn != 0 {
		third += "  pending txn " + strconv.FormatUint(uint64(r.PendingTxn), 10) + ", undone at " + r.RevertAt.UTC().Format("15:04:05") + " UTC unless confirmed"
	}
	if r.Foreign {
		third += "  foreign: not made by netlens (shown, deletable, never changed)"
	}
	if p.snap.DropTrace.Supported && r.Drops() {
		// The eBPF tracer's NETFILTER_DROP flows this rule decided
		// (model.Snapshot.DropRule says how).
		n, fl := p.snap.RuleDrops(r.ID)
		third += "  traced drops " + strconv.FormatUint(n, 10) + " in " + itoa(fl) + " flows"
	}
	return []string{first, second, third}
}

// guardView is the lockout guard's second confirmation: what the change
// would cut and how many.
func (p *filtersPage) guardView() string {
	s, w := p.Styles, p.Width
	im := p.plan.Impact
	lines := []string{
		s.Alarm.Render(fitString(" !! LOCKOUT GUARD: "+opText(p.plan.Op)+" would cut established connections !!", w)),
		"",
	}
	if h := im.Session; h != nil {
		lines = append(lines, s.Warn.Render(fitString(" YOUR OWN SSH SESSION would be cut:", w)),
			s.Warn.Render(fitString("   "+sanitize(h.What)+" at "+h.Hook+" by "+hitBy(*h), w)))
	}
	var n []string
	if im.Sockets > 0 {
		n = append(n, itoa(im.Sockets)+" established socket(s)")
	}
	if im.Flows > 0 {
		n = append(n, itoa(im.Flows)+" conntrack flow(s)")
	}
	if len(n) > 0 {
		lines = append(lines, s.Warn.Render(fitString(" "+strings.Join(n, " and ")+" would be cut", w)))
	}
	lines = append(lines, "")
	room := p.pageH - len(lines) - 4
	shown := 0
	if im.Session != nil && room > 0 {
		lines = append(lines, fitString("  "+hitLine(*im.Session), w))
		shown++
	}
	for _, h := range im.Hits {
		if shown >= room {
			break
		}
		lines = append(lines, fitString("  "+hitLine(h), w))
		shown++
	}
	total := im.Sockets + im.Flows
	if im.Session != nil {
		total++
	}
	if rest := total - shown; rest > 0 {
		lines = append(lines, s.Dim.Render(fitString("  ... and "+itoa(rest)+" more", w)))
	}
	lines = append(lines, "")
	if p.plan.Revert > 0 {
		lines = append(lines, fitString(" If applied, it is undone after "+p.plan.Revert.String()+" unless you press c.", w))
	}
	prompt := " Apply anyway? press Y (or y twice) to apply, n or esc to cancel"
	if p.yes == 1 {
		prompt = " y once more to apply (n or esc cancels)"
	}
	lines = append(lines, s.FilterPrompt.Render(fitString(prompt, w)))
	return fixHeight(lines, p.pageH)
}

// hitLine is one connection the guard found: "socket tcp 10.0.0.2:5000 ->
// 10.0.0.1:22: dropped at input by rule 3".
func hitLine(h rules.Hit) string {
	return fitCells(string(h.Kind), len(h.Kind), 11, false, false) + " " + sanitize(h.What) + "  at " + h.Hook + " by " + hitBy(h)
}

// hitBy names what drops a hit's packets: a rule, or the default policy.
func hitBy(h rules.Hit) string {
	if h.Policy != nil {
		return h.By()
	}
	return ruleRef(h.Rule)
}

func ruleRef(r model.Rule) string {
	if r.ID == 0 || r.ID == ^uint32(0) {
		return "the new rule"
	}
	return "rule " + ruleID(&r)
}

// viewsLine names the two views, the one shown in brackets.
func (p *filtersPage) viewsLine() string {
	names := []string{"netlens rules " + itoa(len(p.rules)), "nftables " + itoa(p.sys.ruleCount())}
	cur := 0
	if p.showSys {
		cur = 1
	}
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString("  ")
		}
		if i == cur {
			b.WriteString("[" + n + "]")
		} else {
			b.WriteString(" " + n + " ")
		}
	}
	return p.Styles.Dim.Render(fitString(b.String()+"   (v: next view)", p.Width))
}

// ShortHelp implements page.
func (p *filtersPage) ShortHelp() []key.Binding {
	k := p.Keys
	if p.showSys {
		return []key.Binding{k.shortView, k.Details}
	}
	return []key.Binding{k.RuleToggle, k.RuleAdd, k.RuleEdit, k.RuleDelete, k.RuleConfirm, k.RulePolicy, k.shortView}
}

// FullHelp implements page.
func (p *filtersPage) FullHelp() [][]key.Binding {
	k := p.Keys
	last := k.Details
	if p.hasLog() {
		last = k.RuleLog
	}
	return [][]key.Binding{{k.RuleToggle, k.RuleAdd, k.RuleEdit, k.RuleDelete, k.RuleConfirm, k.RulePolicy, last, k.View}}
}

// countdownMsg is a tick of the pending change's countdown.
type countdownMsg struct{}

// Background implements page: the results of the tab's commands, and
// the countdown's ticks.
func (p *filtersPage) Background(msg tea.Msg, refresh func()) (tea.Cmd, bool) {
	switch msg.(type) {
	case countdownMsg:
		p.ticking = false
		p.followPending()
		return nil, true
	case filtersMsg:
	default:
		return nil, false
	}
	_, cmd := p.Update(msg)
	switch msg.(type) {
	case applyDoneMsg, confirmDoneMsg:
		// The control has published the rules the change left (cli/root.go
		// refreshes the collector before it returns): show them now, not
		// at the next refresh, so that the rule just added can be
		// selected at once. After the page has taken the result, so that
		// it knows the change as its own.
		refresh()
	}
	p.Sync()
	return cmd, true
}

// TickCmd implements page: a tick once a second while a filter change
// waits for its confirm, so that the countdown moves (in the header, on
// every tab); nil otherwise.
func (p *filtersPage) TickCmd(bool) tea.Cmd {
	if p.ticking {
		return nil
	}
	if _, n := p.revertAt(); n == 0 {
		return nil
	}
	p.ticking = true
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return countdownMsg{} })
}

// Alarm implements page: the countdown of a pending filter change,
// " REVERT IN 25s: c on Filters keeps it ", or "".
func (p *filtersPage) Alarm(width int) string {
	tab := "Filters"
	if p.elsewhere() {
		tab += " in " + p.mine.nsName
	}
	return alarmText(p.countdown(), tab, width)
}

// alarmText is the header's countdown cd with the tab whose c keeps the
// change, when the header has room for it; "" when cd is.
func alarmText(cd, tab string, width int) string {
	if cd == "" {
		return ""
	}
	full := " " + cd + ": c on " + tab + " keeps it "
	if width-len(full) >= 40 {
		return full
	}
	return " " + cd + " "
}

// HelpLines implements page.
func (p *filtersPage) HelpLines(width int) []string {
	return helpText(width,
		"Filters: On * = part of a change waiting for c; a change that can drop "+
			"traffic is undone at its deadline (REVERT IN, also in the header) unless "+
			"c keeps it; one that would cut your SSH session or established "+
			"connections asks again (Y or y twice). Foreign rules (id fN: nft handle "+
			"N) are shown, never changed. P sets a hook's default policy (what no "+
			"rule decides): a DROP policy is guarded and undone at its deadline "+
			"unless c keeps it, like a dropping rule. v: the rest of the nftables "+
			"ruleset, read only (rule counters, rates, policies).")
}

// withPacketLog gives the page the packet log control (nil: none).
func (p *filtersPage) withPacketLog(c PacketLogControl) *filtersPage {
	p.logCtl = c
	return p
}

// hasLog says whether Enter opens the packet log: a control and a backend
// that logs (the kernel module, nftables).
func (p *filtersPage) hasLog() bool {
	return p.logCtl != nil && p.snap.Rules != nil && (p.snap.Rules.Backend == rules.BackendKmod || p.snap.Rules.Backend == rules.BackendNFT)
}
