package dropmon

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// maxSymbolSize bounds how far past a symbol's address an address is
// still taken to be inside it; beyond, resolve gives up (the address is
// past the end of the kernel text or in a gap).
const maxSymbolSize = 1 << 20

// symtab is the kernel's text symbols, sorted by address. It is
// immutable once built and safe for concurrent use. The names are kept
// back to back in one string (no allocation per symbol: /proc/kallsyms
// has 100,000-200,000 of them).
type symtab struct {
	addrs []uint64
	ends  []uint32 // the name of symbol i is blob[ends[i-1]:ends[i]]
	blob  string   // "sym" or "sym [module]", back to back
}

// name returns the name of symbol i: "sym" or "sym [module]".
func (s *symtab) name(i int) string {
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.blob[start:s.ends[i]]
}

// Kallsyms reads /proc/kallsyms (path): the kernel's symbols, used to
// turn the bare addresses of summary-mode alerts into symbol+offset. It
// fails when the addresses read as zero (kernel.kptr_restrict, or no
// CAP_SYSLOG): they would resolve everything to one symbol.
func readKallsyms(path string) (*symtab, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseKallsyms(f)
}

// parseKallsyms parses the text of /proc/kallsyms: "ADDR TYPE NAME" and,
// for modules, "\t[MODULE]". Only text symbols (t, T) are kept.
func parseKallsyms(r io.Reader) (*symtab, error) {
	b, err := readWhole(r)
	if err != nil {
		return nil, fmt.Errorf("kallsyms: %w", err)
	}
	lines := bytes.Count(b, []byte{'\n'}) + 1
	s := &symtab{addrs: make([]uint64, 0, lines), ends: make([]uint32, 0, lines)}
	// The names are gathered at the front of the text they are read
	// from: a line's name never lands past where it was read (it starts
	// at least 4 bytes into its line, and the names before it took no
	// more room than their lines), so the copy overwrites only text
	// already parsed.
	blob := b[:0]
	n, nonzero := 0, false
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		n++
		addrText, rest := field(line)
		typ, rest := field(rest)
		name, rest := field(rest)
		if len(name) == 0 {
			return nil, fmt.Errorf("kallsyms line %d: %q: %w", n, line[:min(len(line), 256)], ErrMalformed)
		}
		if len(typ) != 1 || (typ[0] != 't' && typ[0] != 'T') {
			continue
		}
		addr, ok := parseHex(addrText)
		if !ok {
			return nil, fmt.Errorf("kallsyms line %d: %w: address %q", n, ErrMalformed, addrText)
		}
		nonzero = nonzero || addr != 0
		blob = append(blob, name...)
		if mod, _ := field(rest); len(mod) > 0 {
			blob = append(blob, ' ')
			blob = append(blob, mod...)
		}
		if uint64(len(blob)) > math.MaxUint32 {
			return nil, fmt.Errorf("kallsyms: over 4 GiB of names: %w", ErrMalformed)
		}
		s.addrs = append(s.addrs, addr)
		s.ends = append(s.ends, uint32(len(blob)))
	}
	if !nonzero {
		return nil, fmt.Errorf("kallsyms: every address is 0 (kernel.kptr_restrict or no CAP_SYSLOG)")
	}
	s.blob = string(blob)
	if !slices.IsSorted(s.addrs) {
		s.sort()
	} else if cap(s.addrs)-len(s.addrs) > len(s.addrs)/8 {
		// Sized for every line: data symbols (CONFIG_KALLSYMS_ALL)
		// would leave room kept for nothing.
		s.addrs, s.ends = slices.Clone(s.addrs), slices.Clone(s.ends)
	}
	return s, nil
}

// readWhole reads r to its end, without trusting a size: /proc files
// say 0. A file is read into 8 MiB at first (a distribution kernel's
// /proc/kallsyms is 5-6 MB): pages not written to are not touched, where
// growing by doubling would write 16 MB, the kernel faulting in every
// page of it.
func readWhole(r io.Reader) ([]byte, error) {
	size := 64 << 10
	if _, ok := r.(*os.File); ok {
		size = 8 << 20
	}
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = slices.Grow(b, len(b))
		}
	}
}

// sort orders s by address, symbols at one address in the order they
// came (resolve takes the last of them).
func (s *symtab) sort() {
	idx := make([]int, len(s.addrs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case s.addrs[a] < s.addrs[b]:
			return -1
		case s.addrs[a] > s.addrs[b]:
			return 1
		}
		return 0
	})
	addrs, ends := make([]uint64, len(idx)), make([]uint32, len(idx))
	blob := make([]byte, 0, len(s.blob))
	for i, j := range idx {
		addrs[i] = s.addrs[j]
		blob = append(blob, s.name(j)...)
		ends[i] = uint32(len(blob))
	}
	s.addrs, s.ends, s.blob = addrs, ends, string(blob)
}

// field returns the first field of b, split at ASCII white space, and
// what follows it.
func field(b []byte) (f, rest []byte) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	j := i
	for j < len(b) && !isSpace(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// parseHex parses b, hex digits with no prefix, as
// strconv.ParseUint(b, 16, 64) does.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	if len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// resolve returns pc as "symbol+0xoffset" (with " [module]" for module
// symbols), or "" when no symbol covers it.
func (s *symtab) resolve(pc uint64) string {
	if s == nil {
		return ""
	}
	i, found := slices.BinarySearch(s.addrs, pc)
	if !found {
		i--
	} else {
		// Several symbols at one address: take the last (aliases first).
		for i+1 < len(s.addrs) && s.addrs[i+1] == pc {
			i++
		}
	}
	if i < 0 || pc-s.addrs[i] > maxSymbolSize {
		return ""
	}
	name, mod, _ := strings.Cut(s.name(i), " ")
	out := name + "+0x" + strconv.FormatUint(pc-s.addrs[i], 16)
	if len(mod) > 0 {
		out += " " + mod
	}
	return out
}
