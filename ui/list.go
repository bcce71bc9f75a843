package ui

import (
	"bytes"
	"cmp"
	"hash/maphash"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// sortSpec is one way to sort a list: its name in the status line, the
// table column whose header shows the arrow, and the comparison of two rows
// (indexes into the page's data).
type sortSpec struct {
	name string
	col  int
	cmp  func(a, b int) int
	// desc makes descending the first direction (queues, rates: the
	// biggest first).
	desc bool
	// prep, if set, runs before a sort (to build sort keys).
	prep func()
	// joined marks a joined view's sort that reads the flows (the others
	// read only the sockets, and survive a new flow table).
	joined bool
	// keyOnly marks a sort whose comparison reads nothing of a row but
	// what its key (listSource.key) holds, such as its addresses: values
	// that cannot change while the key stays the same, unlike a state,
	// a queue, a rate, a counter or a process name. When the rows are
	// those of the last sort, in the same places, and the sort and its
	// direction are those of the last sort too, the last order is the
	// order: sortOrder keeps it, with no prep and no sort. Set it only
	// where that holds of cmp and of everything prep builds for it.
	keyOnly bool
}

// listSource is what a list page tells listBase about its rows. Indexes are
// into the page's own data for the current snapshot.
type listSource[K comparable] interface {
	// count is the number of rows in the snapshot.
	count() int
	// include is the page's own predicate (moved only, watched only).
	include(i int) bool
	// appendHaystack appends the text of row i's columns, for the filter.
	appendHaystack(b []byte, i int) []byte
	// key identifies row i across snapshots, to keep the selection.
	key(i int) K
	// sameRows reports whether two snapshots hold the very same rows for
	// the page (the Store shares unchanged slices between snapshots), so
	// that the filter and sort need not run again.
	sameRows(a, b model.Snapshot) bool
}

// sameSockets reports whether a and b hold the same socket list: the
// same slice of the same update (the sockets collector fills the memory
// of a list nobody holds any more again: model.Snapshot.SocketsSeq).
func sameSockets(a, b *model.Snapshot) bool {
	return a.SocketsSeq == b.SocketsSeq && sameSlice(a.Sockets, b.Sockets)
}

// sameFlows is sameSockets for the flow list (the conntrack collector
// fills lists again too: model.Snapshot.FlowsSeq).
func sameFlows(a, b *model.Snapshot) bool {
	return a.FlowsSeq == b.FlowsSeq && sameSlice(a.Flows, b.Flows)
}

// sameSlice reports whether a and b are the same slice (not merely equal).
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// listID identifies a list (its first element's address and its
// length, and the Seq of the update that brought it: SocketsSeq,
// FlowsSeq) without keeping it alive, for what a view remembers having
// computed from a list. A slice kept for that kept the list: the sort
// keys of the sockets view, built from the first list of the start
// (published before the owners, as a copy) and kept while the rows
// stayed the same, held that copy, 19 MB at 100,000 sockets, for as long
// as the TUI ran. The Seq tells a list from a later one at the same
// address.
type listID struct {
	at  uintptr
	n   int
	seq uint64
}

// idOf returns the listID of s, brought by the update of Seq seq. Every
// empty list has the same one, as sameSlice has it.
func idOf[T any](s []T, seq uint64) listID {
	if len(s) == 0 {
		return listID{seq: seq}
	}
	return listID{at: uintptr(unsafe.Pointer(unsafe.SliceData(s))), n: len(s), seq: seq}
}

// listBase is the state every table page shares: the snapshot, the filter,
// the sort and the index of the rows shown, in order. The rows are
// recomputed by Sync only when the snapshot, the filter, the sort or the
// page's predicate changed. Not safe for concurrent use.
type listBase[K comparable] struct {
	Common
	tbl   table
	snap  model.Snapshot
	dirty bool

	filter  string // as typed
	lfilter string // lower case

	sorts   []sortSpec
	sortIdx int
	desc    bool

	idx []int // rows shown, in order

	// order is every row the page's predicate includes, sorted, whatever
	// the filter; a keystroke in the filter only narrows it again.
	order      []int
	orderValid bool
	// sortedSum fingerprints the keys of the rows order was last sorted
	// from, by index (sortedN rows; sortedSet once there was a sort),
	// and sortedIdx and sortedDesc the sort and direction it was sorted
	// by. When the next data holds the same rows in the same places (a
	// steady table: only counters and queues move), a keyOnly sort by
	// the same sort and direction keeps the last order as it is; any
	// other sort starts from the last order, which it then finishes in
	// about one pass. A hash, not a copy of the keys, which took 9 MB at
	// 100,000 sockets: a collision (odds about 2^-64 with keysSum's
	// hashes) makes a sort start from the last order, and it ends in
	// the same order (the comparison is total), but a keyOnly sort
	// keeps an order that is not the new rows' until they change again.
	sortedSum  uint64
	sortedN    int
	sortedSet  bool
	sortedIdx  int
	sortedDesc bool

	// Lower-case haystacks, built once per snapshot when a filter is in
	// use: row i's text is hay[hayOff[i]:hayOff[i+1]].
	hay      []byte
	hayOff   []int
	hayValid bool

	// selKey is the key of the selected row, captured before the data
	// changes so that Sync can find the row again.
	selKey   K
	selValid bool
	captured bool

	// deps are the collectors the page's data comes from; problems are
	// those not ok in the current snapshot.
	deps     []string
	problems []problem
	notes    []string // what working collectors say about partial data
	seenSeq  uint64
	seenSet  bool

	// staleNote ends the warning line about collectors that are down
	// while the table shows data ("(data may be stale)" when empty).
	staleNote string

	// tblTop is the line of the page where the table's header is.
	tblTop int

	// details shows the detail pane (the selected row in full) under the
	// table; detailH is its number of text lines (defaultDetailH if 0).
	details bool
	detailH int

	// recomputes counts the filter-and-sort runs, sortRuns the sorts,
	// reuses the sorts that started from the last order, keeps the
	// times the last order was kept without a sort (for tests).
	recomputes, sortRuns, reuses, keeps int
}

// Init implements page; a list page has no work of its own to start.
func (l *listBase[K]) Init() tea.Cmd { return nil }

// fresh reports, once per snapshot, that the snapshot is new, after
// refreshing the collector problems; pages recompute their summaries then.
func (l *listBase[K]) fresh() bool {
	if l.seenSet && l.seenSeq == l.snap.Seq {
		return false
	}
	l.seenSeq, l.seenSet = l.snap.Seq, true
	l.problems = problems(l.snap, l.deps)
	l.notes = l.notes[:0]
	for _, name := range l.deps {
		if st, ok := l.snap.Status(name); ok && st.State == model.StateOK && st.Note != "" {
			l.notes = append(l.notes, name+": "+oneLine(st.Note))
		}
	}
	return true
}

func (l *listBase[K]) init(cols []column, sorts []sortSpec, sortIdx int) {
	l.tbl = newTable(cols)
	l.sorts = sorts
	l.sortIdx = sortIdx
	l.tblTop = 1
	l.desc = sorts[sortIdx].desc
	l.tbl.sortCol = sorts[sortIdx].col
	l.tbl.sortDesc = l.desc
	l.dirty = true
}

// defaultDetailH is the number of text lines of a detail pane, under
// its rule.
const defaultDetailH = 3

// detailLines is the height of the detail pane: a rule and its lines.
func (l *listBase[K]) detailLines() int {
	if l.detailH > 0 {
		return 1 + l.detailH
	}
	return 1 + defaultDetailH
}

// SetSize implements page.
func (l *listBase[K]) SetSize(w, h int) {
	l.Common.SetSize(w, h)
	l.tbl.SetSize(w, max(l.tableHeight(), 1))
}

// tableHeight is the height left for the table (header included) under
// the summary line and above the detail pane.
func (l *listBase[K]) tableHeight() int {
	if l.details {
		return l.Height - 1 - l.detailLines()
	}
	return l.Height - 1
}

// render draws a list page: the summary line head, then either why the
// page has no data (when dataLen is 0 and a collector it needs is down),
// or a warning line when that collector is down, the table, and the
// detail pane. cell, kind and detail take table rows (positions in idx).
func (l *listBase[K]) render(head string, dataLen int, empty string, cell func(i, c int) string, kind func(i int) rowKind, detail func(i int) []string) string {
	s := l.Styles
	if dataLen == 0 && len(l.problems) > 0 {
		return head + "\n" + paneMessage(s, l.Width, l.Height-1, l.problems, l.Offline)
	}
	warn := l.fitTable(l.problems, l.tableHeight())
	out := l.tbl.ViewAfter(head+"\n"+warn, s, cell, kind, empty)
	if !l.details {
		return out
	}
	lines := []string{s.Dim.Render(repeat('-', l.Width))}
	if c := l.tbl.Cursor(); c >= 0 && c < len(l.idx) {
		for i, t := range detail(c) {
			st := s.PaneText
			if i == 0 {
				st = s.Summary
			}
			lines = append(lines, st.Render(fitString(t, l.Width)))
		}
	}
	return out + "\n" + fixHeight(lines, l.detailLines())
}

// capture records the key of the selected row while src still holds the
// data it was selected in.
func (l *listBase[K]) capture(src listSource[K]) {
	if l.captured {
		return
	}
	l.selValid = false
	if i := l.selected(); i >= 0 && i < src.count() {
		l.selKey, l.selValid = src.key(i), true
	}
	l.captured = true
}

// setSnapshot is SetSnapshot for a page: it captures the selection in the
// old data first.
func (l *listBase[K]) setSnapshot(src listSource[K], s model.Snapshot) {
	if src.sameRows(l.snap, s) {
		l.snap = s
		return
	}
	l.capture(src)
	l.snap = s
	l.hayValid = false
	l.invalidate()
}

// invalidate says the rows, the sort or the page's predicate changed.
func (l *listBase[K]) invalidate() {
	l.orderValid = false
	l.dirty = true
}

// SetFilter implements page.
func (l *listBase[K]) SetFilter(f string) {
	if f == l.filter {
		return
	}
	l.filter = f
	l.lfilter = strings.ToLower(f)
	l.dirty = true
}

// Filter implements page.
func (l *listBase[K]) Filter() string { return l.filter }

// sync recomputes the rows shown from src when something changed, keeping
// the selected row selected when it is still there.
func (l *listBase[K]) sync(src listSource[K]) {
	if !l.dirty {
		return
	}
	l.dirty = false
	l.recomputes++
	l.capture(src)
	l.captured = false
	if !l.orderValid {
		l.sortOrder(src)
	}
	tm, withTerms := src.(termMatcher)
	pf := parseFilter(l.lfilter, withTerms)
	if len(pf.words) > 0 && !l.hayValid {
		l.buildHaystacks(src)
	}
	idx := l.idx[:0]
rows:
	for _, i := range l.order {
		if len(pf.words) > 0 {
			hay := l.hay[l.hayOff[i]:l.hayOff[i+1]]
			for _, w := range pf.words {
				if !bytes.Contains(hay, w) {
					continue rows
				}
			}
		}
		for k := range pf.terms {
			if !tm.matchTerm(i, &pf.terms[k]) {
				continue rows
			}
		}
		idx = append(idx, i)
	}
	l.idx = idx
	l.tbl.SetLen(len(idx))
	if l.selValid {
		for pos, i := range idx {
			if src.key(i) == l.selKey {
				l.tbl.SetCursor(pos)
				break
			}
		}
	}
}

// sortOrder sorts every row the page includes. When those are the rows
// of the last sort, in the same places, it starts from their last order,
// or keeps it as it is for a keyOnly sort by the same sort and direction.
func (l *listBase[K]) sortOrder(src listSource[K]) {
	n := src.count()
	sum := keysSum(src, n)
	same := l.sortedSet && l.sortedN == n && l.sortedSum == sum
	spec, desc := l.sorts[l.sortIdx], l.desc
	sameSort := l.sortedSet && l.sortedIdx == l.sortIdx && l.sortedDesc == desc
	l.sortedSum, l.sortedN, l.sortedSet = sum, n, true
	l.sortedIdx, l.sortedDesc = l.sortIdx, desc
	order := l.order[:0]
	inc := 0
	for i := range n {
		if src.include(i) {
			inc++
		}
	}
	// The same rows are included as at the last sort when as many are
	// and none of the last order is left out (which, when every row is
	// included, needs no look: the last order is then all n of them).
	switch {
	case same && inc == len(l.order) && (inc == n || !slices.ContainsFunc(l.order, func(i int) bool { return !src.include(i) })):
		if spec.keyOnly && sameSort {
			// The same keys in the same places, and a comparison of
			// keys and indexes only: the last order is this one.
			l.orderValid = true
			l.keeps++
			return
		}
		order = l.order // the same rows: start from their last order
		l.reuses++
	default:
		for i := range n {
			if src.include(i) {
				order = append(order, i)
			}
		}
	}
	if spec.prep != nil {
		spec.prep()
	}
	slices.SortFunc(order, func(a, b int) int {
		c := spec.cmp(a, b)
		if desc {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a, b))
	})
	l.order = order
	l.orderValid = true
	l.sortRuns++
}

