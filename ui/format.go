package ui

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"netlens/model"
)

// ellipsis marks truncated text. It is ASCII so that the Linux console
// shows it.
const ellipsis = "~"

// isASCII reports whether s has only single-cell ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x7f || s[i] < 0x20 {
			return false
		}
	}
	return true
}

// width returns the number of cells s takes.
func width(s string) int {
	if isASCII(s) {
		return len(s)
	}
	if n, ok := blocksWidth(s); ok {
		return n
	}
	return ansi.StringWidth(s)
}

// fit pads or truncates s to exactly w cells. Truncation keeps the start of
// the text, or its end when keepTail is set (addresses: the port matters).
// Text whose cells do not add up (a mark that joins the padding, a
// cluster the per-rune widths misjudge) is shown with '?' for every
// non-ASCII rune rather than break the table.
func fit(b *strings.Builder, s string, w int, right, keepTail bool) {
	if w <= 0 {
		return
	}
	if isASCII(s) {
		// fitCells, written into b: no padded copy of every cell.
		if len(s) > w {
			s = truncate(s, w, keepTail)
		}
		pad := max(w-len(s), 0)
		if right {
			writeSpaces(b, pad)
		}
		b.WriteString(s)
		if !right {
			writeSpaces(b, pad)
		}
		return
	}
	out := fitCells(s, width(s), w, right, keepTail)
	if width(out) != w {
		s = asciiOnly(s)
		out = fitCells(s, len(s), w, right, keepTail)
	}
	b.WriteString(out)
}

// spaces is what writeSpaces writes from.
const spaces = "                                                                "

// writeSpaces writes n spaces to b.
func writeSpaces(b *strings.Builder, n int) {
	for n > 0 {
		k := min(n, len(spaces))
		b.WriteString(spaces[:k])
		n -= k
	}
}

// fitCells is fit for s of sw cells.
func fitCells(s string, sw, w int, right, keepTail bool) string {
	if sw > w {
		s = truncate(s, w, keepTail)
		sw = width(s)
	}
	pad := strings.Repeat(" ", max(w-sw, 0))
	if right {
		return pad + s
	}
	return s + pad
}

// truncate cuts s, wider than w cells, to at most w cells ending (or, with
// keepTail, starting) with the ellipsis.
func truncate(s string, w int, keepTail bool) string {
	if w == 1 {
		return ellipsis
	}
	if isASCII(s) {
		if keepTail {
			return ellipsis + s[len(s)-(w-1):]
		}
		return s[:w-1] + ellipsis
	}
	if !keepTail {
		return ansi.Truncate(s, w, ellipsis)
	}
	runes := []rune(s)
	used, i := 0, len(runes)
	for i > 0 {
		rw := ansi.StringWidth(string(runes[i-1]))
		if used+rw > w-1 {
			break
		}
		used += rw
		i--
	}
	return ellipsis + string(runes[i:])
}

// asciiOnly replaces every non-ASCII rune with '?'.
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x7f || r < 0x20 {
			return '?'
		}
		return r
	}, s)
}

// fmtDuration is d as time.Duration.String writes it, but in ASCII: "us"
// for microseconds where Go writes "\u00b5s" (the UI draws ASCII only).
func fmtDuration(d time.Duration) string {
	return strings.Replace(d.String(), "\u00b5s", "us", 1)
}

// fitString is fit into a new string.
func fitString(s string, w int) string {
	var b strings.Builder
	fit(&b, s, w, false, false)
	return b.String()
}

// sanitize replaces control characters (a process name may hold anything)
// so that they cannot move the cursor or change the terminal's state.
func sanitize(s string) string {
	if isASCII(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' {
			return ' '
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError || unicode.Is(unicode.Cf, r) {
			return '?'
		}
		return r
	}, s)
}

// fmtAddr formats an address and port as ss does, with "*" for a wildcard
// port and "*:*" for no address at all.
func fmtAddr(ap netip.AddrPort) string { return string(appendAddr(nil, ap)) }

// appendAddr appends the text of fmtAddr to b.
func appendAddr(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	if !a.IsValid() {
		return append(b, "*:*"...)
	}
	if a.Is4() {
		b = a.AppendTo(b)
	} else {
		b = append(b, '[')
		b = a.AppendTo(b)
		b = append(b, ']')
	}
	b = append(b, ':')
	if ap.Port() == 0 {
		return append(b, '*')
	}
	return strconv.AppendUint(b, uint64(ap.Port()), 10)
}

// fmtProcs formats the processes of a socket as "comm/pid", with "+N" when
// more processes share it.
func fmtProcs(ps []model.Proc) string {
	if len(ps) == 0 {
		return ""
	}
	s := sanitize(ps[0].Comm) + "/" + strconv.Itoa(ps[0].PID)
	if len(ps) > 1 {
		s += "+" + strconv.Itoa(len(ps)-1)
	}
	return s
}

// fmtCount formats a count to fit in w cells: exact when it fits, else
// with an SI suffix (k, M, G, T, P, E).
func fmtCount(v uint64, w int) string {
	s := strconv.FormatUint(v, 10)
	if len(s) <= w {
		return s
	}
	f := float64(v)
	for _, suf := range []string{"k", "M", "G", "T", "P", "E"} {
		f /= 1000
		for prec := 2; prec >= 0; prec-- {
			t := strconv.FormatFloat(f, 'f', prec, 64) + suf
			if len(t) <= w {
				return t
			}
		}
	}
	return s
}

// fmtRate formats a per-second rate compactly: "0", "0.25", "12.5", "3.4k".
func fmtRate(r float64) string {
	switch {
	case r == 0:
		return "0"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 2, 64)
	case r < 1000:
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	for _, suf := range []string{"k", "M", "G", "T"} {
		r /= 1000
		if r < 1000 {
			return strconv.FormatFloat(r, 'f', 1, 64) + suf
		}
	}
	return strconv.FormatFloat(r, 'e', 1, 64)
}

func itoa(n int) string { return strconv.Itoa(n) }
