package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"netlens/diff"
	"netlens/model"
	"netlens/snapshot"
	"netlens/ui"
)

// runOpen shows the snapshot in file (and, with other, what moved
// between the two, the older one as the base) in the TUI: no collector
// runs and nothing on this machine is read, so it needs no privileges.
func runOpen(ctx context.Context, o options, file, other string) error {
	snap, err := snapshot.ReadFile(file)
	if err != nil {
		return UsageError{err}
	}
	off := &ui.Offline{File: file}
	store := model.NewStoreFrom(snap)
	if other != "" {
		b, err := snapshot.ReadFile(other)
		if err != nil {
			return UsageError{err}
		}
		base := snap
		if b.TakenAt.Before(base.TakenAt) {
			base, b = b, base
			off.File, off.Base = other, file
		} else {
			off.Base, off.File = file, other
		}
		r, err := diff.Compare(base, b, diff.Options{})
		if errors.Is(err, diff.ErrDifferentHosts) {
			// The TUI has no --force (netlens diff has).
			return UsageError{fmt.Errorf("--diff: %s is of host %q, %s of %q: the TUI compares snapshots of one host (netlens diff --force compares others)", off.Base, base.Host, off.File, b.Host)}
		}
		if err != nil {
			return UsageError{fmt.Errorf("--diff: %w", err)}
		}
		off.BaseAt, off.Summary, off.Changed = base.TakenAt, summary(r), changed(r)
		captureChanged(off.Changed, base.Capture, b.Capture)
		store, snap = snapshot.DiffStore(base, b), b
	}
	if err := needTerminal(); err != nil {
		return err
	}
	taken := snap.TakenAt
	return ui.Run(ctx, store, ui.Options{
		Refresh: o.refresh,
		Version: o.version,
		NoMouse: o.noMouse,
		Glyphs:  glyphs(o.ascii),
		Offline: off,
		// Ages and timeouts count from when the snapshot was taken.
		Now: func() time.Time { return taken },
	})
}

// summary says what a diff report holds in a line.
func summary(r diff.Report) string {
	if r.Equal() {
		return "no differences between the two snapshots"
	}
	var parts []string
	add := func(n int, sign, what string) {
		if n == 0 {
			return
		}
		s := ""
		if n > 1 {
			s = "s"
		}
		parts = append(parts, fmt.Sprintf("%s%d %s%s", sign, n, what, s))
	}
	add(len(r.SocketsAppeared), "+", "socket")
	add(len(r.SocketsGone), "-", "socket")
	add(len(r.Counters), "", "drop counter")
	add(len(r.Sysctls), "", "sysctl")
	add(len(r.RulesAdded), "+", "rule")
	add(len(r.RulesRemoved), "-", "rule")
	add(len(r.RulesChanged)+len(r.RuleCounters), "~", "rule")
	add(len(r.FlowsAppeared), "+", "flow")
	add(len(r.FlowsGone), "-", "flow")
	add(len(r.Collectors), "", "collector")
	return fmt.Sprintf("%d changes: %s (netlens diff lists them)", r.Changes(), strings.Join(parts, ", "))
}

// changed is what the TUI draws as changed in a diff.
func changed(r diff.Report) *ui.Changed {
	c := &ui.Changed{Sockets: map[ui.SocketID]bool{}, Sysctls: map[string]bool{}, Rules: map[uint32]bool{}, Flows: map[ui.FlowID]bool{}, Procs: map[string]bool{},
		CaptureFlows: map[model.CaptureFlowKey]bool{}, CaptureHosts: map[netip.Addr]bool{}}
	for _, f := range r.FlowsAppeared {
		c.Flows[ui.FlowID{Proto: f.Proto, Src: f.Orig.Src, Dst: f.Orig.Dst, Zone: f.Zone}] = true
	}
	for _, s := range r.SocketsAppeared {
		c.Sockets[ui.SocketID{Proto: s.Proto, Local: s.Local, Remote: s.Remote}] = true
		for _, p := range s.Owners {
			c.Procs[p.Comm] = true
		}
	}
	for _, s := range r.Sysctls {
		c.Sysctls[s.Name] = true
	}
	for _, x := range r.RulesAdded {
		c.Rules[x.ID] = true
	}
	for _, x := range r.RulesChanged {
		c.Rules[x.ID] = true
	}
	for _, x := range r.RuleCounters {
		c.Rules[x.ID] = true
	}
	return c
}

// captureChanged adds to c the captured flows and hosts of b that are
// not in a or whose packets grew (netlens diff does not compare
// captures: they are a sample, not the host's state).
func captureChanged(c *ui.Changed, a, b model.CaptureStats) {
	flows := make(map[model.CaptureFlowKey]uint64, len(a.TopFlows))
	for _, f := range a.TopFlows {
		flows[f.Key] = f.Packets()
	}
	for _, f := range b.TopFlows {
		if n, ok := flows[f.Key]; !ok || f.Packets() > n {
			c.CaptureFlows[f.Key] = true
		}
	}
	hosts := make(map[netip.Addr]uint64, len(a.TopHosts))
	for _, h := range a.TopHosts {
		hosts[h.Addr] = h.PacketsSent + h.PacketsRecv
	}
	for _, h := range b.TopHosts {
		if n, ok := hosts[h.Addr]; !ok || h.PacketsSent+h.PacketsRecv > n {
			c.CaptureHosts[h.Addr] = true
		}
	}
}
