package ui

import (
	"net/netip"
	"time"

	"netlens/model"
)

// Offline describes the snapshot files the TUI shows when it reads no
// live host (netlens --open FILE [--diff FILE2]).
type Offline struct {
	// File is the snapshot shown.
	File string
	// Base, when set, is the earlier snapshot of a diff: counters' deltas
	// and rates are then from Base to File, so the Drops tab's "moved"
	// view shows what moved between the two.
	Base string
	// BaseAt is when Base was taken.
	BaseAt time.Time
	// Summary says in a few words what changed from Base to File
	// ("+1 socket, 1 counter, 1 sysctl"); shown in the status line.
	Summary string
	// Changed, for a diff, is what the tabs draw as changed.
	Changed *Changed
}

// Changed is what differs between the two snapshots of a diff; the tabs
// draw these rows in the style of a row that changed (Styles.Hot).
type Changed struct {
	// Sockets that appeared.
	Sockets map[SocketID]bool
	// Sysctls whose value changed, or that appeared.
	Sysctls map[string]bool
	// Rules added or changed, or whose counters moved.
	Rules map[uint32]bool
	// Flows (conntrack entries) that appeared.
	Flows map[FlowID]bool
	// Procs are the names of the processes holding a socket that
	// appeared.
	Procs map[string]bool
	// CaptureFlows and CaptureHosts are the captured flows and hosts
	// that appeared or whose packets grew.
	CaptureFlows map[model.CaptureFlowKey]bool
	CaptureHosts map[netip.Addr]bool
}

// FlowID is a conntrack flow's identity across snapshots: its protocol,
// original-direction addresses and zone (ICMP flows: ports 0).
type FlowID struct {
	Proto    model.Proto
	Src, Dst netip.AddrPort
	Zone     uint16
}

// flowChanged says whether f appeared between the two snapshots of a
// diff.
func (c *Changed) flowChanged(f *model.Flow) bool {
	return c != nil && c.Flows[FlowID{f.Proto, f.Orig.Src, f.Orig.Dst, f.Zone}]
}

// socketChanged says whether s appeared between the two snapshots of a
// diff.
func (c *Changed) socketChanged(s *model.Socket) bool {
	return c != nil && c.Sockets[SocketID{s.Proto, s.Local, s.Remote}]
}

// SocketID is a socket's identity across snapshots: its protocol and
// address tuple.
type SocketID struct {
	Proto         model.Proto
	Local, Remote netip.AddrPort
}

// offlineHeader is the header's left part for a snapshot read from a
// file: "snapshot of HOST at TIME", or for a diff "diff of HOST: T1 ->
// T2".
func (a *App) offlineHeader() string {
	o := a.opts.Offline
	at := a.snap.TakenAt.UTC().Format("2006-01-02 15:04:05Z")
	if o.Base != "" {
		return "diff of " + sanitize(a.snap.Host) + ": " + o.BaseAt.UTC().Format("2006-01-02 15:04:05Z") + " -> " + at + "  kernel " + sanitize(a.snap.Kernel)
	}
	return "snapshot of " + sanitize(a.snap.Host) + " at " + at + "  kernel " + sanitize(a.snap.Kernel)
}
