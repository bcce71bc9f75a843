package ui

import (
	"strings"
	"testing"
)

// TestSortHeaderFits: on the Connections tab at 120 and 80 columns, every
// sort (o, and O reversing it) keeps every title whole in the header and
// marks the sort column's with ^ or v, Recv-Q (a title as wide as its
// column) included.
func TestSortHeaderFits(t *testing.T) {
	for _, size := range [][2]int{{120, 40}, {80, 24}} {
		a := newTestApp(t, fixtureStore(), Options{}, size[0], size[1])
		header := func() string {
			t.Helper()
			l := strings.Split(screen(a), "\n")[a.top()+1]
			if !strings.Contains(l, " Local") || !strings.Contains(l, " Remote") {
				t.Fatalf("%dx%d: not the header: %q", size[0], size[1], l)
			}
			return l
		}
		recvQ := 0
		for range 16 { // more than the sorts: each once, both ways
			for _, k := range []string{"o", "O"} {
				send(a, k)
				h := header()
				marked := 0
				for _, f := range strings.Fields(h) {
					if strings.HasSuffix(f, ellipsis) {
						t.Errorf("%dx%d: a title is cut: %q", size[0], size[1], h)
					}
					if len(f) > 1 && (strings.HasSuffix(f, "^") || strings.HasSuffix(f, "v")) {
						marked++
					}
				}
				if marked > 1 { // 0: the sort column is hidden (80 columns)
					t.Errorf("%dx%d: %d sort marks in the header, want at most 1: %q", size[0], size[1], marked, h)
				}
				if strings.Contains(h, " Recv-Q^ ") || strings.Contains(h, " Recv-Qv ") {
					recvQ++
				}
			}
		}
		if recvQ < 2 {
			t.Errorf("%dx%d: the sort never came to Recv-Q both ways (%d)", size[0], size[1], recvQ)
		}
	}
}
