package filter

import (
	"context"
	"testing"
	"time"

	"netlens/model"
)

// fakeSource is a Source whose rule counters the test sets.
type fakeSource struct{ rules []model.Rule }

func (f *fakeSource) Name() string                            { return "nft" }
func (f *fakeSource) ReadOnly() string                        { return "" }
func (f *fakeSource) List() ([]model.Rule, error)             { return append([]model.Rule(nil), f.rules...), nil }
func (f *fakeSource) Verdicts() ([]model.HookVerdicts, error) { return nil, nil }
func (f *fakeSource) Close() error                            { return nil }
func (f *fakeSource) Watch(ctx context.Context, _ func()) error {
	<-ctx.Done()
	return nil
}

type lastRules struct{ st model.RulesState }

func (l *lastRules) Publish(u model.Update) {
	if r, ok := u.(model.RulesUpdate); ok {
		l.st = r.State
	}
}

// TestLastHitSeen: a backend that keeps no last hit (nftables) gets the
// time its counter was seen to move; "-" (zero) before it moved while
// netlens ran, and it stays when the counter stops; the module's own
// time is kept.
func TestLastHitSeen(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 19, 42, 0, 0, time.UTC)
	kmodHit := t0.Add(-time.Hour)
	src := &fakeSource{rules: []model.Rule{{ID: 1, Packets: 3}, {ID: 2, Packets: 5, LastHit: kmodHit}}}
	now := t0
	c := New(src)
	c.Now = func() time.Time { return now }
	defer c.Close()
	pub := &lastRules{}
	step := func(p1, p2 uint64, want1, want2 time.Time) {
		t.Helper()
		src.rules[0].Packets, src.rules[1].Packets = p1, p2
		if err := c.Collect(context.Background(), pub); err != nil {
			t.Fatal(err)
		}
		if got := pub.st.Rules[0].LastHit; !got.Equal(want1) {
			t.Errorf("at %s: rule 1 last hit %s, want %s", now.Format(time.TimeOnly), got, want1)
		}
		if got := pub.st.Rules[1].LastHit; !got.Equal(want2) {
			t.Errorf("at %s: rule 2 last hit %s, want %s", now.Format(time.TimeOnly), got, want2)
		}
		now = now.Add(time.Second)
	}
	step(3, 5, time.Time{}, kmodHit)           // the first sample: not seen to move
	step(3, 5, time.Time{}, kmodHit)           // still not
	step(6, 9, t0.Add(2*time.Second), kmodHit) // moved
	step(6, 9, t0.Add(2*time.Second), kmodHit) // stays
}

// revertingSource is a fakeSource with a pending change (Pendinger, as
// the nft backend) that is reverted, its rule gone with it, as soon as
// a List has read the rules: the revert lands between the reads of one
// publish.
type revertingSource struct {
	fakeSource
	txn uint32
	at  time.Time
}

func (r *revertingSource) Pending() (uint32, time.Time, bool) { return r.txn, r.at, r.txn != 0 }

func (r *revertingSource) List() ([]model.Rule, error) {
	rs, err := r.fakeSource.List()
	r.rules, r.txn = nil, 0 // the revert helper puts back the rules as they were
	return rs, err
}

// TestRevertBetweenReadsStaysPending: a pending change reverted while a
// publish reads the rules is published still pending with the rule it
// left, and gone together with that rule at the next publish; never
// gone with its rule still listed (which the TUI showed as REVERTED
// beside the rule still on).
func TestRevertBetweenReadsStaysPending(t *testing.T) {
	at := time.Date(2026, 12, 5, 0, 30, 0, 0, time.UTC)
	// A pending add: the rule carries nothing, as when the state file is
	// read after the rules.
	src := &revertingSource{fakeSource: fakeSource{rules: []model.Rule{{ID: 1, Packets: 3}}}, txn: 7, at: at}
	c := New(src)
	defer c.Close()
	pub := &lastRules{}
	if err := c.Collect(context.Background(), pub); err != nil {
		t.Fatal(err)
	}
	if len(pub.st.Rules) != 1 || len(pub.st.Pending) != 1 || pub.st.Pending[0] != (model.PendingChange{Txn: 7, RevertAt: at}) {
		t.Fatalf("reverted while read: rules %+v, pending %+v; want the rule, still pending", pub.st.Rules, pub.st.Pending)
	}
	if err := c.Refresh(); err != nil {
		t.Fatal(err)
	}
	if len(pub.st.Rules) != 0 || len(pub.st.Pending) != 0 {
		t.Fatalf("after the revert: rules %+v, pending %+v; want neither", pub.st.Rules, pub.st.Pending)
	}
}
