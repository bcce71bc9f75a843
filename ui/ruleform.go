package ui

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
	"netlens/model/rules"
)

// formField is one field of the rule form: its JSON name (the name
// rules.ValidationError uses), its label, its text and a hint.
type formField struct {
	name, label, hint string
	text              []rune
}

// ruleForm is the Filters tab's form to add or edit a rule. It validates
// as the user types (filter.ParseX for the text of each field, then
// rules.Validate for the rule) and shows each field's problem next to
// it. Not safe for concurrent use.
type ruleForm struct {
	id uint32 // the rule edited, 0 to add
	// base is the rule edited: what the form has no field for (sets,
	// packet log) is kept from it
	base   model.Rule
	fields []formField
	cur    int
	tried  bool // enter was pressed on an invalid form
}

// Form fields, in order.
const (
	ffHooks = iota
	ffFamily
	ffProto
	ffSrc
	ffDst
	ffSport
	ffDport
	ffIif
	ffOif
	ffAction
	ffPriority
	ffLabel
	ffEnabled
	// the stateful and L4 matches come last: the fields above keep their
	// places
	ffCT
	ffICMP
	ffTCPFlags
)

func newRuleForm(r model.Rule, id uint32) *ruleForm {
	fam := string(r.Family)
	if r.Family == model.RuleFamilyBoth {
		fam = ""
	}
	pfx := func(p netip.Prefix) string {
		if !p.IsValid() {
			return ""
		}
		return p.String()
	}
	ports := func(pr model.PortRange) string {
		if pr.Any() {
			return ""
		}
		return rules.FormatPorts(pr)
	}
	on := "yes"
	if !r.Enabled {
		on = "no"
	}
	f := &ruleForm{id: id, base: r, fields: []formField{
		ffHooks:    {name: "hooks", label: "hooks", hint: "prerouting,input,forward,output,postrouting or all"},
		ffFamily:   {name: "family", label: "family", hint: "ipv4, ipv6, both (empty: from the addresses)"},
		ffProto:    {name: "proto", label: "proto", hint: "tcp, udp, udplite, sctp, icmp, icmpv6, a number; empty: any"},
		ffSrc:      {name: "src", label: "src", hint: "address or prefix, ! to negate (!10.0.0.0/8); empty: any"},
		ffDst:      {name: "dst", label: "dst", hint: "address or prefix; empty: any"},
		ffSport:    {name: "sport", label: "src ports", hint: "80 or 1000-2000 (1-65535); empty: any"},
		ffDport:    {name: "dport", label: "dst ports", hint: "80 or 1000-2000 (1-65535); empty: any"},
		ffIif:      {name: "iif", label: "in iface", hint: "interface name; empty: any"},
		ffOif:      {name: "oif", label: "out iface", hint: "interface name; empty: any"},
		ffCT:       {name: "ct_state", label: "ct state", hint: "new,established,related,invalid,untracked; empty: any"},
		ffICMP:     {name: "icmp", label: "icmp type", hint: "echo-request or 8, /code optional: /port-unreachable or /3 (proto icmp, icmpv6); empty: any"},
		ffTCPFlags: {name: "tcp_flags", label: "tcp flags", hint: "syn, or syn/syn,ack: of the mask only these (proto tcp); empty: any"},
		ffAction:   {name: "action", label: "action", hint: "accept, drop, reject or count"},
		ffPriority: {name: "priority", label: "priority", hint: "0-4294967295, lower runs first"},
		ffLabel:    {name: "label", label: "label", hint: "at most 64 bytes"},
		ffEnabled:  {name: "enabled", label: "enabled", hint: "yes or no"},
	}}
	set := func(i int, s string) {
		if s != "" && rules.Negated(r.Negate, f.fields[i].name) {
			s = "!" + s
		}
		f.fields[i].text = []rune(s)
	}
	set(ffHooks, strings.Join(r.Hooks, ","))
	set(ffFamily, fam)
	set(ffProto, r.Proto)
	set(ffSrc, pfx(r.Src))
	set(ffDst, pfx(r.Dst))
	set(ffSport, ports(r.SrcPorts))
	set(ffDport, ports(r.DstPorts))
	set(ffIif, r.InIface)
	set(ffOif, r.OutIface)
	set(ffCT, strings.Join(r.CTState, ","))
	set(ffICMP, r.ICMP)
	set(ffTCPFlags, r.TCPFlags)
	set(ffAction, string(r.Action))
	set(ffPriority, strconv.FormatUint(uint64(r.Priority), 10))
	set(ffLabel, r.Label)
	set(ffEnabled, on)
	return f
}

