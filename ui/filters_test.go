package ui

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"netlens/model"
	"netlens/model/rules"
)

// cmpRules compares rules (netip values are comparable, not exported).
var cmpRules = cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})

// fixtureRules is a small nft rule set: an SSH accept, a drop on 8080
// (pending), a disabled count rule, and a foreign rule.
func fixtureRules() []model.Rule {
	return []model.Rule{
		{ID: 1, Enabled: true, Hooks: []string{model.HookInput}, Family: model.RuleFamilyBoth, Proto: "tcp",
			DstPorts: model.PortRange{Min: 22, Max: 22}, Action: model.ActionAccept, Priority: 0, Label: "ssh",
			Packets: 48211, Bytes: 5123456, Rate: 12.5},
		{ID: 2, Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "tcp",
			Src: netip.MustParsePrefix("203.0.113.0/24"), DstPorts: model.PortRange{Min: 8080, Max: 8080},
			Action: model.ActionDrop, Priority: 10, Label: "block 8080", Packets: 17, Bytes: 1020,
			PendingTxn: 4242, RevertAt: t0.Add(35 * time.Second)},
		{ID: 3, Enabled: false, Hooks: []string{model.HookPreRouting, model.HookForward}, Family: model.FamilyIPv6, Proto: "udp",
			DstPorts: model.PortRange{Min: 5000, Max: 5100}, InIface: "eth0", Action: model.ActionCount, Priority: 20, Label: "rtp probe"},
		{ID: 2147483700, Enabled: true, Hooks: []string{model.HookOutput}, Family: model.RuleFamilyBoth, Action: model.ActionAccept,
			Label: "added by hand", Foreign: true, Packets: 3, Bytes: 180},
	}
}

// rulesStore is fixtureStore with the nft rules of fixtureRules.
func rulesStore() *model.Store {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "filters", State: model.StateOK, Source: "nft", Interval: time.Second}})
	s.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: t0.Add(9 * time.Second), Rules: fixtureRules()}})
	return s
}

// pendingStore is rulesStore with rule 2's change pending.
func pendingStore() *model.Store {
	s := rulesStore()
	s.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: t0.Add(9 * time.Second), Rules: fixtureRules(),
		Pending: []model.PendingChange{{Txn: 4242, RevertAt: t0.Add(35 * time.Second)}}}})
	return s
}

// revertLogStore is rulesStore after a revert that could not claim its
// state file (the directory turned read-only).
func revertLogStore() *model.Store {
	s := rulesStore()
	s.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: t0.Add(9 * time.Second), Rules: fixtureRules(),
		Events: []model.RulesEvent{
			{At: t0.Add(5 * time.Second), Txn: 4241, By: "revert helper (pid 812)", Message: "cannot claim the state file /run/netlens/nft/netns-4026531840.json (try 5 of 5): read-only file system", Error: true},
			{At: t0.Add(6 * time.Second), Txn: 4241, By: "revert helper (pid 812)", Message: "reverted at the deadline, without claiming the state file (read-only file system): it stays until its directory is writable again", Error: true},
		}}})
	return s
}

// kmodStore has the kernel module's rules with per-hook verdicts.
func kmodStore() *model.Store {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "filters", State: model.StateOK, Source: "kmod", Interval: time.Second}})
	rules := fixtureRules()[:3]
	rules[0].LastHit = t0.Add(9 * time.Second)
	rules[1].PendingTxn, rules[1].RevertAt = 0, time.Time{}
	s.Publish(model.RulesUpdate{State: model.RulesState{Backend: "kmod", At: t0.Add(9 * time.Second), Rules: rules,
		Hooks: []model.HookVerdicts{
			{Family: model.FamilyIPv4, Hook: model.HookInput, Seen: 90210, Accepted: 90193, Dropped: 17},
			{Family: model.FamilyIPv4, Hook: model.HookOutput, Seen: 81000, Accepted: 81000},
			{Family: model.FamilyIPv6, Hook: model.HookInput, Seen: 1200, Accepted: 1200},
		}}})
	return s
}

// readOnlyStore has no backend that can change rules.
func readOnlyStore() *model.Store {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "filters", State: model.StateOK, Source: "none", Interval: time.Second,
		Note: "kmod: the netlens module is not loaded; nft: needs CAP_NET_ADMIN"}})
	s.Publish(model.RulesUpdate{State: model.RulesState{Backend: "none", At: t0.Add(9 * time.Second),
		ReadOnly: "kmod: the netlens module is not loaded; nft: needs CAP_NET_ADMIN"}})
	return s
}

// fakeFilters is a FilterControl that records calls and answers with
// canned plans. Safe for concurrent use.
type fakeFilters struct {
	mu       sync.Mutex
	plan     rules.Plan // returned by Plan (Op filled in)
	planErr  error
	res      rules.Result
	applyErr error
	ops      []rules.Op
	applied  []rules.Op
	confirms []uint32
}

