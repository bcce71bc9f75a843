package main

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"netlens/collectors/kmod"
)

// waitEvents collects events until want arrived or timeout passed.
func waitEvents(ev *kmod.Events, want int, timeout time.Duration) ([]kmod.Event, error) {
	deadline := time.Now().Add(timeout)
	var out []kmod.Event
	for len(out) < want {
		if err := ev.SetReadDeadline(deadline); err != nil {
			return out, err
		}
		es, err := ev.Receive()
		if err != nil {
			return out, err
		}
		out = append(out, es...)
	}
	return out, nil
}

func eventTypes(es []kmod.Event) string {
	var s []string
	for _, e := range es {
		id := uint32(0)
		if e.Rule != nil {
			id = e.Rule.ID
		}
		s = append(s, fmt.Sprintf("%s(rule %d txn %d)", e.Type, id, e.Txn))
	}
	return strings.Join(s, " ")
}

func checkEvents() error {
	return withClient(func(c *kmod.Client) error {
		ev, err := kmod.Subscribe(nil)
		if err != nil {
			return err
		}
		defer ev.Close()
		r, err := c.Create(kmod.Rule{Action: kmod.ActionCount, Label: "ev"}, 0)
		if err != nil {
			return err
		}
		if _, err := c.SetEnabled(r.ID, false, 0); err != nil {
			return err
		}
		if err := c.Delete(r.ID); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return err
		}
		es, err := waitEvents(ev, 4, 3*time.Second)
		logf("events: %s", eventTypes(es))
		if err != nil {
			return err
		}
		want := []kmod.EventType{kmod.EventCreated, kmod.EventChanged, kmod.EventDeleted, kmod.EventFlushed}
		for i, w := range want {
			if es[i].Type != w {
				return fmt.Errorf("event %d = %s, want %s", i, es[i].Type, w)
			}
			if w != kmod.EventFlushed && (es[i].Rule == nil || es[i].Rule.ID != r.ID) {
				return fmt.Errorf("event %d without rule %d", i, r.ID)
			}
		}
		if !es[1].Rule.Disabled || es[0].Rule.Label != "ev" {
			return fmt.Errorf("event payloads: %+v / %+v", es[0].Rule, es[1].Rule)
		}
		// deleting a rule with an unconfirmed change: the DELETED event
		// carries no transaction, so no client shows the rule as pending
		p, err := c.Create(kmod.Rule{Action: kmod.ActionCount, Label: "pending"}, time.Minute)
		if err != nil {
			return err
		}
		if err := c.Delete(p.ID); err != nil {
			return err
		}
		es, err = waitEvents(ev, 2, 3*time.Second)
		logf("events: %s", eventTypes(es))
		if err != nil {
			return err
		}
		if es[0].Type != kmod.EventCreated || es[0].Rule.PendingTxn == 0 {
			return fmt.Errorf("create with a deadline: %s %+v", es[0].Type, es[0].Rule)
		}
		if d := es[1]; d.Type != kmod.EventDeleted || d.Txn != 0 || d.Rule == nil || d.Rule.PendingTxn != 0 {
			return fmt.Errorf("deleted event of a pending rule: %s txn %d rule %+v", d.Type, d.Txn, d.Rule)
		}
		return nil
	})
}

// checkSlowSubscriber lets events pile up in a small receive buffer: the
// subscriber learns it lost some (ErrEventsLost, counted) instead of
// missing them silently.
func checkSlowSubscriber() error {
	return withClient(func(c *kmod.Client) error {
		ev, err := kmod.Subscribe(nil)
		if err != nil {
			return err
		}
		defer ev.Close()
		if err := ev.SetReadBuffer(4096); err != nil {
			return err
		}
		r, err := c.Create(kmod.Rule{Action: kmod.ActionCount}, 0)
		if err != nil {
			return err
		}
		for i := 0; i < 200; i++ {
			if _, err := c.SetEnabled(r.ID, i%2 == 1, 0); err != nil {
				return err
			}
		}
		_ = ev.SetReadDeadline(time.Now().Add(2 * time.Second))
		var lostErr error
		got := 0
		for lostErr == nil {
			es, err := ev.Receive()
			if err != nil {
				lostErr = err
				break
			}
			got += len(es)
		}
		logf("read %d events, then: %v; Lost() = %d", got, lostErr, ev.Lost())
		if !errors.Is(lostErr, kmod.ErrEventsLost) || ev.Lost() != 1 {
			return fmt.Errorf("overrun: err %v, Lost() %d; want ErrEventsLost and 1", lostErr, ev.Lost())
		}
		return nil
	})
}

