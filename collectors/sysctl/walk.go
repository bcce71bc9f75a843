package sysctl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"netlens/model"
)

// Stats describes one walk.
type Stats struct {
	// Entries is the number of entries read.
	Entries int
	// Unreadable lists, sorted, the dotted names of the entries that could
	// not be read (write-only, EIO, EACCES/EPERM).
	Unreadable []string
}

// ProcSysNet reads every entry under /proc/sys/net, with root standing for
// /proc/sys (root/net is walked). Entries are sorted by name and carry the
// watch list's Watched and Why. It fails, wrapping os.ErrNotExist, only if
// root/net cannot be opened. It is safe for concurrent use.
func ProcSysNet(root string) ([]model.Sysctl, Stats, error) {
	return newWalker().walk(root)
}

// walker reads the tree, reusing its buffers and the strings of the
// previous walk: an entry whose value has not changed costs no
// allocation. A walker is not safe for concurrent use.
type walker struct {
	dirbuf  []byte
	valbuf  []byte
	normbuf []byte
	name    []byte
	// names maps a dotted name to itself; values maps it to its last
	// value. Both keep strings alive between walks so that they are not
	// allocated again.
	names  map[string]string
	values map[string]string

	// listings holds a directory listing per depth of the walk.
	listings [][]byte
	depth    int

	out        []model.Sysctl
	unreadable []string
}

func newWalker() *walker {
	return &walker{
		dirbuf: make([]byte, 16<<10),
		valbuf: make([]byte, 0, 4096),
		names:  map[string]string{},
		values: map[string]string{},
	}
}

func (w *walker) walk(root string) ([]model.Sysctl, Stats, error) {
	dir := filepath.Join(root, "net")
	fd, err := openat(unix.AT_FDCWD, dir, unix.O_DIRECTORY)
	if err != nil {
		return nil, Stats{}, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	w.out = make([]model.Sysctl, 0, len(w.values))
	w.unreadable = w.unreadable[:0]
	w.name = append(w.name[:0], "net"...)
	err = w.walkDir(fd, dir)
	unix.Close(fd)
	if err != nil {
		return nil, Stats{}, err
	}
	if len(w.values) > 2*len(w.out)+64 { // entries went away: forget them
		w.names, w.values = map[string]string{}, map[string]string{}
	}
	slices.SortFunc(w.out, func(a, b model.Sysctl) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(w.unreadable)
	for i := range w.out {
		if why, ok := watchIndex[w.out[i].Name]; ok {
			w.out[i].Watched, w.out[i].Why = true, why
		}
	}
	st := Stats{Entries: len(w.out), Unreadable: slices.Clone(w.unreadable)}
	return w.out, st, nil
}

// walkDir reads the directory open at fd, whose dotted name is in w.name
// and whose path (for errors) is path.
func (w *walker) walkDir(fd int, path string) error {
	base := len(w.name)
	// Read the whole listing first, into this depth's buffer: dirbuf is
	// reused by the recursion.
	d := w.depth
	if d == len(w.listings) {
		w.listings = append(w.listings, nil)
	}
	listing := w.listings[d][:0]
	defer func() { w.listings[d], w.depth = listing[:0], d }()
	w.depth = d + 1
	for {
		n, err := unix.ReadDirent(fd, w.dirbuf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "readdirent", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		listing = append(listing, w.dirbuf[:n]...)
	}
	for rest := listing; len(rest) > 0; {
		nb, typ, next, ok := nextDirent(rest)
		if !ok {
			return fmt.Errorf("readdirent %s: malformed dirent", path)
		}
		rest = next
		if string(nb) == "." || string(nb) == ".." {
			continue
		}
		name := w.intern(nb)
		if typ == unix.DT_UNKNOWN {
			var st unix.Stat_t
			if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				continue
			}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				typ = unix.DT_DIR
			case unix.S_IFREG:
				typ = unix.DT_REG
			}
		}
		w.name = appendElem(append(w.name[:base], '.'), name)
		switch typ {
		case unix.DT_DIR:
			sub, err := openat(fd, name, unix.O_DIRECTORY)
			if err != nil {
				continue // vanished (an interface went away)
			}
			// A subdirectory that fails (its interface went away
			// mid-walk) loses its entries, not the whole walk.
			_ = w.walkDir(sub, path+"/"+name)
			unix.Close(sub)
		case unix.DT_REG:
			w.readEntry(fd, name)
		}
	}
	w.name = w.name[:base]
	return nil
}

// readEntry reads the file name in the directory fd as the entry w.name.
func (w *walker) readEntry(dirfd int, name string) {
	dotted := w.intern(w.name)
	f, err := openat(dirfd, name, 0)
	if err != nil {
		if !errors.Is(err, unix.ENOENT) {
			w.unreadable = append(w.unreadable, dotted)
		}
		return
	}
	w.valbuf, err = readValue(f, w.valbuf)
	unix.Close(f)
	if err != nil {
		w.unreadable = append(w.unreadable, dotted)
		return
	}
	w.normbuf = normalize(w.normbuf[:0], w.valbuf)
	val, ok := w.values[dotted]
	if !ok || val != string(w.normbuf) {
		val = string(w.normbuf)
		w.values[dotted] = val
	}
	w.out = append(w.out, model.Sysctl{Name: dotted, Value: val})
}

func (w *walker) intern(b []byte) string {
	if s, ok := w.names[string(b)]; ok {
		return s
	}
	s := string(b)
	w.names[s] = s
	return s
}

// appendElem appends one path element in dotted form: '.' becomes '/'
// (sysctl(8) does the same, so that the name can be split at dots).
func appendElem(dst []byte, elem string) []byte {
	for i := 0; i < len(elem); i++ {
		c := elem[i]
		if c == '.' {
			c = '/'
		}
		dst = append(dst, c)
	}
	return dst
}

// DottedName returns the sysctl(8) name of a path below /proc/sys
// ("net/ipv4/conf/eth0.100/rp_filter" -> "net.ipv4.conf.eth0/100.rp_filter").
func DottedName(rel string) string {
	var b []byte
	for i, elem := range strings.Split(strings.Trim(rel, "/"), "/") {
		if i > 0 {
			b = append(b, '.')
		}
		b = appendElem(b, elem)
	}
	return string(b)
}

// PathOf returns the path below /proc/sys of a dotted name, the inverse
// of DottedName.
func PathOf(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch c {
		case '.':
			b[i] = '/'
		case '/':
			b[i] = '.'
		}
	}
	return string(b)
}

