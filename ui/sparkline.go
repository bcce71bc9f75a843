package ui

import (
	"math"
	"os"
	"strings"
)

// Glyphs says which characters the UI may draw beyond ASCII: only the
// sparklines use any.
type Glyphs uint8

const (
	// GlyphsAuto is decided by Run from the environment (DetectGlyphs);
	// New without Run draws ASCII.
	GlyphsAuto Glyphs = iota
	// GlyphsASCII draws sparklines with ASCII characters only.
	GlyphsASCII
	// GlyphsUnicode draws sparklines with the block elements U+2581-U+2588.
	GlyphsUnicode
)

// asciiTerms are terminals without the block elements: the Linux and BSD
// consoles, the DEC terminals and the dumb ones.
var asciiTerms = []string{"", "dumb", "linux", "ansi", "cons25", "vt52", "vt100", "vt102", "vt220", "vt320"}

// DetectGlyphs decides from environ (os.Environ()) whether the terminal
// can draw the block elements. The glyphs follow TERM, not NO_COLOR (which
// is about colour only): the Linux console (TERM=linux), the DEC
// terminals and dumb ones get ASCII; so does a locale that is not UTF-8
// (LC_ALL, else LC_CTYPE, else LANG), where tmux and screen would
// replace the glyphs anyway, and a Chinese, Japanese or Korean locale,
// whose terminals may draw them two cells wide. Everything else gets
// Unicode.
func DetectGlyphs(environ []string) Glyphs {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	term := strings.ToLower(env["TERM"])
	for _, t := range asciiTerms {
		if term == t || strings.HasPrefix(term, t+"-") && t != "" {
			return GlyphsASCII
		}
	}
	loc := env["LC_ALL"]
	if loc == "" {
		loc = env["LC_CTYPE"]
	}
	if loc == "" {
		loc = env["LANG"]
	}
	l := strings.ToLower(loc)
	if !strings.Contains(l, "utf-8") && !strings.Contains(l, "utf8") {
		return GlyphsASCII
	}
	// The block elements are of ambiguous East Asian width: terminals
	// set up for Chinese, Japanese or Korean draw them two cells wide,
	// which would break the table.
	for _, cjk := range []string{"ja", "zh", "ko"} {
		if strings.HasPrefix(l, cjk+"_") || strings.HasPrefix(l, cjk+".") {
			return GlyphsASCII
		}
	}
	return GlyphsUnicode
}

// detectGlyphs is DetectGlyphs of the process's environment.
func detectGlyphs() Glyphs { return DetectGlyphs(os.Environ()) }

// Sparkline levels, lowest first: a zero sample is a space, a sample
// above zero at least the first level, the largest the last.
var (
	sparkUnicode = []string{"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"}
	sparkASCII   = []string{".", ":", "-", "=", "+", "*", "#", "@"}
)

// sparkline draws the last w samples of hist (oldest first) in w cells,
// the newest at the right; cells without a sample are blank. Each sample
// is scaled to the largest of those shown: zero is a blank, anything
// above zero at least the lowest level (one drop in a minute of zeros
// still shows), the largest the highest.
func sparkline(b *strings.Builder, hist []uint64, w int, g Glyphs) {
	if w <= 0 {
		return
	}
	levels := sparkASCII
	if g == GlyphsUnicode {
		levels = sparkUnicode
	}
	if len(hist) > w {
		hist = hist[len(hist)-w:]
	}
	var top uint64
	for _, v := range hist {
		top = max(top, v)
	}
	for range w - len(hist) {
		b.WriteByte(' ')
	}
	n := uint64(len(levels))
	for _, v := range hist {
		if v == 0 {
			b.WriteByte(' ')
			continue
		}
		// ceil(v*n/top) in 1..n, in floating point: no overflow.
		lvl := n
		if v < top {
			lvl = min(max(uint64(math.Ceil(float64(v)/float64(top)*float64(n))), 1), n)
		}
		b.WriteString(levels[lvl-1])
	}
}

// sparkString is sparkline into a new string.
func sparkString(hist []uint64, w int, g Glyphs) string {
	var b strings.Builder
	sparkline(&b, hist, w, g)
	return b.String()
}

// blocksWidth is the width of s when s holds only printable ASCII and
// the sparklines' block elements (one cell each), without the grapheme
// segmentation ansi.StringWidth does; ok is false for any other text.
func blocksWidth(s string) (n int, ok bool) {
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c >= 0x20 && c < 0x7f:
			i++
		case c == 0xe2 && i+2 < len(s) && s[i+1] == 0x96 && s[i+2] >= 0x81 && s[i+2] <= 0x88: // U+2581-U+2588
			i += 3
		default:
			return 0, false
		}
		n++
	}
	return n, true
}
