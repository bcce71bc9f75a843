package procnet

import (
	"io"
	"strconv"

	"netlens/model"
)

// softnetColumn names the columns of /proc/net/softnet_stat after the
// fields of struct softnet_data they print (net/core/net-procfs.c).
// Columns 3-7 ("was fastroute") have printed 0 since 2.6.x and are not
// reported; column 12 is the CPU index, used as the Instance.
type softnetColumn struct {
	name string
	kind model.CounterKind
}

var softnetColumns = [...]softnetColumn{
	0:  {"processed", model.KindCounter},
	1:  {"dropped", model.KindCounter},      // input_pkt_queue full (netdev_max_backlog)
	2:  {"time_squeeze", model.KindCounter}, // net_rx_action ran out of budget or time
	8:  {"cpu_collision", model.KindCounter},
	9:  {"received_rps", model.KindCounter},
	10: {"flow_limit_count", model.KindCounter},
	11: {"backlog_len", model.KindGauge},  // input_qlen + process_qlen (5.10+)
	13: {"input_qlen", model.KindGauge},   // 6.x
	14: {"process_qlen", model.KindGauge}, // 6.x
}

const (
	softnetMinColumns = 9  // 2.6.23
	softnetIndexCol   = 12 // the CPU index column, present when 13+ columns
)

// NetSoftnetStat reads /proc/net/softnet_stat under procRoot: one line per
// online CPU of hexadecimal counters. The number of columns depends on the
// kernel (9 in 2.6.23, 10 with received_rps, 11 with flow_limit_count, 13
// with backlog_len and the CPU index, 15 with input_qlen and process_qlen);
// columns beyond the 15th are ignored. The Instance is "cpuN", N from the
// index column when there is one, otherwise the line's position (which is
// wrong for CPUs after an offline one: those older kernels skip offline
// CPUs without saying so). It is safe for concurrent use.
func NetSoftnetStat(procRoot string) ([]model.RawCounter, error) {
	return readOne(procRoot, "net/softnet_stat", parseSoftnetBytes)
}

// parseNetSoftnetStat parses the text of /proc/net/softnet_stat.
func parseNetSoftnetStat(r io.Reader) ([]model.RawCounter, error) {
	return parseReader(r, parseSoftnetBytes)
}

func parseSoftnetBytes(p *parser, b []byte, out []model.RawCounter) ([]model.RawCounter, error) {
	start := len(out)
	ls := lines{b: b}
	var vals [len(softnetColumns)]uint64
	cpu := 0
	clear(p.seen)
	for {
		_, ok := p.nextFields(&ls)
		if !ok {
			break
		}
		if len(p.fields) < softnetMinColumns {
			return out[:start], parseErr(SourceSoftnet, ls.n, "%d columns, want at least %d", len(p.fields), softnetMinColumns)
		}
		n := min(len(p.fields), len(softnetColumns))
		for i := range n {
			v, err := parseHex(p.fields[i])
			if err != nil {
				return out[:start], parseErr(SourceSoftnet, ls.n, "column %d: %v", i+1, err)
			}
			vals[i] = v
		}
		idx := uint64(cpu)
		if n > softnetIndexCol {
			idx = vals[softnetIndexCol]
		}
		inst := p.cpuName(idx)
		cpu++
		if !p.firstTime(inst) {
			continue
		}
		for i := range n {
			col := softnetColumns[i]
			if col.name == "" {
				continue
			}
			out = append(out, model.RawCounter{
				Layer:    model.LayerSoftnet,
				Source:   SourceSoftnet,
				Instance: inst,
				Name:     col.name,
				Kind:     col.kind,
				Value:    vals[i],
			})
		}
	}
	if cpu == 0 {
		return out, errEmpty(SourceSoftnet)
	}
	return out, nil
}

// cpuName returns "cpuN", interned.
func (p *parser) cpuName(n uint64) string {
	var buf [24]byte
	return p.intern(strconv.AppendUint(append(buf[:0], "cpu"...), n, 10))
}
