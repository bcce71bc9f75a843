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

// WriteFile writes snap as JSON to path atomically: the data goes to a
// temporary file in the same directory, which is fsynced and renamed over
// path, and the directory is fsynced. On any error no file is left behind
// and the error names the path and the cause in one line.
func WriteFile(path string, snap model.Snapshot) (err error) {
	return WriteFileIndent(path, snap, true)
}

// WriteFileIndent is WriteFile with the choice of compact or indented
// JSON; the snapshot is streamed into the file.
func WriteFileIndent(path string, snap model.Snapshot, indent bool) error {
	return writeAtomic(path, func(w io.Writer) error { return jsonenc.WriteSnapshot(w, snap, indent) })
}

// WriteAtomic writes data to path as WriteFile does: a temporary file in
// the same directory, fsynced, renamed over path, the directory fsynced;
// on any error nothing is left behind and the error names the path and
// the cause (which errors.Is still finds, e.g. syscall.ENOSPC).
func WriteAtomic(path string, data []byte) error {
	return writeAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err })
}

func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("write snapshot %s: directory %s: %w", path, dir, unwrapPathError(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("write snapshot %s: %s is not a directory", path, dir)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write snapshot %s: cannot create a file in %s: %w", path, dir, unwrapPathError(err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, unwrapPathError(err))
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write snapshot %s: fsync: %w", path, unwrapPathError(err))
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("write snapshot %s: chmod: %w", path, unwrapPathError(err))
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write snapshot %s: close: %w", path, unwrapPathError(err))
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, unwrapPathError(err))
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // best effort: the rename is durable once the directory is
		d.Close()
	}
	return nil
}

// unwrapPathError drops the *os.PathError wrapper (whose path would repeat
// the one already in the message) but keeps the cause for errors.Is.
func unwrapPathError(err error) error {
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
