package nft

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/google/nftables"
)

// Watch calls changed after every change to the netlens table, whoever
// made it (nft(8), another netlens), as the kernel announces it on the
// NFNLGRP_NFTABLES group, and when a pending change appears, is confirmed
// or reverted. It returns when ctx is done, or with an error when the
// monitor socket fails (the caller falls back to polling). changed is
// called from Watch's goroutine and must not block for long.
func (b *Backend) Watch(ctx context.Context, changed func()) error {
	mon := nftables.NewMonitor(
		nftables.WithMonitorAction(nftables.MonitorActionAny),
		nftables.WithMonitorObject(nftables.MonitorObjectRuleset),
		nftables.WithMonitorEventBuffer(64))
	events, err := b.conn().AddMonitor(mon)
	if err != nil {
		return classify("nft monitor", err)
	}
	defer func() {
		mon.Close()
		for range events { // let the monitor's goroutines end
		}
	}()
	path, _ := b.statePath()
	// The claimed file too: its removal ends a revert (pendingView).
	stamp := func() string { return stateStamp(path) + "|" + stateStamp(path+claimedSuffix) }
	lastState := stamp()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("nft monitor: closed")
			}
			if ev.Error != nil {
				return fmt.Errorf("nft monitor: %w", ev.Error)
			}
			if concernsTable(ev) {
				changed()
			}
		case <-tick.C:
			if s := stamp(); s != lastState {
				lastState = s
				changed()
			}
		}
	}
}

func concernsTable(ev *nftables.MonitorEvent) bool {
	switch d := ev.Data.(type) {
	case *nftables.Table:
		return d != nil && d.Name == TableName
	case *nftables.Chain:
		return d != nil && d.Table != nil && d.Table.Name == TableName
	case *nftables.Rule:
		return d != nil && d.Table != nil && d.Table.Name == TableName
	}
	return true
}

func stateStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fi.ModTime().String()
}
