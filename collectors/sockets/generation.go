package sockets

import "netlens/model"

// maxGenerations bounds the collections a Collector keeps to fill again:
// the Store's list, the one a reader (the screen) may still hold, and one
// more (docs/performance.md, "The TUI at 100k", round 3).
const maxGenerations = 2

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
}

// take returns a generation to fill: a kept one nobody reads any more,
// rewound, or else a new one whose list and slabs are sized for hint
// sockets. It is no longer kept until put back.
func (gs *generations) take(hint int) *generation {
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
	gs.made++
	return newGeneration(hint)
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
