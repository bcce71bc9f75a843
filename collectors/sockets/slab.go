package sockets

// slab hands out the values of one collection from a few large
// allocations instead of one per socket: the tcp_info and rates that
// model.Socket points to. A published list keeps its chunks alive; the
// next collection starts new ones (reset), since what a published list
// points to is never written again. A slab is not safe for concurrent
// use.
type slab[T any] struct {
	free []T
	used int // values handed out since the last reset
	size int // the next chunk's length
}

// reset starts a new collection: the first chunk holds as many values as
// the last collection took, and an eighth more.
func (s *slab[T]) reset() {
	s.free = nil
	s.size = max(64, s.used+s.used/8)
	s.used = 0
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
	if len(s.free) == 0 {
		s.free = make([]T, max(64, s.size))
		s.size = max(64, s.used/4) // later chunks grow with the collection
	}
	p := &s.free[0]
	s.free = s.free[1:]
	s.used++
	return p
}
