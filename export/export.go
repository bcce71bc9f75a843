package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"netlens/internal/atomicfile"
	"netlens/jsonenc"
	"netlens/model"
)

// Marshal returns snap as indented JSON, ending in a newline.
func Marshal(snap model.Snapshot) ([]byte, error) {
	var b bytes.Buffer
	if err := jsonenc.WriteSnapshot(&b, snap, true); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write writes snap as indented JSON to w, streamed.
func Write(w io.Writer, snap model.Snapshot) error {
	return jsonenc.WriteSnapshot(w, snap, true)
}

// FileName returns the name a snapshot taken on host at t is saved under:
// netlens-<host>-<UTC timestamp>.json, e.g. netlens-web1-20261121T050102Z.json.
// Characters that are awkward in file names are replaced by '_'.
func FileName(host string, t time.Time) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, host)
	if clean == "" {
		clean = "unknown"
	}
	return fmt.Sprintf("netlens-%s-%s.json", clean, t.UTC().Format("20060102T150405Z"))
}

// Save writes snap into dir under FileName(snap.Host, snap.TakenAt) and
// returns the path. If that name exists already (two snapshots in one
// second), a numeric suffix is added.
func Save(dir string, snap model.Snapshot) (string, error) {
	if dir == "" {
		dir = "."
	}
	name := FileName(snap.Host, snap.TakenAt)
	path := filepath.Join(dir, name)
	for i := 2; ; i++ {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		path = filepath.Join(dir, strings.TrimSuffix(name, ".json")+fmt.Sprintf("-%d.json", i))
	}
	if err := WriteFile(path, snap); err != nil {
		return "", err
	}
	return path, nil
}

// WriteFile writes snap as indented JSON to path with atomicfile: a
// regular file atomically (no partial snapshot is ever seen, a failure
// leaves nothing behind), a device, FIFO or /dev/fd/N directly, "-" to
// standard output; a new file is 0644 less the umask, an existing one
// keeps its mode and owner. The error names the path and the cause in
// one line.
func WriteFile(path string, snap model.Snapshot) error {
	return WriteFileIndent(path, snap, true)
}

// WriteFileIndent is WriteFile with the choice of compact or indented
// JSON; the snapshot is streamed into the file.
func WriteFileIndent(path string, snap model.Snapshot, indent bool) error {
	return writeShared(path, func(w io.Writer) error { return jsonenc.WriteSnapshot(w, snap, indent) })
}

// WriteAtomic writes data to path as WriteFile does (atomicfile, mode
// 0644 less the umask for a new file); on any error a regular target is
// left as it was and the error names the path and the cause (which
// errors.Is still finds, e.g. syscall.ENOSPC).
func WriteAtomic(path string, data []byte) error {
	return writeShared(path, func(w io.Writer) error { _, err := w.Write(data); return err })
}

func writeShared(path string, fill func(io.Writer) error) error {
	if err := atomicfile.Write(path, atomicfile.Shared, fill); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}
