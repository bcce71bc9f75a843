package ui

import (
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// Stages of the sysctl editor.
const (
	edClosed   = iota
	edInput    // typing the new value
	edPlanning // Plan runs
	edGuard    // the guard named risks: Y (or y twice) applies
	edApplying // Apply runs
)

// sysctlEditor is e on the Sysctl tab and on a Drops counter's
// explanation: it edits one sysctl's value, has the SysctlControl
// validate it (a refusal is shown under the value, the form stays
// open), asks again when the guard names a risk, applies it, and keeps
// the countdown of the change waiting for a confirm (c on the Sysctl
// tab), shown in the header on every tab. One editor is shared by the
// two pages. Not safe for concurrent use.
type sysctlEditor struct {
	ctl SysctlControl
	now func() time.Time

	stage int
	name  string
	old   string
	text  []rune
	err   string // why the value was refused
	plan  SysctlPlan
	yes   int

	// mine is the change this UI applied, until it is confirmed or
	// reverted; snap is the latest snapshot's journal and pending change.
	mine    *model.SysctlPending
	pending *model.SysctlPending
	journal []model.SysctlChange
	ticking bool
	// mineNS is the namespace mine was made in (nsInode), mineNSName
	// what to call it; shownNS and shownName the latest snapshot's.
	// While they differ, that snapshot's journal and pending change say
	// nothing about mine, and c there does not keep it.
	mineNS, shownNS       uint64
	mineNSName, shownName string

	msg    string
	msgErr bool
	// status shows a message on the App's status line: the Drops tab has
	// no message line of its own, so what the editor opened there says
	// goes there (fromDrops).
	status    func(string, bool)
	fromDrops bool
}

// Messages of the editor's commands.
type (
	sysctlPlannedMsg struct {
		plan SysctlPlan
		err  error
	}
	sysctlAppliedMsg struct {
		plan SysctlPlan
		res  SysctlResult
		err  error
	}
	sysctlConfirmedMsg struct {
		p   model.SysctlPending
		err error
	}
	sysctlTickMsg struct{}
)

func (e *sysctlEditor) isOpen() bool { return e.stage != edClosed }

// open starts editing name, whose value is now value. It returns why it
// cannot ("" when it opened).
func (e *sysctlEditor) open(name, value string) string {
	switch {
	case e.ctl == nil:
		return "e is off: netlens shows a file, or cannot change sysctls here"
	case e.isOpen():
		return ""
	}
	e.stage, e.name, e.old, e.text, e.err, e.yes, e.fromDrops = edInput, name, value, []rune(value), "", 0, false
	return ""
}

// setSnapshot takes the journal and the pending change of s; a change of
// this UI that the journal says was reverted or confirmed ends here.
func (e *sysctlEditor) setSnapshot(s model.Snapshot) {
	e.pending, e.journal, e.shownNS, e.shownName = nil, nil, nsInode(s.NetNS), nsLabel(s.NetNS)
	if sc := s.SysctlChanges; sc != nil {
		e.pending, e.journal = sc.Pending, sc.Journal
	}
	if e.mine == nil || e.elsewhere() {
		return
	}
	for _, j := range e.journal {
		if j.Txn != e.mine.Txn {
			continue
		}
		switch j.Outcome {
		case model.SysctlReverted:
			e.setMsg("REVERTED: "+e.mine.Name+" was written back to "+e.mine.Old+" at its deadline", true)
			e.mine = nil
			return
		case model.SysctlConfirmed:
			e.mine = nil
			return
		}
	}
}

func (e *sysctlEditor) setMsg(s string, isErr bool) {
	e.msg, e.msgErr = s, isErr
	if e.fromDrops && e.status != nil {
		e.status(s, isErr)
	}
}

// elsewhere says whether mine waits in a namespace other than the one
// shown.
func (e *sysctlEditor) elsewhere() bool { return e.mine != nil && e.mineNS != e.shownNS }

// revertAt is the deadline of the change waiting for a confirm, if any.
func (e *sysctlEditor) revertAt() (model.SysctlPending, bool) {
	switch {
	case e.mine != nil:
		return *e.mine, true
	case e.pending != nil:
		return *e.pending, true
	}
	return model.SysctlPending{}, false
}

// countdown is "SYSCTL REVERT IN 25s", or "".
func (e *sysctlEditor) countdown() string {
	p, ok := e.revertAt()
	if !ok {
		return ""
	}
	left := p.RevertAt.Sub(e.now())
	if left < 0 {
		return "SYSCTL REVERTING (deadline passed)"
	}
	return "SYSCTL REVERT IN " + strconv.Itoa(int((left+time.Second-1)/time.Second)) + "s"
}

// alarm is the header's countdown, with the key that keeps the change.
func (e *sysctlEditor) alarm(width int) string {
	tab := "Sysctl"
	if e.elsewhere() {
		tab += " in " + e.mineNSName
	}
	return alarmText(e.countdown(), tab, width)
}

// tickCmd is the countdown's next tick while a change waits.
func (e *sysctlEditor) tickCmd() tea.Cmd {
	if e.ticking {
		return nil
	}
	if _, ok := e.revertAt(); !ok {
		return nil
	}
	e.ticking = true
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return sysctlTickMsg{} })
}