func checkRevert() error {
	return withClient(func(c *kmod.Client) error {
		ev, err := kmod.Subscribe(nil)
		if err != nil {
			return err
		}
		defer ev.Close()
		const n = 5
		send := func() (int, error) { return udpExchange("udp4", "127.0.0.1:4600", "127.0.0.1:4600", n) }
		drop := kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 4600, Max: 4600}, Action: kmod.ActionDrop}

		// (a) a create that is never confirmed goes away by itself
		r, err := c.Create(drop, 500*time.Millisecond)
		if err != nil {
			return err
		}
		if r.PendingTxn == 0 || r.RevertIn <= 0 || r.RevertIn > 500*time.Millisecond {
			return fmt.Errorf("create with deadline: pending txn %d, revert in %v", r.PendingTxn, r.RevertIn)
		}
		if got, _ := send(); got != 0 {
			return fmt.Errorf("(a) rule not active before its deadline: %d arrived", got)
		}
		time.Sleep(1500 * time.Millisecond)
		if _, err := c.Get(r.ID); !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("(a) unconfirmed rule still there after its deadline: %v", err)
		}
		if got, _ := send(); got != n {
			return fmt.Errorf("(a) traffic after revert: %d of %d", got, n)
		}
		es, err := waitEvents(ev, 2, 2*time.Second)
		logf("(a) %s", eventTypes(es))
		if err != nil {
			return err
		}
		if es[0].Type != kmod.EventCreated || es[1].Type != kmod.EventReverted || es[1].Txn != r.PendingTxn ||
			es[1].Rule == nil || es[1].Rule.ID != r.ID {
			return fmt.Errorf("(a) events: %s", eventTypes(es))
		}

		// (b) a confirmed create stays
		r, err = c.Create(drop, 1500*time.Millisecond)
		if err != nil {
			return err
		}
		if err := c.Confirm(r.PendingTxn); err != nil {
			return err
		}
		time.Sleep(2000 * time.Millisecond)
		g, err := c.Get(r.ID)
		if err != nil {
			return fmt.Errorf("(b) confirmed rule gone: %w", err)
		}
		if g.PendingTxn != 0 {
			return fmt.Errorf("(b) still pending after confirm: %+v", g)
		}
		if err := c.Confirm(r.PendingTxn); !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("(b) second confirm: %v", err)
		}
		es, err = waitEvents(ev, 2, 2*time.Second)
		logf("(b) %s", eventTypes(es))
		if err != nil {
			return err
		}
		if es[0].Type != kmod.EventCreated || es[1].Type != kmod.EventConfirmed || es[1].Txn != r.PendingTxn {
			return fmt.Errorf("(b) events: %s", eventTypes(es))
		}

		// (c) an unconfirmed change (disable) is undone
		ch, err := c.SetEnabled(r.ID, false, 500*time.Millisecond)
		if err != nil {
			return err
		}
		if !ch.Disabled || ch.PendingTxn == 0 {
			return fmt.Errorf("(c) change: %+v", ch)
		}
		if got, _ := send(); got != n {
			return fmt.Errorf("(c) disabled rule still drops: %d of %d", got, n)
		}
		time.Sleep(1500 * time.Millisecond)
		g, err = c.Get(r.ID)
		if err != nil {
			return err
		}
		if g.Disabled || g.PendingTxn != 0 {
			return fmt.Errorf("(c) after deadline: %+v, want enabled, nothing pending", g)
		}
		if got, _ := send(); got != 0 {
			return fmt.Errorf("(c) restored rule does not drop: %d arrived", got)
		}
		es, err = waitEvents(ev, 2, 2*time.Second)
		logf("(c) %s", eventTypes(es))
		if err != nil {
			return err
		}
		if es[0].Type != kmod.EventChanged || es[1].Type != kmod.EventReverted || es[1].Rule == nil || es[1].Rule.Disabled {
			return fmt.Errorf("(c) events: %s", eventTypes(es))
		}

		// (d) a confirmed change is kept
		ch, err = c.SetEnabled(r.ID, false, time.Second)
		if err != nil {
			return err
		}
		if err := c.Confirm(ch.PendingTxn); err != nil {
			return err
		}
		time.Sleep(1500 * time.Millisecond)
		g, err = c.Get(r.ID)
		if err != nil {
			return err
		}
		if !g.Disabled {
			return fmt.Errorf("(d) confirmed change reverted: %+v", g)
		}
		return nil
	})
}

