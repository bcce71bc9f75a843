package filter

import (
	"context"
	"errors"

	"netlens/model"
	"netlens/model/rules"
)

// PacketLogger is a backend with a packet log: the kernel module's
// "packets" group, or the nft backend's nfnetlink_log group.
type PacketLogger interface {
	// PacketLog streams the packets rule id (0: every rule) logs to fn
	// until ctx is done; lost is called after each receive-buffer overrun
	// (events the reader was too slow for).
	PacketLog(ctx context.Context, id uint32, fn func(model.LoggedPacket), lost func()) error
}

// Control is the filter control the TUI holds (it satisfies
// ui.FilterControl): a Manager whose changes are published at once, by
// Published (the filters collector's Refresh), rather than at the next
// interval.
type Control struct {
	*Manager
	// Published publishes the rules after a change; nil does nothing.
	Published func() error
}

func (c Control) publish() {
	if c.Published != nil {
		_ = c.Published()
	}
}

// Apply applies p through the Manager and publishes the result.
func (c Control) Apply(p rules.Plan) (rules.Result, error) {
	res, err := c.Manager.Apply(p)
	c.publish()
	return res, err
}

// Confirm confirms txn through the Manager and publishes the result.
func (c Control) Confirm(txn uint32) error {
	err := c.Manager.Confirm(txn)
	c.publish()
	return err
}

// ErrNoPacketLog is returned by Control.PacketLog when the backend has no
// packet log.
var ErrNoPacketLog = errors.New("this filter backend has no packet log")

// PacketLog streams rule id's packet log from the backend (it satisfies
// ui.PacketLogControl); ErrNoPacketLog when the backend has none.
func (c Control) PacketLog(ctx context.Context, id uint32, fn func(model.LoggedPacket), lost func()) error {
	pl, ok := c.Backend.(PacketLogger)
	if !ok {
		return ErrNoPacketLog
	}
	return pl.PacketLog(ctx, id, fn, lost)
}
