package atomicfile

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// inMountNS runs f on the test's goroutine in a private mount namespace
// of its own thread. The thread stays locked and so ends with the test:
// nothing else ever runs in that namespace, and mounts made there never
// reach the host (propagation is made private first).
func inMountNS(t *testing.T, f func()) {
	t.Helper()
	runtime.LockOSThread() // never unlocked: the thread exits with the test
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		t.Fatalf("unshare mount namespace: %v", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("make mounts private: %v", err)
	}
	f()
}
