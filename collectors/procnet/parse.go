package procnet

import (
	"bytes"
	"fmt"
	"io"
	"math"

	"netlens/model"
)

// parser holds what is reused between parses: an intern table for the
// names the kernel repeats on every read (so a steady-state parse allocates
// no strings) and scratch field slices. A parser is not safe for concurrent
// use.
type parser struct {
	names   map[string]string
	fields  [][]byte
	header  [][]byte
	devCols []devColumn
	// seen holds the instances of one parse, to drop a line repeated by
	// a multi-read seq_file walk that raced with a device going away.
	seen map[string]struct{}
}

func newParser() *parser {
	return &parser{names: make(map[string]string), seen: make(map[string]struct{})}
}

// firstTime reports whether inst has not been seen in this parse.
func (p *parser) firstTime(inst string) bool {
	if _, ok := p.seen[inst]; ok {
		return false
	}
	p.seen[inst] = struct{}{}
	return true
}

// intern returns b as a string, allocating only the first time it is seen.
func (p *parser) intern(b []byte) string {
	if s, ok := p.names[string(b)]; ok {
		return s
	}
	s := string(b)
	p.names[s] = s
	return s
}

// splitFields splits line at runs of spaces and tabs into dst (reused).
func splitFields(dst [][]byte, line []byte) [][]byte {
	dst = dst[:0]
	i := 0
	for i < len(line) {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		j := i
		for j < len(line) && !isSpace(line[j]) {
			j++
		}
		if j > i {
			dst = append(dst, line[i:j])
		}
		i = j
	}
	return dst
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }

// lines iterates over the lines of b, numbered from 1, without the newline.
type lines struct {
	b []byte
	n int
}

func (l *lines) next() ([]byte, bool) {
	if len(l.b) == 0 {
		return nil, false
	}
	l.n++
	i := bytes.IndexByte(l.b, '\n')
	if i < 0 {
		line := l.b
		l.b = nil
		return line, true
	}
	line := l.b[:i]
	l.b = l.b[i+1:]
	return line, true
}

// nextFields reads the next line that is not blank from ls and splits it
// into p.fields. It returns the line and false at the end.
func (p *parser) nextFields(ls *lines) ([]byte, bool) {
	for {
		line, ok := ls.next()
		if !ok {
			return nil, false
		}
		p.fields = splitFields(p.fields, line)
		if len(p.fields) > 0 {
			return line, true
		}
	}
}

// parseValue parses a decimal value as the kernel prints it. A negative
// value (only Tcp MaxConn prints one: -1, "no limit") is reported with
// neg set and v its magnitude; callers skip it, since a RawCounter holds
// a uint64 and -1 is not a quantity.
func parseValue(b []byte) (v uint64, neg bool, err error) {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	v, err = parseDec(b)
	return v, neg && v != 0, err
}

func parseDec(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("empty number")
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", b)
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, fmt.Errorf("%q overflows 64 bits", b)
		}
		v = v*10 + d
	}
	return v, nil
}

func parseHex(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("empty number")
	}
	if len(b) > 16 {
		return 0, fmt.Errorf("%q overflows 64 bits", b)
	}
	var v uint64
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("%q is not a hexadecimal number", b)
		}
		v = v<<4 | uint64(d)
	}
	return v, nil
}

// parseErr is the error for line n of the file at source.
func parseErr(source string, n int, format string, args ...any) error {
	return fmt.Errorf("parse %s line %d: %s: %w", source, n, fmt.Sprintf(format, args...), ErrParse)
}

// errEmpty is the error for a file with no content: the kernel never
// prints an empty snmp, snmp6, netstat, softnet_stat or xfrm_stat.
func errEmpty(source string) error {
	return fmt.Errorf("parse %s: empty file: %w", source, ErrParse)
}

// parseFunc appends the counters in b, the whole text of one file, to out.
// On error out is returned unchanged in length.
type parseFunc func(p *parser, b []byte, out []model.RawCounter) ([]model.RawCounter, error)

// parseReader reads r whole and parses it with fn and a fresh parser.
func parseReader(r io.Reader, fn parseFunc) ([]model.RawCounter, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return fn(newParser(), b, nil)
}