func (f *fakeFilters) Plan(op rules.Op) (rules.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
	if f.planErr != nil {
		return rules.Plan{}, f.planErr
	}
	if err := func() error {
		if op.Kind == rules.OpAdd || op.Kind == rules.OpChange {
			return rules.Validate(op.Rule)
		}
		return nil
	}(); err != nil {
		return rules.Plan{}, rules.InvalidError{Err: err}
	}
	p := f.plan
	p.Op = op
	return p, nil
}

func (f *fakeFilters) Apply(p rules.Plan) (rules.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, p.Op)
	return f.res, f.applyErr
}

func (f *fakeFilters) Confirm(txn uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirms = append(f.confirms, txn)
	return nil
}

// guardPlan is a drop-capable plan that cuts the operator's session and
// two sockets.
func guardPlan() rules.Plan {
	drop := model.Rule{ID: ^uint32(0), Enabled: true, Hooks: []string{model.HookInput}, Proto: "tcp", DstPorts: model.PortRange{Min: 22, Max: 22}, Action: model.ActionDrop}
	return rules.Plan{
		Op:          rules.Op{Kind: rules.OpAdd, Rule: drop},
		DropCapable: true,
		Revert:      30 * time.Second,
		Impact: rules.Impact{
			Session: &rules.Hit{Kind: rules.HitSession, What: "tcp 192.168.100.200:51234 -> 10.20.0.5:22", Hook: "input", Dir: "in", Rule: drop},
			Hits: []rules.Hit{
				{Kind: rules.HitSocket, What: "tcp 192.168.100.200:51234 -> 10.20.0.5:22", Hook: "input", Dir: "in", Rule: drop},
				{Kind: rules.HitSocket, What: "tcp 10.20.0.77:40100 -> 10.20.0.5:22", Hook: "input", Dir: "in", Rule: drop},
			},
			Sockets: 2,
		},
	}
}

func filtersOpts(ctl FilterControl) Options {
	o := goldenOpts()
	o.Controls.Filters = ctl
	return o
}

func TestGoldenFilters(t *testing.T) {
	cat := func(parts ...[]tea.Msg) []tea.Msg {
		var out []tea.Msg
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	gp := guardPlan()
	tests := []struct {
		name  string
		store func() *model.Store
		ctl   FilterControl
		w, h  int
		msgs  []tea.Msg
	}{
		{"Rules_80x24", rulesStore, &fakeFilters{}, 80, 24, keys("4")},
		{"Rules_120x40", rulesStore, &fakeFilters{}, 120, 40, keys("4")},
		{"Kmod_120x40", kmodStore, &fakeFilters{}, 120, 40, keys("4", "down", "enter")},
		{"ReadOnly_80x24", readOnlyStore, &fakeFilters{}, 80, 24, keys("4")},
		{"ReadOnly_120x40", readOnlyStore, &fakeFilters{}, 120, 40, keys("4")},
		{"NoCollector", fixtureStore, nil, 80, 24, keys("4")},
		{"Pending_80x24", pendingStore, &fakeFilters{}, 80, 24, keys("4")},
		{"RevertLog_80x24", revertLogStore, &fakeFilters{}, 80, 24, keys("4")},
		{"Pending_120x40", pendingStore, &fakeFilters{}, 120, 40, keys("4")},
		{"PendingOtherTab", pendingStore, &fakeFilters{}, 80, 24, nil},
		{"Guard_80x24", rulesStore, &fakeFilters{}, 80, 24, append(keys("4"), planDoneMsg{plan: gp})},
		{"Guard_120x40", rulesStore, &fakeFilters{}, 120, 40, append(keys("4"), planDoneMsg{plan: gp})},
		{"GuardOnceMore", rulesStore, &fakeFilters{}, 80, 24, append(append(keys("4"), planDoneMsg{plan: gp}), press("y"))},
		{"FormAdd_80x24", rulesStore, &fakeFilters{}, 80, 24, keys("4", "a")},
		{"FormInvalid_80x24", rulesStore, &fakeFilters{}, 80, 24,
			cat(keys("4", "a"), typed(",bogus"), keys("down", "down", "down", "down"), typed("10.0.0.1/8"), keys("down", "down"), typed("80-70"), keys("enter"))},
		{"FormInvalid_120x40", rulesStore, &fakeFilters{}, 120, 40,
			cat(keys("4", "a"), typed(",bogus"), keys("down", "down", "down", "down"), typed("10.0.0.1/8"), keys("down", "down"), typed("80-70"), keys("enter"))},
		{"FormEdit", rulesStore, &fakeFilters{}, 80, 24, keys("4", "down", "e")},
		{"DeleteQuestion", rulesStore, &fakeFilters{}, 80, 24, keys("4", "down", "down", "d")},
		{"Help", rulesStore, &fakeFilters{}, 80, 24, keys("4", "?")},
		{"Policy_80x24", policyStore, &fakeFilters{}, 80, 24, keys("4")},
		{"PolicyQuestion_80x24", policyStore, &fakeFilters{}, 80, 24, keys("4", "P", "right", "f")},
		{"PolicyQuestion_120x40", policyStore, &fakeFilters{}, 120, 40, keys("4", "P")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runGoldenOpts(t, tt.store(), filtersOpts(tt.ctl), tt.w, tt.h, colorprofile.ANSI256, tt.msgs...)
		})
	}
}

