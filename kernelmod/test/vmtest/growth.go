package main

import (
	"fmt"
	"time"

	"netlens/collectors/kmod"
)

// checkIndexGrowth: the index tables double while packets walk them
// (struct netlens_htab). Three COUNT rules that match the loopback
// datagrams, one in each IPv4 index (destination /32, exact port, source
// /24), sit among non-matching rules of the same indexes; while datagrams
// flow, 6,000 more rules double every table five times, then 3,000 of
// them go and 3,000 others come. Each COUNT rule must count exactly the
// datagrams the listener received: a packet walks the old table or the new
// one, never both, never neither.
func checkIndexGrowth() error {
	return withClient(func(c *kmod.Client) error {
		create := func(from, to int) ([]kmod.Rule, error) {
			out := make([]kmod.Rule, 0, to-from)
			for i := from; i < to; i++ {
				r := indexedRule(i)
				r.Hooks = kmod.HookLocalIn
				got, err := c.Create(r, 0)
				if err != nil {
					return out, fmt.Errorf("rule %d: %w", i, err)
				}
				out = append(out, got)
			}
			return out, nil
		}
		if _, err := create(0, 300); err != nil {
			return err
		}
		var counts []kmod.Rule
		for _, r := range []kmod.Rule{
			{Proto: 17, Dst: pfx("127.0.0.1/32"), DstPorts: kmod.PortRange{Min: 4900, Max: 4900}},
			{Proto: 17, DstPorts: kmod.PortRange{Min: 4900, Max: 4900}},
			{Proto: 17, Src: pfx("127.0.0.0/24"), DstPorts: kmod.PortRange{Min: 4900, Max: 4901}},
		} {
			r.Action, r.Hooks = kmod.ActionCount, kmod.HookLocalIn
			got, err := c.Create(r, 0)
			if err != nil {
				return err
			}
			counts = append(counts, got)
		}
		s, err := newUDPSender()
		if err != nil {
			return err
		}
		defer s.Close()
		stop := make(chan struct{})
		sent := make(chan error, 1)
		go func() {
			deadline := time.Now().Add(3 * time.Minute)
			for {
				select {
				case <-stop:
					sent <- nil
					return
				default:
				}
				if time.Now().After(deadline) {
					sent <- fmt.Errorf("traffic still running after 3 minutes")
					return
				}
				if _, err := s.round(50); err != nil {
					sent <- err
					return
				}
			}
		}()
		churn := func() error {
			more, err := create(300, 6300)
			if err != nil {
				return err
			}
			for i, r := range counts {
				if _, err := c.Change(r.ID, kmod.Rule{Label: fmt.Sprintf("count-%d", i)}, kmod.FieldLabel, 0); err != nil {
					return err
				}
			}
			for _, r := range more[:3000] {
				if err := c.Delete(r.ID); err != nil {
					return err
				}
			}
			_, err = create(6300, 9300)
			return err
		}
		err = churn()
		close(stop)
		if serr := <-sent; err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
		want := uint64(s.got.Load())
		for _, r := range counts {
			g, err := c.Get(r.ID)
			if err != nil {
				return err
			}
			if g.Packets != want {
				return fmt.Errorf("COUNT rule %d (%v %v) counted %d datagrams, the listener got %d", r.ID, r.Dst, r.Src, g.Packets, want)
			}
		}
		logf("%d datagrams counted exactly by each of 3 COUNT rules while 9,000 creates and 3,000 deletes grew the tables", want)
		return nil
	})
}
