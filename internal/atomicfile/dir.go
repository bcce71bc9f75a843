package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// CheckDir reports whether dir is a directory this process may create
// files in (it creates an unnamed one, O_TMPFILE, where the file system
// can), so that a caller can say so before a
// write fails: at start for a configured output directory. Its error
// names dir and says what is wrong in a few words ("no such directory",
// "not a directory", "not writable: read-only file system"); it wraps
// fs.ErrNotExist, fs.ErrPermission or the errno. It is safe for
// concurrent use.
func CheckDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", dir, errNoDir{})
	case err != nil:
		return fmt.Errorf("%s: %w", dir, unwrap(err))
	case !fi.IsDir():
		return fmt.Errorf("%s: not a directory", dir)
	}
	// An unnamed file (O_TMPFILE) is what a write would meet, and leaves
	// nothing behind; file systems without it (proc, some FUSE) get the
	// permission check alone.
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err == nil {
		unix.Close(fd)
		return nil
	}
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) {
		err = unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK|unix.X_OK, unix.AT_EACCESS)
	}
	if err != nil {
		return fmt.Errorf("%s: not writable: %w", dir, err)
	}
	return nil
}

// errNoDir is a directory that does not exist; it is fs.ErrNotExist.
type errNoDir struct{}

func (errNoDir) Error() string        { return "no such directory" }
func (errNoDir) Is(target error) bool { return target == fs.ErrNotExist }
