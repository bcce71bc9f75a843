package ui

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"netlens/model"
)

// testKey identifies a row of testRows: its group is what the key-only
// sort compares (many rows share one: the index breaks ties), its id
// makes it unique.
type testKey struct{ group, id int }

// testRows is a listSource for listBase's own tests: rows of a key and
// a value that moves (a queue, a rate), a predicate that hides some
// groups, and no terms in the filter. A new snapshot is new slices.
type testRows struct {
	keys   []testKey
	vals   []int
	hidden int // a group the page's predicate hides; -1 for none
	preps  int // how many times the sorts' prep ran
}

func (r *testRows) count() int         { return len(r.keys) }
func (r *testRows) include(i int) bool { return r.keys[i].group != r.hidden }
func (r *testRows) key(i int) testKey  { return r.keys[i] }
func (r *testRows) appendHaystack(b []byte, i int) []byte {
	return fmt.Appendf(b, "g%d id%d v%d", r.keys[i].group, r.keys[i].id, r.vals[i])
}
func (r *testRows) sameRows(a, b model.Snapshot) bool { return false }

// collidingRows is testRows with a fingerprint that tells no rows apart.
type collidingRows struct{ *testRows }

func (collidingRows) keyHash(int) uint64 { return 0 }

// newTestList returns a list of r's rows with two sorts: by group
// (keyOnly unless noKeyOnly: only the keys and indexes are compared),
// and by value, descending first.
func newTestList(r *testRows, noKeyOnly bool) *listBase[testKey] {
	l := &listBase[testKey]{}
	l.Keys = DefaultKeyMap()
	sorts := []sortSpec{
		{name: "group", col: 0, keyOnly: !noKeyOnly, prep: func() { r.preps++ }, cmp: func(a, b int) int {
			return cmp.Compare(r.keys[a].group, r.keys[b].group)
		}},
		{name: "value", col: 1, desc: true, cmp: func(a, b int) int { return cmp.Compare(r.vals[a], r.vals[b]) }},
	}
	l.init([]column{{title: "Group", width: 5}, {title: "Value", width: 5}}, sorts, 0)
	l.SetSize(40, 10)
	return l
}

// publish makes keys and vals r's rows, in new slices, as a new
// snapshot does (setSnapshot).
func publish(l *listBase[testKey], r *testRows, keys []testKey, vals []int) {
	r.keys, r.vals = slices.Clone(keys), slices.Clone(vals)
	l.hayValid = false
	l.invalidate()
}

// freshOrder is the order and the rows shown that a new list of r's rows
// sorted by l's sort and direction and filtered by l's filter gives.
func freshOrder(l *listBase[testKey], r *testRows) (order, idx []int) {
	c := &testRows{keys: r.keys, vals: r.vals, hidden: r.hidden}
	f := newTestList(c, true)
	f.sortIdx, f.desc = l.sortIdx, l.desc
	f.SetFilter(l.filter)
	f.sync(c)
	return f.order, f.idx
}

// checkFresh fails unless l shows what a new list of r's rows shows.
func checkFresh(t *testing.T, l *listBase[testKey], r *testRows, what string) {
	t.Helper()
	order, idx := freshOrder(l, r)
	if diff := gocmp.Diff(order, l.order, gocmpEquateEmpty); diff != "" {
		t.Fatalf("%s: order (-fresh +got):\n%s", what, diff)
	}
	if diff := gocmp.Diff(idx, l.idx, gocmpEquateEmpty); diff != "" {
		t.Fatalf("%s: rows shown (-fresh +got):\n%s", what, diff)
	}
}

// gocmpEquateEmpty makes a nil and an empty slice of rows equal.
var gocmpEquateEmpty = gocmp.Comparer(func(a, b []int) bool { return slices.Equal(a, b) })

