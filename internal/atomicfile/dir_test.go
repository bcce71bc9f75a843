package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestCheckDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir string
		want      string // "" for no error
		is        error
	}{
		{"writable", tmp, "", nil},
		{"missing", filepath.Join(tmp, "no", "such"), "no such directory", fs.ErrNotExist},
		{"a file", file, "not a directory", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDir(tt.dir)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("CheckDir(%s) = %v, want nil", tt.dir, err)
			case tt.want == "":
				return
			case err == nil || !strings.Contains(err.Error(), tt.want):
				t.Fatalf("CheckDir(%s) = %v, want %q", tt.dir, err, tt.want)
			case tt.is != nil && !errors.Is(err, tt.is):
				t.Errorf("CheckDir(%s) = %v, not %v", tt.dir, err, tt.is)
			}
		})
	}
}

// noTmpfile makes CheckDir meet a file system without O_TMPFILE (proc,
// sysfs, some FUSE) until the test ends.
func noTmpfile(t *testing.T) {
	t.Helper()
	orig := openTmpfile
	openTmpfile = func(string) (int, error) { return -1, unix.EOPNOTSUPP }
	t.Cleanup(func() { openTmpfile = orig })
}

// TestCheckDirKernelFS: the kernel's file systems, where no file can be
// created, are not writable, even for root, whose permission bits pass
// (CheckDir said they were, and the TUI's s failed only when pressed).
// The error says why in words, not as /proc's ENOENT, and is not
// fs.ErrNotExist (the directory exists).
func TestCheckDirKernelFS(t *testing.T) {
	tests := []struct{ dir, fs string }{
		{"/proc", "proc"},
		{"/proc/net", "proc"},
		{"/sys", "sysfs"},
		{"/sys/class/net", "sysfs"},
		{cgroupMount(t), "cgroup"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			if tt.dir == "" {
				t.Skip("no cgroup or cgroup2 file system is mounted (/proc/self/mountinfo)")
			}
			want := tt.dir + ": not writable: " // the permission bits
			if os.Geteuid() == 0 {
				want = tt.dir + ": cannot create a file there: a " + tt.fs
			}
			err := CheckDir(tt.dir)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("CheckDir(%s) = %v, want %q...", tt.dir, err, want)
			}
			if errors.Is(err, fs.ErrNotExist) {
				t.Errorf("CheckDir(%s) = %v, is fs.ErrNotExist", tt.dir, err)
			}
		})
	}
}

// cgroupMount is where a cgroup or cgroup2 file system is mounted, or "".
func cgroupMount(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE ...
		f := strings.Fields(line)
		for i, w := range f {
			if w == "-" && i+1 < len(f) && strings.HasPrefix(f[i+1], "cgroup") && len(f) > 4 {
				return f[4]
			}
		}
	}
	return ""
}

// TestCheckDirNoTmpfile: where the file system has no O_TMPFILE, a
// writable directory is found writable by creating a named file, which
// is removed; the user's files, even ones named like it, are left alone.
func TestCheckDirNoTmpfile(t *testing.T) {
	noTmpfile(t)
	dir := t.TempDir()
	mine := map[string]string{
		".netlens-check.tmp-000000000000": "a user's file",
		".netlens-check":                  "another",
		"notes":                           "and another",
	}
	for name, data := range mine {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if err := CheckDir(dir); err != nil {
			t.Fatalf("CheckDir(%s) = %v, want nil", dir, err)
		}
	}
	got := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got[e.Name()] = string(b)
	}
	if diff := cmp.Diff(mine, got); diff != "" {
		t.Errorf("directory after CheckDir (-want +got):\n%s", diff)
	}
	// A directory it cannot write into, for users whose permission bits
	// say so: the message they have always had.
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		if err := CheckDir(ro); err == nil || !strings.Contains(err.Error(), ro+": not writable: permission denied") {
			t.Errorf("CheckDir(%s) = %v, want not writable: permission denied", ro, err)
		}
	}
}

// TestIntegrationCheckDirReadOnly: a directory on a file system mounted
// read-only, or in a read-only bind mount, is not writable, even for
// root (EROFS), with O_TMPFILE and without it.
func TestIntegrationCheckDirReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a read-only file system needs root")
	}
	mounts := []struct {
		name  string
		mount func(dir string) error
	}{
		{"tmpfs mounted read-only", func(dir string) error {
			return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_RDONLY, "")
		}},
		{"read-only bind mount", func(dir string) error {
			if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
				return err
			}
			return unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
		}},
	}
	for _, m := range mounts {
		for _, tmpfile := range []bool{true, false} {
			name := m.name
			if !tmpfile {
				name += ", no O_TMPFILE"
			}
			t.Run(name, func(t *testing.T) {
				if !tmpfile {
					noTmpfile(t)
				}
				dir := t.TempDir()
				inMountNS(t, func() {
					if err := m.mount(dir); err != nil {
						t.Fatalf("mount: %v", err)
					}
					defer unix.Unmount(dir, unix.MNT_DETACH)
					err := CheckDir(dir)
					if err == nil || !strings.Contains(err.Error(), dir+": not writable") || !errors.Is(err, unix.EROFS) {
						t.Errorf("CheckDir(%s) = %v, want not writable: EROFS", dir, err)
					}
				})
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Errorf("left %v in %s", ents, dir)
				}
			})
		}
	}
}
