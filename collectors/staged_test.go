package collectors

import (
	"context"
	"sync"
	"testing"
	"time"

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
