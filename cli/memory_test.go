package cli

import (
	"context"
	"math"
	"os"
	"runtime/debug"
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

func TestTuneMemory(t *testing.T) {
	t.Cleanup(func() { debug.SetMemoryLimit(math.MaxInt64) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t.Setenv("GOMEMLIMIT", "1GiB") // the user's setting stands
	debug.SetMemoryLimit(math.MaxInt64)
	tuneMemory(ctx, 1<<40, time.Hour)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set the limit became %d", got)
	}

	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	tuneMemory(ctx, 1<<40, time.Hour)
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("limit %d, want the floor %d", got, int64(1<<40))
	}
}