// confirm is c: it keeps the change waiting for a confirm.
func (e *sysctlEditor) confirm() tea.Cmd {
	if _, ok := e.revertAt(); !ok || e.ctl == nil {
		e.setMsg("no sysctl change waits for a confirm", false)
		return nil
	}
	if e.elsewhere() && e.pending == nil {
		// The control is the namespace shown's: it cannot keep mine.
		e.setMsg("no sysctl change waits here: "+e.mine.Name+" = "+e.mine.New+" waits in "+e.mineNSName+" (c on Sysctl there keeps it)", false)
		return nil
	}
	ctl := e.ctl
	return func() tea.Msg {
		p, err := ctl.Confirm()
		return sysctlConfirmedMsg{p: p, err: err}
	}
}

// key handles a key while the editor is open.
func (e *sysctlEditor) key(msg tea.KeyPressMsg) tea.Cmd {
	switch e.stage {
	case edPlanning, edApplying:
		return nil
	case edGuard:
		switch msg.String() {
		case "Y":
			return e.apply()
		case "y":
			if e.yes++; e.yes >= 2 {
				return e.apply()
			}
		case "n", "esc", "q":
			e.stage = edClosed
			e.setMsg("cancelled: "+e.name+" was not changed", false)
		}
		return nil
	}
	switch msg.String() {
	case "esc":
		e.stage = edClosed
		e.setMsg("cancelled: "+e.name+" was not changed", false)
	case "enter":
		e.stage, e.err = edPlanning, ""
		ctl, name, val := e.ctl, e.name, string(e.text)
		return func() tea.Msg {
			p, err := ctl.Plan(name, val)
			return sysctlPlannedMsg{plan: p, err: err}
		}
	case "backspace", "ctrl+h":
		if len(e.text) > 0 {
			e.text = e.text[:len(e.text)-1]
		}
	case "ctrl+u", "ctrl+w":
		e.text = e.text[:0]
	default:
		if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
			e.text = append(e.text, []rune(sanitize(msg.Text))...)
		}
	}
	return nil
}

func (e *sysctlEditor) paste(s string) {
	if e.stage != edInput {
		return
	}
	line, _, _ := strings.Cut(s, "\n")
	e.text = append(e.text, []rune(sanitize(strings.TrimRight(line, "\r")))...)
}

func (e *sysctlEditor) apply() tea.Cmd {
	e.stage = edApplying
	ctl, p := e.ctl, e.plan
	return func() tea.Msg {
		res, err := ctl.Apply(p)
		return sysctlAppliedMsg{plan: p, res: res, err: err}
	}
}

