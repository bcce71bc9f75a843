package jsonenc

import (
	"math"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json does
// (HTML-safe: <, > and & escaped; invalid UTF-8 replaced by U+FFFD;
// U+2028 and U+2029 escaped).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendAddrPort appends a as encoding/json does (its MarshalText,
// quoted: "" for the zero value). Addresses need no escaping.
func appendAddrPort(dst []byte, a netip.AddrPort) []byte {
	dst = append(dst, '"')
	if a.Addr().IsValid() {
		dst = a.AppendTo(dst)
	}
	return append(dst, '"')
}

// appendAddr appends a as encoding/json does.
func appendAddr(dst []byte, a netip.Addr) []byte {
	dst = append(dst, '"')
	dst = a.AppendTo(dst)
	return append(dst, '"')
}

// appendTime appends t as time.Time.MarshalJSON does (RFC 3339 with
// nanoseconds). ok is false for a time it refuses (a year outside
// 0-9999), which the caller then leaves to encoding/json.
func appendTime(dst []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return dst, false
	}
	if _, off := t.Zone(); off%60 != 0 {
		return dst, false // encoding/json writes such offsets its own way
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), true
}

// timeCache holds the encoding of the last time appendTime appended
// through it. It is not safe for concurrent use.
type timeCache struct {
	t   time.Time
	enc []byte
	ok  bool
}

// appendTime is appendTime that reuses the last encoding when t is the
// same value (the same instant, location and monotonic reading: the same
// text). A nil cache encodes every time.
func (c *timeCache) appendTime(dst []byte, t time.Time) ([]byte, bool) {
	if c == nil {
		return appendTime(dst, t)
	}
	if c.ok && t == c.t {
		return append(dst, c.enc...), true
	}
	start := len(dst)
	dst, ok := appendTime(dst, t)
	c.t, c.enc, c.ok = t, append(c.enc[:0], dst[start:]...), ok
	return dst, ok
}

// appendFloat appends f as encoding/json encodes a float64: the shortest
// decimal that reads back as f, in exponent form below 1e-6 and from
// 1e21 on, with a one-digit negative exponent unpadded ("1e-7"). It
// returns false, having appended nothing, for NaN and the infinities,
// which JSON cannot hold.
func appendFloat(dst []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

func appendUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }
func appendInt(dst []byte, v int64) []byte   { return strconv.AppendInt(dst, v, 10) }

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}
