package collectors

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// NetNSThread is an OS thread locked to one goroutine that can enter
// network namespaces. It is handed to the function given to
// WithNetNSThread and is valid only during that call; it is not safe for
// concurrent use (nothing but that function may use it, and only from
// its own goroutine).
type NetNSThread struct {
	orig    int    // the thread's own namespace, open
	origIno uint64 // its inode
	entered bool
}

// Enter moves the thread into the network namespace ns (an open
// namespace file: /run/netns/NAME, /proc/PID/ns/net). Syscalls made on
// the thread afterwards (sockets opened, /proc/thread-self/net and
// /proc/sys/net opened) see that namespace. The error wraps the errno
// (EPERM without CAP_SYS_ADMIN, EINVAL for a file that is not a network
// namespace).
func (t *NetNSThread) Enter(ns int) error {
	if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("enter network namespace: needs CAP_SYS_ADMIN: %w (%w)", ErrPermission, err)
		}
		return fmt.Errorf("enter network namespace: %w", err)
	}
	t.entered = true
	return nil
}

// WithNetNSThread runs fn on a fresh goroutine locked to its OS thread,
// and returns fn's error. When fn returns, the thread is taken back to
// the namespace it started in and checked to be there (the inode of
// /proc/thread-self/ns/net) before it is released to the Go scheduler.
// If the way back fails or cannot be verified, the thread stays locked,
// and Go ends it with the goroutine: no other goroutine ever runs on a
// thread left in another namespace.
//
// Restoring rather than always ending the thread matters: Go cannot end
// the main thread, and a locked goroutine that ends may be on it; what
// /proc/PID/ns/net says of the whole process is the main thread's.
//
// WithNetNSThread is safe for concurrent use.
func WithNetNSThread(fn func(t *NetNSThread) error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		t := &NetNSThread{orig: -1}
		var err error
		t.orig, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return // stays locked; ends with the goroutine
		}
		defer unix.Close(t.orig)
		var st unix.Stat_t
		if err := unix.Fstat(t.orig, &st); err != nil {
			errc <- fmt.Errorf("stat own network namespace: %w", err)
			return
		}
		t.origIno = st.Ino
		ferr := fn(t)
		if t.entered {
			if err := t.restore(); err != nil {
				errc <- errors.Join(ferr, err) // stays locked: the thread ends with the goroutine
				return
			}
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// restore enters the thread's own namespace again and verifies it is
// there.
func (t *NetNSThread) restore() error {
	if err := unix.Setns(t.orig, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("return to own network namespace: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return fmt.Errorf("verify own network namespace: %w", err)
	}
	if st.Ino != t.origIno {
		return fmt.Errorf("verify own network namespace: thread is in net:[%d], not net:[%d]", st.Ino, t.origIno)
	}
	t.entered = false
	return nil
}

// InNetNS runs fn on an OS thread that has entered the network namespace
// ns (an open namespace file), then takes the thread back to its own
// namespace, verifies it, and releases it (WithNetNSThread). The error is
// about entering or leaving (it wraps the errno, for the caller to
// classify), never fn's. It is safe for concurrent use.
func InNetNS(ns int, fn func()) error {
	return WithNetNSThread(func(t *NetNSThread) error {
		if err := t.Enter(ns); err != nil {
			return err
		}
		fn()
		return nil
	})
}
