package cli

import (
	"context"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoryLimit(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name        string
		live, floor int64
		want        int64
	}{
		{"nothing live yet", 0, 256 * mb, 256 * mb},
		{"10k sockets: the floor", 40 * mb, 256 * mb, 256 * mb},
		{"100k sockets: 1.5x live", 200 * mb, 256 * mb, 300 * mb},
		{"1M sockets: follows the heap", 2000 * mb, 256 * mb, 3000 * mb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := memoryLimit(tt.live, tt.floor); got != tt.want {
				t.Errorf("memoryLimit(%d, %d) = %d, want %d", tt.live, tt.floor, got, tt.want)
			}
		})
	}
}

func TestGCPercent(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name       string
		live, room int64
		want       int
	}{
		{"nothing live yet", 0, gcHeadroom, 100},
		{"up to 8 MB: the default", 8 * mb, gcHeadroom, 100},
		{"10k sockets: 8 MB of room", 40 * mb, gcHeadroom, 20},
		{"100k sockets: 8 MB of room", 184 * mb, gcHeadroom, 4},
		{"1M sockets: a thirty-second", 2000 * mb, gcHeadroom, 3},
		{"starting: 32 MB of room", 100 * mb, startHeadroom, 32},
		{"starting, 1M sockets: a thirty-second", 2000 * mb, startHeadroom, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gcPercent(tt.live, tt.room); got != tt.want {
				t.Errorf("gcPercent(%d, %d) = %d, want %d", tt.live, tt.room, got, tt.want)
			}
		})
	}
}

func TestTuneMemory(t *testing.T) {
	t.Cleanup(func() { debug.SetMemoryLimit(math.MaxInt64); debug.SetGCPercent(100) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t.Setenv("GOMEMLIMIT", "1GiB") // the user's settings stand
	t.Setenv("GOGC", "100")
	debug.SetMemoryLimit(math.MaxInt64)
	debug.SetGCPercent(100)
	tuneMemory(ctx, 1<<40)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set the limit became %d", got)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set GOGC became %d", got)
	}
	os.Unsetenv("GOGC")
	tuneMemory(ctx, 1<<40)
	if got, want := debug.SetGCPercent(100), gcPercent(liveHeap(), startHeadroom); got != want {
		t.Errorf("GOGC %d, want %d (gcPercent of the live heap)", got, want)
	}

	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	tuneMemory(ctx, 1<<40)
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("limit %d, want the floor %d", got, int64(1<<40))
	}
}

// TestAfterEachGC checks that the hook runs after every collection, and
// no more once its context is done.
func TestAfterEachGC(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	afterEachGC(ctx, func() { n.Add(1) })
	// Cleanups run on their own goroutine after the cycle that freed the
	// sentinel: wait for each, within a bound.
	waitFor := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); n.Load() < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after %d collections the hook ran %d times", want, n.Load())
			}
			runtime.GC()
		}
	}
	for i := int64(1); i <= 3; i++ {
		runtime.GC()
		waitFor(i)
	}
	cancel()
	runtime.GC()
	time.Sleep(50 * time.Millisecond) // the cleanup of the last sentinel, which returns
	before := n.Load()
	for range 3 {
		runtime.GC()
	}
	time.Sleep(50 * time.Millisecond)
	if got := n.Load(); got != before {
		t.Errorf("the hook ran %d times after its context was done", got-before)
	}
}
