package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// withUmask runs f with the process umask set to m.
func withUmask(m int, f func()) {
	old := syscall.Umask(m)
	defer syscall.Umask(old)
	f()
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noTemps fails if a temporary file was left in dir.
func noTemps(t *testing.T, dir string, keep ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(keep, got); diff != "" {
		t.Errorf("files in %s (-want +got):\n%s", dir, diff)
	}
}

func TestNewFileModes(t *testing.T) {
	tests := []struct {
		name  string
		umask int
		perm  fs.FileMode
		want  fs.FileMode
	}{
		{"shared umask 022", 0o022, Shared, 0o644},
		{"shared umask 077", 0o077, Shared, 0o600},
		{"shared umask 027", 0o027, Shared, 0o640},
		{"shared umask 0", 0, Shared, 0o644},
		{"private umask 022", 0o022, Private, 0o600},
		{"private umask 0", 0, Private, 0o600},
		{"private umask 077", 0o077, Private, 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			var err error
			withUmask(tt.umask, func() { err = WriteFile(path, []byte("x"), tt.perm) })
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tt.want {
				t.Errorf("mode %v, want %v", got, tt.want)
			}
			noTemps(t, dir, "out")
		})
	}
}

// TestExistingFileKeepsMode: an existing file keeps its mode whatever the
// umask and the mode asked for new files.
func TestExistingFileKeepsMode(t *testing.T) {
	for _, mode := range []fs.FileMode{0o600, 0o640, 0o664, 0o604, 0o755} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			if err := os.WriteFile(path, []byte("old"), 0); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			var err error
			withUmask(0o022, func() { err = WriteFile(path, []byte("new"), Shared) })
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(path)
			if fi.Mode().Perm() != mode {
				t.Errorf("mode %v, want %v kept", fi.Mode().Perm(), mode)
			}
			if got := mustRead(t, path); got != "new" {
				t.Errorf("content %q", got)
			}
		})
	}
}

// TestIntegrationExistingFileKeepsOwner: root rewriting a file owned by
// another user leaves it owned by that user and group.
func TestIntegrationExistingFileKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file another owner; run as root as CI does")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65533); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new"), Shared); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 65534 || st.Gid != 65533 || st.Mode&0o7777 != 0o600 {
		t.Errorf("owner %d:%d mode %o, want 65534:65533 0600", st.Uid, st.Gid, st.Mode&0o7777)
	}
	if got := mustRead(t, path); got != "new" {
		t.Errorf("content %q", got)
	}
	noTemps(t, dir, "out")
}

// TestFailureKeepsOld: a write that fails leaves the old file as it was
// and no temporary file.
func TestFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, Shared, func(w io.Writer) error {
		io.WriteString(w, "partial")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if got := mustRead(t, path); got != "old" {
		t.Errorf("content %q, want old", got)
	}
	noTemps(t, dir, "out")
}

// TestErrorsNamePath: errors name the path the caller gave and say why.
func TestErrorsNamePath(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ path, want string }{
		{filepath.Join(dir, "missing", "out"), "cannot create a file in " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{dir, "is a directory"},
		{"", "empty file name"},
	} {
		err := WriteFile(tt.path, []byte("x"), Shared)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) || !bytes.Contains([]byte(err.Error()), []byte("write "+tt.path)) {
			t.Errorf("%q: err %v, want it to name the path and say %q", tt.path, err, tt.want)
		}
	}
}

// TestCheck: Check says what Write would say for a target it cannot
// write, and leaves nothing behind for one it can: the file does not
// appear, an existing one is untouched, no temporary is left.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{filepath.Join(dir, "missing", "out"), "cannot create a file in " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{filepath.Join(file, "out"), "is not a directory"},
		{dir, "is a directory"},
		{"", "empty file name"},
	} {
		err := Check(tt.path)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) || !bytes.Contains([]byte(err.Error()), []byte("write "+tt.path)) {
			t.Errorf("%q: err %v, want it to name the path and say %q", tt.path, err, tt.want)
		}
	}
	for _, path := range []string{filepath.Join(dir, "new"), file, "/dev/null", "-"} {
		if err := Check(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check created the file (stat: %v)", err)
	}
	if got := mustRead(t, file); got != "old" {
		t.Errorf("content %q, want old", got)
	}
	noTemps(t, dir, "file")
}

// TestSymlinkKept: a link is followed, its target written atomically and
// the link kept; a dangling link creates its target.
func TestSymlinkKept(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	target := filepath.Join(sub, "target")
	if err := os.WriteFile(target, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/target", filepath.Join(dir, "rel")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "rel"), filepath.Join(dir, "chain")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/new", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{"rel", "chain"} {
		if err := WriteFile(filepath.Join(dir, link), []byte("via "+link), Shared); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(filepath.Join(dir, link))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("%s is no longer a link: %v %v", link, fi.Mode(), err)
		}
		if got := mustRead(t, target); got != "via "+link {
			t.Errorf("target after %s: %q", link, got)
		}
		if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o640 {
			t.Errorf("target mode %v, want 0640 kept", fi.Mode().Perm())
		}
	}
	if err := WriteFile(filepath.Join(dir, "dangling"), []byte("created"), Shared); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(sub, "new")); got != "created" {
		t.Errorf("dangling target %q", got)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "dangling")); fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("dangling is no longer a link")
	}
	noTemps(t, sub, "new", "target")

	loop := filepath.Join(dir, "loop")
	os.Symlink("loop", loop)
	if err := WriteFile(loop, nil, Shared); err == nil {
		t.Errorf("a link loop was written")
	}
}

