package recorder

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"netlens/export"
	"netlens/internal/atomicfile"
	"netlens/model"
)

// ErrLowSpace is wrapped by the error that stops the recorder when the
// filesystem is (nearly) full.
var ErrLowSpace = errors.New("not enough free space")

// ErrOverBudget is wrapped by the error that stops the recorder when one
// snapshot alone is larger than MaxBytes: keeping it would break the
// budget, and the files already kept stay.
var ErrOverBudget = errors.New("a snapshot is larger than the byte budget")

// Defaults of Options.
const (
	DefaultInterval = 10 * time.Second
	DefaultKeep     = 360
	DefaultMinFree  = 64 << 20
)

// Suffix ends the name of every file the recorder writes; only files
// named netlens-*.json.gz are rotated, never anything else in the
// directory.
const Suffix = ".json.gz"

// Options configure a Recorder.
type Options struct {
	// Dir is where the snapshots go; it must exist.
	Dir string
	// Interval is the time between snapshots (Run).
	Interval time.Duration
	// Keep is how many snapshot files to keep at most (the newest).
	Keep int
	// MaxBytes, when above zero, bounds the bytes the kept files take;
	// the oldest go first. A snapshot larger than MaxBytes by itself is
	// not written (ErrOverBudget).
	MaxBytes int64
	// MinFree is the free space (bytes) of Dir's filesystem below which
	// the recorder stops rather than write.
	MinFree int64
}

// Recorder writes snapshots into a directory and rotates them.
type Recorder struct {
	o  Options
	mu sync.Mutex
	// statfs returns the bytes available to an unprivileged user on
	// the filesystem of path; tests replace it.
	statfs func(path string) (uint64, error)
	// lastName and dup number the files of snapshots with one TakenAt.
	lastName string
	dup      int
	// host is the host part of the names written (set by Write): the
	// files rotate counts and removes.
	host string
}

// New returns a Recorder for o, after checking Dir is a directory it can
// write into (atomicfile.CheckDir).
func New(o Options) (*Recorder, error) {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	if o.MinFree < 0 {
		o.MinFree = 0
	}
	if err := atomicfile.CheckDir(o.Dir); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return &Recorder{o: o, statfs: available}, nil
}

// Options returns the options in force (defaults filled in).
func (r *Recorder) Options() Options { return r.o }

func available(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// FileName is the name snap is recorded under.
func FileName(snap model.Snapshot) string {
	return strings.TrimSuffix(export.FileName(snap.Host, snap.TakenAt), ".json") +
		fmt.Sprintf(".%03d", snap.TakenAt.Nanosecond()/1e6) + Suffix
}

// Write records snap (gzip-compressed, atomically) and rotates the
// directory. It returns the path written. An error wrapping ErrLowSpace
// means the filesystem is full or below MinFree, one wrapping
// ErrOverBudget that the snapshot alone is larger than MaxBytes: nothing
// was written, no file removed, and recording should stop.
func (r *Recorder) Write(snap model.Snapshot) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := export.Write(zw, snap); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	if free, err := r.statfs(r.o.Dir); err == nil && free < uint64(r.o.MinFree)+uint64(buf.Len()) {
		return "", fmt.Errorf("%w on %s: %s free, the floor is %s (--min-free) and a snapshot takes %s: recording stopped",
			ErrLowSpace, r.o.Dir, human(int64(free)), human(r.o.MinFree), human(int64(buf.Len())))
	}
	name := FileName(snap)
	if m := recording.FindStringSubmatch(name); m != nil {
		r.host = m[1] // before keptFiles: only this host's files count
	}
	if r.o.MaxBytes > 0 && int64(buf.Len()) > r.o.MaxBytes {
		return "", fmt.Errorf("%w: this one takes %d bytes compressed, the budget is %d bytes (--max-bytes): nothing written%s, recording stopped",
			ErrOverBudget, buf.Len(), r.o.MaxBytes, r.keptFiles())
	}
	// Two snapshots of one instant (a store that did not change between
	// intervals) get numbered names that sort after the first.
	if name == r.lastName {
		r.dup++
	} else {
		r.lastName, r.dup = name, 0
	}
	if r.dup > 0 {
		name = strings.TrimSuffix(name, Suffix) + fmt.Sprintf("-%04d", r.dup) + Suffix
	}
	path := filepath.Join(r.o.Dir, name)
	if err := export.WriteAtomic(path, buf.Bytes()); err != nil {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return "", fmt.Errorf("%w: %v: recording stopped", ErrLowSpace, err)
		}
		return "", err
	}
	return path, r.rotate()
}

