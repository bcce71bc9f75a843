package dropmon

import (
	"errors"
	"os"
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
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseKallsyms(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for i := 1; i < len(s.addrs); i++ {
			if s.addrs[i] < s.addrs[i-1] {
				t.Fatal("not sorted")
			}
		}
		if len(s.addrs) > 0 {
			_ = s.resolve(s.addrs[0] + 1)
		}
	})
}
