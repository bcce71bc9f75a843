package capture

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestOnceReplayCPUPercent: `netlens capture --pcap` reported 1,258% or
// more of one CPU: all the CPU time its thread had ever used divided by
// the few microseconds since the replay started. The thread is made to
// use 20 ms of CPU first (the capture goroutine locks itself to the
// thread it is on, this one), which the figures must leave out.
func TestOnceReplayCPUPercent(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	x := 0
	for end := time.Now().Add(20 * time.Millisecond); time.Now().Before(end); {
		for i := range 1000 {
			x += i
		}
	}
	runtime.KeepAlive(x)
	cs, _, err := Once(context.Background(), OnceOptions{Options: Options{File: "testdata/mixed.pcap"}})
	if err != nil {
		t.Fatal(err)
	}
	if cs.Packets != 305 {
		t.Fatalf("packets %d, want 305", cs.Packets)
	}
	if cs.CPUSeconds <= 0 || cs.CPUSeconds > 0.015 {
		t.Errorf("cpu_seconds %v, want > 0 and the replay's only (not the 20 ms before it)", cs.CPUSeconds)
	}
	if cs.CPUPercent < 0 || cs.CPUPercent > 100 {
		t.Errorf("cpu_percent %v of one thread, want within [0, 100] (cpu_seconds %v)", cs.CPUPercent, cs.CPUSeconds)
	}
}