// checkChangeCountsOnce changes a COUNT rule again and again while
// datagrams hit it. A change in place (the label) swaps one pointer: every
// datagram is counted exactly once. A change that moves the rule to
// another chain (exact port <-> port range) goes through a grace period:
// a datagram is counted at most once (never twice, as when both copies
// were linked at once), a few in the gap not at all.
func checkChangeCountsOnce() error {
	return withClient(func(c *kmod.Client) error {
		if err := c.Flush(); err != nil {
			return err
		}
		const n = 1500
		// the reference: a rule on the same packets that nobody changes
		ref, err := c.Create(kmod.Rule{Dst: pfx("127.0.0.1/32"), Proto: 17,
			DstPorts: kmod.PortRange{Min: 5500, Max: 5500}, Action: kmod.ActionCount}, 0)
		if err != nil {
			return err
		}
		defer c.Delete(ref.ID)
		for _, tc := range []struct {
			name  string
			exact bool // else: a change misses the packets of its grace period
			pause time.Duration
			flip  func(i int) (kmod.Rule, kmod.Field)
		}{
			{"in place (label)", true, 0, func(i int) (kmod.Rule, kmod.Field) {
				return kmod.Rule{Label: fmt.Sprintf("l%d", i)}, kmod.FieldLabel
			}},
			{"across chains (port index <-> catch-all)", false, 30 * time.Millisecond, func(i int) (kmod.Rule, kmod.Field) {
				return kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 5500, Max: 5500 + uint16(i%2)}}, kmod.FieldDstPorts
			}},
		} {
			r, err := c.Create(kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: 5500, Max: 5500}, Action: kmod.ActionCount}, 0)
			if err != nil {
				return err
			}
			ref0, err := c.Get(ref.ID)
			if err != nil {
				return err
			}
			var stop atomic.Bool
			var made atomic.Int64
			changes := make(chan int, 1)
			go func() {
				k := 0
				for ; !stop.Load() && k < 2000; k++ {
					rr, f := tc.flip(k + 1)
					if _, err := c.Change(r.ID, rr, f, 0); err != nil {
						break
					}
					made.Add(1)
					time.Sleep(tc.pause)
				}
				changes <- k
			}()
			// Batches of n datagrams until at least 5 changes overlapped
			// them (a change across chains waits for a grace period: on a
			// fast run 1,500 datagrams pass during two), for at most 10 s.
			got, sent := 0, 0
			for deadline := time.Now().Add(10 * time.Second); err == nil && (sent == 0 || made.Load() < 5 && time.Now().Before(deadline)); sent += n {
				var g int
				g, err = udpExchange("udp4", "127.0.0.1:5500", "127.0.0.1:5500", n)
				got += g
			}
			stop.Store(true)
			k := <-changes
			if err != nil {
				return err
			}
			after, err := c.Get(r.ID)
			if err != nil {
				return err
			}
			ref1, err := c.Get(ref.ID)
			if err != nil {
				return err
			}
			want := ref1.Packets - ref0.Packets
			logf("%s: %d changes during %d datagrams (%d received, %d at LOCAL_IN): counted %d", tc.name, k, sent, got, want, after.Packets)
			if k < 5 {
				return fmt.Errorf("%s: only %d changes overlapped the traffic", tc.name, k)
			}
			if after.Packets > want {
				return fmt.Errorf("%s: counted %d packets of %d: some twice", tc.name, after.Packets, want)
			}
			if tc.exact && after.Packets != want || after.Packets == 0 {
				return fmt.Errorf("%s: counted %d packets of %d", tc.name, after.Packets, want)
			}
			if err := c.Delete(r.ID); err != nil {
				return err
			}
		}
		return nil
	})
}
