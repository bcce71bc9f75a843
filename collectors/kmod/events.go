package kmod

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ErrEventsLost is wrapped by Events.Receive when the kernel dropped events
// because the socket's receive buffer was full (ENOBUFS): the subscriber
// was too slow. The events in between are gone; re-read the rules with
// Dump. Events.Lost counts these overruns.
var ErrEventsLost = errors.New("events lost: receive buffer overrun")

// Event is one announcement on the netlens "events" group.
type Event struct {
	Type EventType
	Txn  uint32 // the transaction confirmed or reverted, or the one a change opened
	Rule *Rule  // the rule as it is after the event (before, for deletions); nil for a flush
	// Policy is the default policy as it is after an EventPolicy.
	Policy *Policy
}

// Events is a subscription to the events group on its own socket, so a
// request/reply on a Client never interleaves with events. Receive must
// not be called concurrently with itself; Close may be called from another
// goroutine to unblock it.
type Events struct {
	c    *genetlink.Conn
	lost atomic.Uint64
}

// Subscribe opens a socket in the caller's network namespace and joins the
// events group. cfg may be nil.
func Subscribe(cfg *netlink.Config) (*Events, error) {
	c, err := genetlink.Dial(cfg)
	if err != nil {
		return nil, fmt.Errorf("kmod events: dial: %w", err)
	}
	e, err := subscribe(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	return e, nil
}

func subscribe(c *genetlink.Conn) (*Events, error) {
	if err := joinGroup(c, groupEvents); err != nil {
		return nil, fmt.Errorf("kmod events: %w", err)
	}
	return &Events{c: c}, nil
}

// Receive blocks until at least one event arrives.
func (e *Events) Receive() ([]Event, error) {
	msgs, _, err := e.c.Receive()
	if err != nil {
		if errors.Is(err, unix.ENOBUFS) {
			e.lost.Add(1)
			return nil, fmt.Errorf("kmod events: %w", ErrEventsLost)
		}
		return nil, fmt.Errorf("kmod events: receive: %w", err)
	}
	return parseEvents(msgs)
}

func parseEvents(msgs []genetlink.Message) ([]Event, error) {
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		if command(m.Header.Command) != cmdEvent {
			continue
		}
		a, err := parseAttrs(m.Data)
		if err != nil {
			return out, fmt.Errorf("kmod events: %w", err)
		}
		ev := Event{Type: a.event, Txn: a.txn, Policy: a.policy}
		if a.hasRule {
			r := a.rule
			ev.Rule = &r
		}
		out = append(out, ev)
	}
	return out, nil
}

// Lost returns how many receive-buffer overruns Receive has seen.
func (e *Events) Lost() uint64 { return e.lost.Load() }

// SetReadBuffer sets the socket's receive buffer; a bigger one makes
// overruns (ErrEventsLost) rarer.
func (e *Events) SetReadBuffer(n int) error { return e.c.SetReadBuffer(n) }

// Close closes the socket; a blocked Receive returns an error.
func (e *Events) Close() error { return e.c.Close() }

// SetReadDeadline bounds the next Receive calls.
func (e *Events) SetReadDeadline(t time.Time) error { return e.c.SetReadDeadline(t) }