// keySeed seeds keysSum's hash.
var keySeed = maphash.MakeSeed()

// keyHasher is a listSource whose rows have a cheaper fingerprint than
// hashing their whole key: keysSum uses it. It must hash every part of
// the key that a keyOnly sort of the page reads, mixed as well as a
// hash of the whole key (two different keys sharing a fingerprint by
// chance, odds about 2^-64): a keyOnly sort keeps its last order when
// the fingerprints of the rows match (see sortOrder).
type keyHasher interface {
	keyHash(i int) uint64
}

// keysSum fingerprints the keys of src's first n rows, in order.
func keysSum[K comparable](src listSource[K], n int) uint64 {
	sum := uint64(n)
	if h, ok := src.(keyHasher); ok {
		for i := range n {
			sum = bits.RotateLeft64(sum, 7)*0x100000001b3 ^ h.keyHash(i)
		}
		return sum
	}
	for i := range n {
		sum = bits.RotateLeft64(sum, 7)*0x100000001b3 ^ maphash.Comparable(keySeed, src.key(i))
	}
	return sum
}

// buildHaystacks builds the lower-case text of every row into one buffer.
func (l *listBase[K]) buildHaystacks(src listSource[K]) {
	n := src.count()
	l.hay = l.hay[:0]
	l.hayOff = append(l.hayOff[:0], 0)
	for i := range n {
		start := len(l.hay)
		l.hay = src.appendHaystack(l.hay, i)
		row := l.hay[start:]
		ascii := true
		for j, c := range row {
			switch {
			case c >= utf8.RuneSelf:
				ascii = false
			case 'A' <= c && c <= 'Z':
				row[j] = c + 'a' - 'A'
			}
		}
		if !ascii {
			l.hay = append(l.hay[:start], bytes.ToLower(row)...)
		}
		l.hayOff = append(l.hayOff, len(l.hay))
	}
	l.hayValid = true
}