func (f *ruleForm) text(i int) string { return string(f.fields[i].text) }

// rule parses the form into a rule and validates it. The error is a
// *rules.ValidationError naming every bad field.
func (f *ruleForm) rule() (model.Rule, error) {
	var errs []rules.FieldError
	bad := func(i int, err error) {
		if err != nil {
			errs = append(errs, rules.FieldError{Field: f.fields[i].name, Msg: err.Error()})
		}
	}
	b := f.base
	r := model.Rule{SrcSet: b.SrcSet, DstSet: b.DstSet, SrcPortSet: b.SrcPortSet, DstPortSet: b.DstPortSet,
		Log: b.Log, LogRate: b.LogRate}
	for _, n := range b.Negate {
		// a set's negation stays with the set
		if (n == "src" && len(b.SrcSet) > 0) || (n == "dst" && len(b.DstSet) > 0) ||
			(n == "sport" && len(b.SrcPortSet) > 0) || (n == "dport" && len(b.DstPortSet) > 0) {
			r.Negate = append(r.Negate, n)
		}
	}
	// text is a field's text without a leading "!", which negates it
	text := func(i int) string {
		t, neg := rules.CutNegation(f.text(i))
		if neg {
			r.Negate = append(r.Negate, f.fields[i].name)
		}
		return t
	}
	var err error
	r.Hooks, err = rules.ParseHooks(f.text(ffHooks))
	bad(ffHooks, err)
	r.Family = model.Family(strings.ToLower(strings.TrimSpace(f.text(ffFamily))))
	r.Proto = strings.ToLower(strings.TrimSpace(f.text(ffProto)))
	r.Src, err = rules.ParsePrefix(text(ffSrc))
	bad(ffSrc, err)
	r.Dst, err = rules.ParsePrefix(text(ffDst))
	bad(ffDst, err)
	r.SrcPorts, err = rules.ParsePorts(text(ffSport))
	bad(ffSport, err)
	r.DstPorts, err = rules.ParsePorts(text(ffDport))
	bad(ffDport, err)
	r.InIface = text(ffIif)
	r.OutIface = text(ffOif)
	r.CTState, err = rules.ParseCTState(text(ffCT))
	bad(ffCT, err)
	r.ICMP = strings.TrimSpace(text(ffICMP))
	r.TCPFlags = strings.TrimSpace(text(ffTCPFlags))
	r.Negate = rules.NormalizeNegate(r.Negate)
	r.Action = model.RuleAction(strings.ToLower(strings.TrimSpace(f.text(ffAction))))
	if t := strings.TrimSpace(f.text(ffPriority)); t != "" {
		n, err := strconv.ParseUint(t, 10, 32)
		if err != nil {
			bad(ffPriority, errors.New("not a number 0-4294967295"))
		}
		r.Priority = uint32(n)
	}
	r.Label = f.text(ffLabel)
	switch strings.ToLower(strings.TrimSpace(f.text(ffEnabled))) {
	case "yes", "y", "on", "true", "1":
		r.Enabled = true
	case "no", "n", "off", "false", "0":
	default:
		bad(ffEnabled, errors.New("yes or no"))
	}
	if len(errs) > 0 {
		return model.Rule{}, &rules.ValidationError{Fields: errs}
	}
	if err := rules.Validate(r); err != nil {
		return model.Rule{}, err
	}
	return r, nil
}

// problems returns each field's problem (by field index), "" for none.
func (f *ruleForm) problems() []string {
	out := make([]string, len(f.fields))
	_, err := f.rule()
	var ve *rules.ValidationError
	if !errors.As(err, &ve) {
		return out
	}
	for i := range f.fields {
		out[i] = ve.For(f.fields[i].name)
	}
	return out
}

