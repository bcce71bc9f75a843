package nft

import (
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
)

// TestIntegrationStatePathNotInherited: a namespace made after another
// is gone, with the same inode (the kernel reuses them at once), does not
// get the dead one's state file and revert log: a pending change left
// there (its helper killed) would otherwise be "reverted" into the new
// namespace, and `rules list` there showed the dead one's revert log.
func TestIntegrationStatePathNotInherited(t *testing.T) {
	netnstest.RequireRoot(t)
	dir := t.TempDir()
	path := func(name string) (string, uint64) {
		fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		b, err := New(Options{NetNS: fd, StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.statePath()
		if err != nil {
			t.Fatal(err)
		}
		return p, st.Ino
	}
	ip := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	const name = "nlnft-reuse"
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	// The inode of a deleted namespace is freed once the kernel's cleanup
	// has run (a workqueue, after an RCU grace period); then the next
	// namespace gets it, unless another process makes one first: try
	// for at most 40 namespaces, 50 ms apart.
	ip("netns", "add", name)
	p1, ino1 := path(name)
	ip("netns", "del", name)
	for range 40 {
		time.Sleep(50 * time.Millisecond)
		ip("netns", "add", name)
		p2, ino2 := path(name)
		ip("netns", "del", name)
		if ino2 != ino1 {
			continue
		}
		if p1 == p2 {
			t.Fatalf("two namespaces, one after the other, with inode %d share the state file %s", ino1, p1)
		}
		return
	}
	t.Fatalf("the inode %d of a deleted namespace was not reused in 40 tries", ino1)
}
