package dropmon

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKallsymsResolve(t *testing.T) {
	s, err := readKallsyms("testdata/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pc   uint64
		want string
	}{
		{0xffffffff81000010, "__entry_text_start+0x0"},
		{0xffffffff81000d85, "asm_spurious_interrupt+0x5"},
		{0xffffffff81000db0 + 0x40, "asm_sysvec_error_interrupt+0x40"},
		{0xffffffff80000000, ""},                     // below the first symbol
		{0xffffffff81000db0 + maxSymbolSize + 1, ""}, // far past the last
	}
	for _, tt := range tests {
		if got := s.resolve(tt.pc); got != tt.want {
			t.Errorf("resolve(%#x) = %q, want %q", tt.pc, got, tt.want)
		}
	}
	var nilTab *symtab
	if nilTab.resolve(0xffffffff81000010) != "" {
		t.Error("a nil table resolves nothing")
	}
}

func TestKallsymsModules(t *testing.T) {
	s, err := parseKallsyms(strings.NewReader("ffffffffc0a00000 t nft_do_chain\t[nf_tables]\nffffffffc0a00600 T nft_other\t[nf_tables]\nffffffffc0a00000 d data_sym\t[nf_tables]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("nft_do_chain+0x580 [nf_tables]", s.resolve(0xffffffffc0a00580)); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestKallsymsRejects(t *testing.T) {
	if _, err := readKallsyms("testdata/kallsyms-restricted"); err == nil || !strings.Contains(err.Error(), "kptr_restrict") {
		t.Errorf("restricted: err = %v", err)
	}
	if _, err := readKallsyms("testdata/broken-kallsyms-short-line"); !errors.Is(err, ErrMalformed) {
		t.Errorf("short line: err = %v", err)
	}
	if _, err := readKallsyms("testdata/nope"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: err = %v", err)
	}
}

func FuzzParseKallsyms(f *testing.F) {
	for _, n := range []string{"kallsyms", "kallsyms-restricted", "broken-kallsyms-short-line"} {
		f.Add(mustRead(n))
	}
	f.Add([]byte("ffffffffc0a00000 t b\t[m]\nffffffff81000000 T a\n0000000000000000000001 t z\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseKallsyms(bytes.NewReader(b))
		ref, refErr := parseKallsymsRef(b)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("err = %v, the reference's %v", err, refErr)
		}
		if err != nil {
			return
		}
		if diff := cmp.Diff(ref, tableOf(s)); diff != "" {
			t.Fatalf("(-reference +parseKallsyms)\n%s", diff)
		}
		if len(s.addrs) > 0 {
			_ = s.resolve(s.addrs[0] + 1)
		}
	})
}

// TestKallsymsMatchesReference parses this machine's /proc/kallsyms
// (100,000 or more symbols, or an error without CAP_SYSLOG: then both
// must fail) and a shuffled copy of it, and compares every symbol with
// the reference parser's.
func TestKallsymsMatchesReference(t *testing.T) {
	b, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	shuffled := strings.Join(lines, "")
	if !strings.HasSuffix(shuffled, "\n") {
		shuffled += "\n"
	}
	for name, text := range map[string][]byte{"/proc/kallsyms": b, "shuffled": []byte(shuffled)} {
		s, err := parseKallsyms(bytes.NewReader(text))
		ref, refErr := parseKallsymsRef(text)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("%s: err = %v, the reference's %v", name, err, refErr)
		}
		if err != nil {
			t.Logf("%s: %v (both)", name, err)
			continue
		}
		if diff := cmp.Diff(ref, tableOf(s)); diff != "" {
			t.Fatalf("%s: (-reference +parseKallsyms)\n%s", name, diff)
		}
		t.Logf("%s: %d text symbols, equal", name, len(ref.Addrs))
	}
}

// refTable is a symbol table as plain slices, for comparisons.
type refTable struct {
	Addrs []uint64
	Names []string
}

func tableOf(s *symtab) refTable {
	r := refTable{Addrs: s.addrs}
	for i := range s.addrs {
		r.Names = append(r.Names, s.name(i))
	}
	return r
}

// parseKallsymsRef is the plain parser parseKallsyms replaced (a
// string per symbol, strconv, a stable sort): the reference it is
// compared with.
func parseKallsymsRef(b []byte) (refTable, error) {
	var r refTable
	text := string(b)
	if strings.HasSuffix(text, "\n") {
		text = text[:len(text)-1]
	}
	if len(b) == 0 {
		return r, fmt.Errorf("kallsyms: every address is 0")
	}
	nonzero := false
	for n, line := range strings.Split(text, "\n") {
		f := strings.FieldsFunc(line, func(c rune) bool { return c < 0x80 && isSpace(byte(c)) })
		if len(f) < 3 {
			return r, fmt.Errorf("kallsyms line %d: %w", n+1, ErrMalformed)
		}
		if f[1] != "t" && f[1] != "T" {
			continue
		}
		addr, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			return r, fmt.Errorf("kallsyms line %d: %w", n+1, ErrMalformed)
		}
		nonzero = nonzero || addr != 0
		name := f[2]
		if len(f) > 3 {
			name += " " + f[3]
		}
		r.Addrs = append(r.Addrs, addr)
		r.Names = append(r.Names, name)
	}
	if !nonzero {
		return r, fmt.Errorf("kallsyms: every address is 0")
	}
	idx := make([]int, len(r.Addrs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmpU64(r.Addrs[a], r.Addrs[b]) })
	out := refTable{}
	for _, j := range idx {
		out.Addrs = append(out.Addrs, r.Addrs[j])
		out.Names = append(out.Names, r.Names[j])
	}
	return out, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// syntheticKallsyms is n lines shaped like /proc/kallsyms (mostly t
// and T, some data symbols, a module at the end), in address order.
func syntheticKallsyms(n int) []byte {
	var b bytes.Buffer
	types := "tTtTtTtTdW"
	for i := range n {
		fmt.Fprintf(&b, "%016x %c some_kernel_function_%d", 0xffffffff81000000+uint64(i)*64, types[i%len(types)], i)
		if i > n-n/50 {
			b.WriteString("\t[nf_tables]")
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// BenchmarkParseKallsyms parses 121,437 lines (this machine's
// /proc/kallsyms count), in process; BenchmarkParseKallsymsRef is the
// parser it replaced, for comparison.
func BenchmarkParseKallsyms(b *testing.B) {
	text := syntheticKallsyms(121437)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := parseKallsyms(bytes.NewReader(text)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseKallsymsRef(b *testing.B) {
	text := syntheticKallsyms(121437)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := parseKallsymsRef(text); err != nil {
			b.Fatal(err)
		}
	}
}
