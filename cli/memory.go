package cli

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// memoryFloor is the soft memory limit the TUI starts with: below about
// half of it live, the limit is never reached and GOGC (gcPercent)
// decides when the GC runs (the TUI at 10k sockets lives in about 40 MB).
const memoryFloor = 256 << 20

// memoryLimit is the soft memory limit for a live heap of live bytes:
// floor, or 1.5 times the live heap when that is more. With GOGC=100
// alone the heap grows to twice the live heap before a collection; at
// 100,000 sockets that was 500 MB of RSS for 180-230 MB live (two or
// three generations of the socket list, docs/performance.md). Since the
// socket lists are filled again (round 3) gcPercent keeps the heap
// lower, and the limit is the backstop for what makes garbage faster.
// The limit follows the live heap, so a host with more sockets than the
// floor holds gets a higher limit instead of a GC that never stops.
func memoryLimit(live, floor int64) int64 {
	return max(floor, live+live/2)
}

// gcHeadroom is the least garbage the heap may gather between two
// collections (see gcPercent).
const gcHeadroom = 32 << 20

// gcPercent is the GOGC for a live heap of live bytes: the heap may grow
// by an eighth of the live heap, or gcHeadroom when that is more, before
// the next collection, and never by more than the live heap (GOGC=100,
// the default, which is what a live heap of up to 32 MB gets). The socket
// lists are filled again rather than thrown away (docs/performance.md,
// "The TUI at 100k", round 3), so a TUI at 100,000 sockets makes a few MB
// of garbage a second: a small GOGC costs a collection every few seconds
// and keeps the heap near the live one. Unlike a memory limit under the
// live heap plus a socket list, it cannot make the GC run back to back
// while a collection briefly holds one more list: the goal follows the
// live heap of the last cycle.
func gcPercent(live int64) int {
	if live <= 0 {
		return 100
	}
	room := max(live/8, gcHeadroom)
	return int(min(100, 100*room/live))
}

// liveHeap returns the live heap after the last GC
// (/gc/heap/live:bytes), or -1 if the runtime does not say.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	return int64(s[0].Value.Uint64())
}

// tuneMemory sets the soft memory limit (runtime/debug.SetMemoryLimit)
// to memoryLimit, and GOGC (debug.SetGCPercent) to gcPercent, of the live
// heap now and every interval until ctx is done. GOMEMLIMIT and GOGC in
// the environment turn each off: the user's choice stands.
func tuneMemory(ctx context.Context, floor int64, every time.Duration) {
	_, limitSet := os.LookupEnv("GOMEMLIMIT")
	_, gogcSet := os.LookupEnv("GOGC")
	if limitSet && gogcSet {
		return
	}
	percent := 100
	set := func() {
		live := liveHeap()
		if live < 0 {
			return
		}
		if !limitSet {
			debug.SetMemoryLimit(memoryLimit(live, floor))
		}
		if p := gcPercent(live); !gogcSet && p != percent {
			debug.SetGCPercent(p)
			percent = p
		}
	}
	set()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				set()
			}
		}
	}()
}
