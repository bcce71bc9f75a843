package atomicfile

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Modes for new files; the umask applies on top.
const (
	// Private is for files whose content is sensitive: packet captures
	// (payloads) and state files.
	Private fs.FileMode = 0o600
	// Shared is for snapshots and rules files, readable by others unless
	// the umask says otherwise.
	Shared fs.FileMode = 0o644
)

// maxLinks bounds how many symbolic links are followed, as the kernel's
// ELOOP does.
const maxLinks = 40

// WriteFile writes data to path; see the package documentation for what
// happens for each kind of target. perm is the mode of a new file, before
// the umask.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write calls fill with a buffered writer to path and finishes the write
// (flush, fsync, rename) once fill returns nil. If fill or anything after
// it fails, a regular target is left as it was. Errors name path.
func Write(path string, perm fs.FileMode, fill func(io.Writer) error) error {
	if err := write(path, perm, fill); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Check returns the error Write would meet creating path, without
// writing it, so that a command can refuse an output it cannot write
// before it does the work (a capture). For a regular file or a new name
// it creates a temporary file next to the target and removes it; a
// device, FIFO, socket or descriptor is not opened (a FIFO would wait for
// a reader). Errors name path, as Write's do.
func Check(path string) error {
	if err := check(path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func check(path string) error {
	if path == "" {
		return errors.New("empty file name")
	}
	if path == "-" {
		return nil
	}
	t, err := resolve(path)
	if err != nil || t.fd >= 0 || t.inPlace {
		return err
	}
	if t.info != nil {
		switch m := t.info.Mode(); {
		case m.IsDir():
			return fmt.Errorf("%s is a directory", t.path)
		case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
			return fmt.Errorf("refusing to write to block device %s", t.path)
		case !m.IsRegular():
			return nil
		}
	}
	f, err := createTemp(filepath.Dir(t.path), filepath.Base(t.path), Private)
	if err != nil {
		return err
	}
	return removeTemp(f)
}

// target is what a path names once symbolic links are followed.
type target struct {
	path string      // the file to write (links resolved)
	info fs.FileInfo // nil if it does not exist
	fd   int         // >= 0: this process's descriptor (/dev/fd/N)
	// inPlace: another process's open regular file (/proc/PID/fd/N),
	// truncated and written as that process sees it, never replaced.
	inPlace bool
}

func write(path string, perm fs.FileMode, fill func(io.Writer) error) error {
	if path == "" {
		return errors.New("empty file name")
	}
	if path == "-" {
		return writeTo(os.Stdout, fill, false)
	}
	t, err := resolve(path)
	if err != nil {
		return err
	}
	if t.fd >= 0 {
		fd, err := unix.FcntlInt(uintptr(t.fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("descriptor %d: %w", t.fd, err)
		}
		f := os.NewFile(uintptr(fd), t.path)
		defer f.Close()
		return writeTo(f, fill, true)
	}
	if t.inPlace {
		f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return unwrap(err)
		}
		return writeClose(f, fill)
	}
	if t.info == nil {
		return writeAtomic(t.path, nil, perm, fill)
	}
	switch m := t.info.Mode(); {
	case m.IsRegular():
		return writeAtomic(t.path, t.info, perm, fill)
	case m&fs.ModeNamedPipe != 0, m&fs.ModeCharDevice != 0:
		f, err := os.OpenFile(t.path, os.O_WRONLY|unix.O_NOCTTY, 0)
		if err != nil {
			return unwrap(err)
		}
		defer f.Close()
		return writeTo(f, fill, false)
	case m&fs.ModeSocket != 0:
		c, err := net.Dial("unix", t.path)
		if err != nil {
			return fmt.Errorf("connect to socket %s: %w", t.path, unwrapNet(err))
		}
		defer c.Close()
		bw := bufio.NewWriter(c)
		if err := fill(bw); err != nil {
			return err
		}
		return bw.Flush()
	case m.IsDir():
		return fmt.Errorf("%s is a directory", t.path)
	case m&fs.ModeDevice != 0:
		return fmt.Errorf("refusing to write to block device %s", t.path)
	default:
		return fmt.Errorf("%s is not a file netlens writes to (%v)", t.path, m.Type())
	}
}

// ownFD matches this process's descriptor directories once resolved:
// /proc/PID/fd and /proc/PID/task/TID/fd.
var ownFD = regexp.MustCompile(`^/proc/([0-9]+)(/task/[0-9]+)?/fd$`)

// resolve follows symbolic links at the end of path, stopping at a link
// in /proc (a descriptor, not a path).
func resolve(path string) (target, error) {
	p := path
	for range maxLinks {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return target{path: p, fd: -1}, nil
		}
		if errors.Is(err, unix.ENOTDIR) {
			return target{}, fmt.Errorf("%s is not a directory", filepath.Dir(p))
		}
		if err != nil {
			return target{}, unwrap(err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return target{path: p, info: fi, fd: -1}, nil
		}
		var sfs unix.Statfs_t
		if err := unix.Statfs(filepath.Dir(p), &sfs); err == nil && sfs.Type == unix.PROC_SUPER_MAGIC {
			return resolveProc(p)
		}
		dest, err := os.Readlink(p)
		if err != nil {
			return target{}, unwrap(err)
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(p), dest)
		}
		p = dest
	}
	return target{}, fmt.Errorf("%s: too many levels of symbolic links", path)
}

// resolveProc handles a link in /proc: this process's descriptor N
// (/dev/fd/N, /proc/self/fd/N, /proc/thread-self/fd/N) is written
// through a duplicate of N; another process's descriptor is opened as
// the kernel resolves it, for what it is now.
func resolveProc(p string) (target, error) {
	dir, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return target{}, unwrap(err)
	}
	m := ownFD.FindStringSubmatch(dir)
	if m == nil {
		return target{}, fmt.Errorf("%s is a /proc link netlens does not write to", p)
	}
	n, err := strconv.Atoi(filepath.Base(p))
	if err != nil {
		return target{}, fmt.Errorf("%s is not a descriptor", p)
	}
	if m[1] == strconv.Itoa(os.Getpid()) {
		return target{path: p, fd: n}, nil
	}
	fi, err := os.Stat(p)
	if err != nil {
		return target{}, unwrap(err)
	}
	return target{path: p, info: fi, fd: -1, inPlace: fi.Mode().IsRegular()}, nil
}

// writeTo writes to an open, not renamed, file. A regular file reached
// through a descriptor is fsynced; devices, FIFOs and sockets are not.
func writeTo(f *os.File, fill func(io.Writer) error, sync bool) error {
	bw := bufio.NewWriter(f)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return unwrap(err)
	}
	if sync {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if err := f.Sync(); err != nil {
				return fmt.Errorf("fsync: %w", unwrap(err))
			}
		}
	}
	return nil
}

