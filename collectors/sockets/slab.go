package sockets

// slab hands out the values of one collection from a few large
// allocations instead of one per socket: the tcp_info and rates that
// model.Socket points to. A published list keeps its chunks alive; the
// slab is filled again (rewind) only once no reader holds that list any
// more (see generation). A slab is not safe for concurrent use.
type slab[T any] struct {
	chunks [][]T // every chunk, in the order they are filled
	ci     int   // the chunk being filled
	off    int   // the next value in it
	used   int   // values handed out since the last rewind
	hint   int   // values the first chunk is made for: the last collection's
}

// rewind starts a new collection in the same chunks: the values handed
// out are overwritten. Only for a slab nobody reads any more.
func (s *slab[T]) rewind() {
	room := 0
	for _, c := range s.chunks {
		room += len(c)
	}
	if room > 64 && s.used <= room/4 {
		// The last collection took a quarter of the room or less (its
		// sockets were read counters only, Options.TCPCountersOnly, so
		// there is no tcp_info; idle sockets share their rate): let
		// the chunks go rather than keep a table's worth of values
		// alive for nothing (20 MB of tcp_info, 14 MB of rates at
		// 100,000 sockets), and size the next from what it took. Not a
		// chunk of the least size (64): a few shared rates would make a
		// collection allocate it again every time.
		s.chunks, s.hint = nil, s.used
	}
	s.hint = max(s.hint, s.used)
	s.ci, s.off, s.used = 0, 0, 0
}

// put stores v and returns where it is. With a nil slab it allocates v
// alone.
func (s *slab[T]) put(v *T) *T {
	p := s.alloc()
	*p = *v
	return p
}

// alloc returns a zero value of the slab to fill in place (no copy of a
// value built elsewhere). With a nil slab it allocates one alone.
func (s *slab[T]) alloc() *T {
	if s == nil {
		return new(T)
	}
	for s.ci < len(s.chunks) && s.off == len(s.chunks[s.ci]) {
		s.ci, s.off = s.ci+1, 0
	}
	if s.ci == len(s.chunks) {
		// The first chunk holds what the last collection took and 3%
		// more (a slab is filled again: room it never uses stays live);
		// later ones grow with the collection.
		n := max(64, s.used/4)
		if s.ci == 0 {
			n = max(64, s.hint+s.hint/32)
		}
		s.chunks = append(s.chunks, make([]T, n))
	}
	p := &s.chunks[s.ci][s.off]
	var zero T
	*p = zero // a rewound slab's value of an earlier collection
	s.off++
	s.used++
	return p
}
