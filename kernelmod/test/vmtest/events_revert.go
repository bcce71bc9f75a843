package main

import (
	"errors"
	"fmt"
	"strings"
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
