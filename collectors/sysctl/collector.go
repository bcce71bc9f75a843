package sysctl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"netlens/collectors"
	"netlens/model"
)

// Name is the name the sysctl collector reports under.
const Name = model.CollectorSysctl

// DefaultInterval is a sensible interval for the Collector: sysctls
// change rarely, and a walk reads about a thousand files.
const DefaultInterval = 5 * time.Second

// Collector is the "sysctl" collector: each Collect walks /proc/sys/net and
// publishes the whole table as a model.SysctlsUpdate, and the sysctl
// change journal of the namespace (ReadChanges) as a
// model.SysctlChangesUpdate.
//
// Collect must not be called concurrently with itself (the Runner never
// does); Stats and Source are safe to call at any time.
type Collector struct {
	root string
	// Now returns the sample time; tests replace it.
	Now func() time.Time

	w *walker
	// StateDir is where control/sysctl keeps the change journal
	// (DefaultStateDir; "" reads none).
	StateDir string

	mu    sync.Mutex
	stats Stats
	// journalDenied: the change journal could not be read (its directory
	// is root's, mode 0700): the sysctls are still read.
	journalDenied bool
}

// New returns a sysctl collector reading root/net, with root
// standing for /proc/sys ("/proc/sys"; a testdata directory in tests).
// /proc/sys/net shows the network namespace of the thread that reads it.
func New(root string) *Collector {
	return &Collector{root: root, Now: time.Now, w: newWalker()}
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Stats returns what the last Collect read and skipped.
func (c *Collector) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Source implements collectors.Sourcer: "/proc/sys/net", with the number
// of unreadable entries when there are any.
func (c *Collector) Source() string {
	st := c.Stats()
	c.mu.Lock()
	denied := c.journalDenied
	c.mu.Unlock()
	src := "/proc/sys/net"
	if len(st.Unreadable) != 0 {
		src += " (" + strconv.Itoa(len(st.Unreadable)) + " unreadable)"
	}
	if denied {
		src += "; change journal not readable without root"
	}
	return src
}

// Collect implements collectors.Collector.
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	out, st, err := c.w.walk(c.root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no %s: %w", filepath.Join(c.root, "net"), collectors.ErrNotSupported)
		}
		return err
	}
	c.mu.Lock()
	c.stats = st
	c.mu.Unlock()
	pub.Publish(model.SysctlsUpdate{At: c.Now(), Sysctls: out})
	if c.StateDir != "" {
		// The change journal of the namespace this thread reads in.
		key, err := collectors.NetNSKey(0)
		if err != nil {
			return err
		}
		ch, err := ReadChanges(c.StateDir, key)
		denied := errors.Is(err, fs.ErrPermission)
		c.mu.Lock()
		c.journalDenied = denied
		c.mu.Unlock()
		switch {
		case denied:
			// An unprivileged reader (serve with capabilities, nobody)
			// still gets every sysctl; Source says what it lacks.
		case err != nil:
			return err
		default:
			pub.Publish(model.SysctlChangesUpdate{Changes: ch})
		}
	}
	return nil
}
