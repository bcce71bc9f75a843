package ui

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/model"
	"netlens/model/rules"
)

// packetLogKeep is how many packets the packet log view keeps.
const packetLogKeep = 2000

// packetLogView is the Filters tab's live packet log of one rule (Enter on
// a rule whose backend has a packet log): the packets the rule logs,
// newest last; p pauses (the view stops moving, packets still arrive and
// are kept), the arrows and page keys scroll, esc goes back. The stream
// runs in a goroutine that ends when the view closes (its context).
type packetLogView struct {
	rule    model.Rule
	session int
	ch      chan packetLogEvent
	cancel  context.CancelFunc
	uiDrops *atomic.Uint64 // packets the view's queue had no room for

	pkts   []model.LoggedPacket
	total  int  // packets received
	lost   int  // receive-buffer overruns the control reported
	paused bool // the view shows frozen
	frozen int  // len(pkts) when paused
	back   int  // lines scrolled back from the newest
	ended  string
}

// packetLogEvent is what the stream goroutine hands the view.
type packetLogEvent struct {
	p    model.LoggedPacket
	lost bool
	end  bool
	err  error
}

// packetLogMsg carries one event of packet log session to the Filters tab.
type packetLogMsg struct {
	session int
	ev      packetLogEvent
	ok      bool // false: the stream is over
}

func (packetLogMsg) filtersMsg() {}

var packetLogSessions atomic.Int64

// openPacketLog starts streaming rule r's packet log through ctl.
func openPacketLog(ctl PacketLogControl, r model.Rule) (*packetLogView, tea.Cmd) {
	ctx, cancel := context.WithCancel(context.Background())
	v := &packetLogView{rule: r, session: int(packetLogSessions.Add(1)), ch: make(chan packetLogEvent, 1024),
		cancel: cancel, uiDrops: new(atomic.Uint64)}
	ch, drops := v.ch, v.uiDrops
	send := func(ev packetLogEvent) bool {
		select {
		case ch <- ev:
			return true
		default:
			return false
		}
	}
	go func() {
		defer close(ch)
		err := ctl.PacketLog(ctx, r.ID, func(p model.LoggedPacket) {
			if !send(packetLogEvent{p: p}) {
				drops.Add(1)
			}
		}, func() { send(packetLogEvent{lost: true}) })
		send(packetLogEvent{end: true, err: err})
	}()
	return v, v.waitCmd()
}

// waitCmd waits for the next event of the stream.
func (v *packetLogView) waitCmd() tea.Cmd {
	ch, session := v.ch, v.session
	return func() tea.Msg {
		ev, ok := <-ch
		return packetLogMsg{session: session, ev: ev, ok: ok}
	}
}

// close stops the stream; its goroutine ends with the context.
func (v *packetLogView) close() { v.cancel() }

// handle takes one event; it returns the command waiting for the next.
func (v *packetLogView) handle(m packetLogMsg) tea.Cmd {
	if m.session != v.session {
		return nil
	}
	switch {
	case !m.ok:
		return nil
	case m.ev.end:
		v.ended = "the packet log ended"
		if m.ev.err != nil {
			v.ended = "packet log: " + oneLine(m.ev.err.Error())
		}
	case m.ev.lost:
		v.lost++
	default:
		v.total++
		v.pkts = append(v.pkts, m.ev.p)
		if n := len(v.pkts) - packetLogKeep; n > 0 {
			v.pkts = v.pkts[n:]
			v.frozen = max(v.frozen-n, 0)
		}
	}
	return v.waitCmd()
}

// key handles a key of the packet log view; done says to close it.
func (v *packetLogView) key(k *KeyMap, msg tea.KeyPressMsg, height int) (done bool) {
	page := max(height-2, 1)
	switch {
	case msg.String() == "esc" || msg.String() == "q" || key.Matches(msg, k.Details):
		return true
	case msg.String() == "p" || key.Matches(msg, k.RuleToggle):
		v.paused = !v.paused
		v.frozen = len(v.pkts)
		if !v.paused {
			v.back = 0
		}
	case msg.String() == "up" || msg.String() == "k":
		v.back++
	case msg.String() == "down" || msg.String() == "j":
		v.back--
	case msg.String() == "pgup":
		v.back += page
	case msg.String() == "pgdown":
		v.back -= page
	case msg.String() == "home" || msg.String() == "g":
		v.back = len(v.pkts)
	case msg.String() == "end" || msg.String() == "G":
		v.back = 0
	}
	v.back = max(min(v.back, len(v.pkts)), 0)
	return false
}

// view renders the log in width x height: a header, the packets (the
// newest at the bottom unless scrolled back or paused), a status line.
func (v *packetLogView) view(s *Styles, width, height int) string {
	n := len(v.pkts)
	if v.paused {
		n = v.frozen
	}
	head := " packet log of rule " + strconv.FormatUint(uint64(v.rule.ID), 10) + ": " +
		string(v.rule.Action) + " " + rules.Summary(v.rule)
	if v.rule.Label != "" {
		head += " \"" + v.rule.Label + "\""
	}
	rows := max(height-2, 1)
	end := max(n-v.back, 0)
	start := max(end-rows, 0)
	var lines []string
	lines = append(lines, s.TableHeader.Render(fitString(sanitize(head), width)))
	if n == 0 {
		lines = append(lines, s.Dim.Render(fitString("  waiting for packets (the rule logs only when it matches)", width)))
		if !v.rule.Log {
			// The rule form has no log field: the CLI sets it.
			msg := "  this rule has no log: netlens rules change " + strconv.FormatUint(uint64(v.rule.ID), 10) + " --log sets it"
			lines = append(lines, s.Dim.Render(fitString(msg, width)))
		}
	}
	for _, p := range v.pkts[start:end] {
		lines = append(lines, fitString(sanitize(" "+rules.PacketLine(p)), width))
	}
	for len(lines) < height-1 {
		lines = append(lines, "")
	}
	status := " " + itoa(v.total) + " packets"
	if v.paused {
		status += ", PAUSED (" + itoa(len(v.pkts)-v.frozen) + " new)"
	}
	if v.back > 0 {
		status += ", " + itoa(v.back) + " back"
	}
	if d := v.uiDrops.Load(); d > 0 || v.lost > 0 {
		status += ", lost: " + itoa(v.lost) + " overruns, " + strconv.FormatUint(d, 10) + " not shown (too fast)"
	}
	if v.rule.LogRate > 0 {
		status += ", at most " + strconv.FormatUint(uint64(v.rule.LogRate), 10) + "/s"
	}
	if v.ended != "" {
		status += "; " + v.ended
	}
	status += "   p pause  up/down pgup pgdn scroll  esc back"
	lines = append(lines, s.Dim.Render(fitString(status, width)))
	return strings.Join(lines, "\n")
}