// TestGoldenFiltersProfiles renders a pending change and the guard
// without colours (NO_COLOR) and in 16 colours (TERM=linux).
func TestGoldenFiltersProfiles(t *testing.T) {
	for _, p := range []struct {
		name    string
		profile colorprofile.Profile
	}{{"NoColor", colorprofile.ASCII}, {"ANSI16", colorprofile.ANSI}} {
		t.Run(p.name+"_Pending", func(t *testing.T) {
			runGoldenOpts(t, pendingStore(), filtersOpts(&fakeFilters{}), 80, 24, p.profile, keys("4", "down")...)
		})
		t.Run(p.name+"_Guard", func(t *testing.T) {
			runGoldenOpts(t, rulesStore(), filtersOpts(&fakeFilters{}), 80, 24, p.profile, append(keys("4"), planDoneMsg{plan: guardPlan()})...)
		})
	}
}

// run feeds msg to a and runs the commands it returns (and theirs) until
// none is left, the way a program would, but synchronously. Ticks are
// not run.
func run(t testing.TB, a *App, msg tea.Msg) {
	t.Helper()
	queue := []tea.Msg{msg}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		_, cmd := a.Update(m)
		queue = append(queue, collect(t, cmd)...)
	}
}

// collectWait bounds how long collect waits for one command: longer than
// any tick the UI issues (the countdown's 1 s), far shorter than the test
// timeout.
const collectWait = 10 * time.Second

// collect runs cmd (and the commands of a batch) to the end and returns
// their messages, leaving out ticks. A command that does not return
// within collectWait fails the test: a test must not pass because a slow
// command's message was dropped.
func collect(t testing.TB, cmd tea.Cmd) []tea.Msg {
	t.Helper()
	if cmd == nil {
		return nil
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	var m tea.Msg
	select {
	case m = <-done:
	case <-time.After(collectWait):
		t.Fatalf("collect: a command did not return in %v", collectWait)
	}
	switch m := m.(type) {
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range m {
			out = append(out, collect(t, c)...)
		}
		return out
	case nil:
		return nil
	case countdownMsg, sysctlTickMsg, storeChangedMsg, refreshMsg:
		return nil
	}
	return []tea.Msg{m}
}

func runKeys(t testing.TB, a *App, ks ...string) {
	t.Helper()
	for _, k := range ks {
		run(t, a, press(k))
	}
}

func runText(t testing.TB, a *App, text string) {
	t.Helper()
	for _, r := range text {
		run(t, a, press(string(r)))
	}
}

func filtersApp(t *testing.T, store *model.Store, ctl FilterControl) *App {
	t.Helper()
	o := Options{Controls: Controls{Filters: ctl}}
	if ctl == nil {
		o.Controls.Filters = nil
	}
	a := newTestApp(t, store, o, 120, 40)
	runKeys(t, a, "4")
	return a
}

func TestFiltersToggle(t *testing.T) {
	tests := []struct {
		name string
		down int
		want rules.Op
	}{
		{"enabled rule is disabled", 0, rules.Op{Kind: rules.OpDisable, ID: 1}},
		{"disabled rule is enabled", 2, rules.Op{Kind: rules.OpEnable, ID: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctl := &fakeFilters{}
			a := filtersApp(t, rulesStore(), ctl)
			for range tt.down {
				runKeys(t, a, "down")
			}
			runKeys(t, a, "space")
			if diff := cmp.Diff([]rules.Op{tt.want}, ctl.applied, cmpRules); diff != "" {
				t.Errorf("applied (-want +got):\n%s", diff)
			}
			if !strings.Contains(screen(a), "done") {
				t.Errorf("no result on screen:\n%s", screen(a))
			}
		})
	}
}

// publishingFilters is fakeFilters whose Apply publishes the rule it
// adds to the Store before it returns, as cli's control does (control/filter.Control).
type publishingFilters struct {
	*fakeFilters
	store *model.Store
}

func (f publishingFilters) Apply(p rules.Plan) (rules.Result, error) {
	res, err := f.fakeFilters.Apply(p)
	r := p.Op.Rule
	r.ID = res.Rule.ID
	f.store.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: t0.Add(10 * time.Second), Rules: []model.Rule{r}}})
	return res, err
}

// TestFiltersAddedRuleSelectable: a rule just added is in the table, and
// space toggles it, at once: not at the next refresh (keys typed fast
// over SSH arrive well within one).
func TestFiltersAddedRuleSelectable(t *testing.T) {
	store := fixtureStore()
	store.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "filters", State: model.StateOK, Source: "nft", Interval: time.Second}})
	store.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: t0.Add(9 * time.Second)}})
	ctl := publishingFilters{&fakeFilters{res: rules.Result{Rule: model.Rule{ID: 1}}}, store}
	a := newTestApp(t, store, Options{Controls: Controls{Filters: ctl}, Refresh: time.Hour}, 120, 40)
	runKeys(t, a, "4")
	runKeys(t, a, "a", "down", "down")
	runText(t, a, "tcp")
	runKeys(t, a, "down", "down", "down", "down")
	runText(t, a, "47791")
	runKeys(t, a, "enter")
	if scr := screen(a); !strings.Contains(scr, "1 rule,") || !strings.Contains(scr, "tcp * -> *:47791") {
		t.Fatalf("the added rule is not shown at once:\n%s", scr)
	}
	runKeys(t, a, "space")
	want := rules.Op{Kind: rules.OpDisable, ID: 1}
	if got := ctl.applied; len(got) != 2 || got[1].Kind != want.Kind || got[1].ID != want.ID {
		t.Fatalf("space after the add applied %+v, want %+v last", got, want)
	}
}