// Files returns the recorded files in Dir, oldest first: once it has
// written, only those of its own host.
func (r *Recorder) Files() ([]string, error) {
	return files(r.o.Dir, r.host)
}

// Files returns the snapshot files recorders wrote in dir (any host),
// oldest first.
func Files(dir string) ([]string, error) {
	return files(dir, "")
}

// recording matches the name of a recorded file (FileName, with the
// number of a second file of the same instant): its host, its time.
var recording = regexp.MustCompile(`^netlens-(.+)-([0-9]{8}T[0-9]{6}Z\.[0-9]{3}(?:-[0-9]{4})?)\.json\.gz$`)

// files returns the recorded files in dir of host ("": any), oldest
// first (by time, then host). Nothing else is a recording, not even
// another netlens-*.json.gz: rotation must never remove it.
func files(dir, host string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type rec struct{ path, host, at string }
	var recs []rec
	for _, e := range ents {
		m := recording.FindStringSubmatch(e.Name())
		if !e.Type().IsRegular() || m == nil || (host != "" && m[1] != host) {
			continue
		}
		recs = append(recs, rec{filepath.Join(dir, e.Name()), m[1], m[2]})
	}
	slices.SortFunc(recs, func(a, b rec) int { return cmp.Or(strings.Compare(a.at, b.at), strings.Compare(a.host, b.host)) })
	out := make([]string, len(recs))
	for i, x := range recs {
		out[i] = x.path
	}
	return out, nil
}

// keptFiles says which files of this recorder stay after a refused
// write: " (the 3 files recorded before stay)", "" for none.
func (r *Recorder) keptFiles() string {
	files, _ := r.Files()
	switch len(files) {
	case 0:
		return ""
	case 1:
		return " (the file recorded before stays)"
	}
	return fmt.Sprintf(" (the %d files recorded before stay)", len(files))
}

// rotate removes the oldest files past Keep or MaxBytes.
func (r *Recorder) rotate() error {
	files, err := r.Files()
	if err != nil {
		return err
	}
	sizes := make([]int64, len(files))
	var total int64
	for i, f := range files {
		if fi, err := os.Stat(f); err == nil {
			sizes[i] = fi.Size()
			total += sizes[i]
		}
	}
	for i := 0; i < len(files)-1; i++ {
		over := len(files)-i > r.o.Keep || (r.o.MaxBytes > 0 && total > r.o.MaxBytes)
		if !over {
			break
		}
		if err := os.Remove(files[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("record: rotate: %w", err)
		}
		total -= sizes[i]
	}
	return nil
}

// Source gives the latest snapshot; *model.Store is one.
type Source interface {
	Snapshot() model.Snapshot
}

// holder is a Source that lends its snapshot's socket list (a
// model.Store): Run gives it back after each write, so that the sockets
// collector can fill it again.
type holder interface {
	Hold() (model.Snapshot, *model.Lease)
}

// write writes src's snapshot.
func (r *Recorder) write(src Source) (string, error) {
	if h, ok := src.(holder); ok {
		snap, lease := h.Hold()
		defer lease.Release()
		return r.Write(snap)
	}
	return r.Write(src.Snapshot())
}

// Run writes src's snapshot every Interval until ctx is done (nil) or a
// write fails (the error). written, when not nil, is called after each
// file.
func (r *Recorder) Run(ctx context.Context, src Source, written func(path string)) error {
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if ctx.Err() != nil {
			return nil
		}
		p, err := r.write(src)
		if err != nil {
			return err
		}
		if written != nil {
			written(p)
		}
	}
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
