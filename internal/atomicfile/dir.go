package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// CheckDir reports whether dir is a directory this process may create
// files in, so that a caller can say so before a write fails: at start
// for a configured output directory. It creates an unnamed file
// (O_TMPFILE), which leaves nothing behind; where the file system cannot
// (proc, sysfs, cgroupfs, some FUSE), it creates a named temporary file
// (".netlens-check.tmp-" and random hex digits, never an existing name)
// and removes it at once, as Check does. Permission bits alone would not
// do: root passes them in /proc, where no file can be created. Its error
// names dir and says what is wrong in a few words ("no such directory",
// "not a directory", "not writable: read-only file system", "cannot
// create a file there: permission denied"); it wraps fs.ErrNotExist,
// fs.ErrPermission or the errno. It is safe for concurrent use.
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
	fd, err := openTmpfile(dir)
	if err == nil {
		unix.Close(fd)
		return nil
	}
	// EOPNOTSUPP: the file system has no O_TMPFILE; EISDIR: the kernel
	// has none (before 3.11).
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) {
		return fmt.Errorf("%s: not writable: %w", dir, err)
	}
	// The permission bits first, for the message users without
	// privileges have always had; then a file, for the truth.
	if err := unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK|unix.X_OK, unix.AT_EACCESS); err != nil {
		return fmt.Errorf("%s: not writable: %w", dir, err)
	}
	f, err := openTemp(dir, "netlens-check", Private)
	if err != nil {
		return fmt.Errorf("%s: cannot create a file there: %w", dir, createErr(dir, err))
	}
	if err := removeTemp(f); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}

// openTmpfile opens an unnamed file in dir. A variable so that tests can
// take O_TMPFILE away, as a file system without it does.
var openTmpfile = func(dir string) (int, error) {
	return unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
}

// createErr is the reason a file could not be created in dir, which
// exists. The kernel's own file systems refuse with an errno that makes
// little sense to a user (ENOENT in /proc): the reason names the file
// system as well. ENOENT is not wrapped: errors.Is(err, fs.ErrNotExist)
// is for a directory that does not exist.
func createErr(dir string, err error) error {
	var sfs unix.Statfs_t
	name := ""
	if unix.Statfs(dir, &sfs) == nil {
		name = kernelFS[uint32(sfs.Type)] // int32 on some 32-bit ports
	}
	switch {
	case name != "" && errors.Is(err, unix.ENOENT):
		return fmt.Errorf("a %s file system, not storage (%v)", name, err)
	case name != "":
		return fmt.Errorf("a %s file system, not storage (%w)", name, err)
	case errors.Is(err, unix.ENOENT):
		return errors.New(err.Error())
	}
	return err
}

// kernelFS names the file systems, by statfs magic (f_type), that show
// the kernel's state as files, where a program cannot create a file.
var kernelFS = map[uint32]string{
	unix.PROC_SUPER_MAGIC:    "proc",
	unix.SYSFS_MAGIC:         "sysfs",
	unix.CGROUP_SUPER_MAGIC:  "cgroup",
	unix.CGROUP2_SUPER_MAGIC: "cgroup2",
	unix.DEBUGFS_MAGIC:       "debugfs",
	unix.TRACEFS_MAGIC:       "tracefs",
	unix.BPF_FS_MAGIC:        "bpf",
	unix.DEVPTS_SUPER_MAGIC:  "devpts",
	unix.SECURITYFS_MAGIC:    "securityfs",
	unix.PSTOREFS_MAGIC:      "pstore",
	unix.EFIVARFS_MAGIC:      "efivarfs",
	unix.BINFMTFS_MAGIC:      "binfmt_misc",
	unix.SELINUX_MAGIC:       "selinuxfs",
}

// errNoDir is a directory that does not exist; it is fs.ErrNotExist.
type errNoDir struct{}

func (errNoDir) Error() string        { return "no such directory" }
func (errNoDir) Is(target error) bool { return target == fs.ErrNotExist }
