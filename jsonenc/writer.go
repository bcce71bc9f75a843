package jsonenc

import (
	"bufio"
	"io"

	"netlens/model"
)

// bufSize is the Writer's buffer: large enough that a write(2) carries
// many records, small enough to keep memory flat.
const bufSize = 256 << 10

// Writer writes one JSON document as a stream of pieces, compact or
// indented as json.MarshalIndent(v, "", "  ") would. It is not safe for
// concurrent use.
type Writer struct {
	bw     *bufio.Writer
	indent bool
	// The indenter's state, across pieces.
	depth      int
	needIndent bool
	inString   bool
	escape     bool
	// rec is the scratch buffer records are appended into.
	rec []byte
	// times remembers the last time a flow carried.
	times timeCache
}

// NewWriter returns a Writer to w, indenting when indent is set.
func NewWriter(w io.Writer, indent bool) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, bufSize), indent: indent, rec: make([]byte, 0, 4096)}
}

// Raw writes b, a piece of compact JSON (any split of a valid document
// is fine: the indenter keeps its state across calls).
func (w *Writer) Raw(b []byte) {
	if !w.indent {
		w.bw.Write(b)
		return
	}
	w.indentTo(b)
}

// RawString is Raw for a string.
func (w *Writer) RawString(s string) {
	if !w.indent {
		w.bw.WriteString(s)
		return
	}
	w.indentTo([]byte(s))
}

func (w *Writer) newline() {
	w.bw.WriteByte('\n')
	for range w.depth {
		w.bw.WriteString("  ")
	}
}

// indentTo writes compact JSON b indented as encoding/json's Indent
// does with prefix "" and indent "  ": empty arrays and objects stay
// "[]" and "{}", ":" is followed by a space.
func (w *Writer) indentTo(b []byte) {
	start := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if w.inString {
			switch {
			case w.escape:
				w.escape = false
			case c == '\\':
				w.escape = true
			case c == '"':
				w.inString = false
			}
			continue
		}
		if w.needIndent && c != ']' && c != '}' {
			w.bw.Write(b[start:i])
			start = i
			w.needIndent = false
			w.newline()
		}
		switch c {
		case '"':
			w.inString = true
		case '{', '[':
			w.needIndent = true
			w.depth++
		case ',':
			w.bw.Write(b[start : i+1])
			start = i + 1
			w.newline()
		case ':':
			w.bw.Write(b[start : i+1])
			start = i + 1
			w.bw.WriteByte(' ')
		case '}', ']':
			w.depth--
			if w.needIndent {
				w.needIndent = false
			} else {
				w.bw.Write(b[start:i])
				start = i
				w.newline()
			}
		}
	}
	w.bw.Write(b[start:])
}

// Flush ends the document with a newline and flushes it.
func (w *Writer) Flush() error {
	w.bw.WriteByte('\n')
	return w.bw.Flush()
}

// Array writes a JSON array element by element.
type Array struct {
	w *Writer
	n int
}

// Array starts an array.
func (w *Writer) Array() *Array {
	w.RawString("[")
	return &Array{w: w}
}

// Len returns how many elements have been written.
func (a *Array) Len() int { return a.n }

func (a *Array) sep() {
	if a.n > 0 {
		a.w.RawString(",")
	}
	a.n++
}

// Flow writes one flow.
func (a *Array) Flow(f *model.Flow) error {
	var err error
	a.w.rec, err = appendFlow(a.w.rec[:0], f, &a.w.times)
	if err != nil {
		return err
	}
	a.sep()
	a.w.Raw(a.w.rec)
	return nil
}

// Socket writes one socket.
func (a *Array) Socket(s *model.Socket) error {
	var err error
	a.w.rec, err = AppendSocket(a.w.rec[:0], s)
	if err != nil {
		return err
	}
	a.sep()
	a.w.Raw(a.w.rec)
	return nil
}

// Value writes one value through encoding/json.
func (a *Array) Value(v any) error {
	var err error
	a.w.rec, err = appendMarshal(a.w.rec[:0], v)
	if err != nil {
		return err
	}
	a.sep()
	a.w.Raw(a.w.rec)
	return nil
}

// Close ends the array.
func (a *Array) Close() { a.w.RawString("]") }
