package cli

import (
	"context"
	"time"

	"netlens/collectors/sockets"
	"netlens/model"
	"netlens/recorder"
	"netlens/ui"
)

// The TUI reads its sockets counters only (sockets.Options.TCPCountersOnly):
// its table has rates but no tcp_info. tcpInfoControl gives the detail
// pane the selected socket's, and withTCPInfo gives a snapshot saved from
// the TUI (s, the recorder) every socket's, as netlens snapshot has them.

// tcpInfoControl is the TUI's ui.TCPInfoControl: one socket's tcp_info
// from sock_diag, in the namespace the collectors read.
type tcpInfoControl struct{ holdNS func() (int, func()) }

func (c tcpInfoControl) TCPInfo(ctx context.Context, s model.Socket) (*model.TCPInfo, error) {
	fd, release := c.holdNS()
	defer release()
	return sockets.LookupTCPInfo(ctx, fd, s)
}

// fillTimeout bounds the dump withTCPInfo makes (0.3-1 s at 100,000
// sockets).
const fillTimeout = 5 * time.Second

// withTCPInfo returns snap with the tcp_info of its TCP sockets, read now
// in namespace fd; snap as it was, and why, when they cannot be read. The
// all-namespaces view's sockets have theirs.
func withTCPInfo(ctx context.Context, fd int, snap model.Snapshot) (model.Snapshot, error) {
	if allNamespaces(&snap) {
		return snap, nil
	}
	ctx, cancel := context.WithTimeout(ctx, fillTimeout)
	defer cancel()
	socks, err := sockets.FillTCPInfo(ctx, fd, snap.Sockets)
	snap.Sockets = socks
	return snap, err
}

func allNamespaces(snap *model.Snapshot) bool { return snap.NetNS != nil && snap.NetNS.All }

// tcpControl is the TUI's ui.TCPInfoControl: none with --no-tcp-info,
// whose table has neither tcp_info nor rates.
func tcpControl(sw *nsSwitcher, o options) ui.TCPInfoControl {
	if o.noTCPInfo {
		return nil
	}
	return tcpInfoControl{holdNS: sw.holdNS}
}

// recordSource is what the TUI's recorder writes: the Store's
// snapshots, with every TCP socket's tcp_info unless --no-tcp-info.
func recordSource(ctx context.Context, store *model.Store, sw *nsSwitcher, o options) recorder.Source {
	if o.noTCPInfo {
		return store
	}
	return tcpInfoSource{ctx: ctx, store: store, holdNS: sw.holdNS}
}

// tcpInfoSource is the TUI's Store as the recorder's source, with every
// TCP socket's tcp_info (withTCPInfo).
type tcpInfoSource struct {
	ctx    context.Context
	store  *model.Store
	holdNS func() (int, func())
}

func (s tcpInfoSource) Snapshot() model.Snapshot {
	fd, release := s.holdNS()
	defer release()
	snap, _ := withTCPInfo(s.ctx, fd, s.store.Snapshot())
	return snap
}

// Hold lends the Store's snapshot, as model.Store.Hold does; the tcp_info
// filled in is the snapshot's own (a copy of the socket list). The
// tcp_info is read before the snapshot is taken: the lease on the socket
// list is not held through a dump (a second at 100,000 sockets), which
// would make the collector allocate another list rather than wait.
func (s tcpInfoSource) Hold() (model.Snapshot, *model.Lease) {
	ctx, cancel := context.WithTimeout(s.ctx, fillTimeout)
	defer cancel()
	fd, release := s.holdNS()
	info, err := sockets.ReadTCPInfo(ctx, fd)
	release()
	snap, lease := s.store.Hold()
	if err == nil && !allNamespaces(&snap) {
		snap.Sockets = sockets.WithTCPInfo(snap.Sockets, info)
	}
	return snap, lease
}
