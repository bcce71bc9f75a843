package cli

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"netlens/internal/atomicfile"
	"netlens/recorder"
)

func recordCmd(o *options) *cobra.Command {
	var ro recorder.Options
	var verbose bool
	cmd := &cobra.Command{
		Use:   "record --dir DIR [--interval 10s] [--keep 360] [--max-bytes N]",
		Short: "Flight recorder: write a compressed snapshot into DIR every interval, keeping the newest",
		Long: `record runs the collectors and writes a gzip-compressed JSON snapshot
into DIR every --interval, named netlens-HOST-TIME.json.gz, keeping the
newest --keep files and at most --max-bytes of them. netlens diff and
netlens --open read the files as they are (zcat too).

Files are written atomically: a reader never sees a partial one. Below
--min-free bytes free on DIR's filesystem, or when the disk fills, it
stops and says so, leaving no partial file.

Exit status: 0 when interrupted (Ctrl-C, SIGTERM); 1 when a file cannot
be written or the disk is too full to go on; 2 for invalid flags or
arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ro.Dir == "" {
				return UsageError{fmt.Errorf("record needs --dir\n%s", cmd.UsageString())}
			}
			if err := checkRecord(ro, ""); err != nil {
				return UsageError{fmt.Errorf("%w\n%s", err, cmd.UsageString())}
			}
			return runRecord(cmd.Context(), *o, ro, cmd.ErrOrStderr(), verbose)
		},
	}
	f := cmd.Flags()
	f.StringVar(&ro.Dir, "dir", "", "`DIR`ectory to write the snapshots into (must exist)")
	f.DurationVar(&ro.Interval, "interval", recorder.DefaultInterval, "time between snapshots")
	f.IntVar(&ro.Keep, "keep", recorder.DefaultKeep, "snapshot files to keep (the newest)")
	f.Int64Var(&ro.MaxBytes, "max-bytes", 0, "bytes the kept files may take at most (0: no limit)")
	f.Int64Var(&ro.MinFree, "min-free", recorder.DefaultMinFree, "stop when DIR's filesystem has fewer bytes free")
	f.BoolVarP(&verbose, "verbose", "v", false, "print each file written")
	collectFlags(f, o)
	return cmd
}

func runRecord(ctx context.Context, o options, ro recorder.Options, stderr io.Writer, verbose bool) error {
	rec, err := recorder.New(ro)
	if err != nil {
		return err
	}
	// The collectors refresh at the recording interval: each snapshot's
	// deltas and rates are over one interval.
	o.refresh = ro.Interval
	store, ctx, stop, err := startCollectors(ctx, o)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(stderr, "netlens record: a snapshot into %s every %s, keeping %d\n", ro.Dir, ro.Interval, rec.Options().Keep)
	var written func(string)
	if verbose {
		written = func(p string) { fmt.Fprintln(stderr, p) }
	}
	if err := rec.Run(ctx, store, written); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// recordControl is the TUI's 'R': it starts and stops a recorder of the
// TUI's own Store. It is safe for concurrent use.
type recordControl struct {
	ctx   context.Context
	store recorder.Source
	opts  recorder.Options
	flag  string // the flag that named opts.Dir, for errors

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	stopped error
}

func (c *recordControl) Toggle() (string, error) {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
		files, _ := recorder.Files(c.opts.Dir)
		n := fmt.Sprintf("%d snapshots", len(files))
		if len(files) == 1 {
			n = "1 snapshot"
		}
		return fmt.Sprintf("recorder stopped: %s in %s", n, c.opts.Dir), nil
	}
	if err := atomicfile.CheckDir(c.opts.Dir); err != nil {
		return "", fmt.Errorf("%s %w", c.flag, err)
	}
	rec, err := recorder.New(c.opts)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(c.ctx)
	done = make(chan struct{})
	c.mu.Lock()
	c.cancel, c.done, c.stopped = cancel, done, nil
	c.mu.Unlock()
	go func() {
		defer close(done)
		err := rec.Run(ctx, c.store, nil)
		c.mu.Lock()
		c.cancel, c.stopped = nil, err
		c.mu.Unlock()
		cancel()
	}()
	o := rec.Options()
	return fmt.Sprintf("recording a snapshot every %s into %s, keeping %d (R stops)", o.Interval, o.Dir, o.Keep), nil
}

func (c *recordControl) Recording() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancel != nil, c.stopped
}

// tuiRecorder is the TUI's recorder control, writing into --record-dir
// (--snapshot-dir when not given).
func tuiRecorder(ctx context.Context, store recorder.Source, o options) *recordControl {
	ro, flag := recordDir(o)
	if ro.MinFree == 0 {
		ro.MinFree = recorder.DefaultMinFree
	}
	return &recordControl{ctx: ctx, store: store, opts: ro, flag: flag}
}

// recordDir is the TUI's recorder options with their directory filled
// in, and the flag that names it: --record-dir, else --snapshot-dir.
func recordDir(o options) (recorder.Options, string) {
	ro := o.record
	if ro.Dir == "" {
		ro.Dir = o.snapshotDir
		return ro, "--snapshot-dir"
	}
	return ro, "--record-dir"
}

// outDirWarning says, for the TUI's status line at start, which of its
// output directories (--snapshot-dir for s, the recorder's for R) cannot
// be written and what to do; "" when both can.
func outDirWarning(o options) string {
	ro, flag := recordDir(o)
	snapErr := atomicfile.CheckDir(o.snapshotDir)
	var recErr error
	if flag == "--record-dir" && ro.Dir != o.snapshotDir {
		recErr = atomicfile.CheckDir(ro.Dir)
	}
	switch {
	case snapErr != nil && flag == "--snapshot-dir":
		return fmt.Sprintf("--snapshot-dir %v: s and R cannot save there (create it or make it writable, or restart with another --snapshot-dir)", snapErr)
	case snapErr != nil:
		return fmt.Sprintf("--snapshot-dir %v: s cannot save there (create it or make it writable, or restart with another --snapshot-dir)", snapErr)
	case recErr != nil:
		return fmt.Sprintf("--record-dir %v: R cannot record there (create it or make it writable, or restart with another --record-dir)", recErr)
	}
	return ""
}

// checkRecord checks the flight recorder's interval, keep and byte
// budget, given by the flags --PREFIXinterval, --PREFIXkeep and
// --PREFIXmax-bytes (record's own, or the TUI's --record-*).
func checkRecord(ro recorder.Options, prefix string) error {
	switch {
	case ro.Interval < 100*time.Millisecond:
		return fmt.Errorf("--%sinterval %s is too short (minimum 100ms)", prefix, ro.Interval)
	case ro.Keep < 1:
		return fmt.Errorf("--%skeep must be at least 1", prefix)
	case ro.MaxBytes < 0:
		return fmt.Errorf("--%smax-bytes %d: want a number of bytes, or 0 for no limit", prefix, ro.MaxBytes)
	}
	return nil
}
