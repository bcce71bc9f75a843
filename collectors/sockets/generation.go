package sockets

import (
	"context"
	"slices"
	"time"

	"netlens/model"
)

// maxGenerations bounds the collections a Collector keeps to fill again:
// the Store's list, the one a reader (the screen) may still hold, and one
// more (docs/performance.md, "The TUI at 100k", round 3).
const maxGenerations = 2

// genWait is how long take waits for a reader to give a kept generation
// back before it takes new memory (see take).
const genWait = 500 * time.Millisecond

// genPoll is how often take looks again while it waits.
const genPoll = 5 * time.Millisecond

// generation is the memory of one collection: the socket list and the
// slabs its sockets' TCP and Rate point into, with the list's lifetime.
// Once published, nothing in it is written again until life says nobody
// reads it (model.SocketsGen.Free); then the next collection fills it
// again instead of allocating 53 MB at 100,000 sockets.
type generation struct {
	socks []model.Socket
	tcp   slab[model.TCPInfo]
	rates slab[model.SocketRate]
	life  *model.SocketsGen
}

// generations are the collections a Collector may fill again, oldest
// first. Not safe for concurrent use.
type generations struct {
	kept []*generation
	// made and reused count the collections that took new memory and
	// those that filled a free generation again (tests and benchmarks
	// read them).
	made, reused uint64
	// waited counts the takes that had to wait for a reader, and late
	// those that then took new memory all the same.
	waited, late uint64
	// wait is how long take waits for a kept generation to be given
	// back (genWait when New made the Collector; 0: not at all).
	wait time.Duration
}

// take returns a generation to fill: a kept one nobody reads any more,
// rewound, or else a new one whose list and slabs are sized for hint
// sockets. It is no longer kept until put back.
//
// With maxGenerations kept and none free, a reader is late giving one
// back (the screen has not shown the Store's list yet, busy with the
// last one): take waits up to gs.wait for it, as long as ctx lasts,
// before it takes new memory. A third generation is 53 MB at 100,000
// sockets, and its cycle of the GC would set the heap's goal from a
// live heap that held it (docs/performance.md, "The TUI at 100k",
// round 4); the wait only delays a collection the screen could not have
// shown sooner.
func (gs *generations) take(ctx context.Context, hint int) *generation {
	if g := gs.takeFree(); g != nil {
		return g
	}
	// A pinned generation never comes back (Store.Snapshot handed its
	// list out for good: a scrape of `serve`, a sample of `top`): it is
	// not kept, and not waited for.
	gs.kept = slices.DeleteFunc(gs.kept, func(g *generation) bool { return g.life.Pinned() })
	if len(gs.kept) >= maxGenerations && gs.wait > 0 {
		gs.waited++
		if g := gs.waitFree(ctx); g != nil {
			return g
		}
		gs.late++
	}
	gs.made++
	return newGeneration(hint)
}

// waitFree waits up to gs.wait, while ctx lasts, for a kept generation
// to be free and returns it as takeFree does; nil if none was in time.
func (gs *generations) waitFree(ctx context.Context) *generation {
	t := time.NewTimer(gs.wait)
	defer t.Stop()
	tick := time.NewTicker(genPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			return nil
		case <-tick.C:
			if g := gs.takeFree(); g != nil {
				return g
			}
		}
	}
}

// takeFree returns a kept generation nobody reads any more, rewound and
// no longer kept, or nil.
func (gs *generations) takeFree() *generation {
	for i, g := range gs.kept {
		if !g.life.Free() {
			continue
		}
		gs.kept = append(gs.kept[:i], gs.kept[i+1:]...)
		gs.reused++
		g.socks = g.socks[:0]
		g.tcp.rewind()
		g.rates.rewind()
		return g
	}
	return nil
}

// newGeneration returns an empty generation whose list and slabs are
// sized for hint sockets.
func newGeneration(hint int) *generation {
	g := &generation{life: new(model.SocketsGen)}
	g.tcp.hint, g.rates.hint = hint, hint
	return g
}

// put keeps g, filled and published, to be filled again once free; the
// oldest kept generation is let go (to the garbage collector, once its
// readers are done) past maxGenerations.
func (gs *generations) put(g *generation) {
	// What the list's capacity holds past its length keeps nothing alive.
	clear(g.socks[len(g.socks):cap(g.socks)])
	gs.kept = append(gs.kept, g)
	if len(gs.kept) > maxGenerations {
		gs.kept = append(gs.kept[:0], gs.kept[1:]...)
	}
}
