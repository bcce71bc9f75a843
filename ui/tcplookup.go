package ui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// tcpLookupTimeout bounds one Controls.TCPInfo call.
const tcpLookupTimeout = 2 * time.Second

// tcpLookup is the selected socket's tcp_info as Controls.TCPInfo last
// gave it (the TUI reads its socket table counters only).
type tcpLookup struct {
	cookie uint64 // the socket asked about
	seq    uint64 // the SocketsSeq of the table of the last answer
	info   *model.TCPInfo
	err    error
	busy   bool // a call is under way
	done   bool // an answer for cookie came
}

// tcpInfoMsg is the answer of a Controls.TCPInfo call.
type tcpInfoMsg struct {
	cookie, seq uint64
	info        *model.TCPInfo
	err         error
}

// needsLookup reports whether the detail pane of s has to ask for its
// tcp_info: a full TCP socket of the table's own namespace, read
// without it, not a listener (whose pane says it moves no data). The
// kernel reports sk_drops (HasDrops) of full sockets only: TIME-WAIT
// sockets, in the TIME-WAIT or FIN-WAIT-2 substate, and request sockets
// have neither drops nor tcp_info.
func needsLookup(s *model.Socket) bool {
	return s.Proto == model.ProtoTCP && s.TCP == nil && s.HasDrops && s.Cookie != 0 && s.Namespace == "" &&
		s.State != model.StateListen
}

// lookupCmd asks for the selected socket's tcp_info while the detail pane
// is open: once for each socket table, and again when the selection
// moves to another socket; nil when nothing is to ask or a call is under
// way.
func (p *sockView) lookupCmd() tea.Cmd {
	if p.lookCtl == nil || !p.details || p.look.busy {
		return nil
	}
	i := p.selected()
	if i < 0 {
		return nil
	}
	s := &p.snap.Sockets[i]
	if !needsLookup(s) || p.look.cookie == s.Cookie && p.look.seq == p.snap.SocketsSeq {
		return nil
	}
	if p.look.cookie != s.Cookie {
		p.look = tcpLookup{cookie: s.Cookie}
	}
	p.look.busy = true
	// What the lookup needs, not the table's memory.
	q := model.Socket{Proto: s.Proto, Family: s.Family, Local: s.Local, Remote: s.Remote, State: s.State, Cookie: s.Cookie, Interface: s.Interface}
	ctl, seq := p.lookCtl, p.snap.SocketsSeq
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), tcpLookupTimeout)
		defer cancel()
		info, err := ctl.TCPInfo(ctx, q)
		return tcpInfoMsg{cookie: q.Cookie, seq: seq, info: info, err: err}
	}
}

// takeLookup keeps an answer of lookupCmd's.
func (p *sockView) takeLookup(m tcpInfoMsg) {
	if m.cookie != p.look.cookie {
		return // the selection moved on; its own call follows
	}
	p.look.busy = false
	p.look.seq, p.look.info, p.look.err, p.look.done = m.seq, m.info, m.err, true
}

// tcpLines is the detail pane's tcp_info part for s: the table's, else
// the last answer of Controls.TCPInfo for it.
func (p *sockView) tcpLines(s *model.Socket) []string {
	if p.lookCtl == nil || !needsLookup(s) {
		return tcpDetail(s)
	}
	if p.look.cookie != s.Cookie || !p.look.done {
		return []string{"tcp_info: asking the kernel for this socket's"}
	}
	if p.look.err != nil {
		return []string{"no tcp_info: " + sanitize(p.look.err.Error())}
	}
	if p.look.info == nil {
		return []string{"no tcp_info: the kernel has none for it now (it closed: TIME-WAIT)"}
	}
	c := *s
	c.TCP = p.look.info
	return tcpDetail(&c)
}

// Background implements page: the answers of the sockets view's
// tcp_info lookups.
func (p *connsPage) Background(msg tea.Msg, _ func()) (tea.Cmd, bool) {
	if m, ok := msg.(tcpInfoMsg); ok {
		p.socks.takeLookup(m)
		return nil, true
	}
	return nil, false
}

// TickCmd implements page: the selected socket's tcp_info lookup while
// the sockets view and its detail pane are on screen. None while another
// tab is: the tab shown again asks at once if the socket table changed
// since its last answer (the App asks every page after each message, the
// tab switch's included).
func (p *connsPage) TickCmd(shown bool) tea.Cmd {
	if !shown || p.view != viewSockets {
		return nil
	}
	return p.socks.lookupCmd()
}
