package cli

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
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
// collections (see gcPercent); startHeadroom is that of the first
// startFor of the TUI.
const (
	gcHeadroom    = 8 << 20
	startHeadroom = 32 << 20
	startFor      = 3 * time.Second
)

// gcPercent is the GOGC for a live heap of live bytes: the heap may grow
// by a thirty-second of the live heap, or room when that is more, before
// the next collection, and never by more than the live heap (GOGC=100,
// the default, which is what a live heap of up to room gets).
//
// The socket and flow lists are filled again rather than thrown away
// (docs/performance.md, "The TUI at 100k", rounds 3 and 4), so a TUI at
// 100,000 sockets makes about 1 MB of garbage a second (the UI): with
// gcHeadroom of room a collection every few seconds keeps the heap's peak
// 8 MB over the live heap, which at 100,000 sockets holds two socket
// lists and two flow lists already. Unlike a memory limit under the live
// heap plus a socket list, it cannot make the GC run back to back while
// a collection briefly holds one more list: the goal follows the live
// heap of the last cycle. In the first seconds, while the heap grows
// from nothing to all of that, startHeadroom: 8 MB made 20 collections
// before the first frame, whose assists slowed the first dump's decoding.
func gcPercent(live, room int64) int {
	if live <= 0 {
		return 100
	}
	room = max(live/32, room)
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
// heap now and after every garbage collection until ctx is done, so that
// the next goal always follows the last cycle's live heap: a goal set
// from a cycle that met a passing peak (a conntrack dump's list beside
// the published one) does not outlive the next cycle, and the first
// seconds, when the heap grows fastest, get it too. GOMEMLIMIT and GOGC
// in the environment turn each off: the user's choice stands.
func tuneMemory(ctx context.Context, floor int64) {
	_, limitSet := os.LookupEnv("GOMEMLIMIT")
	_, gogcSet := os.LookupEnv("GOGC")
	if limitSet && gogcSet {
		return
	}
	var mu sync.Mutex // set runs on the cleanup goroutine, a timer and here
	percent := 100
	room := int64(startHeadroom)
	set := func() {
		mu.Lock()
		defer mu.Unlock()
		live := liveHeap()
		if live < 0 {
			return
		}
		if !limitSet {
			debug.SetMemoryLimit(memoryLimit(live, floor))
		}
		if p := gcPercent(live, room); !gogcSet && p != percent {
			debug.SetGCPercent(p)
			percent = p
		}
	}
	set()
	afterEachGC(ctx, set)
	time.AfterFunc(startFor, func() {
		if ctx.Err() != nil {
			return
		}
		mu.Lock()
		room = gcHeadroom
		mu.Unlock()
		set()
	})
}

// afterEachGC calls fn after every garbage collection until ctx is done:
// a sentinel allocated unreachable has a cleanup that the collection
// which frees it runs, which calls fn and allocates the next sentinel.
// fn runs on the runtime's cleanup goroutine and must not block.
func afterEachGC(ctx context.Context, fn func()) {
	var arm func()
	arm = func() {
		// Not tiny (tiny allocations share a block and may never be
		// freed alone): a pointer keeps it out of the tiny allocator.
		s := &gcSentinel{}
		runtime.AddCleanup(s, func(struct{}) {
			if ctx.Err() != nil {
				return
			}
			fn()
			arm()
		}, struct{}{})
	}
	arm()
}

type gcSentinel struct {
	_ *byte
	_ [16]byte
}
