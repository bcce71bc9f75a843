package dropmon

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
)

// maxSymbolSize bounds how far past a symbol's address an address is
// still taken to be inside it; beyond, resolve gives up (the address is
// past the end of the kernel text or in a gap).
const maxSymbolSize = 1 << 20

// symtab is the kernel's text symbols, sorted by address. It is
// immutable once built and safe for concurrent use.
type symtab struct {
	addrs []uint64
	names []string // "sym" or "sym [module]"
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
	s := &symtab{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n, nonzero := 0, false
	for sc.Scan() {
		n++
		f := bytes.Fields(sc.Bytes())
		if len(f) < 3 {
			return nil, fmt.Errorf("kallsyms line %d: %q: %w", n, sc.Bytes(), ErrMalformed)
		}
		if len(f[1]) != 1 || (f[1][0] != 't' && f[1][0] != 'T') {
			continue
		}
		addr, err := strconv.ParseUint(string(f[0]), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("kallsyms line %d: %w: %w", n, ErrMalformed, err)
		}
		nonzero = nonzero || addr != 0
		name := string(f[2])
		if len(f) > 3 {
			name += " " + string(f[3])
		}
		s.addrs = append(s.addrs, addr)
		s.names = append(s.names, name)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kallsyms: %w", err)
	}
	if !nonzero {
		return nil, fmt.Errorf("kallsyms: every address is 0 (kernel.kptr_restrict or no CAP_SYSLOG)")
	}
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
	addrs, names := make([]uint64, len(idx)), make([]string, len(idx))
	for i, j := range idx {
		addrs[i], names[i] = s.addrs[j], s.names[j]
	}
	s.addrs, s.names = addrs, names
	return s, nil
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
	name, mod, _ := bytes.Cut([]byte(s.names[i]), []byte(" "))
	out := string(name) + "+0x" + strconv.FormatUint(pc-s.addrs[i], 16)
	if len(mod) > 0 {
		out += " " + string(mod)
	}
	return out
}
