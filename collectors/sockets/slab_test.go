package sockets

import "testing"

// TestSlabLetsGoWhenUnused: a rewind after a collection that took no
// value, or a quarter of the room or less, lets the slab's chunks go and
// sizes the next from what it took; one that took more keeps them.
func TestSlabLetsGoWhenUnused(t *testing.T) {
	var s slab[int]
	s.hint = 100
	for range 100 {
		*s.alloc() = 1
	}
	s.rewind()
	if len(s.chunks) == 0 {
		t.Fatal("a rewind after 100 values let the chunks go")
	}
	s.rewind() // nothing taken since
	if s.chunks != nil {
		t.Fatalf("a rewind after a collection that took nothing kept %d chunks", len(s.chunks))
	}
	if p := s.alloc(); p == nil || *p != 0 || len(s.chunks) != 1 || len(s.chunks[0]) > 64 {
		t.Fatalf("after letting go: a value %v, %d chunks (first of %d)", p, len(s.chunks), len(s.chunks[0]))
	}
	// A chunk of the least size is kept, however little of it a
	// collection takes: a few values a collection allocate nothing.
	if n := testing.AllocsPerRun(100, func() {
		s.rewind()
		for range 10 {
			s.alloc()
		}
	}); n != 0 || len(s.chunks) != 1 {
		t.Fatalf("10 values a collection: %v allocations a collection, %d chunks", n, len(s.chunks))
	}

	// A collection that took a fifth of the room: the next first chunk
	// is sized to it.
	s = slab[int]{hint: 1000}
	for range 1000 {
		s.alloc()
	}
	s.rewind()
	for range 200 {
		s.alloc()
	}
	s.rewind()
	if s.chunks != nil || s.hint != 200 {
		t.Fatalf("after a fifth of the room: %d chunks, hint %d", len(s.chunks), s.hint)
	}
	for range 300 {
		s.alloc()
	}
	if s.used != 300 || len(s.chunks[0]) != 206 {
		t.Fatalf("%d values in chunks of %d, %d", s.used, len(s.chunks[0]), len(s.chunks))
	}
}
