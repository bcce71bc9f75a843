package nft

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
	"netlens/model"
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

// TestIntegrationLegacyStateFile: a pending change an older netlens left
// under the inode-only name (netns-INODE.json) stops changes with an
// error that names the file, as a pending change of this netlens does,
// is not put back by Recover (it may be a dead namespace's), and once
// it is removed changes go through.
func TestIntegrationLegacyStateFile(t *testing.T) {
	netnstest.RequireRoot(t)
	fd := netnstest.New(t, "nlnft-legacy").FD(t)
	var fst unix.Stat_t
	if err := unix.Fstat(fd, &fst); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := New(Options{NetNS: fd, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	path, err := b.statePath()
	if err != nil {
		t.Fatal(err)
	}
	legacy := fmt.Sprintf("%s/netns-%d.json", dir, fst.Ino)
	if got := legacyStatePath(path); got != legacy {
		t.Fatalf("legacyStatePath(%s) = %s, want %s", path, got, legacy)
	}
	old := revertState{Txn: 77, Deadline: time.Now().Add(-time.Minute), Changed: []uint32{1}, Prev: []model.Rule{}, HelperPID: 1 << 22}
	data, _ := json.Marshal(old)
	if err := os.WriteFile(legacy, data, 0o600); err != nil {
		t.Fatal(err)
	}
	rule := model.Rule{Enabled: true, Action: model.ActionCount, Hooks: []string{model.HookInput}}
	_, err = b.Add(rule, 0)
	if !errors.Is(err, ErrLegacyState) || !strings.Contains(err.Error(), legacy) || !strings.Contains(err.Error(), "transaction 77") {
		t.Fatalf("Add with a legacy state file: %v, want ErrLegacyState naming %s", err, legacy)
	}
	if did, err := b.Recover(); did || err != nil {
		t.Errorf("Recover with only a legacy state file: %v, %v; want false, nil", did, err)
	}
	if _, err := os.Stat(legacy); err != nil {
		t.Errorf("the legacy state file is gone: %v", err)
	}
	if rules, err := b.List(); err != nil || len(rules) != 0 {
		t.Errorf("List: %v, %v; want no rules, nil", rules, err)
	}
	if err := os.Remove(legacy); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(rule, 0); err != nil {
		t.Fatalf("Add once the legacy file is removed: %v", err)
	}
}
