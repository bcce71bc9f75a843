package ruleset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseConnLabels(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[uint32]string
		wantErr bool
	}{
		{"empty", "", map[uint32]string{}, false},
		{"bits and names", "0 zero\n5 x\n127 last\n", map[uint32]string{0: "zero", 5: "x", 127: "last"}, false},
		{"hex, comments, indent", "# c\n\n\t 0x40 web # the web\n  # indented comment\n1 one trailing words\n",
			map[uint32]string{64: "web", 1: "one"}, false},
		{"first name wins", "5 x\n5 y\n", map[uint32]string{5: "x"}, false},
		{"bad line ends the table", "1 a\nnot-a-bit b\n2 c\n", map[uint32]string{1: "a"}, true},
		{"bit without a name", "1 a\n2\n", map[uint32]string{1: "a"}, true},
		{"CRLF", "3 crlf\r\n", map[uint32]string{3: "crlf"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConnLabels(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadConnLabelsMissing: no file is no names, not an error (nft
// prints numbers then).
func TestReadConnLabelsMissing(t *testing.T) {
	dir := t.TempDir()
	got, err := readConnLabels(filepath.Join(dir, "connlabel.conf"))
	if err != nil || len(got) != 0 {
		t.Fatalf("readConnLabels = %v, %v; want no names, no error", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "connlabel.conf"), []byte("7 seven\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err = readConnLabels(filepath.Join(dir, "connlabel.conf"))
	if err != nil || got[7] != "seven" {
		t.Fatalf("readConnLabels = %v, %v", got, err)
	}
}

// FuzzParseConnLabels: no input makes parseConnLabels panic, and every
// name it returns is one word.
func FuzzParseConnLabels(f *testing.F) {
	for _, seed := range []string{"0 zero\n5 x\n0x40 web # c\n", "# only\n\n\t\n", "0x 1\n-1 a\n99999999999 b\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		names, _ := parseConnLabels(strings.NewReader(in))
		for bit, name := range names {
			if name == "" || strings.ContainsAny(name, " \t\n") {
				t.Errorf("bit %d named %q", bit, name)
			}
		}
	})
}
