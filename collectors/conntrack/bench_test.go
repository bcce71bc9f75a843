package conntrack

import (
	"testing"

	ct "github.com/ti-mo/conntrack"

	"netlens/model"
)

// BenchmarkDecodeFlow decodes one dump entry with the dump path's decoder.
func BenchmarkDecodeFlow(b *testing.B) {
	m := flowMsg(b, evUpdate, tcpFlow(1, 40000, 1000))
	var f model.Flow
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeFlow(m.Data[nfgenmsgLen:], t0, &f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFlowTiMo decodes the same entry with ti-mo/conntrack and
// converts it, as the event path does.
func BenchmarkDecodeFlowTiMo(b *testing.B) {
	m := flowMsg(b, evUpdate, tcpFlow(1, 40000, 1000))
	b.ReportAllocs()
	for b.Loop() {
		var ev ct.Event
		if err := ev.Unmarshal(m); err != nil {
			b.Fatal(err)
		}
		_ = toModel(ev.Flow, t0)
	}
}

// BenchmarkTableFlows changes one flow of a full default-sized table and
// takes a snapshot, as a refresh after an event does: the copy on write
// of the list, its sort and the index's update.
func BenchmarkTableFlows(b *testing.B) {
	tab := newTable(DefaultMaxFlows)
	for i := range DefaultMaxFlows {
		tab.apply(event{evNew, tcpFlow(uint32(i), uint16(i), uint64(i%1000))})
	}
	u := tcpFlow(7, 7, 7)
	u.TCPState = model.TCPEstablished
	b.ReportAllocs()
	for b.Loop() {
		tab.apply(event{evUpdate, u})
		_ = tab.snapshot()
	}
}

// BenchmarkApplyEvents applies a NEW, an UPDATE and a DESTROY.
func BenchmarkApplyEvents(b *testing.B) {
	tab := newTable(DefaultMaxFlows)
	f := tcpFlow(1, 1000, 0)
	u := f
	u.TCPState = model.TCPEstablished
	b.ReportAllocs()
	for b.Loop() {
		tab.apply(event{evNew, f})
		tab.apply(event{evUpdate, u})
		tab.apply(event{evDestroy, u})
	}
}