// TestFiltersSpacePagesElsewhere: space still pages down on the other
// tabs.
func TestFiltersSpacePagesElsewhere(t *testing.T) {
	ctl := &fakeFilters{}
	a := newTestApp(t, fixtureStore(), Options{Controls: Controls{Filters: ctl}}, 80, 24)
	cur := func() int { return a.pages[0].(*connsPage).socks.tbl.Cursor() }
	before := cur()
	runKeys(t, a, "space")
	if cur() <= before {
		t.Errorf("space did not page down on Connections")
	}
	if len(ctl.ops) != 0 {
		t.Errorf("space on Connections planned %v", ctl.ops)
	}
}

func TestFiltersReadOnlyRefuses(t *testing.T) {
	ctl := &fakeFilters{}
	a := filtersApp(t, readOnlyStore(), ctl)
	for _, k := range []string{"space", "a", "c"} {
		runKeys(t, a, k)
		if len(ctl.ops) != 0 || len(ctl.confirms) != 0 {
			t.Fatalf("%s on a read-only backend reached the control", k)
		}
	}
	scr := screen(a)
	for _, want := range []string{"READ-ONLY", "needs CAP_NET_ADMIN", "setcap cap_net_admin+ep", "cannot confirm"} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
}

func TestFiltersFormValidation(t *testing.T) {
	tests := []struct {
		name   string
		field  int // the field to type into (moves down this many)
		text   string
		want   string // on screen
		field2 string
	}{
		{"prefix with host bits", ffDst, "10.0.0.1/8", "did you mean 10.0.0.0/8", "dst"},
		{"reversed port range", ffDport, "2000-1000", "port range reversed", "dport"},
		{"ports without tcp", ffDport, "53", "ports need protocol", "dport"},
		{"port 0", ffDport, "0", "port 0 is not a port to filter on", "dport"},
		{"port range from 0", ffSport, "0-80", "port range 0-80 includes port 0", "sport"},
		{"bad interface", ffIif, "eth0/1", "interface name cannot contain", "iif"},
		{"oif at input", ffOif, "eth0", "never matches at prerouting or input", "oif"},
		{"unknown action", ffAction, "x", "unknown action", "action"},
		{"priority not a number", ffPriority, "x", "not a number", "priority"},
		{"family against address", ffFamily, "ipv6", "", ""}, // valid alone
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctl := &fakeFilters{}
			a := filtersApp(t, rulesStore(), ctl)
			runKeys(t, a, "a")
			for range tt.field {
				runKeys(t, a, "down")
			}
			runText(t, a, tt.text)
			scr := screen(a)
			if tt.want == "" {
				if strings.Contains(scr, "invalid") {
					t.Fatalf("valid form shown invalid:\n%s", scr)
				}
				return
			}
			if !strings.Contains(scr, tt.want) {
				t.Fatalf("the form does not say %q as the user types:\n%s", tt.want, scr)
			}
			runKeys(t, a, "enter")
			if len(ctl.ops) != 0 {
				t.Fatalf("an invalid form was planned: %v", ctl.ops)
			}
			if scr := screen(a); !strings.Contains(scr, "not applied: ") || !strings.Contains(scr, tt.field2+": ") {
				t.Fatalf("enter on an invalid form does not refuse with the reason:\n%s", scr)
			}
			// Esc leaves the form; nothing was changed.
			runKeys(t, a, "esc")
			if a.filtersPage().mode != modeRules || len(ctl.applied) != 0 {
				t.Fatalf("esc did not cancel")
			}
		})
	}
}

