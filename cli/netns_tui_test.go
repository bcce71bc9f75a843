package cli

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors/netns"
)

// TestHoldNSOutlastsSwitch: a namespace file held by holdNS (a tcp_info
// lookup, a snapshot's fill, a sysctl change, a capture's start: calls
// that run beside the collectors) stays open when a switch leaves its
// namespace, and is closed once the last holder releases it; until then
// its number cannot be given to another file, which the holder would
// enter instead.
func TestHoldNSOutlastsSwitch(t *testing.T) {
	fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	h := &netns.Handle{FD: fd}
	s := &nsSwitcher{}
	s.o.ns = h
	got, release := s.holdNS()
	if got != fd {
		t.Fatalf("holdNS: fd %d, want %d", got, fd)
	}
	got2, release2 := s.holdNS()
	if got2 != fd {
		t.Fatalf("second holdNS: fd %d, want %d", got2, fd)
	}

	// What Switch does with the namespace it leaves.
	s.mu.Lock()
	s.o.ns = nil
	s.retireLocked(nil, h, s.usersLocked(h), 1, 0, nil)
	done := s.retired
	s.mu.Unlock()

	if own, rel := s.holdNS(); own != 0 {
		t.Errorf("holdNS after the switch to our own namespace: fd %d, want 0", own)
	} else {
		rel()
	}
	var want unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &want); err != nil {
		t.Fatal(err)
	}
	stillOpen := func() bool { // and still the namespace's file
		var st unix.Stat_t
		return unix.Fstat(fd, &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev
	}
	for _, rel := range []func(){release, release} { // a second call to a release is harmless
		select {
		case <-done:
			t.Fatal("the namespace file was closed while held")
		case <-time.After(100 * time.Millisecond):
		}
		if !stillOpen() {
			t.Fatal("the namespace file is not open while held")
		}
		rel()
	}
	select {
	case <-done:
		t.Fatal("the namespace file was closed while a second holder used it")
	case <-time.After(100 * time.Millisecond):
	}
	release2()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the namespace file was not closed after the last release")
	}
	if h.FD != -1 {
		t.Errorf("handle FD %d after the retirement, want -1 (closed)", h.FD)
	}
	if len(s.users) != 0 {
		t.Errorf("users left: %v", s.users)
	}
}