// selected returns the data index of the selected row, or -1.
func (l *listBase[K]) selected() int {
	c := l.tbl.Cursor()
	if c < 0 || c >= len(l.idx) {
		return -1
	}
	return l.idx[c]
}

// handleKey handles the keys every list shares: movement and sort. It
// reports whether it used the key.
func (l *listBase[K]) handleKey(msg tea.KeyPressMsg) bool {
	k := l.Keys
	switch {
	case key.Matches(msg, k.Up):
		l.tbl.MoveBy(-1)
	case key.Matches(msg, k.Down):
		l.tbl.MoveBy(1)
	case key.Matches(msg, k.PageUp):
		l.tbl.PageUp()
	case key.Matches(msg, k.PageDown):
		l.tbl.PageDown()
	case key.Matches(msg, k.Home):
		l.tbl.Top()
	case key.Matches(msg, k.End):
		l.tbl.Bottom()
	case key.Matches(msg, k.Details):
		l.details = !l.details
		l.tbl.SetSize(l.Width, max(l.tableHeight(), 1))
	case key.Matches(msg, k.Sort):
		l.sortIdx = (l.sortIdx + 1) % len(l.sorts)
		l.desc = l.sorts[l.sortIdx].desc
		l.tbl.sortCol = l.sorts[l.sortIdx].col
		l.invalidate()
	case key.Matches(msg, k.Reverse):
		l.desc = !l.desc
		l.tbl.sortDesc = l.desc
		l.invalidate()
	default:
		return false
	}
	l.tbl.sortDesc = l.desc
	return true
}

