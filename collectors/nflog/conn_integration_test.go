package nflog

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/internal/netnstest"
)

// TestIntegrationSecondReaderBusy: a second socket binding a group
// another holds (in the same namespace) fails with ErrBusy, not as a
// missing CAP_NET_ADMIN (the kernel answers EPERM to both); a group in
// another namespace is free.
func TestIntegrationSecondReaderBusy(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.New(t, "nlnflog")
	fd, err := unix.Open("/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	first, err := Dial(20999, Options{NetNS: fd})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, err = Dial(20999, Options{NetNS: fd})
	if !errors.Is(err, ErrBusy) || errors.Is(err, collectors.ErrPermission) {
		t.Errorf("second reader: %v, want ErrBusy and not ErrPermission", err)
	}
	other := netnstest.New(t, "nlnflog2")
	ofd, err := unix.Open("/run/netns/"+other.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ofd)
	c, err := Dial(20999, Options{NetNS: ofd})
	if err != nil {
		t.Fatalf("the same group in another namespace: %v", err)
	}
	c.Close()
}
