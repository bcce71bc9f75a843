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
	// has run (a workqueue, after an RCU grace period); a later namespace
	// gets it, unless another process takes it first: make and delete
	// namespaces (at most 150, 20 ms apart) until one gets the inode of
	// one deleted before.
	dead := map[uint64]string{}
	for range 150 {
		ip("netns", "add", name)
		p, ino := path(name)
		ip("netns", "del", name)
		if old, ok := dead[ino]; ok {
			if old == p {
				t.Fatalf("two namespaces, one made after the other was gone, with inode %d share the state file %s", ino, p)
			}
			return
		}
		dead[ino] = p
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no inode of %d deleted namespaces was reused", len(dead))
}
