package ui

import (
	"strconv"
	"testing"
	"time"

	"netlens/model"
)

// linkNames are interface counters the funnel knows.
var linkNames = []string{"rx_dropped", "rx_missed_errors", "rx_fifo_errors", "rx_over_errors", "rx_crc_errors",
	"rx_length_errors", "rx_nohandler", "tx_dropped", "tx_errors", "tx_fifo_errors"}

// benchCounters is sample step of n/10 interfaces' counters, every one
// moving.
func benchCounters(n, step int) []model.RawCounter {
	out := make([]model.RawCounter, 0, n)
	for i := 0; len(out) < n; i++ {
		dev := "veth" + strconv.Itoa(i)
		for k, name := range linkNames {
			out = append(out, model.RawCounter{Layer: model.LayerNIC, Source: "rtnetlink", Group: "statistics", Instance: dev, Name: name,
				Kind: model.KindCounter, Value: uint64(step * ((i+k)%13 + 1))})
		}
	}
	return out[:n]
}

// dropsBenchStore has 2,000 funnel counters with full histories.
func dropsBenchStore(n int) *model.Store {
	s := fixtureStore()
	for step := 0; step <= model.HistoryLen; step++ {
		s.Publish(model.CountersUpdate{Collector: "counters", At: t0.Add(time.Duration(step) * time.Second), Counters: benchCounters(n, step)})
	}
	return s
}

// BenchmarkDropsView renders the Drops tab at 120x40 with 2,000 moving
// counters, Unicode sparklines of 60 samples: the cost of one redraw
// (only the visible rows' sparklines are drawn).
func BenchmarkDropsView(b *testing.B) {
	a := newTestApp(b, dropsBenchStore(2000), Options{Glyphs: GlyphsUnicode}, 120, 40)
	send(a, "2")
	if n := len(a.pages[1].(*dropsPage).idx); n != 2000 {
		b.Fatalf("%d rows, want 2000", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = a.View()
	}
}

// BenchmarkDropsUpdate applies a new sample of 2,000 counters (the
// funnel, the filter and the sort run again) and renders it.
func BenchmarkDropsUpdate(b *testing.B) {
	store := dropsBenchStore(2000)
	a := newTestApp(b, store, Options{Glyphs: GlyphsUnicode}, 120, 40)
	send(a, "2")
	samples := [2][]model.RawCounter{benchCounters(2000, 100), benchCounters(2000, 101)}
	b.ReportAllocs()
	step := 0
	for b.Loop() {
		step++
		store.Publish(model.CountersUpdate{Collector: "counters", At: t0.Add(time.Duration(100+step) * time.Second), Counters: samples[step%2]})
		a.apply()
		_ = a.View()
	}
}
