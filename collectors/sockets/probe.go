package sockets

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// probe holds a namespace's /proc/net/sockstat, /proc/net/sockstat6 and
// /proc/net/dev open. They are opened once (for another namespace, on a
// thread inside it: a /proc/net file keeps the namespace it was opened
// in) and read again from offset 0 each time, so reading them needs no
// setns. Not safe for concurrent use.
//
// What they tell: sockstat{,6} the sockets in use per table and the
// TIME-WAIT sockets of the namespace; dev every interface's packet
// counters. A socket is made, bound, listened on, hashed or closed only
// by moving a sockstat count, and changes state (or queues, or tcp_info
// counters) only with a packet in or out of an interface of the
// namespace, loopback included. Two things move neither: an application
// draining its receive queue without the kernel sending a window update,
// and connect() on a UDP socket.
type probe struct {
	files [3]*os.File // sockstat, sockstat6, dev; nil: could not be opened
	buf   []byte
	stat  []byte // the last read of sockstat and sockstat6, for sockCounts
	key   []byte
}

var probeFiles = [3]string{"sockstat", "sockstat6", "dev"}

// openProbe opens the probe files under dir (/proc/net of the namespace).
// A file that cannot be opened is left out; if none can, the probe is
// unusable and read reports an error.
func openProbe(dir string) *probe {
	p := &probe{buf: make([]byte, 0, 4096)}
	for i, name := range probeFiles {
		if f, err := os.Open(filepath.Join(dir, name)); err == nil {
			p.files[i] = f
		}
	}
	return p
}

var errNoProbe = errors.New("no /proc/net/sockstat, sockstat6 or dev to read")

// read reads every file again and returns the fingerprint of their
// per-namespace content (see appendProbeKey), and keeps the sockstat text
// for counts.
func (p *probe) read() (uint64, error) {
	h := fnv.New64a()
	p.stat = p.stat[:0]
	opened := false
	for i, f := range p.files {
		if f == nil {
			continue
		}
		opened = true
		b, err := readAgain(f, p.buf[:0])
		p.buf = b
		if err != nil {
			return 0, err
		}
		if i < 2 {
			p.stat = append(p.stat, b...)
		}
		p.key = appendProbeKey(p.key[:0], probeFiles[i], b)
		h.Write(p.key)
	}
	if !opened {
		return 0, errNoProbe
	}
	return h.Sum64(), nil
}

// counts parses the sockstat text of the last read.
func (p *probe) counts() sockCounts {
	c := sockCounts{inuse: map[string]uint64{}}
	parseSockstat(bytes.NewReader(p.stat), &c)
	return c
}

// close closes the files; safe to call while read runs (which then
// fails).
func (p *probe) close() {
	for _, f := range p.files {
		if f != nil {
			f.Close()
		}
	}
}

// readAgain reads f whole from offset 0 into buf. A seq_file (what
// /proc/net files are) fills a read until its records end, so a pread
// that does not fill the buffer has the whole file: one syscall per read.
// A full buffer is grown and the file read again; a kernel that refuses
// pread on the file gets seek and reads until end of file.
func readAgain(f *os.File, buf []byte) ([]byte, error) {
	if cap(buf) < 4096 {
		buf = make([]byte, 0, 4096)
	}
	rc, err := f.SyscallConn() // holds the fd while in use: Close may run concurrently
	if err != nil {
		return buf[:0], err
	}
	for cap(buf) <= 1<<20 {
		var n int
		var err error
		if cerr := rc.Read(func(fd uintptr) bool { n, err = unix.Pread(int(fd), buf[:cap(buf)], 0); return true }); cerr != nil {
			return buf[:0], cerr
		}
		if err == unix.EINTR {
			continue
		}
		if err == unix.ESPIPE || err == unix.EINVAL {
			return readSeek(f, buf[:0])
		}
		if err != nil {
			return buf[:0], err
		}
		if n < cap(buf) {
			return buf[:n], nil
		}
		buf = make([]byte, 0, 2*cap(buf))
	}
	return buf[:0], fmt.Errorf("%s: more than 1 MiB", f.Name())
}

// readSeek reads f whole from offset 0 with seek and read.
func readSeek(f *os.File, buf []byte) ([]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF || (err == nil && n == 0) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// globalSockstat are the sockstat fields that count the whole host, not
// the namespace (orphans, sockets allocated, memory pages): they move
// with other namespaces' traffic and are left out of the fingerprint.
var globalSockstat = map[string]bool{"orphan": true, "alloc": true, "mem": true}

// appendProbeKey appends to dst the part of a probe file's text that
// belongs to its namespace and to the tables dumped: dev whole, sockstat
// without the host-wide fields and without "sockets: used" (which counts
// unix and netlink sockets too, and moves when the kernel makes sockets
// of its own in a namespace some seconds after it was made). Pure; the
// fuzzer calls it.
func appendProbeKey(dst []byte, name string, text []byte) []byte {
	if name == "dev" {
		return append(dst, text...)
	}
	for len(text) > 0 {
		line := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = nil
		}
		f := bytes.Fields(line)
		if len(f) > 0 && string(f[0]) == "sockets:" {
			continue // every kind of socket, unix and netlink too
		}
		for i := 0; i < len(f); i++ {
			if i > 0 && i+1 < len(f) && globalSockstat[string(f[i])] {
				i++ // skip the key and its value
				continue
			}
			dst = append(dst, f[i]...)
			dst = append(dst, ' ')
		}
		dst = append(dst, '\n')
	}
	return dst
}
