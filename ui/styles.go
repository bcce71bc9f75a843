package ui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
)

// Styles is every style the UI draws with. It is built once per colour
// profile by NewStyles; views never build styles of their own. A Styles is
// read-only once built and safe to share.
type Styles struct {
	Profile colorprofile.Profile

	Header    lipgloss.Style // the title bar
	HeaderKey lipgloss.Style // labels in the title bar ("host")
	Live      lipgloss.Style
	Paused    lipgloss.Style

	HealthOK      lipgloss.Style
	HealthPending lipgloss.Style
	HealthBad     lipgloss.Style

	TabActive   lipgloss.Style
	TabInactive lipgloss.Style

	TableHeader lipgloss.Style
	Selected    lipgloss.Style
	Hot         lipgloss.Style // a row that changed in the last interval
	Dim         lipgloss.Style
	Marker      lipgloss.Style // a marked row (watched sysctl)

	Summary lipgloss.Style
	Warn    lipgloss.Style
	Alarm   lipgloss.Style // TABLE FULL: impossible to miss

	PaneTitle lipgloss.Style // "sockets: no-permission"
	PaneText  lipgloss.Style

	Status       lipgloss.Style
	StatusErr    lipgloss.Style
	FilterPrompt lipgloss.Style
	Cursor       lipgloss.Style

	Help help.Styles
}

// NewStyles returns the styles for a terminal with colour profile p. With
// NoTTY or ASCII (NO_COLOR) it uses no colours, only bold and reverse video;
// with ANSI (TERM=linux and other 16-colour terminals) only the 16 basic
// colours; otherwise the 256-colour palette, which the renderer converts
// for the terminal.
func NewStyles(p colorprofile.Profile) *Styles {
	n := lipgloss.NewStyle
	s := &Styles{Profile: p}
	if p <= colorprofile.ASCII {
		s.Header = n().Bold(true)
		s.HeaderKey = n()
		s.Live = n().Bold(true)
		s.Paused = n().Bold(true).Reverse(true)
		s.HealthOK = n()
		s.HealthPending = n()
		s.HealthBad = n().Bold(true)
		s.TabActive = n().Bold(true).Reverse(true)
		s.TabInactive = n()
		s.TableHeader = n().Bold(true)
		s.Selected = n().Reverse(true)
		s.Hot = n().Bold(true)
		s.Dim = n()
		s.Marker = n().Bold(true)
		s.Summary = n()
		s.Warn = n().Bold(true)
		s.Alarm = n().Bold(true).Reverse(true)
		s.PaneTitle = n().Bold(true)
		s.PaneText = n()
		s.Status = n()
		s.StatusErr = n().Bold(true)
		s.FilterPrompt = n().Bold(true)
		s.Cursor = n().Reverse(true)
		s.Help = help.Styles{
			ShortKey: n().Bold(true), ShortDesc: n(), ShortSeparator: n(), Ellipsis: n(),
			FullKey: n().Bold(true), FullDesc: n(), FullSeparator: n(),
		}
		return s
	}

	// Colours: basic ANSI for 16-colour terminals, the 256 palette above.
	type palette struct{ headerBg, headerFg, key, ok, pending, bad, warn, hot, dim, selBg, selFg, tabBg, tabFg, accent, alarmBg, alarmFg string }
	c := palette{
		headerBg: "4", headerFg: "15", key: "14", ok: "2", pending: "3", bad: "9", warn: "11",
		hot: "11", dim: "8", selBg: "6", selFg: "0", tabBg: "7", tabFg: "0", accent: "6", alarmBg: "1", alarmFg: "15",
	}
	if p >= colorprofile.ANSI256 {
		c = palette{
			headerBg: "24", headerFg: "255", key: "117", ok: "71", pending: "178", bad: "203", warn: "214",
			hot: "221", dim: "245", selBg: "31", selFg: "231", tabBg: "252", tabFg: "235", accent: "38", alarmBg: "160", alarmFg: "231",
		}
	}
	col := lipgloss.Color
	s.Header = n().Background(col(c.headerBg)).Foreground(col(c.headerFg)).Bold(true)
	s.HeaderKey = n().Background(col(c.headerBg)).Foreground(col(c.key))
	s.Live = n().Background(col(c.headerBg)).Foreground(col(c.ok)).Bold(true)
	s.Paused = n().Background(col(c.warn)).Foreground(col("0")).Bold(true)
	s.HealthOK = n().Foreground(col(c.ok))
	s.HealthPending = n().Foreground(col(c.pending))
	s.HealthBad = n().Foreground(col(c.bad)).Bold(true)
	s.TabActive = n().Background(col(c.tabBg)).Foreground(col(c.tabFg)).Bold(true)
	s.TabInactive = n().Foreground(col(c.dim))
	s.TableHeader = n().Foreground(col(c.accent)).Bold(true)
	s.Selected = n().Background(col(c.selBg)).Foreground(col(c.selFg))
	s.Hot = n().Foreground(col(c.hot))
	s.Dim = n().Foreground(col(c.dim))
	s.Marker = n().Foreground(col(c.accent)).Bold(true)
	s.Summary = n().Bold(true)
	s.Warn = n().Foreground(col(c.warn)).Bold(true)
	s.Alarm = n().Background(col(c.alarmBg)).Foreground(col(c.alarmFg)).Bold(true)
	s.PaneTitle = n().Foreground(col(c.bad)).Bold(true)
	s.PaneText = n()
	s.Status = n().Foreground(col(c.ok))
	s.StatusErr = n().Foreground(col(c.bad)).Bold(true)
	s.FilterPrompt = n().Foreground(col(c.accent)).Bold(true)
	s.Cursor = n().Reverse(true)
	s.Help = help.Styles{
		ShortKey: n().Foreground(col(c.accent)).Bold(true), ShortDesc: n().Foreground(col(c.dim)),
		ShortSeparator: n(), Ellipsis: n().Foreground(col(c.dim)),
		FullKey: n().Foreground(col(c.accent)).Bold(true), FullDesc: n(), FullSeparator: n(),
	}
	return s
}