// normalize appends v with every run of whitespace replaced by one space
// and the ends trimmed.
func normalize(dst, v []byte) []byte {
	space := false
	for _, c := range v {
		switch c {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			space = true
			continue
		}
		if space && len(dst) > 0 {
			dst = append(dst, ' ')
		}
		space = false
		dst = append(dst, c)
	}
	return dst
}

// nextDirent parses one linux_dirent64 from b; name aliases b.
func nextDirent(b []byte) (name []byte, typ uint8, rest []byte, ok bool) {
	const hdr = 19 // d_ino 8, d_off 8, d_reclen 2, d_type 1
	if len(b) < hdr {
		return nil, 0, nil, false
	}
	reclen := int(binary.NativeEndian.Uint16(b[16:18]))
	if reclen < hdr || reclen > len(b) {
		return nil, 0, nil, false
	}
	typ = b[18]
	nb := b[hdr:reclen]
	for i, c := range nb {
		if c == 0 {
			nb = nb[:i]
			break
		}
	}
	return nb, typ, b[reclen:], true
}

func openat(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readValue reads a sysctl value from fd into buf, not trusting st_size.
// A read that leaves room in the buffer ends it: proc_sys_call_handler
// renders the whole value in every read() big enough to hold it, so the
// extra read() that would return 0 is saved (a quarter of a walk's
// system calls). A value that fills the buffer is read on, to EOF.
func readValue(fd int, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := cap(buf) - len(buf)
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf, err
		}
		buf = buf[:len(buf)+n]
		if n == 0 || n < room {
			return buf, nil
		}
	}
}
