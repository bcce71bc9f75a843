package procnet

import (
	"bytes"
	"io"

	"netlens/model"
)

// NetDev reads /proc/net/dev under procRoot: per-interface totals, one
// counter per column with Instance the interface name, Group the header's
// direction ("Receive", "Transmit") and Name the header's column ("bytes",
// "drop", "colls", ...), so the columns are taken from the header and not
// assumed.
//
// Several columns are sums of the finer rtnl_link_stats64 fields
// (net/core/net-procfs.c): Receive drop = rx_dropped + rx_missed_errors,
// Receive frame = rx_length + rx_over + rx_crc + rx_frame errors, Transmit
// carrier = tx_carrier + tx_aborted + tx_window + tx_heartbeat errors; and
// rx_nohandler is not printed. Those finer values are in
// /sys/class/net/IFACE/statistics (see ClassNetStatistics). It is safe for
// concurrent use.
func NetDev(procRoot string) ([]model.RawCounter, error) {
	return readOne(procRoot, "net/dev", parseDevBytes)
}

// parseNetDev parses the text of /proc/net/dev.
func parseNetDev(r io.Reader) ([]model.RawCounter, error) {
	return parseReader(r, parseDevBytes)
}

// devColumn is one column of /proc/net/dev from its header.
type devColumn struct{ group, name string }

func parseDevBytes(p *parser, b []byte, out []model.RawCounter) ([]model.RawCounter, error) {
	start := len(out)
	ls := lines{b: b}
	top, ok1 := ls.next()
	sub, ok2 := ls.next()
	if !ok1 || !ok2 {
		return out, parseErr(SourceDev, ls.n, "missing the two header lines")
	}
	groups := bytes.Split(top, []byte("|"))
	names := bytes.Split(sub, []byte("|"))
	if len(groups) != 3 || len(names) != 3 {
		return out, parseErr(SourceDev, 2, "header is not \"Inter-| Receive | Transmit\" / \"face |cols|cols\"")
	}
	cols := p.devCols[:0]
	defer func() { p.devCols = cols }()
	for i := 1; i < 3; i++ {
		g := bytes.TrimSpace(groups[i])
		if len(g) == 0 {
			return out, parseErr(SourceDev, 1, "empty direction in header")
		}
		group := p.intern(g)
		p.header = splitFields(p.header, names[i])
		if len(p.header) == 0 {
			return out, parseErr(SourceDev, 2, "no %s columns in header", group)
		}
		for _, n := range p.header {
			cols = append(cols, devColumn{group, p.intern(n)})
		}
	}
	clear(p.seen)
	for {
		line, ok := ls.next()
		if !ok {
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		colon := bytes.LastIndexByte(line, ':')
		if colon < 0 {
			return out[:start], parseErr(SourceDev, ls.n, "no \"iface:\" in %q", truncate(line))
		}
		name := bytes.TrimSpace(line[:colon])
		if len(name) == 0 {
			return out[:start], parseErr(SourceDev, ls.n, "empty interface name")
		}
		p.fields = splitFields(p.fields, line[colon+1:])
		if len(p.fields) != len(cols) {
			return out[:start], parseErr(SourceDev, ls.n, "interface %s has %d values, header has %d columns", name, len(p.fields), len(cols))
		}
		inst := p.intern(name)
		if !p.firstTime(inst) {
			continue
		}
		for i, f := range p.fields {
			v, err := parseDec(f)
			if err != nil {
				return out[:start], parseErr(SourceDev, ls.n, "%s %s %s: %v", inst, cols[i].group, cols[i].name, err)
			}
			out = append(out, model.RawCounter{
				Layer:    model.LayerNIC,
				Source:   SourceDev,
				Group:    cols[i].group,
				Instance: inst,
				Name:     cols[i].name,
				Kind:     model.KindCounter,
				Value:    v,
			})
		}
	}
	return out, nil
}
