package ui

import (
	"slices"
	"strings"

	"charm.land/lipgloss/v2"
)

// column describes one column of a table.
type column struct {
	title string
	// width is the column's minimum width in cells.
	width int
	// flex is the column's share of the width left over once every shown
	// column has its minimum.
	flex int
	// right aligns the column right (numbers).
	right bool
	// keepTail truncates on the left (addresses, where the port matters).
	keepTail bool
	// drop is the order in which columns are hidden when the table is too
	// narrow: the highest drop goes first; 0 is never hidden.
	drop int
	// off hides the column whatever the width (a column only some data
	// has: the all-namespaces view's Namespace).
	off bool
	// pref, if set, is the width a flex column should reach before
	// columns that can be hidden are shown (addresses before UIDs).
	pref int
}

// rowKind says how to draw a row.
type rowKind uint8

const (
	rowPlain rowKind = iota
	rowHot           // changed in the last interval
	rowDim
	rowMarked
)

// table is a scrolling table that renders only its visible rows. It holds
// no row data: the page gives it the number of rows and a function that
// returns one cell, so that strings are built only for the rows on screen.
// A table is not safe for concurrent use.
type table struct {
	cols   []column
	widths []int // per column; 0 when hidden

	width, height int // height includes the header line
	n             int // rows
	cursor        int
	offset        int // first visible row

	// sortCol and sortDesc mark the header of the sort column.
	sortCol  int
	sortDesc bool
}

func newTable(cols []column) table {
	return table{cols: cols, widths: make([]int, len(cols)), sortCol: -1}
}

// SetSize sets the table's size in cells, including the header line.
func (t *table) SetSize(w, h int) {
	t.width, t.height = w, h
	t.layout()
	t.clamp()
}

