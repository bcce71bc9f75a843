package ui

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

func TestFmtAddr(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"0.0.0.0:0", "0.0.0.0:*"},
		{"10.0.0.1:443", "10.0.0.1:443"},
		{"[::]:0", "[::]:*"},
		{"[2001:db8::1]:22", "[2001:db8::1]:22"},
		{"[fe80::1%eth0]:546", "[fe80::1%eth0]:546"},
		{"[::ffff:10.0.0.1]:80", "[::ffff:10.0.0.1]:80"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := fmtAddr(ap(tt.in)); got != tt.want {
				t.Errorf("fmtAddr(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	var zero model.Socket
	if got := fmtAddr(zero.Remote); got != "*:*" {
		t.Errorf("zero AddrPort: %q", got)
	}
}

func TestFmtCountAndRate(t *testing.T) {
	counts := []struct {
		v    uint64
		w    int
		want string
	}{
		{0, 5, "0"},
		{99999, 5, "99999"},
		{100000, 5, "100k"},
		{212992, 6, "212992"},
		{1234567, 6, "1235k"}, {1234567, 4, "1.2M"},
		{12345678901, 11, "12345678901"},
		{12345678901, 9, "12345679k"}, {12345678901, 5, "12.3G"},
		{^uint64(0), 5, "18.4E"},
	}
	for _, tt := range counts {
		if got := fmtCount(tt.v, tt.w); got != tt.want {
			t.Errorf("fmtCount(%d, %d) = %q, want %q", tt.v, tt.w, got, tt.want)
		}
	}
	rates := []struct {
		r    float64
		want string
	}{{0, "0"}, {0.25, "0.25"}, {12.54, "12.5"}, {999.9, "999.9"}, {1234, "1.2k"}, {5.5e6, "5.5M"}}
	for _, tt := range rates {
		if got := fmtRate(tt.r); got != tt.want {
			t.Errorf("fmtRate(%v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestFit(t *testing.T) {
	tests := []struct {
		name     string
		s        string
		w        int
		right    bool
		keepTail bool
		want     string
	}{
		{"pads", "ab", 4, false, false, "ab  "},
		{"pads right", "ab", 4, true, false, "  ab"},
		{"cuts", "abcdef", 4, false, false, "abc~"},
		{"keeps the tail", "192.168.100.200:51234", 10, false, true, "~200:51234"},
		{"one cell", "abc", 1, false, false, "~"},
		{"wide runes", "日本語テキスト", 6, false, false, "日本~ "},
		{"wide runes tail", "日本語テキスト", 6, false, true, "~スト "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			fit(&b, tt.s, tt.w, tt.right, tt.keepTail)
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if n := width(b.String()); n != tt.w {
				t.Errorf("width %d, want %d", n, tt.w)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	if got := sanitize("evil\x1b[2Jname\ttab\u0085"); got != "evil?[2Jname tab?" {
		t.Errorf("sanitize: %q", got)
	}
}

// FuzzFit checks that any text, however hostile (escape sequences, wide or
// invalid runes), fits exactly in its cells and cannot carry a control
// character to the terminal once sanitized.
func FuzzFit(f *testing.F) {
	for _, s := range []string{"", "abc", "192.168.1.1:80", "日本語", "\x1b[31mred", "a\tb\nc", "\xff\xfe", "e\u0301"} {
		f.Add(s, 5, true)
	}
	f.Fuzz(func(t *testing.T, s string, w int, keepTail bool) {
		w = w%200 + 1
		if w < 1 {
			w = -w + 1
		}
		clean := sanitize(s)
		var b strings.Builder
		fit(&b, clean, w, false, keepTail)
		out := b.String()
		if n := width(out); n != w {
			t.Fatalf("fit(%q, %d) = %q, %d cells", clean, w, out, n)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("control %U in %q", r, out)
			}
		}
	})
}

// TestAddrOrdMatchesNetip checks that the integer sort keys order
// addresses as netip.AddrPort.Compare does.
func TestAddrOrdMatchesNetip(t *testing.T) {
	addrs := []string{
		"0.0.0.0:0", "0.0.0.0:22", "10.0.0.1:80", "10.0.0.1:443", "10.0.0.2:1", "127.0.0.1:5432",
		"255.255.255.255:65535", "[::]:0", "[::1]:22", "[::ffff:10.0.0.1]:80", "[2001:db8::1]:443",
		"[2001:db8::1]:80", "[fe80::1]:546", "[ffff::]:1",
	}
	aps := []netip.AddrPort{{}}
	for _, s := range addrs {
		aps = append(aps, ap(s))
	}
	for _, x := range aps {
		for _, y := range aps {
			ox, oy := newAddrOrd(x), newAddrOrd(y)
			if got, want := ox.compare(&oy), x.Compare(y); got != want {
				t.Errorf("compare(%v, %v) = %d, netip says %d", x, y, got, want)
			}
		}
	}
}
