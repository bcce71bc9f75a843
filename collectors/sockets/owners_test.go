package sockets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"netlens/model"
)

// fakeProc is a directory laid out like /proc: PID/stat and PID/fd/N
// symlinks to "socket:[INODE]" or a path.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc { return &fakeProc{t: t, root: t.TempDir()} }

func (f *fakeProc) proc(pid int, comm string, start int) {
	// Real layout: comm in parentheses, then fields 3..52; starttime is 22.
	f.write(pid, fmt.Sprintf("%d (%s) S 1 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %d 1000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n", pid, comm, start))
}

// kthread adds a kernel thread: PF_KTHREAD in its flags, no fds.
// fdCount is statFdCount on the fake tree: the number of entries of
// PID/fd and the directory's inode.
func (f *fakeProc) fdCount(pid string) (int, uint64, bool) {
	dir := filepath.Join(f.root, pid, "fd")
	ents, err := os.ReadDir(dir)
	var st unix.Stat_t
	if err != nil || unix.Stat(dir, &st) != nil {
		return 0, 0, false
	}
	return len(ents), st.Ino, true
}

func (f *fakeProc) kthread(pid int, comm string, start int) {
	f.write(pid, fmt.Sprintf("%d (%s) I 2 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 0 -20 1 0 %d 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0\n", pid, comm, start))
}

// write makes PID/ with an empty fd/ and stat.
func (f *fakeProc) write(pid int, stat string) {
	f.t.Helper()
	dir := filepath.Join(f.root, strconv.Itoa(pid))
	if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeProc) fd(pid, fd int, target string) {
	f.t.Helper()
	p := filepath.Join(f.root, strconv.Itoa(pid), "fd", strconv.Itoa(fd))
	_ = os.Remove(p)
	if err := os.Symlink(target, p); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeProc) close(pid, fd int) {
	f.t.Helper()
	if err := os.Remove(filepath.Join(f.root, strconv.Itoa(pid), "fd", strconv.Itoa(fd))); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeProc) exit(pid int) {
	f.t.Helper()
	if err := os.RemoveAll(filepath.Join(f.root, strconv.Itoa(pid))); err != nil {
		f.t.Fatal(err)
	}
}

func sockLink(ino int) string { return fmt.Sprintf("socket:[%d]", ino) }

func socketsOf(inodes ...uint64) []model.Socket {
	s := make([]model.Socket, len(inodes))
	for i, ino := range inodes {
		s[i] = model.Socket{Proto: model.ProtoTCP, Inode: ino}
	}
	return s
}

// ownersOf renders who holds each socket: inode -> "comm/pid/fd ...".
func ownersOf(socks []model.Socket) map[uint64][]string {
	m := map[uint64][]string{}
	for _, s := range socks {
		for _, p := range s.Procs {
			m[s.Inode] = append(m[s.Inode], fmt.Sprintf("%s/%d/%d", p.Comm, p.PID, p.FD))
		}
	}
	return m
}

// TestOwnersIncremental plays a scenario twice: as on kernels before 6.2
// (the fd count is unknown: every directory is listed) and as on later
// ones (unchanged counts skip the listing). Owners must be the same; the
// readlink counts are checked for the first.
func TestOwnersIncremental(t *testing.T) {
	t.Run("fd count unknown", func(t *testing.T) {
		testOwnersIncremental(t, false)
	})
	t.Run("fd count known", func(t *testing.T) {
		testOwnersIncremental(t, true)
	})
}

