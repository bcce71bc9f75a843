package recorder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"netlens/model"
	"netlens/snapshot"
	"netlens/snapshot/snapshottest"
)

func snapAt(i int) model.Snapshot {
	return snapshottest.Build(snapshottest.Options{At: time.Duration(i) * 100 * time.Millisecond})
}

func TestKeepRotates(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not ours"), 0o644)
	r, err := New(Options{Dir: dir, Keep: 10, MinFree: 1})
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for i := range 25 {
		if last, err = r.Write(snapAt(i)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := r.Files()
	if len(files) != 10 {
		t.Fatalf("%d files, want 10", len(files))
	}
	if files[9] != last {
		t.Errorf("newest file %s, want %s", files[9], last)
	}
	for i, f := range files {
		s, err := snapshot.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if want := snapAt(15 + i).TakenAt; !s.TakenAt.Equal(want) {
			t.Errorf("file %d taken at %s, want %s", i, s.TakenAt, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("rotation touched a file that is not a recording: %v", err)
	}
}

// recordOne returns a Recorder (keeping 100, no byte budget) over a new
// directory that holds one file, the snapshot snapAt(0), and that file.
func recordOne(t *testing.T) (*Recorder, string, os.FileInfo) {
	t.Helper()
	r, _ := New(Options{Dir: t.TempDir(), Keep: 100, MinFree: 1})
	p, err := r.Write(snapAt(0))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return r, p, fi
}

func TestMaxBytesRotates(t *testing.T) {
	r, _, fi := recordOne(t)
	r.o.MaxBytes = 3*fi.Size() + fi.Size()/2
	for i := 1; i < 20; i++ {
		if _, err := r.Write(snapAt(i)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := r.Files()
	var total int64
	for _, f := range files {
		fi, _ := os.Stat(f)
		total += fi.Size()
	}
	if len(files) != 3 || total > r.o.MaxBytes {
		t.Errorf("%d files, %d bytes; want 3 within %d", len(files), total, r.o.MaxBytes)
	}
}

func TestSameInstantDoesNotClobber(t *testing.T) {
	dir := t.TempDir()
	r, _ := New(Options{Dir: dir, Keep: 3, MinFree: 1})
	for range 5 {
		if _, err := r.Write(snapAt(0)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := r.Files()
	if len(files) != 3 || !strings.HasSuffix(files[2], "-0004"+Suffix) {
		t.Errorf("files %v, want the last three of five", files)
	}
}

func TestRunWritesEveryInterval(t *testing.T) {
	dir := t.TempDir()
	r, _ := New(Options{Dir: dir, Interval: 20 * time.Millisecond, Keep: 4, MinFree: 1})
	store := model.NewStore("h", "k", time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := r.Run(ctx, store, func(string) {
		n++
		store.Publish(model.SysctlsUpdate{At: time.Now()})
		if n == 10 {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := r.Files()
	if n != 10 || len(files) != 4 {
		t.Errorf("%d writes, %d files; want 10 and 4", n, len(files))
	}
}

func TestLowSpaceFloor(t *testing.T) {
	dir := t.TempDir()
	r, _ := New(Options{Dir: dir, Keep: 3, MinFree: 1 << 20})
	r.statfs = func(string) (uint64, error) { return 512 << 10, nil }
	_, err := r.Write(snapAt(0))
	if !errors.Is(err, ErrLowSpace) || !strings.Contains(err.Error(), "recording stopped") || !strings.Contains(err.Error(), "512.0 KiB free") {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left %d entries", len(ents))
	}
}

// TestIntegrationFullTmpfs: on a real, small, full tmpfs the recorder
// stops with a clear message and leaves no partial or temporary file,
// both when the floor check sees it and when the write itself hits
// ENOSPC.
func TestIntegrationFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "netlens-rec", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	// Fill it so that half a snapshot fits.
	r, _ := New(Options{Dir: dir, Keep: 100, MinFree: 0})
	first, err := r.Write(snapAt(0))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(first)
	free, _ := available(dir)
	filler := make([]byte, int(free)-int(fi.Size())/2)
	if err := os.WriteFile(filepath.Join(dir, "filler"), filler, 0o644); err != nil {
		t.Fatalf("fill: %v", err)
	}
	before, _ := os.ReadDir(dir)

	_, err = r.Write(snapAt(1)) // the floor check sees too little room
	if !errors.Is(err, ErrLowSpace) || !strings.Contains(err.Error(), "recording stopped") {
		t.Fatalf("floor check: err = %v", err)
	}
	r.statfs = func(string) (uint64, error) { return 1 << 40, nil } // lie: the write itself fails
	_, err = r.Write(snapAt(2))
	if !errors.Is(err, ErrLowSpace) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("ENOSPC: err = %v", err)
	}
	after, _ := os.ReadDir(dir)
	if len(after) != len(before) {
		var names []string
		for _, e := range after {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v after the failed writes, want only the first file and the filler", names)
	}
	if _, err := snapshot.ReadFile(first); err != nil {
		t.Errorf("the earlier file: %v", err)
	}
}

// TestRotateOnlyOwnRecordings: rotation removes only this host's
// recordings: not another host's recorded into the same directory, not
// a netlens-*.json.gz file that is no recording (whose name would sort
// as the newest and be kept in place of the snapshot just written).
func TestRotateOnlyOwnRecordings(t *testing.T) {
	dir := t.TempDir()
	host := snapAt(0).Host
	foreign := []string{
		"netlens-other.json.gz",
		"netlens-" + host + "-notatime.json.gz",
		"netlens-" + host + "x-20990101T000000Z.000.json.gz", // another host, named alike
		"netlens-web-20200101T000000Z.000.json.gz",
	}
	for _, f := range foreign {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("not ours"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := New(Options{Dir: dir, Keep: 2, MinFree: 1})
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for i := range 5 {
		if last, err = r.Write(snapAt(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range foreign {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("rotation removed %s: %v", f, err)
		}
	}
	files, _ := r.Files()
	if len(files) != 2 || files[1] != last {
		t.Errorf("own recordings %v, want 2 ending with %s", files, last)
	}
}

// TestMaxBytesSmallerThanASnapshot: a budget one snapshot alone exceeds
// stops the recorder with ErrOverBudget, which names both sizes; the
// file is not written and the ones kept stay.
func TestMaxBytesSmallerThanASnapshot(t *testing.T) {
	r, p, fi := recordOne(t)
	r.o.MaxBytes = fi.Size() / 2
	_, err := r.Write(snapAt(1))
	if !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), fmt.Sprintf("the budget is %d bytes", fi.Size()/2)) || !strings.Contains(err.Error(), "the file recorded before stays") {
		t.Fatalf("Write over the budget: %v, want ErrOverBudget with the sizes", err)
	}
	files, _ := r.Files()
	if len(files) != 1 || files[0] != p {
		t.Errorf("files after a refused write: %v, want only %s", files, p)
	}
	// Run stops with it.
	r.o.Interval = time.Millisecond
	if err := r.Run(t.Context(), staticSource{snapAt(2)}, nil); !errors.Is(err, ErrOverBudget) {
		t.Errorf("Run: %v, want ErrOverBudget", err)
	}
}

// staticSource is a Source whose snapshot never changes.
type staticSource struct{ snap model.Snapshot }

func (s staticSource) Snapshot() model.Snapshot { return s.snap }
