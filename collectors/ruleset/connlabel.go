package ruleset

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// connlabelConf is the file nft names conntrack label bits from (its
// CONNLABEL_CONF, DEFAULT_INCLUDE_PATH "/connlabel.conf"); a variable so
// that a test can give its own.
var connlabelConf = "/etc/connlabel.conf"

// ConnLabels reads /etc/connlabel.conf, the names nft(8) gives conntrack
// label bits (ct label "x"): bit -> name. A file that is not there is no
// names, not an error: nft then prints the bits' numbers, and so does
// the formatter. Safe for concurrent use.
func ConnLabels() (map[uint32]string, error) {
	return readConnLabels(connlabelConf)
}

func readConnLabels(path string) (map[uint32]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[uint32]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("conntrack label names: %w", err)
	}
	defer f.Close()
	return parseConnLabels(f)
}

// parseConnLabels parses a connlabel.conf as nft 1.0.6 does
// (rt_symbol_table_init): lines of a bit, in decimal or 0x hex, and a
// name, anything after it ignored; blank lines and # comments skipped. A
// bit named twice keeps its first name, which is the one nft prints. A
// line it cannot read ends the table, as it ends nft's: the names before
// it are returned, with an error saying which line.
func parseConnLabels(r io.Reader) (map[uint32]string, error) {
	names := map[uint32]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Fields(line) // none for a line of other white space ("\v")
		if len(fields) < 2 {
			return names, fmt.Errorf("conntrack label names: line %d: not a bit and a name: %q", n, line)
		}
		bit, err := labelBit(fields[0])
		if err != nil {
			return names, fmt.Errorf("conntrack label names: line %d: not a bit and a name: %q", n, line)
		}
		if _, dup := names[bit]; !dup {
			names[bit] = fields[1]
		}
	}
	if err := sc.Err(); err != nil {
		return names, fmt.Errorf("conntrack label names: %w", err)
	}
	return names, nil
}

// labelBit reads a label's bit as nft's sscanf does: 0x and hex digits,
// or decimal digits.
func labelBit(s string) (uint32, error) {
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		n, err := strconv.ParseUint(h, 16, 32)
		return uint32(n), err
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}
