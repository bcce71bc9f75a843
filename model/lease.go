package model

import "sync/atomic"

// SocketsGen is one published socket list's lifetime: who still reads it.
// The sockets collector fills a list, and the tcp_info and rates its
// sockets point to, again once nobody reads them any more, instead of
// allocating 53 MB for every refresh at 100,000 sockets
// (docs/performance.md, "The TUI at 100k"); the conntrack collector does
// the same with its flow lists (FlowsUpdate.Gen), 27 MB at 65,536 flows. A SocketsGen counts the
// references to its list: one for each SocketsUpdate carrying it until a
// Store has replaced it (or dropped it), one for each Lease. Store.Snapshot,
// which hands the list out with no way to give it back, pins it: a pinned
// list is never filled again (the garbage collector takes it, as before).
// It is safe for concurrent use.
type SocketsGen struct {
	refs   atomic.Int64
	pinned atomic.Bool
}

// Ref adds a reference, for a SocketsUpdate about to be published (the
// Store releases it when the update is replaced or dropped), and returns
// g. Nil-safe.
func (g *SocketsGen) Ref() *SocketsGen {
	if g != nil {
		g.refs.Add(1)
	}
	return g
}

// release drops a reference. Nil-safe.
func (g *SocketsGen) release() {
	if g != nil && g.refs.Add(-1) < 0 {
		panic("model: SocketsGen released more often than referenced")
	}
}

// pin marks the list as handed out for good. Nil-safe.
func (g *SocketsGen) pin() {
	if g != nil {
		g.pinned.Store(true)
	}
}

// Pinned reports whether the list was handed out for good
// (Store.Snapshot): it will never be free. Nil-safe.
func (g *SocketsGen) Pinned() bool {
	return g != nil && g.pinned.Load()
}

// Free reports whether nobody reads the list any more and nobody can
// again: no update, Store or Lease holds it, and it was never pinned.
// Once true it stays true (a list leaves the Store for good), so its
// producer may then write to it: everything its last reader read
// happened before. Only the producer that made g may call it before
// publishing (a new SocketsGen is free until Ref).
func (g *SocketsGen) Free() bool {
	return g.refs.Load() == 0 && !g.pinned.Load()
}

// Lease is one reader's hold on the socket and flow lists of a Snapshot
// it took with Store.Hold: until Release, the lists, and the TCP and Rate
// of its sockets, are not filled again. A Lease is safe for concurrent
// use; its zero value and nil hold nothing.
type Lease struct {
	g    *SocketsGen // the socket list's
	f    *SocketsGen // the flow list's
	done atomic.Bool
}

// Retain returns another Lease on the same list, for a goroutine that
// reads it after the holder of l may have released l. l must not be
// released yet. Nil-safe.
func (l *Lease) Retain() *Lease {
	if l == nil || l.g == nil && l.f == nil {
		return &Lease{}
	}
	if l.done.Load() {
		panic("model: Lease retained after its release")
	}
	return &Lease{g: l.g.Ref(), f: l.f.Ref()}
}

// Release gives the list back. Calling it again does nothing. Nil-safe.
func (l *Lease) Release() {
	if l != nil && l.done.CompareAndSwap(false, true) {
		l.g.release()
		l.f.release()
	}
}
