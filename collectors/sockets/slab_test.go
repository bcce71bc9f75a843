package sockets

import "testing"

// TestSlabLetsGoWhenUnused: a rewind after a collection that took no
// value lets the slab's chunks go; one that took some keeps them.
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
	if p := s.alloc(); p == nil || *p != 0 || len(s.chunks) != 1 || len(s.chunks[0]) < 100 {
		t.Fatalf("after letting go: a value %v, %d chunks", p, len(s.chunks))
	}
}