func TestFiltersAddAndEdit(t *testing.T) {
	ctl := &fakeFilters{plan: rules.Plan{DropCapable: true, Revert: 30 * time.Second},
		res: rules.Result{Rule: model.Rule{ID: 5}, Txn: 77, RevertAt: fixedClock().Add(30 * time.Second)}}
	a := filtersApp(t, rulesStore(), ctl)
	// Add: the form starts as an enabled input drop; proto tcp, dport 9090.
	runKeys(t, a, "a", "down", "down")
	runText(t, a, "tcp")
	runKeys(t, a, "down", "down", "down", "down")
	runText(t, a, "9090")
	runKeys(t, a, "down", "down", "down", "down", "down")
	runText(t, a, "web")
	runKeys(t, a, "enter")
	want := model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Proto: "tcp", DstPorts: model.PortRange{Min: 9090, Max: 9090},
		Action: model.ActionDrop, Label: "web"}
	if diff := cmp.Diff([]rules.Op{{Kind: rules.OpAdd, Rule: want}}, ctl.applied, cmpRules); diff != "" {
		t.Fatalf("add (-want +got):\n%s", diff)
	}
	scr := screen(a)
	for _, s := range []string{"add rule 5: applied; press c to keep it", "REVERT IN 30s"} {
		if !strings.Contains(scr, s) {
			t.Errorf("screen lacks %q:\n%s", s, scr)
		}
	}
	// The header counts down on every tab.
	runKeys(t, a, "1")
	if !strings.Contains(strings.SplitN(screen(a), "\n", 2)[0], "REVERT IN 30s") {
		t.Errorf("header has no countdown on Connections:\n%s", screen(a))
	}
	runKeys(t, a, "4")
	// Edit rule 3: its fields are in the form; change the label.
	ctl.plan = rules.Plan{}
	runKeys(t, a, "down", "down", "e")
	for range ffLabel {
		runKeys(t, a, "down")
	}
	runKeys(t, a, "ctrl+u")
	runText(t, a, "probe")
	runKeys(t, a, "enter")
	r3 := fixtureRules()[2]
	wantEdit := model.Rule{Enabled: false, Hooks: r3.Hooks, Family: r3.Family, Proto: "udp", DstPorts: r3.DstPorts, InIface: "eth0",
		Action: model.ActionCount, Priority: 20, Label: "probe"}
	if diff := cmp.Diff(rules.Op{Kind: rules.OpChange, ID: 3, Rule: wantEdit}, ctl.applied[len(ctl.applied)-1], cmpRules); diff != "" {
		t.Fatalf("edit (-want +got):\n%s", diff)
	}
}

// TestFiltersFormStatefulMatches: the form takes ct state, icmp type and
// tcp flags, and a leading ! negates a field; editing such a rule shows
// them as typed, and keeps what the form has no field for (a set).
func TestFiltersFormStatefulMatches(t *testing.T) {
	ctl := &fakeFilters{res: rules.Result{Rule: model.Rule{ID: 5}}}
	a := filtersApp(t, rulesStore(), ctl)
	typeAt := func(field int, text string) {
		for range field {
			runKeys(t, a, "down")
		}
		runKeys(t, a, "ctrl+u")
		runText(t, a, text)
		for range len(newRuleForm(model.Rule{}, 0).fields) - field {
			runKeys(t, a, "down")
		}
	}
	runKeys(t, a, "a")
	typeAt(ffProto, "tcp")
	typeAt(ffSrc, "!10.0.0.0/8")
	typeAt(ffDport, "8080")
	typeAt(ffCT, "new")
	typeAt(ffTCPFlags, "syn/syn,ack")
	if scr := screen(a); strings.Contains(scr, "invalid") {
		t.Fatalf("valid form shown invalid:\n%s", scr)
	}
	runKeys(t, a, "enter")
	want := model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Proto: "tcp", Src: netip.MustParsePrefix("10.0.0.0/8"),
		DstPorts: model.PortRange{Min: 8080, Max: 8080}, CTState: []string{"new"}, TCPFlags: "syn/syn,ack",
		Negate: []string{"src"}, Action: model.ActionDrop}
	if diff := cmp.Diff([]rules.Op{{Kind: rules.OpAdd, Rule: want}}, ctl.applied, cmpRules); diff != "" {
		t.Fatalf("add (-want +got):\n%s", diff)
	}
	// an icmp type on a tcp rule is refused next to the field
	f := newRuleForm(want, 0)
	f.fields[ffICMP].text = []rune("echo-request")
	if msg := f.problems()[ffICMP]; !strings.Contains(msg, "needs protocol icmp") {
		t.Errorf("icmp on tcp: %q", msg)
	}
	// an icmp code by nft name is taken, and shown by name in the table
	f = newRuleForm(model.Rule{Enabled: true, Proto: "icmp", Action: model.ActionDrop}, 0)
	f.fields[ffICMP].text = []rune("destination-unreachable/port-unreachable")
	if icmp, err := f.rule(); err != nil || rules.Normalize(icmp).ICMP != "destination-unreachable/3" {
		t.Errorf("icmp code by name: %+v %v", icmp, err)
	} else if s := rules.Summary(icmp); !strings.HasSuffix(s, "type destination-unreachable/port-unreachable") {
		t.Errorf("summary %q", s)
	}
	// editing: the negation is shown, a set and its negation are kept
	r := want
	r.Src, r.SrcSet, r.Negate = netip.Prefix{}, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, []string{"src", "tcp_flags"}
	f = newRuleForm(r, 9)
	if got := f.text(ffTCPFlags); got != "!syn/syn,ack" {
		t.Errorf("tcp flags field %q, want !syn/syn,ack", got)
	}
	got, err := f.rule()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.SrcSet) != 1 || !slices.Equal(got.Negate, []string{"src", "tcp_flags"}) {
		t.Errorf("edited rule lost its set or negation: %+v", got)
	}
}

func TestFiltersEditForeignRefused(t *testing.T) {
	ctl := &fakeFilters{}
	a := filtersApp(t, rulesStore(), ctl)
	runKeys(t, a, "end", "e")
	if a.filtersPage().mode != modeRules || !strings.Contains(screen(a), "was not made by netlens") {
		t.Fatalf("foreign rule opened in the form:\n%s", screen(a))
	}
}

