package netnstest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Unshared is a network namespace held only by a process (`unshare -n
// sleep`), optionally in a cgroup the test made; both are removed when
// the test ends.
type Unshared struct {
	PID int
	// Cgroup is the process's cgroup v2 path ("/kubepods.slice/..."), ""
	// for none.
	Cgroup string
}

// NewUnshared starts `unshare -n sleep 600` with loopback left down. When
// cgroup is not "", it is created under the cgroup v2 mount (Cgroup2Root)
// with its parents and the process moved into it; every directory the
// test created is removed at the end, deepest first.
func NewUnshared(tb testing.TB, cgroup string) *Unshared {
	tb.Helper()
	RequireRoot(tb)
	cmd := exec.Command("unshare", "-n", "sleep", "600")
	if err := cmd.Start(); err != nil {
		tb.Fatalf("unshare -n sleep: %v", err)
	}
	u := &Unshared{PID: cmd.Process.Pid, Cgroup: cgroup}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// unshare execs sleep once it has unshared: wait for that (bounded).
	own, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; i < 200; i++ {
		if l, err := os.Readlink("/proc/" + strconv.Itoa(u.PID) + "/ns/net"); err == nil && l != own {
			if c, _ := os.ReadFile("/proc/" + strconv.Itoa(u.PID) + "/comm"); strings.TrimSpace(string(c)) == "sleep" {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if cgroup != "" {
		MoveToCgroup(tb, u.PID, cgroup, func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	return u
}

// MoveToCgroup creates cgroup (a cgroup v2 path such as
// "/netlens-test.slice/docker-ID.scope") with MakeCgroup and moves
// process pid into it.
func MoveToCgroup(tb testing.TB, pid int, cgroup string, stop func()) {
	tb.Helper()
	dir := MakeCgroup(tb, cgroup, stop)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		tb.Fatalf("move %d into cgroup %s: %v", pid, dir, err)
	}
}

// MakeCgroup creates cgroup under Cgroup2Root with its parents and
// returns its directory (a process joins it by writing its PID to
// cgroup.procs there). When the test ends it calls stop, which must end
// every process in it (a cgroup is removable once its last process is
// reaped), then removes every directory it created, deepest first.
func MakeCgroup(tb testing.TB, cgroup string, stop func()) string {
	tb.Helper()
	root := Cgroup2Root(tb)
	var made []string
	dir := root
	for _, e := range strings.Split(strings.Trim(cgroup, "/"), "/") {
		dir = filepath.Join(dir, e)
		if err := os.Mkdir(dir, 0o755); err == nil {
			made = append(made, dir)
		} else if !os.IsExist(err) {
			tb.Fatalf("make cgroup %s: %v", dir, err)
		}
	}
	tb.Cleanup(func() {
		stop()
		for i := len(made) - 1; i >= 0; i-- {
			for j := 0; j < 100 && os.Remove(made[i]) != nil; j++ {
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
	return dir
}

// Cgroup2Root returns the mount point of the cgroup v2 hierarchy
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host). It skips
// the test when there is none or it is not writable.
func Cgroup2Root(tb testing.TB) string {
	tb.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		fields := strings.Fields(pre)
		if len(fields) < 6 || !strings.HasPrefix(fields[5], "rw") {
			continue
		}
		return fields[4]
	}
	tb.Skip("needs a writable cgroup v2 hierarchy (mount -t cgroup2 none /sys/fs/cgroup)")
	return ""
}
