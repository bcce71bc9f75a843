package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// TestIntegrationCheckDirReadOnly: a directory on a file system mounted
// read-only is not writable, even for root (EROFS).
func TestIntegrationCheckDirReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a read-only file system needs root")
	}
	dir := t.TempDir()
	inMountNS(t, func() {
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_RDONLY, ""); err != nil {
			t.Fatalf("mount: %v", err)
		}
		defer unix.Unmount(dir, 0)
		err := CheckDir(dir)
		if err == nil || !strings.Contains(err.Error(), dir+": not writable") || !errors.Is(err, unix.EROFS) {
			t.Errorf("CheckDir(%s) = %v, want not writable: EROFS", dir, err)
		}
	})
}