// randomRows returns n rows of few groups (ties), unique ids and values.
func randomRows(rng *rand.Rand, n int) ([]testKey, []int) {
	keys, vals := make([]testKey, n), make([]int, n)
	for i := range n {
		keys[i] = testKey{group: rng.IntN(5), id: i}
		vals[i] = rng.IntN(4)
	}
	return keys, vals
}

// TestSortKeepsKeyOnlyOrder: a keyOnly sort keeps the last order, with
// no prep and no sort, exactly when the rows are those of its last sort
// in the same places and the sort and direction are its last ones; a
// change of rows, of the page's predicate, of the sort or of its
// direction sorts, a sort of values sorts (from the last order when it
// can), and a filter narrows the rows without sorting. The rows shown
// are always those of a list sorted from scratch.
func TestSortKeepsKeyOnlyOrder(t *testing.T) {
	keys, vals := randomRows(rand.New(rand.NewPCG(1, 2)), 200)
	tests := []struct {
		name string
		// change, or else steps, is the change after a first sort by
		// the list's default sort (by group); with neither, a new
		// snapshot of the same rows with other values. A step is a
		// key ("o", "O"), a filter ("/g3"), "sync", or "same" (a new
		// snapshot of the same rows).
		change func(l *listBase[testKey], r *testRows)
		steps  []string
		// reuses, keeps and sorts are what the change and the sync
		// after it count.
		reuses, keeps, sorts int
	}{
		{name: "same rows", keeps: 1},
		{name: "same rows, same slices", change: func(l *listBase[testKey], r *testRows) {
			l.invalidate() // as a page does when something else changed
		}, keeps: 1},
		{name: "a row replaced", change: func(l *listBase[testKey], r *testRows) {
			k := slices.Clone(r.keys)
			k[7].id = 1000
			publish(l, r, k, r.vals)
		}, sorts: 1},
		{name: "a row's group changed", change: func(l *listBase[testKey], r *testRows) {
			k := slices.Clone(r.keys)
			k[7].group = (k[7].group + 1) % 5
			publish(l, r, k, r.vals)
		}, sorts: 1},
		{name: "two rows swapped", change: func(l *listBase[testKey], r *testRows) {
			k := slices.Clone(r.keys)
			k[3], k[150] = k[150], k[3]
			publish(l, r, k, r.vals)
		}, sorts: 1},
		{name: "a row more", change: func(l *listBase[testKey], r *testRows) {
			publish(l, r, append(slices.Clone(r.keys), testKey{id: 1000}), append(slices.Clone(r.vals), 1))
		}, sorts: 1},
		{name: "a row less", change: func(l *listBase[testKey], r *testRows) {
			publish(l, r, r.keys[:199], r.vals[:199])
		}, sorts: 1},
		{name: "the predicate hides a group", change: func(l *listBase[testKey], r *testRows) {
			r.hidden = 2
			l.invalidate()
		}, sorts: 1},
		{name: "a filter", steps: []string{"/g3"}},
		{name: "a filter, then the same rows", steps: []string{"/g3", "sync", "same"}, keeps: 1},
		{name: "direction reversed", steps: []string{"O"}, reuses: 1, sorts: 1},
		{name: "direction reversed, then the same rows", steps: []string{"O", "sync", "same"}, reuses: 1, keeps: 1, sorts: 1},
		{name: "direction reversed twice", steps: []string{"O", "sync", "O"}, reuses: 2, sorts: 2},
		{name: "sort by value", steps: []string{"o"}, reuses: 1, sorts: 1},
		{name: "sort by value, then the same rows", steps: []string{"o", "sync", "same"}, reuses: 2, sorts: 2},
		{name: "sort by value and back", steps: []string{"o", "sync", "o"}, reuses: 2, sorts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &testRows{hidden: -1}
			l := newTestList(r, false)
			publish(l, r, keys, vals)
			l.sync(r)
			checkFresh(t, l, r, "first sort")
			if l.sortRuns != 1 || r.preps != 1 {
				t.Fatalf("first sort: %d sorts, %d preps", l.sortRuns, r.preps)
			}
			reuses, keeps, sorts, preps := l.reuses, l.keeps, l.sortRuns, r.preps
			switch {
			case tt.change != nil:
				tt.change(l, r)
			case tt.steps == nil:
				v := slices.Clone(vals)
				v[0]++
				publish(l, r, keys, v)
			}
			for _, step := range tt.steps {
				switch {
				case step == "sync":
					l.sync(r)
				case step == "same":
					publish(l, r, r.keys, r.vals)
				case strings.HasPrefix(step, "/"):
					l.SetFilter(step[1:])
				default:
					l.handleKey(press(step))
				}
			}
			l.sync(r)
			got := [3]int{l.reuses - reuses, l.keeps - keeps, l.sortRuns - sorts}
			if want := [3]int{tt.reuses, tt.keeps, tt.sorts}; got != want {
				t.Errorf("%d reuses, %d keeps, %d sorts; want %d, %d, %d", got[0], got[1], got[2], want[0], want[1], want[2])
			}
			if tt.keeps > 0 && tt.sorts == 0 && r.preps != preps {
				t.Errorf("the prep ran %d times for a kept order", r.preps-preps)
			}
			checkFresh(t, l, r, tt.name)
		})
	}
}