// writeClose writes f in place, fsyncs and closes it.
func writeClose(f *os.File, fill func(io.Writer) error) error {
	if err := writeTo(f, fill, true); err != nil {
		f.Close()
		return err
	}
	return unwrap(f.Close())
}

// writeAtomic writes a regular file at path (old is its current state, or
// nil if there is none) through a temporary file renamed over it.
func writeAtomic(path string, old fs.FileInfo, perm fs.FileMode, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	mode := perm
	if old != nil {
		mode = old.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	}
	f, err := createTemp(dir, filepath.Base(path), mode)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if old != nil {
		// The kernel applied the umask to the new file: give it the old
		// mode exactly, and the old owner.
		if err = f.Chmod(mode); err != nil {
			return fmt.Errorf("chmod: %w", unwrap(err))
		}
		if st, ok := old.Sys().(*syscall.Stat_t); ok {
			if cerr := keepOwner(f, st); cerr != nil {
				f.Close()
				os.Remove(tmp)
				return writeInPlace(path, fill, cerr)
			}
		}
	}
	bw := bufio.NewWriter(f)
	if err = fill(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return unwrap(err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("fsync: %w", unwrap(err))
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close: %w", unwrap(err))
	}
	if err = os.Rename(tmp, path); err != nil {
		return unwrap(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s for fsync: %w", dir, unwrap(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, unwrap(err))
	}
	return nil
}

// keepOwner gives f the owner and group of st where they differ.
func keepOwner(f *os.File, st *syscall.Stat_t) error {
	var cur unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &cur); err != nil {
		return err
	}
	if cur.Uid == st.Uid && cur.Gid == st.Gid {
		return nil
	}
	return unix.Fchown(int(f.Fd()), int(st.Uid), int(st.Gid))
}

// writeInPlace truncates and writes path where a replacement could not
// keep its owner (why).
func writeInPlace(path string, fill func(io.Writer) error, why error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("cannot keep the owner of a replacement (%v) nor open the file: %w", why, unwrap(err))
	}
	return writeClose(f, fill)
}

// createTemp creates a new file next to the target, with mode (the umask
// applies), that nothing else can have opened. Its error says "cannot
// create a file in DIR".
func createTemp(dir, base string, mode fs.FileMode) (*os.File, error) {
	f, err := openTemp(dir, base, mode)
	if err != nil {
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			return nil, fmt.Errorf("%s is not a directory", dir)
		}
		return nil, fmt.Errorf("cannot create a file in %s: %w", dir, err)
	}
	return f, nil
}

// errNoTempName is openTemp finding every name it tried taken.
var errNoTempName = errors.New("no free temporary name")

// openTemp creates a new file in dir named ".BASE.tmp-" and 12 random hex
// digits, with mode (the umask applies). O_EXCL makes it a file this call
// created: a name that exists, the user's or another writer's, is never
// opened, only skipped. Its error is the errno (or errNoTempName).
func openTemp(dir, base string, mode fs.FileMode) (*os.File, error) {
	var b [6]byte
	for range 100 {
		_, _ = rand.Read(b[:])
		name := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode&fs.ModePerm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, unwrap(err)
		}
		return f, nil
	}
	return nil, errNoTempName
}

// removeTemp closes and removes f, a file openTemp created that was only
// made to see whether a file can be created (Check, CheckDir). Both are
// done whatever the other returns, so that nothing is left behind; its
// error, if the file could not be removed, names it.
func removeTemp(f *os.File) error {
	f.Close() // nothing was written: close has nothing to report
	if err := os.Remove(f.Name()); err != nil {
		return fmt.Errorf("remove %s: %w", f.Name(), unwrap(err))
	}
	return nil
}

// unwrap drops an *os.PathError or *os.LinkError wrapper, whose path
// would repeat the one in the message, and keeps the cause for errors.Is.
func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

func unwrapNet(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return se.Err
		}
		return oe.Err
	}
	return err
}
