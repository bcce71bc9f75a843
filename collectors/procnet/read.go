package procnet

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"netlens/model"
)

// readFile reads the file at path whole into buf (reused, grown as
// needed) and returns the filled part. It does not trust st_size (proc
// files report 0): it reads until EOF. Errors are *os.PathError, so
// errors.Is(err, os.ErrNotExist) works.
func readFile(path string, buf []byte) ([]byte, error) {
	fd, err := openRetry(path)
	if err != nil {
		return buf[:0], &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if cap(buf) < 16<<10 {
		// Big enough for /proc/net/dev with ~100 interfaces in one
		// read(): a seq_file read in several calls can repeat or skip
		// a line when a device goes away between them.
		buf = make([]byte, 0, 16<<10)
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

func openRetry(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readOne reads procRoot/rel and parses it with fn.
func readOne(procRoot, rel string, fn parseFunc) ([]model.RawCounter, error) {
	b, err := readFile(filepath.Join(procRoot, rel), nil)
	if err != nil {
		return nil, err
	}
	return fn(newParser(), b, nil)
}
