package sysctl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// ErrInvalid is wrapped by every error about a name or value that is not
// a writable net.* sysctl or not a valid value for it: nothing was
// written (the CLI's exit 2).
var ErrInvalid = errors.New("invalid sysctl change")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// NormalizeName turns a name into the dotted form sysctl(8) and the
// Sysctl tab use, where a dot inside a component (an interface eth0.10)
// is written '/': "net.ipv4.conf.eth0/10.rp_filter". The slash form
// "net/ipv4/conf/eth0.10/rp_filter" (a path under /proc/sys) is
// converted. Anything outside net.*, empty components and ".." are
// refused.
func NormalizeName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if strings.HasPrefix(n, "/") || strings.HasPrefix(n, "net/") {
		n = swapSeparators(strings.Trim(n, "/"))
	}
	if !strings.HasPrefix(n, "net.") {
		return "", invalid("%q: only net.* sysctls can be changed", name)
	}
	for _, c := range strings.Split(n, ".") {
		if c == "" || c == ".." || strings.Trim(c, "/") == "" || strings.Contains(c, "//") || strings.ContainsAny(c, "\x00") {
			return "", invalid("%q: not a sysctl name", name)
		}
	}
	return n, nil
}

// swapSeparators turns a dotted name into a path or back: '.' and '/'
// trade places.
func swapSeparators(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch c {
		case '.':
			b[i] = '/'
		case '/':
			b[i] = '.'
		}
	}
	return string(b)
}

// procPath is the file of a dotted name under root (/proc/sys).
func procPath(root, name string) string {
	return root + "/" + swapSeparators(name)
}

// rng is the documented range of an integer sysctl (or of every element
// of a vector).
type rng struct {
	min, max int64
	doc      string // where the range comes from, for the error
}

// known are the ranges of common sysctls (patterns: * is one component,
// an interface name, all or default), from
// Documentation/networking/ip-sysctl.rst and the kernel's
// extra1/extra2 bounds. Others are checked by shape only; the kernel
// refuses the rest (EINVAL), and that error is shown.
var known = []struct {
	pattern string
	r       rng
	n       int // vector length (0: a single integer)
	order   bool
}{
	{"net.ipv4.ip_forward", rng{0, 1, "boolean"}, 0, false},
	{"net.ipv4.conf.*.forwarding", rng{0, 1, "boolean"}, 0, false},
	{"net.ipv6.conf.*.forwarding", rng{0, 1, "boolean"}, 0, false},
	{"net.ipv4.conf.*.rp_filter", rng{0, 2, "0 off, 1 strict, 2 loose"}, 0, false},
	{"net.ipv6.conf.*.disable_ipv6", rng{0, 1, "boolean"}, 0, false},
	{"net.ipv6.conf.*.accept_ra", rng{0, 2, "0, 1, 2"}, 0, false},
	{"net.ipv4.conf.*.accept_redirects", rng{0, 1, "boolean"}, 0, false},
	{"net.ipv4.conf.*.arp_ignore", rng{0, 8, "0-3, 8"}, 0, false},
	{"net.ipv4.conf.*.arp_announce", rng{0, 2, "0, 1, 2"}, 0, false},
	{"net.ipv4.conf.*.arp_filter", rng{0, 1, "boolean"}, 0, false},
	{"net.ipv4.icmp_echo_ignore_all", rng{0, 1, "boolean"}, 0, false},
	{"net.ipv4.tcp_syncookies", rng{0, 2, "0, 1, 2"}, 0, false},
	{"net.ipv4.tcp_timestamps", rng{0, 2, "0, 1, 2"}, 0, false},
	{"net.ipv4.tcp_sack", rng{0, 1, "boolean"}, 0, false},
	{"net.ipv4.tcp_window_scaling", rng{0, 1, "boolean"}, 0, false},
	{"net.ipv4.tcp_ecn", rng{0, 2, "0, 1, 2"}, 0, false},
	{"net.ipv4.tcp_tw_reuse", rng{0, 2, "0, 1, 2"}, 0, false},
	{"net.ipv4.tcp_mtu_probing", rng{0, 2, "0, 1, 2"}, 0, false},
	{"net.ipv4.tcp_keepalive_time", rng{1, 32767, "MAX_TCP_KEEPIDLE"}, 0, false},
	{"net.ipv4.tcp_keepalive_intvl", rng{1, 32767, "MAX_TCP_KEEPINTVL"}, 0, false},
	{"net.ipv4.tcp_keepalive_probes", rng{1, 127, "MAX_TCP_KEEPCNT"}, 0, false},
	{"net.ipv4.tcp_fin_timeout", rng{1, 2147483647, "seconds"}, 0, false},
	{"net.core.somaxconn", rng{0, 2147483647, "non-negative"}, 0, false},
	{"net.core.netdev_max_backlog", rng{0, 2147483647, "non-negative"}, 0, false},
	{"net.core.rmem_default", rng{0, 2147483647, "non-negative"}, 0, false},
	{"net.core.wmem_default", rng{0, 2147483647, "non-negative"}, 0, false},
	{"net.core.rmem_max", rng{0, 2147483647, "non-negative"}, 0, false},
	{"net.core.wmem_max", rng{0, 2147483647, "non-negative"}, 0, false},
	{"net.ipv4.ip_local_port_range", rng{1, 65535, "ports"}, 2, true},
	{"net.ipv4.tcp_rmem", rng{1, 2147483647, "bytes: min default max"}, 3, true},
	{"net.ipv4.tcp_wmem", rng{1, 2147483647, "bytes: min default max"}, 3, true},
}