func testOwnersIncremental(t *testing.T, countKnown bool) {
	fp := newFakeProc(t)
	fp.proc(100, "nginx", 5000)
	fp.fd(100, 0, "/dev/null")
	fp.fd(100, 3, sockLink(1000))
	fp.fd(100, 4, sockLink(1001))
	fp.fd(100, 5, "pipe:[77]")
	fp.fd(100, 6, sockLink(3000)) // a unix socket: never in the table
	fp.proc(200, "sshd: root@pts/0 (x)", 6000)
	fp.fd(200, 7, sockLink(1001)) // shared with 100 (inherited)
	if err := os.MkdirAll(filepath.Join(fp.root, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := newOwners(fp.root)
	o.fdCount = func(_ int, pid string) (int, uint64, bool) {
		if !countKnown {
			return 0, 0, false
		}
		return fp.fdCount(pid)
	}

	type step struct {
		name      string
		change    func()
		inodes    []uint64
		want      map[uint64][]string
		readlinks int
		scanned   int
		passes    int
		settle    bool // may take up to listEvery refreshes
	}
	steps := []step{
		{
			name:   "first refresh reads everything",
			inodes: []uint64{1000, 1001, 2000},
			want: map[uint64][]string{
				1000: {"nginx/100/3"},
				1001: {"nginx/100/4", "sshd: root@pts/0 (x)/200/7"},
			},
			// 6 fds read as the processes are new; 2000 is nowhere, so
			// two more passes look for it (fds not holding a socket of
			// the table: 0, 5, 6; then all 6).
			readlinks: 6 + 3 + 6, scanned: 2, passes: 2,
		},
		{
			name:      "nothing changed: no readlink at all",
			inodes:    []uint64{1000, 1001, 2000},
			want:      map[uint64][]string{1000: {"nginx/100/3"}, 1001: {"nginx/100/4", "sshd: root@pts/0 (x)/200/7"}},
			readlinks: 0,
		},
		{
			name:      "new fd is read alone",
			change:    func() { fp.fd(100, 8, sockLink(1002)) },
			inodes:    []uint64{1000, 1001, 1002},
			want:      map[uint64][]string{1000: {"nginx/100/3"}, 1001: {"nginx/100/4", "sshd: root@pts/0 (x)/200/7"}, 1002: {"nginx/100/8"}},
			readlinks: 1,
		},
		{
			name:      "fd number reused after its socket left the table",
			change:    func() { fp.fd(100, 3, sockLink(1003)) },
			inodes:    []uint64{1001, 1002, 1003},
			want:      map[uint64][]string{1001: {"nginx/100/4", "sshd: root@pts/0 (x)/200/7"}, 1002: {"nginx/100/8"}, 1003: {"nginx/100/3"}},
			readlinks: 1,
		},
		{
			name:   "fd of a file reused by a socket",
			change: func() { fp.fd(100, 0, sockLink(1004)) },
			inodes: []uint64{1001, 1002, 1003, 1004},
			want: map[uint64][]string{1001: {"nginx/100/4", "sshd: root@pts/0 (x)/200/7"}, 1002: {"nginx/100/8"}, 1003: {"nginx/100/3"},
				1004: {"nginx/100/0"}},
			readlinks: 3, passes: 1, // fds 0, 5 (pipe), 6 (unix socket)
		},
		{
			// Found by the pass over every fd, which runs at most every
			// listEvery refreshes: refreshed until then.
			name:   "fd reused while its old socket lives on in another process",
			change: func() { fp.fd(100, 4, sockLink(1005)) },
			inodes: []uint64{1001, 1002, 1003, 1004, 1005},
			want: map[uint64][]string{1001: {"sshd: root@pts/0 (x)/200/7"}, 1002: {"nginx/100/8"}, 1003: {"nginx/100/3"},
				1004: {"nginx/100/0"}, 1005: {"nginx/100/4"}},
			readlinks: 2 + 7, passes: 2, settle: true,
		},
		{
			name:      "closed fd",
			change:    func() { fp.close(100, 8) },
			inodes:    []uint64{1001, 1003, 1004, 1005},
			want:      map[uint64][]string{1001: {"sshd: root@pts/0 (x)/200/7"}, 1003: {"nginx/100/3"}, 1004: {"nginx/100/0"}, 1005: {"nginx/100/4"}},
			readlinks: 0,
		},
		{
			// Its stat is read every statEvery refreshes when nothing
			// else changed: seen within them.
			name:      "exec changes comm",
			change:    func() { fp.proc(200, "bash", 6000) },
			inodes:    []uint64{1001, 1003, 1004, 1005},
			want:      map[uint64][]string{1001: {"bash/200/7"}, 1003: {"nginx/100/3"}, 1004: {"nginx/100/0"}, 1005: {"nginx/100/4"}},
			readlinks: 1, scanned: 1, settle: true,
		},
		{
			name: "pid reused by another process",
			change: func() {
				fp.exit(100)
				fp.proc(100, "redis", 9000)
				fp.fd(100, 3, sockLink(1006))
			},
			inodes:    []uint64{1001, 1006},
			want:      map[uint64][]string{1001: {"bash/200/7"}, 1006: {"redis/100/3"}},
			readlinks: 1, scanned: 1,
		},
		{
			name:      "process exited",
			change:    func() { fp.exit(200) },
			inodes:    []uint64{1006},
			want:      map[uint64][]string{1006: {"redis/100/3"}},
			readlinks: 0,
		},
	}
	for _, s := range steps {
		if s.change != nil {
			s.change()
		}
		socks := socketsOf(s.inodes...)
		for i := 1; ; i++ {
			if err := o.refresh(context.Background(), socks); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if !s.settle || cmp.Equal(s.want, ownersOf(socks)) || i > listEvery {
				break
			}
			socks = socketsOf(s.inodes...)
		}
		if diff := cmp.Diff(s.want, ownersOf(socks)); diff != "" {
			t.Errorf("%s: owners (-want +got)\n%s", s.name, diff)
		}
		got := [3]int{o.stats.Readlinks, o.stats.Scanned, o.stats.FullPasses}
		want := [3]int{s.readlinks, s.scanned, s.passes}
		if countKnown {
			t.Logf("%s: stats %+v", s.name, o.stats)
			continue
		}
		if got != want {
			t.Errorf("%s: readlinks, scanned, passes = %v, want %v", s.name, got, want)
		}
	}
}

func TestOwnersNeverModifyPublishedSlices(t *testing.T) {
	fp := newFakeProc(t)
	fp.proc(10, "a", 1)
	fp.fd(10, 3, sockLink(500))
	fp.proc(11, "b", 1)
	fp.fd(11, 4, sockLink(500))
	o := newOwners(fp.root)
	socks := socketsOf(500)
	if err := o.refresh(context.Background(), socks); err != nil {
		t.Fatal(err)
	}
	published := socks[0].Procs
	before := fmt.Sprint(published)
	fp.close(10, 3)
	fp.fd(11, 5, sockLink(500))
	next := socketsOf(500)
	if err := o.refresh(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	if after := fmt.Sprint(published); after != before {
		t.Errorf("published owners changed from %s to %s", before, after)
	}
	if diff := cmp.Diff(map[uint64][]string{500: {"b/11/4", "b/11/5"}}, ownersOf(next)); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestOwnersMissingRoot(t *testing.T) {
	o := newOwners(filepath.Join(t.TempDir(), "nope"))
	if err := o.refresh(context.Background(), socketsOf(1)); err == nil {
		t.Fatal("no error for a missing proc root")
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		in           string
		comm         string
		start, flags uint64
		ok           bool
	}{
		{"1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1000 100\n", "systemd", 42, 4194560, true},
		{"7 (a) b) (c) R 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 9 1000\n", "a) b) (c", 9, 4194560, true},
		// A kernel thread (PF_KTHREAD in the flags), from this machine.
		{"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0 18446744073709551615\n", "kthreadd", 0, 2129984, true},
		{"7 (short) R 0 1\n", "", 0, 0, false},
		{"7 no parens\n", "", 0, 0, false},
		{"7 (x) R 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 notanumber 1000\n", "x", 0, 0, false},
		{"7 (x) R 0 1 1 0 -1 -5 1 2 3 4 5 6 7 8 20 0 1 0 9 1000\n", "x", 0, 0, false},
	}
	for _, tt := range tests {
		start, flags, comm, ok := parseStat([]byte(tt.in))
		if ok != tt.ok || (ok && (string(comm) != tt.comm || start != tt.start || flags != tt.flags)) {
			t.Errorf("parseStat(%q) = %d, %#x, %q, %v; want %d, %#x, %q, %v", tt.in, start, flags, comm, ok, tt.start, tt.flags, tt.comm, tt.ok)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	b, err := os.ReadFile("/proc/self/stat")
	if err == nil {
		f.Add(b)
	}
	f.Add([]byte("1 (a b) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1000 100\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, comm, ok := parseStat(b)
		if ok && len(comm) > len(b) {
			t.Fatal("comm longer than input")
		}
	})
}

// TestOwnersStaleAtMostListEvery covers the one change an unchanged fd
// count hides: a process closes a socket that lives on in another process
// and opens something else. The stale owner must go within listEvery
// refreshes.
func TestOwnersStaleAtMostListEvery(t *testing.T) {
	fp := newFakeProc(t)
	fp.proc(10, "a", 1)
	fp.fd(10, 3, sockLink(500))
	fp.proc(11, "b", 1)
	fp.fd(11, 4, sockLink(500))
	o := newOwners(fp.root)
	o.fdCount = func(_ int, pid string) (int, uint64, bool) { return fp.fdCount(pid) }
	if err := o.refresh(context.Background(), socketsOf(500)); err != nil {
		t.Fatal(err)
	}
	fp.close(10, 3)
	fp.fd(10, 5, "/dev/null")
	for i := 1; i <= listEvery; i++ {
		socks := socketsOf(500)
		if err := o.refresh(context.Background(), socks); err != nil {
			t.Fatal(err)
		}
		if len(ownersOf(socks)[500]) == 1 {
			t.Logf("stale owner gone after %d refreshes", i)
			return
		}
	}
	t.Fatalf("stale owner still there after %d refreshes", listEvery)
}

// TestOwnersChurnBoundsFullPasses: sockets closed between the dump and the
// scan are in the table but in no fd directory. A busy server has some in
// every refresh; they must not make every refresh readlink every fd.
func TestOwnersChurnBoundsFullPasses(t *testing.T) {
	fp := newFakeProc(t)
	fp.proc(10, "srv", 1)
	for fd := range 50 {
		fp.fd(10, fd, sockLink(100+fd))
	}
	o := newOwners(fp.root)
	inodes := make([]uint64, 0, 51)
	for fd := range 50 {
		inodes = append(inodes, uint64(100+fd))
	}
	const refreshes = 40
	allPasses, readlinks := 0, 0
	for i := range refreshes {
		socks := socketsOf(append(inodes, uint64(9000+i))...) // gone before the scan
		if err := o.refresh(context.Background(), socks); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			continue
		}
		if o.stats.FullPasses == 2 {
			allPasses++
		}
		readlinks += o.stats.Readlinks
		if got := len(ownersOf(socks)); got != 50 {
			t.Fatalf("refresh %d: %d owned sockets, want 50", i, got)
		}
	}
	if max := refreshes/listEvery + 1; allPasses > max {
		t.Errorf("%d passes over every fd in %d refreshes, want at most %d", allPasses, refreshes, max)
	}
	t.Logf("%d passes over every fd, %d readlinks in %d refreshes", allPasses, readlinks, refreshes-1)
}

// TestOwnersKernelThreads: a kernel thread costs one stat of its /proc
// directory per refresh (its stat file is not read again), and a PID of
// a kernel thread that a user process reuses is scanned in full.
func TestOwnersKernelThreads(t *testing.T) {
	fp := newFakeProc(t)
	fp.kthread(50, "kworker/0:1", 10)
	fp.proc(100, "nginx", 5000)
	fp.fd(100, 3, sockLink(1000))
	o := newOwners(fp.root)
	socks := socketsOf(1000, 2000)
	if err := o.refresh(context.Background(), socks); err != nil {
		t.Fatal(err)
	}
	if ps := o.procs[50]; ps == nil || !ps.kthread || ps.comm != "kworker/0:1" {
		t.Fatalf("pid 50 not known as a kernel thread: %+v", o.procs[50])
	}
	// Without its stat file the thread is still known: the stat is not read.
	if err := os.Remove(filepath.Join(fp.root, "50", "stat")); err != nil {
		t.Fatal(err)
	}
	if err := o.refresh(context.Background(), socks); err != nil {
		t.Fatal(err)
	}
	if o.procs[50] == nil || o.stats.Unlisted < 1 {
		t.Fatalf("kernel thread dropped or listed: %+v, stats %+v", o.procs[50], o.stats)
	}
	// The thread exits and a user process gets its PID (a new /proc
	// directory, whose inode differs as procfs gives each a new one; the
	// old one is kept until then so that this file system cannot reuse
	// its number).
	old := filepath.Join(fp.root, "exited-50")
	if err := os.Rename(filepath.Join(fp.root, "50"), old); err != nil {
		t.Fatal(err)
	}
	fp.proc(50, "sshd", 9000)
	fp.fd(50, 4, sockLink(2000))
	if err := os.RemoveAll(old); err != nil {
		t.Fatal(err)
	}
	if err := o.refresh(context.Background(), socks); err != nil {
		t.Fatal(err)
	}
	want := map[uint64][]string{1000: {"nginx/100/3"}, 2000: {"sshd/50/4"}}
	if diff := cmp.Diff(want, ownersOf(socks)); diff != "" {
		t.Errorf("owners after the PID was reused (-want +got):\n%s", diff)
	}
	if o.procs[50].kthread {
		t.Error("pid 50 still marked a kernel thread")
	}
	// Gone: dropped.
	fp.exit(50)
	if err := o.refresh(context.Background(), socketsOf(1000)); err != nil {
		t.Fatal(err)
	}
	if o.procs[50] != nil {
		t.Error("an exited process is still cached")
	}
}
