package ui

import (
	"errors"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// Capture form fields, in order.
const (
	cfIface = iota
	cfFilter
	cfLimit
	cfFields
)

// Bounds of the capture form's limit (control/capture checks them again).
const (
	captureMaxCount    = 100_000_000
	captureMaxDuration = 24 * time.Hour
)

// captureForm is the Capture tab's form to start a capture: the interface
// picked from the namespace's links (left/right), a filter compiled as
// the user types (CaptureRunControl.CheckFilter, the compiler of
// --capture-filter), and a limit: a packet count or a duration. Not safe
// for concurrent use.
type captureForm struct {
	ifaces  []string // "any" first; nil while loading
	ifErr   string   // why the links could not be listed
	ifCur   int
	filter  []rune
	limit   []rune
	cur     int
	tried   bool
	check   func(string) error
	loading bool
}

func newCaptureForm(check func(string) error) *captureForm {
	return &captureForm{check: check, limit: []rune("1000"), loading: true, cur: cfFilter}
}

// setIfaces sets the links the picker offers, keeping "any" selected.
func (f *captureForm) setIfaces(names []string, err error) {
	f.loading = false
	if err != nil {
		f.ifErr = err.Error()
		names = []string{"any"}
	}
	f.ifaces, f.ifCur = names, 0
}

// parseCaptureLimit reads the form's limit: a whole number is a packet
// count ("20", "20 packets", "20p"), anything else a duration ("30s",
// "5m", "1h30m") as time.ParseDuration reads it.
func parseCaptureLimit(s string) (count int, d time.Duration, err error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, 0, errors.New("a packet count (1000) or a duration (30s): a capture here always ends by itself")
	}
	num := strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(t, "packets"), "pkts"), "p"))
	if n, err := strconv.Atoi(num); err == nil {
		if n <= 0 || n > captureMaxCount {
			return 0, 0, errors.New("packets: 1.." + strconv.Itoa(captureMaxCount))
		}
		return n, 0, nil
	}
	d, err = time.ParseDuration(t)
	if err != nil {
		return 0, 0, errors.New("not a packet count (1000) nor a duration (30s, 5m)")
	}
	if d < time.Second || d > captureMaxDuration {
		return 0, 0, errors.New("duration: 1s.." + captureMaxDuration.String())
	}
	return 0, d, nil
}

// request returns the capture the form describes, or the problem of
// each field (by index, "" for none).
func (f *captureForm) request() (model.CaptureRequest, []string) {
	probs := make([]string, cfFields)
	var req model.CaptureRequest
	switch {
	case f.loading:
		probs[cfIface] = "listing the links..."
	case len(f.ifaces) == 0:
		probs[cfIface] = "no link to capture on"
	default:
		req.Interface = f.ifaces[f.ifCur]
	}
	req.Filter = strings.TrimSpace(string(f.filter))
	if f.check != nil {
		if err := f.check(req.Filter); err != nil {
			probs[cfFilter] = strings.TrimPrefix(err.Error(), "capture filter: ")
		}
	}
	var err error
	if req.Count, req.Duration, err = parseCaptureLimit(string(f.limit)); err != nil {
		probs[cfLimit] = err.Error()
	}
	return req, probs
}

// valid reports whether the form has no problem.
func (f *captureForm) valid() bool {
	_, probs := f.request()
	for _, p := range probs {
		if p != "" {
			return false
		}
	}
	return true
}

// key edits the form: up/down, tab/shift+tab move between fields;
// left/right pick the interface; backspace, ctrl+u edit; text is typed.
func (f *captureForm) key(msg tea.KeyPressMsg) {
	text := &f.filter
	if f.cur == cfLimit {
		text = &f.limit
	}
	switch msg.String() {
	case "up", "shift+tab":
		f.cur = (f.cur + cfFields - 1) % cfFields
	case "down", "tab":
		f.cur = (f.cur + 1) % cfFields
	case "left", "right":
		if f.cur == cfIface && len(f.ifaces) > 0 {
			step := 1
			if msg.String() == "left" {
				step = len(f.ifaces) - 1
			}
			f.ifCur = (f.ifCur + step) % len(f.ifaces)
		}
	case "backspace", "ctrl+h":
		if f.cur != cfIface && len(*text) > 0 {
			*text = (*text)[:len(*text)-1]
		}
	case "ctrl+u", "ctrl+w":
		if f.cur != cfIface {
			*text = (*text)[:0]
		}
	default:
		if msg.Text == "" || msg.Mod&^tea.ModShift != 0 {
			return
		}
		if f.cur == cfIface {
			f.pick(msg.Text)
			return
		}
		*text = append(*text, []rune(sanitize(msg.Text))...)
	}
}

// pick selects the next interface whose name starts with s (typing a
// letter on the interface field jumps to it).
func (f *captureForm) pick(s string) {
	for i := 1; i <= len(f.ifaces); i++ {
		j := (f.ifCur + i) % len(f.ifaces)
		if strings.HasPrefix(f.ifaces[j], s) {
			f.ifCur = j
			return
		}
	}
}

// paste types the first line of a paste into the current text field.
func (f *captureForm) paste(s string) {
	line, _, _ := strings.Cut(s, "\n")
	line = sanitize(strings.TrimRight(line, "\r"))
	switch f.cur {
	case cfFilter:
		f.filter = append(f.filter, []rune(line)...)
	case cfLimit:
		f.limit = append(f.limit, []rune(line)...)
	}
}

// view draws the form in w x h cells.
func (f *captureForm) view(s *Styles, w, h int) string {
	_, probs := f.request()
	lines := []string{s.Summary.Render(fitString(" Start a capture  (validated as you type; it costs CPU while it runs)", w)), ""}
	const lw, vw = 11, 30
	iface := "..."
	if len(f.ifaces) > 0 {
		iface = "< " + f.ifaces[f.ifCur] + " >"
	}
	vals := [cfFields]string{iface, string(f.filter), string(f.limit)}
	labels := [cfFields]string{"interface", "filter", "limit"}
	hints := [cfFields]string{
		"left/right or a letter: pick (" + itoa(max(len(f.ifaces)-1, 0)) + " links, or any)",
		"tcpdump syntax: host, net, port, portrange, tcp, udp, icmp, vlan, and/or/not; empty: all",
		"packets (1000) or a duration (30s, 5m): it stops by itself",
	}
	for i := range cfFields {
		cell := fitCells(vals[i], width(vals[i]), vw, false, true)
		label := fitCells(labels[i], len(labels[i]), lw, true, false)
		line := " " + label + " [" + cell + "]"
		if i == f.cur {
			line = " " + s.FilterPrompt.Render(label) + " " + s.Cursor.Render(cell) + " "
		}
		room := max(w-lw-vw-4, 0)
		switch {
		case probs[i] != "":
			line += s.StatusErr.Render(fitString("! "+probs[i], room))
		case i == f.cur:
			line += s.Dim.Render(fitString(hints[i], room))
		}
		lines = append(lines, line)
	}
	if f.ifErr != "" {
		lines = append(lines, s.Warn.Render(fitString("   links not listed ("+oneLine(f.ifErr)+"): only any", w)))
	}
	lines = append(lines, "")
	help := " enter: start   esc: cancel   up/down, tab: field   c stops the capture once it runs"
	lines = appendFormHelp(lines, s, w, help, probs[:], f.cur, f.tried, func(i int) string { return labels[i] })
	return fixHeight(lines, h)
}