// TestSortOrderRandom runs random changes (values, rows, the predicate,
// the sort, its direction, the filter) on lists of few rows with many
// ties, and checks after each that the list shows what a list sorted
// from scratch shows: with keyOnly sorts and a fingerprint of whole keys,
// and without keyOnly sorts and a fingerprint that tells no rows apart
// (a collision costs a sort its head start, not its order).
func TestSortOrderRandom(t *testing.T) {
	for _, colliding := range []bool{false, true} {
		t.Run(fmt.Sprintf("colliding=%v", colliding), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			r := &testRows{hidden: -1}
			var src listSource[testKey] = r
			if colliding {
				src = collidingRows{r}
			}
			l := newTestList(r, colliding)
			keys, vals := randomRows(rng, 30)
			publish(l, r, keys, vals)
			l.sync(src)
			nextID := 1000
			for step := range 3000 {
				keys, vals := slices.Clone(r.keys), slices.Clone(r.vals)
				var what string
				switch op := rng.IntN(12); {
				case op < 4:
					what = "new values"
					for range rng.IntN(3) + 1 {
						if len(vals) > 0 {
							vals[rng.IntN(len(vals))] = rng.IntN(4)
						}
					}
					publish(l, r, keys, vals)
				case op == 4 && len(keys) > 1:
					what = "two rows swapped"
					i, j := rng.IntN(len(keys)), rng.IntN(len(keys))
					keys[i], keys[j], vals[i], vals[j] = keys[j], keys[i], vals[j], vals[i]
					publish(l, r, keys, vals)
				case op == 5 && len(keys) > 0:
					what = "a row's group changed"
					keys[rng.IntN(len(keys))].group = rng.IntN(5)
					publish(l, r, keys, vals)
				case op == 6:
					what = "a row added"
					at := rng.IntN(len(keys) + 1)
					keys = slices.Insert(keys, at, testKey{group: rng.IntN(5), id: nextID})
					vals = slices.Insert(vals, at, rng.IntN(4))
					nextID++
					publish(l, r, keys, vals)
				case op == 7 && len(keys) > 0:
					what = "a row removed"
					at := rng.IntN(len(keys))
					publish(l, r, slices.Delete(keys, at, at+1), slices.Delete(vals, at, at+1))
				case op == 8:
					what = "the predicate"
					r.hidden = rng.IntN(6) - 1
					l.invalidate()
				case op == 9:
					what = "the sort"
					l.handleKey(press("o"))
				case op == 10:
					what = "the direction"
					l.handleKey(press("O"))
				default:
					what = "the filter"
					l.SetFilter([]string{"", "g1", "v3", "id1", "g2 v0"}[rng.IntN(5)])
				}
				l.sync(src)
				checkFresh(t, l, r, fmt.Sprintf("step %d (%s)", step, what))
			}
			if colliding && l.keeps != 0 {
				t.Errorf("%d orders kept without keyOnly sorts", l.keeps)
			}
			if !colliding && (l.keeps == 0 || l.reuses == 0) {
				t.Errorf("%d orders kept, %d sorts from the last order: the test does not reach them", l.keeps, l.reuses)
			}
		})
	}
}

