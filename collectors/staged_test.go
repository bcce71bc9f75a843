package collectors

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// timedCollector records when its Collect calls start and end, and
// whether it was closed.
type timedCollector struct {
	name string
	took time.Duration

	mu         sync.Mutex
	starts     []time.Time
	firstEnded time.Time
	closed     bool
}

func (c *timedCollector) Name() string { return c.name }

func (c *timedCollector) Collect(ctx context.Context, pub Publisher) error {
	c.mu.Lock()
	c.starts = append(c.starts, time.Now())
	c.mu.Unlock()
	select {
	case <-time.After(c.took):
	case <-ctx.Done():
	}
	c.mu.Lock()
	if c.firstEnded.IsZero() {
		c.firstEnded = time.Now()
	}
	c.mu.Unlock()
	return nil
}

func (c *timedCollector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func TestRunStaged(t *testing.T) {
	tests := []struct {
		name      string
		lead      string
		leadTakes time.Duration
		bound     time.Duration
		afterLead bool // the others start after the lead's first run ended
	}{
		{"others wait for the lead's first run", "sockets", 80 * time.Millisecond, 5 * time.Second, true},
		{"no lead of that name: all at once", "none", 80 * time.Millisecond, 5 * time.Second, false},
		{"bounded: a slow lead holds the others for the bound only", "sockets", 3 * time.Second, 50 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := model.NewStore("h", "k", time.Now())
			lead := &timedCollector{name: "sockets", took: tt.leadTakes}
			other := &timedCollector{name: "counters", took: time.Millisecond}
			ctx, cancel := context.WithCancel(context.Background())
			s := RunStaged(ctx, store, []Spec{{other, time.Hour}, {lead, time.Hour}}, tt.lead, tt.bound)
			deadline := time.Now().Add(5 * time.Second)
			for {
				other.mu.Lock()
				n := len(other.starts)
				other.mu.Unlock()
				if n > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			if err := s.Wait(); err != nil {
				t.Fatal(err)
			}
			if len(other.starts) == 0 {
				t.Fatal("the other collector never ran")
			}
			after := !lead.firstEnded.IsZero() && !other.starts[0].Before(lead.firstEnded)
			if after != tt.afterLead {
				t.Errorf("other started %v, lead's first run ended %v: after = %v, want %v", other.starts[0], lead.firstEnded, after, tt.afterLead)
			}
			if !lead.closed || !other.closed {
				t.Errorf("closed: lead %v, other %v", lead.closed, other.closed)
			}
		})
	}
}

// TestRunStagedStoppedEarly: stopped before the lead's first run ends,
// the others are never started, and still closed.
func TestRunStagedStoppedEarly(t *testing.T) {
	store := model.NewStore("h", "k", time.Now())
	lead := &timedCollector{name: "sockets", took: time.Minute}
	other := &timedCollector{name: "counters", took: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	s := RunStaged(ctx, store, []Spec{{lead, time.Hour}, {other, time.Hour}}, "sockets", time.Minute)
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(other.starts) != 0 || !other.closed || !lead.closed {
		t.Errorf("other started %d times, closed %v; lead closed %v", len(other.starts), other.closed, lead.closed)
	}
}

// lateCollector blocks in its first Collect, ignoring its context, until
// release is closed, then publishes a socket with its inode as the
// marker; it keeps the Publisher it was given (as the filters collector
// does for its watch) for a publish after Close.
type lateCollector struct {
	inode   uint64
	blocked chan struct{} // closed once the first Collect is blocked
	release chan struct{}

	mu      sync.Mutex
	calls   int
	inCall  bool
	pub     Publisher
	closed  bool
	badStop bool // closed while a call was in flight
}

func (c *lateCollector) Name() string { return "sockets" }

func (c *lateCollector) Collect(ctx context.Context, pub Publisher) error {
	c.mu.Lock()
	c.calls++
	first := c.calls == 1
	c.inCall, c.pub = true, pub
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inCall = false
		c.mu.Unlock()
	}()
	if first && c.release != nil {
		close(c.blocked)
		<-c.release
	}
	pub.Publish(model.SocketsUpdate{Sockets: []model.Socket{{Proto: model.ProtoTCP, Inode: c.inode}}})
	return nil
}

func (c *lateCollector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.badStop = c.badStop || c.inCall
	return nil
}

// TestRetireDropsLateUpdates: a switch that does not wait for the old
// namespace's collectors. The old sockets collector is blocked in a call
// when the switch happens; the new one starts and publishes at once; the
// old call then ends and publishes, and the old collector publishes once
// more after it was closed: none of it reaches the Store, no subscriber
// is woken for it, and the old collector is closed only after its call
// returned.
func TestRetireDropsLateUpdates(t *testing.T) {
	store := model.NewStore("h", "k", time.Now())
	old := &lateCollector{inode: 1, blocked: make(chan struct{}), release: make(chan struct{})}
	ctx1, cancel1 := context.WithCancel(context.Background())
	s1 := RunStaged(ctx1, store, []Spec{{old, time.Hour}}, "sockets", time.Second)
	<-old.blocked

	// The switch, as the TUI's switcher does it.
	cancel1()
	retired := s1.Retire()
	store.Publish(model.NetNSUpdate{NetNS: &model.NetNS{Inode: 42}, Switch: true})
	cur := &lateCollector{inode: 2}
	ctx2, cancel2 := context.WithCancel(context.Background())
	s2 := RunStaged(ctx2, store, []Spec{{cur, time.Hour}}, "sockets", time.Second)
	defer func() {
		cancel2()
		s2.Wait()
	}()
	waitStore(t, store, func(snap model.Snapshot) bool {
		st, _ := snap.Status("sockets")
		return len(snap.Sockets) == 1 && st.State == model.StateOK
	})
	select {
	case err := <-retired:
		t.Fatalf("retired (%v) while its call was still blocked", err)
	default:
	}

	sub, unsub := store.Subscribe()
	defer unsub()
	before := store.Snapshot()
	close(old.release)
	select {
	case err := <-retired:
		if err != nil {
			t.Fatalf("retire: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the old collectors not retired 10 s after their call returned")
	}
	old.mu.Lock()
	closed, bad, pub := old.closed, old.badStop, old.pub
	old.mu.Unlock()
	if !closed || bad {
		t.Fatalf("old collector closed %v, closed during a call %v", closed, bad)
	}
	pub.Publish(model.SocketsUpdate{Sockets: []model.Socket{{Proto: model.ProtoTCP, Inode: 1}}})

	after := store.Snapshot()
	if after.Seq != before.Seq {
		t.Errorf("the Store changed after the switch: seq %d -> %d", before.Seq, after.Seq)
	}
	select {
	case <-sub:
		t.Error("a late update woke a subscriber")
	default:
	}
	want := []uint64{2}
	var got []uint64
	for _, s := range after.Sockets {
		got = append(got, s.Inode)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sockets in the Store (-want +got):\n%s", diff)
	}
	if after.NetNS == nil || after.NetNS.Inode != 42 {
		t.Errorf("namespace: %+v", after.NetNS)
	}
}

// waitStore waits (at most 10 s) until ok holds for the Store's snapshot.
func waitStore(t *testing.T, store *model.Store, ok func(model.Snapshot) bool) {
	t.Helper()
	sub, unsub := store.Subscribe()
	defer unsub()
	deadline := time.After(10 * time.Second)
	for !ok(store.Snapshot()) {
		select {
		case <-sub:
		case <-deadline:
			t.Fatalf("not reached in 10 s: %+v", store.Snapshot())
		}
	}
}