// result takes the result of one of the editor's commands; refresh has
// the App take the Store's latest snapshot. ok is false for any other
// message.
func (e *sysctlEditor) result(msg tea.Msg, refresh func()) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case sysctlTickMsg:
		e.ticking = false
		return nil, true
	case sysctlPlannedMsg:
		if e.stage != edPlanning {
			return nil, true
		}
		switch {
		case msg.err != nil:
			e.stage, e.err = edInput, oneLine(msg.err.Error())
		case msg.plan.Old == msg.plan.New:
			e.stage = edClosed
			e.setMsg(msg.plan.Name+" = "+msg.plan.New+" already: nothing changed", false)
		case len(msg.plan.Risks) > 0:
			e.stage, e.plan, e.yes = edGuard, msg.plan, 0
		default:
			e.plan = msg.plan
			return e.apply(), true
		}
		return nil, true
	case sysctlAppliedMsg:
		e.stage = edClosed
		p := msg.plan
		if msg.err != nil {
			e.setMsg("not changed: "+oneLine(msg.err.Error()), true)
			return nil, true
		}
		if msg.res.RevertAt.IsZero() {
			e.setMsg(p.Name+": "+p.Old+" -> "+p.New+" (kept: no revert deadline)", false)
		} else {
			e.mine = &model.SysctlPending{Txn: msg.res.Txn, Name: p.Name, Old: p.Old, New: p.New, RevertAt: msg.res.RevertAt}
			e.mineNS, e.mineNSName = e.shownNS, e.shownName
			e.setMsg(p.Name+": "+p.Old+" -> "+p.New+" applied; press c on Sysctl to keep it (else written back in "+p.Revert.String()+")", false)
		}
		refresh()
		return nil, true
	case sysctlConfirmedMsg:
		if msg.err != nil {
			e.setMsg("confirm: "+oneLine(msg.err.Error()), true)
		} else {
			if !e.elsewhere() {
				e.mine = nil
			}
			e.setMsg("confirmed: "+msg.p.Name+" = "+msg.p.New+" is kept", false)
		}
		refresh()
		return nil, true
	}
	return nil, false
}

// view draws the editor in w x h cells.
func (e *sysctlEditor) view(s *Styles, w, h int) string {
	lines := []string{s.Summary.Render(fitString(" Change "+sanitize(e.name), w)), ""}
	if e.stage == edGuard {
		lines = []string{s.Alarm.Render(fitString(" !! GUARD: "+sanitize(e.name)+" "+e.plan.Old+" -> "+e.plan.New+" could cut your session !!", w)), ""}
		for _, r := range e.plan.Risks {
			for _, l := range wrap(sanitize(r), w-4) {
				lines = append(lines, s.Warn.Render(fitString("   "+l, w)))
			}
		}
		lines = append(lines, "")
		if e.plan.Revert > 0 {
			lines = append(lines, fitString(" If applied, it is written back after "+e.plan.Revert.String()+" unless you press c on Sysctl.", w))
		}
		prompt := " Apply anyway? press Y (or y twice) to apply, n or esc to cancel"
		if e.yes == 1 {
			prompt = " y once more to apply (n or esc cancels)"
		}
		lines = append(lines, s.FilterPrompt.Render(fitString(prompt, w)))
		return fixHeight(lines, h)
	}
	val := string(e.text)
	lines = append(lines,
		fitString("   now    "+sanitize(e.old), w),
		" "+s.FilterPrompt.Render("  new    ")+s.Cursor.Render(fitCells(val, width(val), max(min(w-12, 40), 10), false, true)),
		"")
	switch {
	case e.stage == edPlanning:
		lines = append(lines, s.Dim.Render(fitString("   checking...", w)))
	case e.stage == edApplying:
		lines = append(lines, s.Dim.Render(fitString("   writing...", w)))
	case e.err != "":
		for _, l := range wrap("refused, nothing changed: "+e.err, w-4) {
			lines = append(lines, s.StatusErr.Render(fitString("   "+l, w)))
		}
	}
	// The keys are read whole: wrapped, not cut.
	lines = append(lines, "")
	for _, l := range wrap("enter: check and apply (with a revert deadline: c on Sysctl keeps it)   esc: cancel   ctrl+u: clear", w-1) {
		lines = append(lines, s.Dim.Render(fitString(" "+l, w)))
	}
	return fixHeight(lines, h)
}