// key edits the form: up/down, tab/shift+tab move between fields;
// backspace, ctrl+u edit; printable text is typed.
func (f *ruleForm) key(msg tea.KeyPressMsg) {
	switch msg.String() {
	case "up", "shift+tab":
		f.cur = (f.cur + len(f.fields) - 1) % len(f.fields)
	case "down", "tab":
		f.cur = (f.cur + 1) % len(f.fields)
	case "backspace", "ctrl+h":
		if t := f.fields[f.cur].text; len(t) > 0 {
			f.fields[f.cur].text = t[:len(t)-1]
		}
	case "ctrl+u", "ctrl+w":
		f.fields[f.cur].text = f.fields[f.cur].text[:0]
	default:
		if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
			f.fields[f.cur].text = append(f.fields[f.cur].text, []rune(sanitize(msg.Text))...)
		}
	}
}

// paste types the first line of a paste into the current field.
func (f *ruleForm) paste(text string) {
	line, _, _ := strings.Cut(text, "\n")
	f.fields[f.cur].text = append(f.fields[f.cur].text, []rune(sanitize(strings.TrimRight(line, "\r")))...)
}

// formView draws the rule form: one line per field with its problem (or
// its hint on the current field), and what enter and esc do.
func (p *filtersPage) formView() string {
	s, w, f := p.Styles, p.Width, p.form
	title := " Add a rule"
	if f.id != 0 {
		title = " Edit rule " + strconv.FormatUint(uint64(f.id), 10)
	}
	head := []string{s.Summary.Render(fitString(title+"  (validated as you type)", w)), ""}
	var lines []string
	probs := f.problems()
	const lw, vw = 11, 22
	for i, fd := range f.fields {
		val := string(fd.text)
		cell := fitCells(val, width(val), vw, false, true)
		label := fitCells(fd.label, len(fd.label), lw, true, false)
		var line string
		if i == f.cur {
			line = " " + s.FilterPrompt.Render(label) + " " + s.Cursor.Render(cell) + " "
		} else {
			line = " " + label + " [" + cell + "]"
		}
		room := max(w-lw-vw-4, 0)
		switch {
		case probs[i] != "":
			line += s.StatusErr.Render(fitString("! "+probs[i], room))
		case i == f.cur:
			line += s.Dim.Render(fitString(fd.hint, room))
		}
		lines = append(lines, line)
	}
	help := " enter: apply   esc: cancel   up/down, tab: field   backspace, ctrl+u: edit"
	foot := appendFormHelp([]string{""}, s, w, help, probs, f.cur, f.tried, func(i int) string { return f.fields[i].label })
	// on a short terminal the fields scroll, keeping the current one and
	// the help in view
	if room := p.pageH - 1 - len(head) - len(foot); room > 0 && len(lines) > room {
		first := min(max(f.cur-room/2, 0), len(lines)-room)
		lines = lines[first : first+room]
	}
	return fixHeight(append(append(head, lines...), foot...), p.pageH-1) + "\n" + p.msgLine()
}

// appendFormHelp appends a form's last lines: help, or, when fields are
// invalid, how many and the problem of the field being typed in full (the
// column beside it may cut it), else the first one's; in the error style
// once enter was refused (tried).
func appendFormHelp(lines []string, s *Styles, w int, help string, probs []string, cur int, tried bool, label func(int) string) []string {
	nbad := 0
	for _, p := range probs {
		if p != "" {
			nbad++
		}
	}
	st := s.Dim
	if nbad > 0 {
		i := cur
		if probs[i] == "" {
			for i = range probs {
				if probs[i] != "" {
					break
				}
			}
		}
		help = " " + itoa(nbad) + " invalid, enter refused: " + label(i) + ": " + probs[i]
		if tried {
			st = s.StatusErr
		}
	}
	ls := wrap(help, w-1)
	for _, l := range ls[:min(len(ls), 2)] {
		lines = append(lines, st.Render(fitString(" "+l, w)))
	}
	return lines
}
