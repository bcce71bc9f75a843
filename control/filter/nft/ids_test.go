package nft

import (
	"testing"

	"netlens/model"
)

// TestIDAlloc: new ids follow the highest; past foreignIDBase they are
// the lowest free ones, never a foreign rule's or a used one.
func TestIDAlloc(t *testing.T) {
	a := newIDAlloc([]copyRule{{ok: true, meta: meta{ID: 7}}, {ok: true, meta: meta{ID: foreignIDBase + 5}}}, []model.Rule{{ID: 2}})
	if got := []uint32{a.take(), a.take()}; got[0] != 8 || got[1] != 9 {
		t.Errorf("ids after 7: %v, want [8 9]", got)
	}
	a = newIDAlloc(nil, []model.Rule{{ID: 1}, {ID: 3}, {ID: foreignIDBase - 1}})
	if got := []uint32{a.take(), a.take(), a.take()}; got[0] != 2 || got[1] != 4 || got[2] != 5 {
		t.Errorf("ids after %d: %v, want [2 4 5]", foreignIDBase-1, got)
	}
}