func TestFiltersDeleteConfirm(t *testing.T) {
	for _, tt := range []struct {
		answer string
		want   []rules.Op
	}{
		{"n", nil},
		{"esc", nil},
		{"y", []rules.Op{{Kind: rules.OpDelete, ID: 2}}},
	} {
		t.Run(tt.answer, func(t *testing.T) {
			ctl := &fakeFilters{}
			a := filtersApp(t, rulesStore(), ctl)
			runKeys(t, a, "down", "d")
			if !strings.Contains(screen(a), "Delete rule 2") {
				t.Fatalf("no delete question:\n%s", screen(a))
			}
			if len(ctl.ops) != 0 {
				t.Fatalf("d alone planned %v", ctl.ops)
			}
			runKeys(t, a, tt.answer)
			if diff := cmp.Diff(tt.want, ctl.applied, cmpRules); diff != "" {
				t.Errorf("applied (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFiltersGuard(t *testing.T) {
	tests := []struct {
		name    string
		keys    []string
		applied bool
	}{
		{"Y applies", []string{"Y"}, true},
		{"y twice applies", []string{"y", "y"}, true},
		{"y once does not", []string{"y"}, false},
		{"n cancels", []string{"y", "n"}, false},
		{"esc cancels", []string{"esc"}, false},
		{"other keys do nothing", []string{"q", "space", "c", "1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctl := &fakeFilters{plan: guardPlan(), res: rules.Result{Txn: 9, RevertAt: fixedClock().Add(30 * time.Second)}}
			a := filtersApp(t, rulesStore(), ctl)
			runKeys(t, a, "space")
			scr := screen(a)
			for _, s := range []string{"LOCKOUT GUARD", "YOUR OWN SSH SESSION", "2 established socket(s)", "press Y"} {
				if !strings.Contains(scr, s) {
					t.Fatalf("guard prompt lacks %q:\n%s", s, scr)
				}
			}
			if len(ctl.applied) != 0 {
				t.Fatalf("applied before the second confirmation")
			}
			runKeys(t, a, tt.keys...)
			if got := len(ctl.applied) == 1; got != tt.applied {
				t.Fatalf("applied = %v, want %v; screen:\n%s", got, tt.applied, screen(a))
			}
			if a.active != 3 {
				t.Fatalf("a key at the guard prompt switched tabs")
			}
		})
	}
}

func TestFiltersCountdownAndConfirm(t *testing.T) {
	clock := &fakeClock{now: fixedClock()}
	ctl := &fakeFilters{plan: rules.Plan{DropCapable: true, Revert: 30 * time.Second},
		res: rules.Result{Rule: model.Rule{ID: 2}, Txn: 4242, RevertAt: clock.now.Add(30 * time.Second)}}
	store := rulesStore()
	a := newTestApp(t, store, Options{Controls: Controls{Filters: ctl}, Now: clock.Now}, 80, 24)
	runKeys(t, a, "4", "down", "space")
	header := func() string { return strings.SplitN(screen(a), "\n", 2)[0] }
	if !strings.Contains(header(), "REVERT IN 30s") {
		t.Fatalf("no countdown in the header:\n%s", screen(a))
	}
	clock.now = clock.now.Add(12 * time.Second)
	run(t, a, countdownMsg{})
	if !strings.Contains(header(), "REVERT IN 18s") {
		t.Fatalf("countdown did not move:\n%s", screen(a))
	}
	// The tick is re-issued while a change is pending.
	if a.tickCmds() != nil || !a.filtersPage().ticking {
		t.Fatalf("no tick in flight while a change is pending")
	}
	runKeys(t, a, "c")
	if diff := cmp.Diff([]uint32{4242}, ctl.confirms); diff != "" {
		t.Fatalf("confirms (-want +got):\n%s", diff)
	}
	if strings.Contains(header(), "REVERT") || !strings.Contains(screen(a), "confirmed: ") {
		t.Fatalf("confirmed change still counts down:\n%s", screen(a))
	}
}

// pendingRuleApp disables rule 2 in the Filters tab with a 30 s revert
// deadline (txn 4242), and the collector then reports it pending.
func pendingRuleApp(t *testing.T) (*App, *model.Store, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: fixedClock()}
	ctl := &fakeFilters{plan: rules.Plan{DropCapable: true, Revert: 30 * time.Second},
		res: rules.Result{Rule: model.Rule{ID: 2}, Txn: 4242, RevertAt: clock.now.Add(30 * time.Second)}}
	store := rulesStore()
	a := newTestApp(t, store, Options{Controls: Controls{Filters: ctl}, Now: clock.Now, Refresh: time.Millisecond}, 80, 24)
	runKeys(t, a, "4", "down", "space")
	store.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: clock.now, Rules: fixtureRules(),
		Pending: []model.PendingChange{{Txn: 4242, RevertAt: clock.now.Add(30 * time.Second)}}}})
	a.apply()
	return a, store, clock
}

// TestFiltersConfirmRacesRefresh: the collector's refresh can report the
// change gone (the confirm already reached the backend) before the
// Confirm call's answer reaches the UI. The confirm still names the
// change ("confirmed: disable rule 2 is kept"), not "confirmed
// elsewhere" then "the pending change" (a CI run saw that order).
func TestFiltersConfirmRacesRefresh(t *testing.T) {
	a, store, clock := pendingRuleApp(t)
	_, cmd := a.Update(press("c"))
	if cmd == nil {
		t.Fatal("c returned no command")
	}
	// The refresh lands first: no pending change any more.
	store.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: clock.now, Rules: fixtureRules()}})
	a.apply()
	a.pages[a.active].Sync()
	if scr := screen(a); strings.Contains(scr, "confirmed elsewhere") {
		t.Fatalf("a confirm in flight was taken for one made elsewhere:\n%s", scr)
	}
	for _, m := range collect(t, cmd) {
		run(t, a, m)
	}
	if scr := screen(a); !strings.Contains(scr, "confirmed: disable rule 2 is kept") {
		t.Fatalf("the confirm does not name the change:\n%s", scr)
	}
}

