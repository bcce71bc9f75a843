package ui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"netlens/model"
)

// goldenOpts are the options of every golden test: a fixed clock and no
// SaveSnapshot side effects.
func goldenOpts() Options {
	return Options{Refresh: time.Second, Version: "v0.1.0", Now: fixedClock,
		SaveSnapshot: func(model.Snapshot) (string, error) { return "/tmp/netlens-web-1-20261121T050010Z.json", nil }}
}

// press turns a key name into the message a terminal would produce.
func press(k string) tea.KeyPressMsg {
	switch k {
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "home":
		return tea.KeyPressMsg{Code: tea.KeyHome}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "ctrl+u":
		return tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	r := []rune(k)
	if len(r) != 1 {
		panic("press: unknown key " + k)
	}
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// runGolden runs the real program under teatest at w x h with colour
// profile p, sends msgs, quits, and compares the final screen, downsampled
// to p as the renderer would write it, with testdata/<test name>.golden.
func runGolden(t *testing.T, store *model.Store, w, h int, p colorprofile.Profile, msgs ...tea.Msg) {
	t.Helper()
	runGoldenOpts(t, store, goldenOpts(), w, h, p, msgs...)
}

// runGoldenOpts is runGolden with options of the test's own.
func runGoldenOpts(t *testing.T, store *model.Store, opts Options, w, h int, p colorprofile.Profile, msgs ...tea.Msg) {
	t.Helper()
	app := New(store, opts)
	defer app.Close()
	runGoldenApp(t, app, opts, w, h, p, msgs...)
}

// runGoldenApp is runGoldenOpts with an App the test made (and fed
// snapshots) itself.
func runGoldenApp(t *testing.T, app *App, opts Options, w, h int, p colorprofile.Profile, msgs ...tea.Msg) {
	t.Helper()
	tm := teatest.NewTestModel(t, app,
		teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(p)))
	// The program sends the profile from a goroutine of its own; send it
	// too, so that it arrives before the keys whatever the scheduling.
	tm.Send(tea.ColorProfileMsg{Profile: p})
	for _, m := range msgs {
		tm.Send(m)
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(20*time.Second)).(*App)
	var buf bytes.Buffer
	cw := &colorprofile.Writer{Forward: &buf, Profile: p}
	if _, err := cw.WriteString(final.View().Content); err != nil {
		t.Fatal(err)
	}
	scr := buf.String()
	if opts.Glyphs == GlyphsUnicode {
		scr = blocksToASCII(scr) // the sparklines' only non-ASCII text
	}
	checkScreen(t, scr, w, h)
	teatest.RequireEqualOutput(t, buf.Bytes())
}

// checkScreen asserts that a screen has exactly h lines of at most w cells
// and only ASCII text (the Linux console has no other glyphs).
func checkScreen(t *testing.T, screen string, w, h int) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	if len(lines) != h {
		t.Errorf("screen has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := width(stripANSI(l)); n > w {
			t.Errorf("line %d is %d cells wide, want <= %d: %q", i, n, w, l)
		}
		for _, r := range stripANSI(l) {
			if r > 0x7e || r < 0x20 {
				t.Errorf("line %d has non-ASCII %q: %q", i, r, l)
				break
			}
		}
	}
}

func keys(ks ...string) []tea.Msg {
	out := make([]tea.Msg, len(ks))
	for i, k := range ks {
		out[i] = press(k)
	}
	return out
}

func TestGoldenTabs(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for i, tab := range []string{"Connections", "Drops", "Sysctl"} {
			name := tab + "_" + itoa(size[0]) + "x" + itoa(size[1])
			t.Run(name, func(t *testing.T) {
				runGolden(t, fixtureStore(), size[0], size[1], colorprofile.ANSI256, keys(itoa(i+1))...)
			})
		}
	}
}

func TestGoldenNoColor(t *testing.T) {
	for i, tab := range []string{"Connections", "Drops", "Sysctl"} {
		t.Run(tab, func(t *testing.T) {
			runGolden(t, fixtureStore(), 80, 24, colorprofile.ASCII, keys(itoa(i+1), "down")...)
		})
	}
}

func TestGoldenANSI16(t *testing.T) {
	for i, tab := range []string{"Connections", "Drops", "Sysctl"} {
		t.Run(tab, func(t *testing.T) {
			runGolden(t, fixtureStore(), 80, 24, colorprofile.ANSI, keys(itoa(i+1), "down")...)
		})
	}
}