// match reports whether a dotted name matches a pattern of the table.
func match(pattern, name string) bool {
	p, n := strings.Split(pattern, "."), strings.Split(name, ".")
	if len(p) != len(n) {
		return false
	}
	for i := range p {
		if p[i] != "*" && p[i] != n[i] {
			return false
		}
	}
	return true
}

// maxWord is the longest word value accepted (tcp_congestion_control,
// default_qdisc: a name).
const maxWord = 256

// Validate checks value for the sysctl name whose current value is cur,
// and returns it normalised as the kernel prints it (single spaces
// between vector elements). An integer sysctl takes an integer within
// its documented range; a vector takes as many integers as it has now
// (tabs or spaces between); any other takes one line of printable text.
func Validate(name, cur, value string) (string, error) {
	v := strings.Join(strings.Fields(value), " ")
	if v == "" {
		return "", invalid("%s: empty value", name)
	}
	curF := strings.Fields(cur)
	isInts := len(curF) > 0
	for _, f := range curF {
		if _, err := strconv.ParseInt(f, 10, 64); err != nil {
			isInts = false
		}
	}
	for _, k := range known {
		if !match(k.pattern, name) {
			continue
		}
		n := max(k.n, 1)
		return checkInts(name, v, n, &k.r, k.order)
	}
	if isInts {
		return checkInts(name, v, len(curF), nil, false)
	}
	if len(v) > maxWord {
		return "", invalid("%s: value longer than %d bytes", name, maxWord)
	}
	for _, r := range value {
		if r == '\n' || !unicode.IsPrint(r) && r != '\t' {
			return "", invalid("%s: value has a control character", name)
		}
	}
	return v, nil
}

// checkInts checks n integers, within r when it is not nil, ascending
// when order.
func checkInts(name, v string, n int, r *rng, order bool) (string, error) {
	f := strings.Fields(v)
	what := "an integer"
	if n > 1 {
		what = strconv.Itoa(n) + " integers"
	}
	if len(f) != n {
		return "", invalid("%s takes %s, got %q", name, what, v)
	}
	prev := int64(0)
	for i, s := range f {
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", invalid("%s takes %s: %q is not an integer", name, what, s)
		}
		if x < -1<<31 || x > 1<<31-1 && (r == nil || r.max <= 1<<31-1) {
			return "", invalid("%s: %d is out of the kernel's int range", name, x)
		}
		if r != nil && (x < r.min || x > r.max) {
			return "", invalid("%s: %d is out of range %d..%d (%s)", name, x, r.min, r.max, r.doc)
		}
		if order && i > 0 && x < prev {
			return "", invalid("%s: %q must not decrease (%s)", name, v, r.doc)
		}
		prev = x
	}
	return strings.Join(f, " "), nil
}
