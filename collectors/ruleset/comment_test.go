package ruleset

import (
	"bytes"
	"testing"
)

func TestRuleComment(t *testing.T) {
	tests := []struct {
		name string
		ud   []byte
		want string
		ok   bool
	}{
		{"none", nil, "", false},
		{"comment", []byte{0, 9, 'h', 'x', ' ', 'c', 'o', 'u', 'n', 't', 0}, "hx count", true},
		{"after another record", []byte{3, 2, 1, 2, 0, 3, 'a', 'b', 0}, "ab", true},
		{"no NUL", []byte{0, 2, 'a', 'b'}, "ab", true},
		{"record past the end", []byte{0, 9, 'a'}, "", false},
		{"only another record", []byte{1, 1, 7}, "", false},
		{"one byte", []byte{0}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ruleComment(tt.ud)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ruleComment(%v) = %q, %v; want %q, %v", tt.ud, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzRuleComment(f *testing.F) {
	f.Add([]byte{0, 9, 'h', 'x', ' ', 'c', 'o', 'u', 'n', 't', 0})
	f.Add([]byte{3, 2, 1, 2, 0, 3, 'a', 'b', 0})
	f.Fuzz(func(t *testing.T, ud []byte) {
		c, ok := ruleComment(ud)
		if !ok && c != "" {
			t.Fatalf("not found, yet %q", c)
		}
		if ok && (bytes.IndexByte([]byte(c), 0) >= 0 || !bytes.Contains(ud, []byte(c))) {
			t.Fatalf("comment %q of %v", c, ud)
		}
	})
}