func TestFiltersRevertShown(t *testing.T) {
	// The collector reports the change pending, then (after the
	// deadline) gone: the kernel or the helper reverted it.
	a, store, clock := pendingRuleApp(t)
	clock.now = clock.now.Add(31 * time.Second)
	store.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: clock.now, Rules: fixtureRules()[:1]}})
	a.apply()
	a.pages[a.active].Sync()
	if scr := screen(a); !strings.Contains(scr, "REVERTED: disable rule 2") {
		t.Fatalf("the revert is not shown:\n%s", scr)
	}
}

func TestFiltersPlanError(t *testing.T) {
	ctl := &fakeFilters{planErr: errors.New("a change is waiting for confirmation: netlens rules confirm 7")}
	a := filtersApp(t, rulesStore(), ctl)
	runKeys(t, a, "space")
	if scr := screen(a); !strings.Contains(scr, "refused: a change is waiting") {
		t.Fatalf("plan error not shown:\n%s", scr)
	}
	if len(ctl.applied) != 0 {
		t.Fatal("applied after a refused plan")
	}
}

func TestFiltersFormPaste(t *testing.T) {
	a := filtersApp(t, rulesStore(), &fakeFilters{})
	runKeys(t, a, "a", "down", "down", "down", "down")
	run(t, a, tea.PasteMsg{Content: "10.0.0.0/8\nrm -rf /"})
	if got := a.filtersPage().form.text(ffDst); got != "10.0.0.0/8" {
		t.Fatalf("dst after a paste = %q, want the first line", got)
	}
	if a.mode == inputSearch {
		t.Fatal("a paste in the form opened the filter")
	}
}

// TestFiltersNoTickWhenIdle: without a pending change nothing ticks (an
// idle screen writes nothing).
func TestFiltersNoTickWhenIdle(t *testing.T) {
	a := filtersApp(t, rulesStore(), &fakeFilters{})
	if cmd := a.tickCmds(); cmd != nil || a.filtersPage().ticking {
		t.Fatal("a countdown ticks with no change pending")
	}
	// Another netlens's pending change counts down here too.
	b := newTestApp(t, pendingStore(), Options{}, 80, 24)
	if !b.filtersPage().ticking {
		t.Fatal("no countdown for a change pending elsewhere")
	}
	if h := strings.SplitN(screen(b), "\n", 2)[0]; !strings.Contains(h, "REVERT IN 25s") {
		t.Fatalf("header: %q", h)
	}
}

// FuzzRuleForm types any text into every field of the rule form: the
// form never panics, never applies an invalid rule, and always draws
// exactly its height in lines of at most its width, with no control
// characters (user text may be any printable UTF-8: a label).
func FuzzRuleForm(f *testing.F) {
	for _, s := range []string{"", "10.0.0.1/8", "2000-1000", "tcp", "eth0/1", "input,bogus", "\x1b[2J", "日本語", "65536", "::ffff:1.2.3.4"} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, text string, field uint8) {
		styles := NewStyles(colorprofile.ASCII)
		p := newFiltersPage(Common{Styles: styles, Keys: DefaultKeyMap()}, DefaultFiltersDeps, &fakeFilters{}, fixedClock)
		p.SetSize(80, 19)
		p.form = newRuleForm(model.Rule{Enabled: true, Action: model.ActionDrop}, 0)
		p.mode = modeForm
		p.form.cur = int(field) % len(p.form.fields)
		p.form.paste(text)
		r, err := p.form.rule()
		if err == nil {
			if verr := rules.Validate(r); verr != nil {
				t.Fatalf("the form accepted a rule Validate refuses: %v", verr)
			}
		}
		lines := strings.Split(p.View(), "\n")
		if len(lines) != 19 {
			t.Fatalf("%d lines, want 19", len(lines))
		}
		for i, l := range lines {
			l = stripANSI(l)
			if n := width(l); n > 80 {
				t.Fatalf("line %d is %d cells: %q", i, n, l)
			}
			if strings.ContainsFunc(l, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("line %d has a control character: %q", i, l)
			}
		}
	})
}