// TestSockKeyHash: the sockets view's fingerprint of a row changes with
// every part of its key that a keyOnly sort reads (the address sorts
// keep their order on a matching sum), IPv4 and IPv6 alike, and not
// with what is not in the key or not read (a zone, a queue).
func TestSockKeyHash(t *testing.T) {
	base := []model.Socket{
		{Proto: model.ProtoUDP, Local: netip.MustParseAddrPort("10.0.0.1:5353"), Remote: netip.MustParseAddrPort("10.0.0.53:53"), Inode: 4242},
		{Proto: model.ProtoTCP, Local: netip.MustParseAddrPort("[2001:db8::1]:443"), Remote: netip.MustParseAddrPort("[2001:db8::2]:50000"), Inode: 77},
		{Proto: model.ProtoTCP, Local: netip.MustParseAddrPort("0.0.0.0:22"), Inode: 9},
	}
	view := func(s model.Socket) *sockView {
		p := &sockView{}
		p.snap.Sockets = []model.Socket{s}
		return p
	}
	hash := func(s model.Socket) uint64 { return view(s).keyHash(0) }
	ap := netip.AddrPortFrom
	changes := []struct {
		name string
		f    func(s *model.Socket)
	}{
		{"local address", func(s *model.Socket) { s.Local = ap(s.Local.Addr().Next(), s.Local.Port()) }},
		{"local address, high bits", func(s *model.Socket) {
			b := s.Local.Addr().As16()
			b[1] ^= 0x40
			s.Local = ap(netip.AddrFrom16(b), s.Local.Port())
			if s.Remote.Addr().Is4() {
				s.Remote = ap(netip.AddrFrom16(s.Remote.Addr().As16()), s.Remote.Port())
			}
		}},
		{"remote address", func(s *model.Socket) { s.Remote = ap(s.Remote.Addr().Next(), s.Remote.Port()) }},
		{"local port", func(s *model.Socket) { s.Local = ap(s.Local.Addr(), s.Local.Port()+1) }},
		{"remote port", func(s *model.Socket) { s.Remote = ap(s.Remote.Addr(), s.Remote.Port()+1) }},
		{"protocol", func(s *model.Socket) { s.Proto = model.ProtoRAW }},
		{"inode", func(s *model.Socket) { s.Inode++ }},
		{"IPv4-mapped", func(s *model.Socket) { s.Local = ap(netip.AddrFrom16(s.Local.Addr().As16()), s.Local.Port()) }},
		{"addresses swapped", func(s *model.Socket) { s.Local, s.Remote = s.Remote, s.Local }},
	}
	for _, s := range base {
		for _, c := range changes {
			next := s
			c.f(&next)
			if view(next).key(0) == view(s).key(0) {
				continue // no change for this socket (an IPv6 one mapped)
			}
			if hash(next) == hash(s) {
				t.Errorf("%v -> %v (%s): the same fingerprint", s.Local, next.Local, c.name)
			}
		}
		same := s
		same.RecvQ, same.State = 10, model.StateCloseWait
		if s.Local.Addr().Is6() {
			same.Local = ap(s.Local.Addr().WithZone("eth0"), s.Local.Port())
		}
		if hash(same) != hash(s) {
			t.Errorf("%v: a queue, a state or a zone changed the fingerprint", s.Local)
		}
	}
}
