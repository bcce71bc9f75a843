// The filters collector (collectors/filter) over the in-memory and
// read-only backends of this package.
package filter

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	filtercol "netlens/collectors/filter"
	"netlens/internal/filtermem"
	"netlens/model"
	"netlens/model/rules"
)

func TestCollectorPublishesRulesAndRates(t *testing.T) {
	b := &filtermem.Backend{}
	b.Add(model.Rule{Enabled: true, Action: model.ActionCount, Hooks: []string{"input"}, Family: "both", Label: "c"}, 0)
	b.Add(model.Rule{Enabled: true, Action: model.ActionDrop, Hooks: []string{"input"}, Family: "both"}, 30*time.Second)
	c := filtercol.New(b)
	t0 := time.Unix(1000, 0)
	now := t0
	c.Now = func() time.Time { return now }
	store := model.NewStore("h", "k", t0)
	if err := c.Collect(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b.Mu.Lock()
	b.Rules[0].Packets = 50
	b.Mu.Unlock()
	now = t0.Add(2 * time.Second)
	if err := c.Refresh(); err != nil {
		t.Fatal(err)
	}
	st := store.Snapshot().Rules
	if st == nil || st.Backend != "mem" || len(st.Rules) != 2 {
		t.Fatalf("rules section: %+v", st)
	}
	if st.Rules[0].Rate != 25 {
		t.Errorf("rate %v, want 25 packets/s", st.Rules[0].Rate)
	}
	if len(st.Pending) != 1 || st.Pending[0].Txn != 1 {
		t.Errorf("pending: %+v", st.Pending)
	}
	if c.Name() != "filters" || c.Source() != "mem" || c.Note() != "" {
		t.Errorf("name %q source %q note %q", c.Name(), c.Source(), c.Note())
	}
	ro := filtercol.New(readOnly{name: rules.BackendNone, reason: "kmod: not loaded; nft: needs CAP_NET_ADMIN"})
	if err := ro.Collect(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	ro.Close()
	if st := store.Snapshot().Rules; st.Backend != "none" || st.ReadOnly == "" || ro.Note() == "" {
		t.Errorf("read-only: %+v note %q", st, ro.Note())
	}
}

// recoveringBackend is a filtermem.Backend with a Recover that counts its calls.
type recoveringBackend struct {
	*filtermem.Backend
	recovers atomic.Int32
}

func (r *recoveringBackend) Recover() (bool, error) {
	r.recovers.Add(1)
	return true, nil
}

// TestCollectorNeverRecovers: reading rules never changes them; an
// overdue change is reported in the Note. RecoverLoop, the control side,
// does revert, and tells the caller.
func TestCollectorNeverRecovers(t *testing.T) {
	b := &recoveringBackend{Backend: &filtermem.Backend{}}
	b.Add(model.Rule{Enabled: true, Action: model.ActionDrop, Hooks: []string{"input"}, Family: "both"}, 30*time.Second)
	c := filtercol.New(b)
	t0 := time.Now()
	c.Now = func() time.Time { return t0.Add(30*time.Second + rules.OverdueGrace + time.Second) }
	store := model.NewStore("h", "k", t0)
	if err := c.Collect(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Refresh(); err != nil {
		t.Fatal(err)
	}
	if n := b.recovers.Load(); n != 0 {
		t.Errorf("the collector called Recover %d times; reading must not write", n)
	}
	if !strings.HasPrefix(c.Note(), "OVERDUE: change 1 passed its revert deadline") {
		t.Errorf("note %q, want the overdue change", c.Note())
	}

	ctx, cancel := context.WithCancel(context.Background())
	after := make(chan struct{}, 1)
	go RecoverLoop(ctx, b, time.Hour, func() { after <- struct{}{}; cancel() })
	select {
	case <-after:
	case <-time.After(10 * time.Second):
		t.Fatal("RecoverLoop did not recover")
	}
	if b.recovers.Load() != 1 {
		t.Errorf("RecoverLoop called Recover %d times, want 1", b.recovers.Load())
	}
}
