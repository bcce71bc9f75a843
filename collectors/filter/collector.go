package filter

import (
	"context"
	"sync"
	"time"

	"netlens/collectors"
	"netlens/model"
	"netlens/model/rules"
)

// Name is the collector's name.
const Name = model.CollectorFilters

// Source is what the collector reads: the read side of a filter backend
// (control/filter.Backend satisfies it). The collector never changes the
// rules, and never reverts an overdue change either: it reports one in
// its Note, and the control side reverts it (control/filter.RecoverLoop).
type Source interface {
	// Name is "kmod", "nft" or "none".
	Name() string
	// ReadOnly says why changes are refused, or "".
	ReadOnly() string
	// List returns the rules in evaluation order with their counters.
	List() ([]model.Rule, error)
	// Verdicts returns the per-hook verdict counters (nil when none).
	Verdicts() ([]model.HookVerdicts, error)
	// Watch calls changed after every change of the rules, whoever made
	// it, until ctx is done.
	Watch(ctx context.Context, changed func()) error
	Close() error
}

// Collector is the "filters" collector: it publishes the backend's rules,
// counters, rates and pending changes as a model.RulesUpdate on every run,
// and at once after any change the backend's Watch reports (another
// netlens, nft(8), the module's events, a revert). It is safe for
// concurrent use; Close stops the watch goroutine and waits for it.
type Collector struct {
	b Source
	// Now is the clock (time.Now; tests replace it).
	Now func() time.Time

	pubMu    sync.Mutex // serialises publish
	mu       sync.Mutex
	prev     map[uint32]sample
	pub      collectors.Publisher
	watchErr string
	overdue  string // OverdueNote of the last read
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type sample struct {
	packets uint64
	at      time.Time
	hit     time.Time // when the counter was last seen to move
}

// New returns the collector over b.
func New(b Source) *Collector {
	return &Collector{b: b, Now: time.Now, prev: map[uint32]sample{}}
}

// Name returns Name.
func (c *Collector) Name() string { return Name }

// Source returns the backend in use ("kmod", "nft" or "none").
func (c *Collector) Source() string { return c.b.Name() }

// Note says why rules are read-only, or why live updates stopped.
func (c *Collector) Note() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.overdue != "" {
		return c.overdue
	}
	if ro := c.b.ReadOnly(); ro != "" {
		return ro
	}
	if c.watchErr != "" {
		return "live updates stopped (" + c.watchErr + "); refreshing on the interval"
	}
	return ""
}

// Collect publishes the current rules and starts the watch on first use.
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	c.startWatch(pub)
	return c.publish(pub)
}

// Refresh publishes the rules now (after a change made through a
// Manager, so that the UI shows it without waiting for the interval).
// It does nothing before the first Collect.
func (c *Collector) Refresh() error {
	c.mu.Lock()
	pub := c.pub
	c.mu.Unlock()
	if pub == nil {
		return nil
	}
	return c.publish(pub)
}

func (c *Collector) startWatch(pub collectors.Publisher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pub != nil {
		return
	}
	c.pub = pub
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		// A watch that fails (a monitor socket overrun, the module
		// unloaded) is noted and restarted; the interval refresh goes on
		// meanwhile.
		for ctx.Err() == nil {
			err := c.b.Watch(ctx, func() { _ = c.publish(pub) })
			if err == nil || ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			c.watchErr = err.Error()
			c.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(watchRetry):
			}
		}
	}()
}

// watchRetry is how long a failed Watch waits before it starts again.
const watchRetry = 5 * time.Second

// Close stops the watch and closes the backend.
func (c *Collector) Close() error {
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	c.wg.Wait()
	return c.b.Close()
}

func (c *Collector) publish(pub collectors.Publisher) error {
	// One publish at a time, so that an older read is never published
	// after a newer one.
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	// Reading never writes: an overdue change is reported (Note), and
	// reverted only by the control side (control/filter.RecoverLoop,
	// `netlens rules`).
	//
	// The backend's own pending changes are read before the rules: a
	// change reverted between the two reads is then published still
	// pending beside the rules as they were, or gone with the rules put
	// back, never gone beside the rules it left (the TUI said REVERTED
	// with the reverted rule still in its table).
	own := rules.BackendPending(c.b)
	rs, err := c.b.List()
	if err != nil {
		return err
	}
	rs = rules.JSONSafe(rs)
	hooks, err := c.b.Verdicts()
	if err != nil {
		return err
	}
	now := c.Now()
	c.mu.Lock()
	next := make(map[uint32]sample, len(rs))
	for i := range rs {
		r := &rs[i]
		p, ok := c.prev[r.ID]
		hit := p.hit
		if ok && r.Packets >= p.packets {
			if dt := now.Sub(p.at).Seconds(); dt > 0 {
				r.Rate = float64(r.Packets-p.packets) / dt
			}
			if r.Packets > p.packets {
				hit = now
			}
		}
		if r.LastHit.IsZero() {
			// A backend that does not keep it (nftables): when the
			// counter was seen to move, to within a refresh.
			r.LastHit = hit
		}
		next[r.ID] = sample{r.Packets, now, hit}
	}
	c.prev = next
	c.mu.Unlock()
	st := model.RulesState{
		Backend: c.b.Name(), ReadOnly: c.b.ReadOnly(), At: now,
		Rules: rs, Hooks: hooks, Pending: rules.MergePending(own, rs), Events: rules.Events(c.b),
	}
	c.mu.Lock()
	c.overdue = rules.OverdueNote(rules.Overdue(&st, now))
	c.mu.Unlock()
	pub.Publish(model.RulesUpdate{State: st})
	return nil
}
