package ui

import (
	"strconv"
	"strings"

	"netlens/model"
	"netlens/model/drops"
)

// explainLines is the Drops tab's explanation of a funnel counter, in w
// cells: what it is and how it moved, what increments it, the settings
// that govern it with the current values of the sysctls among them (from
// sysctls, the snapshot's), the usual causes and the known traps. The
// first line is the title. Every line fits w; the caller cuts the list
// to the room it has.
func explainLines(fc *drops.FunnelCounter, sysctls []model.Sysctl, w int) []string {
	c, e := &fc.Counter, fc.Entry
	name := c.Name
	if c.Group != "" && c.Group != "statistics" && c.Group != "reason" {
		name = c.Group + " " + name
	}
	if c.Instance != "" {
		name += " (" + sanitize(c.Instance) + ")"
	}
	var out []string
	out = append(out, fitString(name+": "+e.Title+"  ("+c.Source+")", w))
	moved := "value " + strconv.FormatUint(c.Value, 10) + " (gauge)  " + lastMoved(c)
	if c.Kind != model.KindGauge {
		moved = "+" + strconv.FormatUint(c.Delta, 10) + " last interval (" + fmtRate(c.Rate) + "/s)  +" +
			strconv.FormatUint(c.Total, 10) + " since start  " + lastMoved(c)
		if c.Reset {
			moved += "  (went backwards: reset or wrapped)"
		}
	}
	out = append(out, fitString(moved, w))
	// para wraps label+text, the lines after the first indented.
	para := func(label, text string) {
		for i, l := range wrap(label+text, w-2) {
			if i > 0 {
				l = "  " + l
			}
			out = append(out, l)
		}
	}
	para("What increments it: ", e.Increments)
	for _, s := range settingsNow(e, c, sysctls) {
		para("Setting: ", s)
	}
	if len(e.Causes) > 0 {
		para("Usual causes: ", strings.Join(e.Causes, "; ")+".")
	}
	for _, t := range e.Traps {
		para("Trap: ", t)
	}
	return out
}

// settingsNow is one line per setting of e: a sysctl with its current
// value ("net.core.rmem_max = 212992: largest SO_RCVBUF"), or "not read"
// when the snapshot does not hold it; other settings with DEV replaced
// by the counter's interface.
func settingsNow(e *drops.Entry, c *model.Counter, sysctls []model.Sysctl) []string {
	dev := ""
	if c.Layer == model.LayerNIC || c.Layer == model.LayerQdisc {
		dev, _, _ = strings.Cut(c.Instance, " ")
	}
	var out []string
	for _, s := range e.SettingsNow(dev, sysctls) {
		text := s.Name
		switch {
		case s.Known:
			text += " = " + strings.Join(strings.Fields(sanitize(s.Value)), " ")
		case s.IsSysctl():
			text += " (not read)"
		case dev != "":
			text = replaceDEV(text, sanitize(dev))
		}
		if s.Note != "" {
			text += ": " + s.Note
		}
		out = append(out, text)
	}
	return out
}

// replaceDEV replaces the word DEV in a command with the interface.
func replaceDEV(s, dev string) string {
	f := strings.Fields(s)
	for i, w := range f {
		if w == "DEV" {
			f[i] = dev
		}
	}
	return strings.Join(f, " ")
}