// layout hides columns, highest drop first, until the minimum widths fit,
// then shares the spare width out by flex.
func (t *table) layout() {
	shown := make([]bool, len(t.cols))
	for i := range shown {
		shown[i] = !t.cols[i].off
	}
	need := func() int {
		n, k := 0, 0
		for i, c := range t.cols {
			if shown[i] {
				n += c.width
				k++
			}
		}
		return n + max(k-1, 0)
	}
	flexOf := func() int {
		f := 0
		for i, c := range t.cols {
			if shown[i] {
				f += c.flex
			}
		}
		return f
	}
	// short reports whether a flex column would stay under its pref.
	short := func() bool {
		spare, flex := max(t.width-need(), 0), flexOf()
		for i, c := range t.cols {
			if shown[i] && c.pref > 0 && flex > 0 && c.width+spare*c.flex/flex < c.pref {
				return true
			}
		}
		return false
	}
	for need() > t.width || short() {
		worst := -1
		for i, c := range t.cols {
			if shown[i] && c.drop > 0 && (worst < 0 || c.drop > t.cols[worst].drop) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		shown[worst] = false
	}
	spare := max(t.width-need(), 0)
	flex := flexOf()
	given := 0
	last := -1
	for i, c := range t.cols {
		t.widths[i] = 0
		if !shown[i] {
			continue
		}
		t.widths[i] = c.width
		if flex > 0 && c.flex > 0 {
			extra := spare * c.flex / flex
			t.widths[i] += extra
			given += extra
			last = i
		}
	}
	if last >= 0 {
		t.widths[last] += spare - given
	}
}

// Shown reports whether column i is visible at the current width.
func (t *table) Shown(i int) bool { return t.widths[i] > 0 }

// Width returns the width of column i (0 when hidden).
func (t *table) ColWidth(i int) int { return t.widths[i] }

// rows is the number of row lines the table shows.
func (t *table) rows() int { return max(t.height-1, 0) }

// SetLen sets the number of rows, keeping the cursor in range.
func (t *table) SetLen(n int) {
	t.n = n
	t.clamp()
}

// Len returns the number of rows.
func (t *table) Len() int { return t.n }

// Cursor returns the selected row, or -1 when the table is empty.
func (t *table) Cursor() int {
	if t.n == 0 {
		return -1
	}
	return t.cursor
}

// SetCursor selects row i and scrolls it into view.
func (t *table) SetCursor(i int) {
	t.cursor = i
	t.clamp()
}

// MoveBy moves the cursor by d rows.
func (t *table) MoveBy(d int) { t.SetCursor(t.cursor + d) }

// PageDown moves the cursor one screen down, PageUp one up.
func (t *table) PageDown() { t.MoveBy(max(t.rows()-1, 1)) }
func (t *table) PageUp()   { t.MoveBy(-max(t.rows()-1, 1)) }

// Top and Bottom move to the first and last rows.
func (t *table) Top()    { t.SetCursor(0) }
func (t *table) Bottom() { t.SetCursor(t.n - 1) }

// ScrollBy moves the view by d rows (the mouse wheel), dragging the cursor
// along when it would leave the screen.
func (t *table) ScrollBy(d int) {
	t.offset += d
	t.offset = max(min(t.offset, t.n-t.rows()), 0)
	if t.cursor < t.offset {
		t.cursor = t.offset
	}
	if r := t.rows(); r > 0 && t.cursor >= t.offset+r {
		t.cursor = t.offset + r - 1
	}
	t.clamp()
}

func (t *table) clamp() {
	if t.n == 0 {
		t.cursor, t.offset = 0, 0
		return
	}
	t.cursor = max(min(t.cursor, t.n-1), 0)
	r := t.rows()
	if r == 0 {
		return
	}
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+r {
		t.offset = t.cursor - r + 1
	}
	t.offset = max(min(t.offset, t.n-r), 0)
}

// sortMark is what follows the sort column's title: ^ ascending, v
// descending.
func (t *table) sortMark() string {
	if t.sortDesc {
		return "v"
	}
	return "^"
}

// headerWidths are the widths of the header's cells: the columns' widths,
// except that a sort column whose title and mark do not fit (Recv-Q^ in
// 6 cells) takes a cell from a neighbour's header whose title is shorter
// than its column. The rows keep the columns' widths; only the header's
// cells move by one. Taking the right neighbour's first cell leaves the
// sort title over its rows (the mark in the gap), and a right-aligned
// neighbour's title in place; taking the left neighbour's last cell moves
// the sort title left by one but leaves a left-aligned neighbour's title
// in place. The choice moves the fewest titles.
func (t *table) headerWidths() []int {
	hw := t.widths
	sc := t.sortCol
	if sc < 0 || sc >= len(t.cols) || hw[sc] == 0 || width(t.cols[sc].title)+1 <= hw[sc] {
		return hw
	}
	left, right := -1, -1
	for i := sc - 1; i >= 0 && left < 0; i-- {
		if hw[i] > 0 {
			left = i
		}
	}
	for i := sc + 1; i < len(hw) && right < 0; i++ {
		if hw[i] > 0 {
			right = i
		}
	}
	room := func(n int) bool { return n >= 0 && width(t.cols[n].title) < hw[n] }
	for _, c := range []struct {
		n     int
		right bool // the neighbour's alignment
	}{{right, true}, {left, false}, {right, false}, {left, true}} {
		if room(c.n) && t.cols[c.n].right == c.right {
			hw = slices.Clone(hw)
			hw[c.n]--
			hw[sc]++
			return hw
		}
	}
	return hw
}

// View renders the header and the visible rows: exactly height lines.
// cell returns the text of row i, column c (only called for visible rows
// and shown columns); kind says how to draw row i. empty is shown on the
// first row when there are no rows.
func (t *table) View(s *Styles, cell func(i, c int) string, kind func(i int) rowKind, empty string) string {
	return t.ViewAfter("", s, cell, kind, empty)
}

// ViewAfter is prefix followed by View, in one string: a page's lines
// above the table are not copied again to go before it.
func (t *table) ViewAfter(prefix string, s *Styles, cell func(i, c int) string, kind func(i int) rowKind, empty string) string {
	var out strings.Builder
	// The rows, each a line of t.width cells and a few escape sequences
	// when styled: one allocation, rather than a doubling series.
	out.Grow(len(prefix) + (t.rows()+1)*(t.width+32))
	out.WriteString(prefix)
	var b strings.Builder
	b.Grow(t.width)
	// Header.
	hw := t.headerWidths()
	first := true
	for i, c := range t.cols {
		w := hw[i]
		if w == 0 {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		title := c.title
		if i == t.sortCol {
			title += t.sortMark()
		}
		fit(&b, title, w, c.right, false)
	}
	out.WriteString(s.TableHeader.Render(padRight(b.String(), t.width)))

	r := t.rows()
	for line := 0; line < r; line++ {
		out.WriteByte('\n')
		i := t.offset + line
		if i >= t.n {
			if i == 0 && empty != "" {
				out.WriteString(s.Dim.Render(fitString(empty, t.width)))
			}
			continue
		}
		b.Reset()
		b.Grow(t.width) // the row's own buffer (text keeps it): one allocation
		first := true
		for ci, c := range t.cols {
			w := t.widths[ci]
			if w == 0 {
				continue
			}
			if !first {
				b.WriteByte(' ')
			}
			first = false
			fit(&b, cell(i, ci), w, c.right, c.keepTail)
		}
		if n := t.width - width(b.String()); n > 0 { // padRight, in b
			writeSpaces(&b, n)
		}
		text := b.String()
		var st lipgloss.Style
		styled := true
		switch {
		case i == t.cursor:
			st = s.Selected
		case kind == nil:
			styled = false
		default:
			switch kind(i) {
			case rowHot:
				st = s.Hot
			case rowDim:
				st = s.Dim
			case rowMarked:
				st = s.Marker
			default:
				styled = false
			}
		}
		if styled {
			text = st.Render(text)
		}
		out.WriteString(text)
	}
	return out.String()
}

// padRight pads s with spaces to w cells (s must fit).
func padRight(s string, w int) string {
	if n := w - width(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}
