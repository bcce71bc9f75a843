package conntrack

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"

	"netlens/model"
)

// ErrDecode is wrapped by errors about a kernel message netlens cannot
// decode.
var ErrDecode = errors.New("malformed ctnetlink message")

// cpuStat is one CPU's statistics as the kernel sent them.
type cpuStat = model.ConntrackCPU

// decodeCPUStats decodes one IPCTNL_MSG_CT_GET_STATS_CPU reply: the CPU
// is the nfgenmsg res_id, the counters are u32 attributes. Unknown or
// malformed attributes (newer kernels) are ignored. It is what the
// fuzzer calls.
func decodeCPUStats(m netlink.Message) (cpuStat, error) {
	if len(m.Data) < nfgenmsgLen {
		return cpuStat{}, fmt.Errorf("cpu stats: %w: %d bytes", ErrDecode, len(m.Data))
	}
	s := cpuStat{CPU: int(binary.BigEndian.Uint16(m.Data[2:]))}
	err := attrs(m.Data[nfgenmsgLen:], func(typ uint16, v []byte) error {
		if len(v) != 4 {
			return nil
		}
		x := uint64(binary.BigEndian.Uint32(v))
		switch typ {
		case attrStatsFound:
			s.Found = x
		case attrStatsInvalid:
			s.Invalid = x
		case attrStatsIgnore:
			s.Ignore = x
		case attrStatsInsert:
			s.Insert = x
		case attrStatsInsertFailed:
			s.InsertFailed = x
		case attrStatsDrop:
			s.Drop = x
		case attrStatsEarlyDrop:
			s.EarlyDrop = x
		case attrStatsError:
			s.Error = x
		case attrStatsSearchRestart:
			s.SearchRestart = x
		case attrStatsClashResolve:
			s.ClashResolve = x
		case attrStatsChainTooLong:
			s.ChainTooLong = x
		case attrStatsSearched, attrStatsNew, attrStatsDelete, attrStatsDeleteList:
			// No longer sent by the kernel.
		}
		return nil
	})
	if err != nil {
		return cpuStat{}, fmt.Errorf("cpu stats: %w", err)
	}
	return s, nil
}

// decodeGlobalStats decodes an IPCTNL_MSG_CT_GET_STATS reply.
func decodeGlobalStats(m netlink.Message) (entries, maxEntries uint64, err error) {
	if len(m.Data) < nfgenmsgLen {
		return 0, 0, fmt.Errorf("global stats: %w: %d bytes", ErrDecode, len(m.Data))
	}
	err = attrs(m.Data[nfgenmsgLen:], func(typ uint16, v []byte) error {
		if len(v) != 4 {
			return nil
		}
		switch typ {
		case attrStatsGlobalEntries:
			entries = uint64(binary.BigEndian.Uint32(v))
		case attrStatsGlobalMaxEntries:
			maxEntries = uint64(binary.BigEndian.Uint32(v))
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("global stats: %w", err)
	}
	return entries, maxEntries, nil
}

// counterNames are the names of the per-CPU totals published as
// counters, as `conntrack -S` prints them.
func statsCounters(t model.ConntrackCPU) []struct {
	name string
	v    uint64
} {
	return []struct {
		name string
		v    uint64
	}{
		{"found", t.Found}, {"invalid", t.Invalid}, {"ignore", t.Ignore}, {"insert", t.Insert},
		{"insert_failed", t.InsertFailed}, {"drop", t.Drop}, {"early_drop", t.EarlyDrop},
		{"error", t.Error}, {"search_restart", t.SearchRestart}, {"clash_resolve", t.ClashResolve},
		{"chaintoolong", t.ChainTooLong},
	}
}

// counters returns the statistics as model counters (layer netfilter,
// source "ctnetlink", group "conntrack") so the Store derives their rates.
func counters(st model.ConntrackStats) []model.RawCounter {
	const src, grp = "ctnetlink", "conntrack"
	out := make([]model.RawCounter, 0, 16)
	for _, c := range statsCounters(st.Total) {
		out = append(out, model.RawCounter{Layer: model.LayerNetfilter, Source: src, Group: grp, Name: c.name, Kind: model.KindCounter, Value: c.v})
	}
	out = append(out,
		model.RawCounter{Layer: model.LayerNetfilter, Source: src, Group: grp, Name: "entries", Kind: model.KindGauge, Value: st.Count},
		model.RawCounter{Layer: model.LayerNetfilter, Source: src, Group: grp, Name: "max", Kind: model.KindGauge, Value: st.Max},
		model.RawCounter{Layer: model.LayerNetfilter, Source: src, Group: grp, Name: "events_lost", Kind: model.KindCounter, Value: st.EventsLost},
	)
	return out
}