func TestGoldenStates(t *testing.T) {
	tests := []struct {
		name  string
		store func() *model.Store
		w, h  int
		msgs  []tea.Msg
	}{
		{"TooSmall", fixtureStore, 79, 24, nil},
		{"TooShort", fixtureStore, 100, 20, nil},
		{"Help", fixtureStore, 80, 24, keys("?")},
		{"HelpScrolled", fixtureStore, 80, 24, keys("?", "end")},
		{"DropsHelp", fixtureStore, 80, 24, keys("2", "?", "pgdown")},
		{"Filtering", fixtureStore, 80, 24, keys("/", "n", "g", "i", "n", "x")},
		{"FilterKept", fixtureStore, 80, 24, keys("/", "e", "s", "t", "a", "b", "enter")},
		{"FilterNoMatch", fixtureStore, 80, 24, keys("/", "z", "z", "z", "enter")},
		{"SortRecvQ", fixtureStore, 80, 24, keys("o", "o", "o")},
		{"DropsAll", fixtureStore, 80, 24, keys("2", "a")},
		{"DropsByRate", fixtureStore, 120, 40, keys("2", "o", "o", "o", "o")},
		{"SysctlWatchedOnly", fixtureStore, 80, 24, keys("3", "w", "down", "down")},
		{"ConnectionsDetails", fixtureStore, 80, 24, keys("down", "enter")},
		{"DropsDetails", fixtureStore, 80, 24, keys("2", "down", "enter")},
		{"DropsGaugeDetails", fixtureStore, 80, 24, keys("2", "down", "down", "down", "enter")},
		{"Paused", fixtureStore, 80, 24, keys("p")},
		{"Snapshot", fixtureStore, 80, 24, append(keys("s"), snapshotSavedMsg{path: "/tmp/netlens-web-1-20261121T050010Z.json"})},
		{"DegradedConnections", degradedStore, 80, 24, nil},
		{"NotedConnections", notedStore, 80, 24, nil},
		{"NotedHelp", notedStore, 120, 40, keys("?")},
		{"DegradedDrops", degradedStore, 80, 24, keys("2")},
		{"DegradedSysctl", degradedStore, 80, 24, keys("3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runGolden(t, tt.store(), tt.w, tt.h, colorprofile.ANSI256, tt.msgs...)
		})
	}
}

// typed is the key presses of typing text.
func typed(text string) []tea.Msg {
	var out []tea.Msg
	for _, r := range text {
		out = append(out, press(string(r)))
	}
	return out
}

func TestGoldenConntrack(t *testing.T) {
	cat := func(parts ...[]tea.Msg) []tea.Msg {
		var out []tea.Msg
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name  string
		store func() *model.Store
		w, h  int
		msgs  []tea.Msg
	}{
		{"Flows_80x24", flowStore, 80, 24, keys("v")},
		{"Flows_120x40", flowStore, 120, 40, keys("v")},
		{"FlowsDetails", flowStore, 80, 24, keys("v", "down", "enter")},
		{"FlowsDetailsNAT_120x40", flowStore, 120, 40, keys("v", "o", "o", "o", "o", "o", "o", "o", "down", "down", "enter")},
		{"FlowsNATFilter", flowStore, 80, 24, keys("v", "n", "n")},
		{"FlowsFilterTerms", flowStore, 80, 24, cat(keys("v", "/"), typed("proto:udp port:53"), keys("enter"))},
		{"FlowsAcctOff_80x24", acctOffStore, 80, 24, keys("v")},
		{"FlowsAcctOff_120x40", acctOffStore, 120, 40, keys("v")},
		{"FlowsNoPermission", fixtureStore, 80, 24, keys("v")},
		{"FlowsNotSupported", ctNotSupportedStore, 80, 24, keys("v")},
		{"Joined_80x24", flowStore, 80, 24, keys("v", "v")},
		{"Joined_120x40", flowStore, 120, 40, keys("v", "v")},
		{"JoinedDetails", flowStore, 120, 40, keys("v", "v", "down", "down", "down", "down", "enter")},
		{"JoinedDetailsNoFlow", flowStore, 80, 24, keys("v", "v", "down", "down", "down", "down", "down", "enter")},
		{"JoinedNoPermission", fixtureStore, 80, 24, keys("v", "v")},
		{"Netfilter_80x24", flowStore, 80, 24, keys("2")},
		{"Netfilter_120x40", flowStore, 120, 40, keys("2")},
		{"NetfilterAcctOff", acctOffStore, 80, 24, keys("2")},
		{"NetfilterNoPermission", ctPermissionStore, 80, 24, keys("2")},
		{"NetfilterNotSupported", ctNotSupportedStore, 80, 24, keys("2")},
		{"TableFullDrops_80x24", tableFullStore, 80, 24, keys("2")},
		{"TableFullDrops_120x40", tableFullStore, 120, 40, keys("2")},
		{"TableFullSockets", tableFullStore, 80, 24, nil},
		{"TableFullSysctl", tableFullStore, 80, 24, keys("3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runGolden(t, tt.store(), tt.w, tt.h, colorprofile.ANSI256, tt.msgs...)
		})
	}
}

// TestGoldenConntrackProfiles renders the flows view and a full table
// without colours (NO_COLOR) and in 16 colours (TERM=linux).
func TestGoldenConntrackProfiles(t *testing.T) {
	for _, p := range []struct {
		name    string
		profile colorprofile.Profile
	}{{"NoColor", colorprofile.ASCII}, {"ANSI16", colorprofile.ANSI}} {
		for _, v := range []struct {
			name  string
			store func() *model.Store
			msgs  []tea.Msg
		}{
			{"Flows", flowStore, keys("v", "down")},
			{"Joined", flowStore, keys("v", "v", "down")},
			{"TableFullDrops", tableFullStore, keys("2")},
		} {
			t.Run(p.name+"_"+v.name, func(t *testing.T) {
				runGolden(t, v.store(), 80, 24, p.profile, v.msgs...)
			})
		}
	}
}
