package conntrack

import (
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/netfilter"

	"netlens/model"
)

// ErrDecode is wrapped by errors about a kernel message netlens cannot
// decode.
var ErrDecode = errors.New("malformed ctnetlink message")

// cpuStat is one CPU's statistics as the kernel sent them.
type cpuStat = model.ConntrackCPU

// decodeCPUStats decodes one IPCTNL_MSG_CT_GET_STATS_CPU reply: the CPU
// is the nfgenmsg res_id, the counters are u32 attributes. Unknown
// attributes (newer kernels) are ignored. It is what the fuzzer calls.
func decodeCPUStats(m netlink.Message) (cpuStat, error) {
	h, attrs, err := netfilter.UnmarshalNetlink(m)
	if err != nil {
		return cpuStat{}, fmt.Errorf("cpu stats: %w: %v", ErrDecode, err)
	}
	s := cpuStat{CPU: int(h.ResourceID)}
	for _, a := range attrs {
		if len(a.Data) != 4 {
			continue
		}
		v := uint64(a.Uint32())
		switch a.Type {
		case attrStatsFound:
			s.Found = v
		case attrStatsInvalid:
			s.Invalid = v
		case attrStatsIgnore:
			s.Ignore = v
		case attrStatsInsert:
			s.Insert = v
		case attrStatsInsertFailed:
			s.InsertFailed = v
		case attrStatsDrop:
			s.Drop = v
		case attrStatsEarlyDrop:
			s.EarlyDrop = v
		case attrStatsError:
			s.Error = v
		case attrStatsSearchRestart:
			s.SearchRestart = v
		case attrStatsClashResolve:
			s.ClashResolve = v
		case attrStatsChainTooLong:
			s.ChainTooLong = v
		case attrStatsSearched, attrStatsNew, attrStatsDelete, attrStatsDeleteList:
			// No longer sent by the kernel.
		}
	}
	return s, nil
}

// decodeGlobalStats decodes an IPCTNL_MSG_CT_GET_STATS reply.
func decodeGlobalStats(m netlink.Message) (entries, maxEntries uint64, err error) {
	_, attrs, err := netfilter.UnmarshalNetlink(m)
	if err != nil {
		return 0, 0, fmt.Errorf("global stats: %w: %v", ErrDecode, err)
	}
	for _, a := range attrs {
		if len(a.Data) != 4 {
			continue
		}
		switch a.Type {
		case attrStatsGlobalEntries:
			entries = uint64(a.Uint32())
		case attrStatsGlobalMaxEntries:
			maxEntries = uint64(a.Uint32())
		}
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
