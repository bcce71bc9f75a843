package cli

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// memoryFloor is the soft memory limit the TUI starts with: below about
// half of it live, the limit is never reached and GOGC=100 decides when
// the GC runs, as before (the TUI at 10k sockets lives in about 40 MB).
const memoryFloor = 256 << 20

// memoryLimit is the soft memory limit for a live heap of live bytes:
// floor, or 1.5 times the live heap when that is more. With GOGC=100
// alone the heap grows to twice the live heap before a collection; at
// 100,000 sockets that was 500 MB of RSS for 180-230 MB live (two or
// three generations of the socket list, docs/performance.md). The limit
// follows the live heap, so a host with more sockets than the floor holds
// gets a higher limit instead of a GC that never stops.
func memoryLimit(live, floor int64) int64 {
	return max(floor, live+live/2)
}

// tuneMemory sets the soft memory limit (runtime/debug.SetMemoryLimit)
// to memoryLimit of the live heap now and every interval until ctx is
// done. GOMEMLIMIT in the environment turns it off: the user's choice
// stands.
func tuneMemory(ctx context.Context, floor int64, every time.Duration) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(memoryLimit(int64(s[0].Value.Uint64()), floor))
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