// TestCollectWaitsForSlowCommands: collect returns the message of a
// command slower than a tick of the scheduler (a plan or an apply on a
// busy machine), so that a test asserting what did not happen sees it.
func TestCollectWaitsForSlowCommands(t *testing.T) {
	type slowMsg struct{}
	slow := func() tea.Msg { time.Sleep(300 * time.Millisecond); return slowMsg{} }
	got := collect(t, tea.Batch(slow, func() tea.Msg { return countdownMsg{} }))
	if diff := cmp.Diff([]tea.Msg{slowMsg{}}, got); diff != "" {
		t.Errorf("collect (-want +got):\n%s", diff)
	}
}

// filtersPage returns the Filters tab.
func (a *App) filtersPage() *filtersPage {
	for _, p := range a.pages {
		if f, ok := p.(*filtersPage); ok {
			return f
		}
	}
	return nil
}

// TestFiltersPendingInOtherNamespace: a change made in one namespace
// (hx-a) is not in the pending list of the namespace switched to (N):
// the tab says it waits in hx-a, not "confirmed elsewhere", and c there
// does not confirm it; back in hx-a the usual tracking concludes.
func TestFiltersPendingInOtherNamespace(t *testing.T) {
	hxA := &model.NetNS{Inode: 4026532101, Name: "hx-a", Path: "/run/netns/hx-a"}
	hxB := &model.NetNS{Inode: 4026532202, Name: "hx-b", Path: "/run/netns/hx-b"}
	for _, tc := range []struct {
		name      string
		back      time.Duration // back in hx-a this long after the change
		want      string
		confirmed bool
	}{
		{name: "confirmed", back: 20 * time.Second, want: "disable rule 2: confirmed elsewhere", confirmed: true},
		{name: "reverted", back: 31 * time.Second, want: "REVERTED: disable rule 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: fixedClock()}
			start := clock.now
			deadline := start.Add(30 * time.Second)
			ctl := &fakeFilters{plan: rules.Plan{DropCapable: true, Revert: 30 * time.Second},
				res: rules.Result{Rule: model.Rule{ID: 2}, Txn: 4242, RevertAt: deadline}}
			store := rulesStore()
			store.Publish(model.NetNSUpdate{NetNS: hxA})
			a := newTestApp(t, store, Options{Controls: Controls{Filters: ctl}, Now: clock.Now, Refresh: time.Millisecond}, 100, 24)
			runKeys(t, a, "4", "down", "space")
			show := func(ns *model.NetNS, pending ...model.PendingChange) {
				t.Helper()
				if nsInode(a.snap.NetNS) != nsInode(ns) {
					store.Publish(model.NetNSUpdate{NetNS: ns, Switch: true})
					a.apply()
					a.pages[a.active].Sync()
				}
				store.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: clock.now, Rules: fixtureRules(), Pending: pending}})
				a.apply()
				a.pages[a.active].Sync()
			}
			show(hxA, model.PendingChange{Txn: 4242, RevertAt: deadline})
			// To hx-b, where another change (the same txn number, another
			// namespace's state) is pending too.
			clock.now = start.Add(2 * time.Second)
			show(hxB, model.PendingChange{Txn: 7, RevertAt: start.Add(40 * time.Second)})
			there := "disable rule 2: pending in hx-a (c there keeps it; undone at " + deadline.Local().Format("15:04:05") + ")"
			scr := screen(a)
			if strings.Contains(scr, "confirmed elsewhere") || !strings.Contains(scr, there) {
				t.Fatalf("in hx-b the change of hx-a is not said pending there:\n%s", scr)
			}
			if header := strings.SplitN(scr, "\n", 2)[0]; !strings.Contains(header, "REVERT IN 28s (2 changes): c on Filters in hx-a keeps it") {
				t.Fatalf("header does not name the namespace:\n%s", scr)
			}
			// c in hx-b confirms hx-b's change, not hx-a's.
			_, cmd := a.Update(press("c"))
			for _, m := range collect(t, cmd) {
				run(t, a, m)
			}
			if diff := cmp.Diff([]uint32{0}, ctl.confirms); diff != "" {
				t.Fatalf("confirms in hx-b (-want +got):\n%s", diff)
			}
			clock.now = start.Add(5 * time.Second)
			show(hxB)
			if scr := screen(a); strings.Contains(scr, "confirmed elsewhere") || !strings.Contains(scr, "REVERT IN 25s") {
				t.Fatalf("hx-a's change stopped counting down after a confirm in hx-b:\n%s", scr)
			}
			// Back in hx-a: nothing read yet, then the change gone.
			clock.now = start.Add(tc.back)
			store.Publish(model.NetNSUpdate{NetNS: hxA, Switch: true})
			a.apply()
			a.pages[a.active].Sync()
			if scr := screen(a); strings.Contains(scr, "confirmed elsewhere") || strings.Contains(scr, "REVERTED") {
				t.Fatalf("concluded before hx-a's rules were read:\n%s", scr)
			}
			show(hxA)
			if scr := screen(a); !strings.Contains(scr, tc.want) {
				t.Fatalf("back in hx-a, want %q:\n%s", tc.want, scr)
			}
		})
	}
}
