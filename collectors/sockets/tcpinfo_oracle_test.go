package sockets

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ssTCP is one socket of `ss -tinH` (or -tinaH): its addresses as ss
// prints them and the key:value fields of its info line. Rates ss prints
// as "pacing_rate 123bps" become "pacing_rate" -> "123bps"; the
// congestion control name, which ss prints alone first, is "cong".
type ssTCP struct {
	State, Local, Remote string
	Info                 map[string]string
}

// parseSSTCPInfo parses `ss -tinH` output.
func parseSSTCPInfo(r io.Reader) ([]ssTCP, error) {
	var out []ssTCP
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] != '\t' && line[0] != ' ' {
			f := strings.Fields(line)
			if len(f) < 5 {
				return nil, fmt.Errorf("ss line %d: %q: too few fields", n, line)
			}
			out = append(out, ssTCP{State: f[0], Local: f[3], Remote: f[4], Info: map[string]string{}})
			continue
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("ss line %d: info line before a socket", n)
		}
		info := out[len(out)-1].Info
		f := strings.Fields(line)
		for i := 0; i < len(f); i++ {
			k, v, ok := strings.Cut(f[i], ":")
			switch {
			case ok:
				info[k] = v
			case i == 0:
				info["cong"] = f[i]
			case i+1 < len(f) && strings.HasSuffix(f[i+1], "bps"):
				info[f[i]] = f[i+1]
				i++
			default:
				info[f[i]] = ""
			}
		}
	}
	return out, sc.Err()
}

// ssUint returns the unsigned integer of a field, 0 when absent.
func ssUint(info map[string]string, k string) uint64 {
	v := strings.TrimSuffix(info[k], "bps")
	if i := strings.IndexAny(v, "(m"); i >= 0 { // "308ms(100.0%)"
		v = v[:i]
	}
	n, _ := strconv.ParseUint(v, 10, 64)
	return n
}

// ssMicros returns a field ss prints in milliseconds with up to three
// decimals ("0.062", or the first of "0.062/0.042") in microseconds.
func ssMicros(s string) uint64 {
	f, _ := strconv.ParseFloat(s, 64)
	return uint64(f*1000 + 0.5)
}