// TestFIFO: a FIFO is written to, not replaced.
func TestFIFO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- string(b)
	}()
	if err := WriteFile(path, []byte("through the fifo"), Shared); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "through the fifo" {
			t.Errorf("reader got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reader got nothing in 10s")
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("fifo replaced: %v %v", fi.Mode(), err)
	}
	noTemps(t, dir, "fifo")
}

// TestSocket: a Unix socket is connected to and written, not replaced.
func TestSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	if err := WriteFile(path, []byte("to the socket"), Shared); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "to the socket" {
		t.Errorf("listener got %q", s)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSocket == 0 {
		t.Errorf("socket replaced: %v %v", fi.Mode(), err)
	}
}

// TestDescriptorPaths: /dev/fd/N, /proc/self/fd/N and
// /proc/thread-self/fd/N write to descriptor N: a pipe gets the data, and
// a regular file opened for appending is appended to, not replaced.
func TestDescriptorPaths(t *testing.T) {
	for _, pattern := range []string{"/dev/fd/%d", "/proc/self/fd/%d", "/proc/thread-self/fd/%d", fmt.Sprintf("/proc/%d/fd/%%d", os.Getpid())} {
		t.Run(pattern, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := WriteFile(fmt.Sprintf(pattern, w.Fd()), []byte("piped"), Shared); err != nil {
				t.Fatal(err)
			}
			w.Close()
			if b, _ := io.ReadAll(r); string(b) != "piped" {
				t.Errorf("pipe got %q", b)
			}

			dir := t.TempDir()
			path := filepath.Join(dir, "log")
			os.WriteFile(path, []byte("before\n"), 0o600)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var before, after unix.Stat_t
			unix.Stat(path, &before)
			if err := WriteFile(fmt.Sprintf(pattern, f.Fd()), []byte("after\n"), Shared); err != nil {
				t.Fatal(err)
			}
			unix.Stat(path, &after)
			if got := mustRead(t, path); got != "before\nafter\n" {
				t.Errorf("file %q, want appended", got)
			}
			if before.Ino != after.Ino {
				t.Errorf("the file behind the descriptor was replaced")
			}
			noTemps(t, dir, "log")
		})
	}
}

// TestDash: "-" is standard output.
func TestDash(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	err = WriteFile("-", []byte("to stdout"), Shared)
	os.Stdout = old
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); string(b) != "to stdout" {
		t.Errorf("stdout got %q", b)
	}
	if _, err := os.Lstat("-"); err == nil {
		t.Errorf("a file named - was created")
	}
}

// TestIntegrationDeviceNodes writes to /dev/null, /dev/stdout and
// /dev/fd/N by those very names, in a private mount namespace whose /dev
// is a tmpfs made for the test (so that a wrong rename could not touch
// the host's /dev): the devices stay devices and the data goes where a
// shell redirection would send it.
func TestIntegrationDeviceNodes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a private mount namespace; run as root as CI does")
	}
	inMountNS(t, func() {
		if err := unix.Mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755"); err != nil {
			t.Fatalf("mount tmpfs on /dev: %v", err)
		}
		if err := unix.Mknod("/dev/null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatalf("mknod /dev/null: %v", err)
		}
		for link, dest := range map[string]string{"/dev/fd": "/proc/self/fd", "/dev/stdout": "/proc/self/fd/1"} {
			if err := os.Symlink(dest, link); err != nil {
				t.Fatal(err)
			}
		}

		if err := WriteFile("/dev/null", bytes.Repeat([]byte("x"), 300<<10), Shared); err != nil {
			t.Errorf("/dev/null: %v", err)
		}
		var st unix.Stat_t
		if err := unix.Lstat("/dev/null", &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
			t.Errorf("/dev/null is no longer the null device: mode %o rdev %d: %v", st.Mode, st.Rdev, err)
		}

		// /dev/stdout with descriptor 1 a pipe.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		saved, err := unix.Dup(1)
		if err != nil {
			t.Fatal(err)
		}
		unix.Dup2(int(w.Fd()), 1)
		err = WriteFile("/dev/stdout", []byte("stdout data"), Shared)
		unix.Dup2(saved, 1)
		unix.Close(saved)
		if err != nil {
			t.Errorf("/dev/stdout: %v", err)
		}
		if err := WriteFile("/dev/fd/"+strconv.Itoa(int(w.Fd())), []byte(" and fd data"), Shared); err != nil {
			t.Errorf("/dev/fd/N: %v", err)
		}
		w.Close()
		if b, _ := io.ReadAll(r); string(b) != "stdout data and fd data" {
			t.Errorf("pipe got %q", b)
		}
		r.Close()
		fi, err := os.Lstat("/dev/stdout")
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("/dev/stdout is no longer a link: %v %v", fi.Mode(), err)
		}
		ents, _ := os.ReadDir("/dev")
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if diff := cmp.Diff([]string{"fd", "null", "stdout"}, names); diff != "" {
			t.Errorf("/dev (-want +got):\n%s", diff)
		}
	})
}