// handleMouse scrolls on the mouse wheel and selects the row clicked
// (Y is relative to the page).
func (l *listBase[K]) handleMouse(msg tea.MouseMsg) {
	switch msg := msg.(type) {
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			l.tbl.ScrollBy(-3)
		case tea.MouseWheelDown:
			l.tbl.ScrollBy(3)
		}
	case tea.MouseClickMsg:
		row := msg.Y - l.tblTop - 1
		if msg.Button == tea.MouseLeft && row >= 0 && row < l.tbl.rows() && l.tbl.offset+row < l.tbl.Len() {
			l.tbl.SetCursor(l.tbl.offset + row)
		}
	}
}

// ClosePane closes the detail pane (esc); it reports whether it was open.
func (l *listBase[K]) ClosePane() bool {
	if !l.details {
		return false
	}
	l.details = false
	l.tbl.SetSize(l.Width, max(l.tableHeight(), 1))
	return true
}

// update handles a message for a list with no keys of its own:
// movement, sort, the detail pane, the mouse.
func (l *listBase[K]) update(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		l.handleKey(msg)
	case tea.MouseMsg:
		l.handleMouse(msg)
	}
}

// ShortHelp implements page for a list whose only key of its own is the
// detail pane.
func (l *listBase[K]) ShortHelp() []key.Binding { return []key.Binding{l.Keys.Details} }

