package collectors

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// InNetNS runs fn on an OS thread that has entered the network namespace
// ns (an open namespace file), then takes the thread back to its own
// namespace and releases it. The error is about entering or leaving (it
// wraps the errno, for the caller to classify), never fn's.
//
// Leaving the thread locked for the goroutine's exit to end it is not
// enough: Go cannot end the main thread, which then stays in ns, and
// with it what /proc/PID/ns/net says of the whole process. If the way
// back fails, that is what happens to a thread other than the main one.
func InNetNS(ns int, fn func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("return to own network namespace: %w", err) // stays locked: the thread ends with the goroutine
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	return <-errc
}
