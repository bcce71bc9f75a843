package ui

import (
	"strings"
	"testing"
	"time"

	"netlens/model"
)

// TestHelpWraps80: at 80 columns, the minimum, the full help of every tab
// wraps its text instead of cutting it: no line ends with a word cut by
// the ellipsis, and every word of the tab's help is on screen, in order.
func TestHelpWraps80(t *testing.T) {
	store := fixtureStore()
	reason := "needs CAP_NET_ADMIN: netlink ctnetlink dump: operation not permitted (run as root or grant the capability)"
	store.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "conntrack", State: model.StateNoPermission,
		Reason: reason, Interval: time.Second}})
	a := newTestApp(t, store, Options{}, 80, 200) // tall: nothing scrolls
	for i := range a.pages {
		send(a, "esc", itoa(i+1), "?")
		p := a.pages[a.active]
		s := screen(a)
		if !strings.Contains(s, "Collectors") {
			t.Fatalf("tab %d: no help:\n%s", i+1, s)
		}
		for n, l := range strings.Split(s, "\n") {
			f := strings.Fields(l)
			if len(f) > 0 && len(f[len(f)-1]) > 1 && strings.HasSuffix(f[len(f)-1], ellipsis) {
				t.Errorf("%s: help line %d is cut: %q", p.Title(), n, l)
			}
		}
		got := " " + strings.Join(strings.Fields(s), " ") + " "
		if !strings.Contains(got, " "+reason+" ") {
			t.Errorf("%s: the conntrack collector's reason is not all on screen:\n%s", p.Title(), s)
		}
		want := " " + strings.Join(strings.Fields(strings.Join(p.HelpLines(1<<12), " ")), " ") + " "
		if !strings.Contains(got, want) {
			t.Errorf("%s: the help's words are not all on screen:\nwant %s\nscreen:\n%s", p.Title(), want, s)
		}
	}
}