// FullHelp implements page like ShortHelp.
func (l *listBase[K]) FullHelp() [][]key.Binding { return [][]key.Binding{{l.Keys.Details}} }

// rightLabel is the right of a summary line: how many of total rows are
// shown (when filtered) and the sort.
func (l *listBase[K]) rightLabel(total int) string {
	if f := l.shownLabel(total); f != "" {
		return f + "  " + l.sortLabel()
	}
	return l.sortLabel()
}

// emptyText says why the table has no rows: none (there are no rows),
// or no noun matches the filter.
func (l *listBase[K]) emptyText(noun, none string) string {
	if l.filter != "" {
		return "no " + noun + " match the filter " + strconv.Quote(l.filter)
	}
	return none
}

// sortLabel describes the sort for the summary line: "sort: state^".
func (l *listBase[K]) sortLabel() string {
	arrow := "^"
	if l.desc {
		arrow = "v"
	}
	return "sort " + l.sorts[l.sortIdx].name + arrow
}

// shownLabel says how many rows are shown out of how many.
func (l *listBase[K]) shownLabel(total int) string {
	if len(l.idx) == total {
		return ""
	}
	return strconv.Itoa(len(l.idx)) + " of " + strconv.Itoa(total) + " shown"
}

// fitTable sizes the table below the summary line, and a warning line
// when collectors it depends on are down while it still shows (older)
// data. It returns the warning line, with its newline, or "".
func (l *listBase[K]) fitTable(ps []problem, th int) string {
	var bad []problem
	for _, p := range ps {
		if p.known && p.status.State != model.StatePending {
			bad = append(bad, p)
		}
	}
	warn := ""
	l.tblTop = 1
	if len(bad) > 0 {
		note := l.staleNote
		if note == "" {
			note = "(data may be stale)"
		}
		warn = l.Styles.Warn.Render(fitString(problemLine(bad, note), l.Width)) + "\n"
		th--
		l.tblTop++
	}
	if len(l.notes) > 0 {
		warn += l.Styles.Dim.Render(fitString("note: "+strings.Join(l.notes, "; "), l.Width)) + "\n"
		th--
		l.tblTop++
	}
	if l.tbl.height != th || l.tbl.width != l.Width {
		l.tbl.SetSize(l.Width, max(th, 1))
	}
	return warn
}

// problemLine is a one-line warning for collectors that are down while the
// pane still has (older) data.
func problemLine(ps []problem, note string) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = describe(p.status)
	}
	return "! " + strings.Join(parts, "; ") + " " + note
}
