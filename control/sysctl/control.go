package sysctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"netlens/collectors"
	colsysctl "netlens/collectors/sysctl"
	"netlens/control/filter"
	"netlens/internal/atomicfile"
	"netlens/internal/reverthelper"
	"netlens/model"
)

// Errors of Apply and Confirm.
var (
	// ErrPending: a change waits for a confirm; one at a time.
	ErrPending = errors.New("a sysctl change waits for a confirm")
	// ErrNoPending: nothing to confirm (never, already confirmed, or
	// reverted).
	ErrNoPending = errors.New("no sysctl change waits for a confirm")
	// ErrChanged: the value moved between Plan and Apply.
	ErrChanged = errors.New("the value changed since the plan")
)

// recoverGrace is how long past its deadline a pending change waits for
// its helper before Recover reverts it itself (as control/filter/nft).
const recoverGrace = 3 * time.Second

// Options configure a Control.
type Options struct {
	// NetNS, when not 0, is an open network namespace file: the sysctls
	// of that namespace are read and written (and its journal kept).
	NetNS int
	// StateDir holds the pending change and the journal
	// (collectors/sysctl.DefaultStateDir when empty).
	StateDir string
	// Root stands for /proc/sys (tests).
	Root string
	// HelperCmd is the revert helper's command, to which the state
	// file's path is appended (default: this executable with "sysctl
	// revert-watch").
	HelperCmd []string
}

// Plan is a validated change: what it writes, the old value that comes
// back at the deadline, and what the guard says it could cut.
type Plan struct {
	Name string
	Old  string
	New  string
	// Revert is the deadline's delay; 0 writes without one (kept).
	Revert time.Duration
	// Risks are the guard's findings, in words; the change should ask
	// again when there are any.
	Risks []string
}

// Result is an applied change.
type Result struct {
	Txn      uint32
	RevertAt time.Time // zero when kept without a deadline
}

// Control changes the sysctls of one namespace. It is safe for
// concurrent use; its methods read and write files (call them from a
// tea.Cmd in the TUI).
type Control struct {
	opt Options
	mu  sync.Mutex
}

// New returns a Control for opt.
func New(opt Options) *Control {
	if opt.StateDir == "" {
		opt.StateDir = colsysctl.DefaultStateDir
	}
	if opt.Root == "" {
		opt.Root = "/proc/sys"
	}
	return &Control{opt: opt}
}

// inNS runs fn in the control's namespace.
func (c *Control) inNS(fn func()) error {
	if c.opt.NetNS == 0 {
		fn()
		return nil
	}
	return collectors.InNetNS(c.opt.NetNS, fn)
}

// read returns the current value of a dotted name (as sysctl prints it)
// and whether the file is writable by its mode.
func (c *Control) read(name string) (string, bool, error) {
	var b []byte
	var fi os.FileInfo
	var err error
	if nerr := c.inNS(func() {
		p := procPath(c.opt.Root, name)
		if fi, err = os.Stat(p); err == nil {
			b, err = os.ReadFile(p)
		}
	}); nerr != nil {
		return "", false, nerr
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", false, invalid("%s: no such sysctl in this namespace", name)
	case err != nil:
		return "", false, fmt.Errorf("read %s: %w", name, err)
	case fi.IsDir():
		return "", false, invalid("%s is a directory, not a sysctl", name)
	}
	return strings.Join(strings.Fields(string(b)), " "), fi.Mode()&0o222 != 0, nil
}

// write writes value to a dotted name.
func (c *Control) write(name, value string) error {
	var err error
	if nerr := c.inNS(func() {
		err = os.WriteFile(procPath(c.opt.Root, name), []byte(value+"\n"), 0)
	}); nerr != nil {
		return nerr
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("write %s = %q: the kernel refused: %w", name, value, err)
	}
	return nil
}

// writable opens a dotted name for writing, and writes nothing: the
// kernel checks the permission at open, so a caller without it is told
// which capability it lacks (an error wrapping collectors.ErrPermission)
// before a revert state, a helper or a journal line exists.
func (c *Control) writable(name string) error {
	var err error
	if nerr := c.inNS(func() {
		var f *os.File
		if f, err = os.OpenFile(procPath(c.opt.Root, name), os.O_WRONLY, 0); err == nil {
			f.Close()
		}
	}); nerr != nil {
		return nerr
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%s: writing net.* sysctls needs CAP_NET_ADMIN (or root): %w", name, collectors.ErrPermission)
	}
	if err != nil {
		return fmt.Errorf("open %s for writing: %w", name, err)
	}
	return nil
}

// session is the SSH path in the control's namespace.
func (c *Control) session() Session {
	var s Session
	_ = c.inNS(func() { s = SessionFromEnv() })
	return s
}

// Plan validates a change of name to value with the revert deadline
// revert (0: none; else within filter.MinRevert..MaxRevert) and asks
// the guard. An invalid change (wrapping ErrInvalid) is written to the
// journal as refused.
func (c *Control) Plan(name, value string, revert time.Duration) (Plan, error) {
	if revert != 0 {
		if err := filter.CheckRevert(revert); err != nil {
			return Plan{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	n, err := NormalizeName(name)
	if err != nil {
		return Plan{}, err
	}
	cur, writable, err := c.read(n)
	if err == nil && !writable {
		err = invalid("%s is read-only (in this namespace)", n)
	}
	if err == nil {
		var v string
		if v, err = Validate(n, cur, value); err == nil {
			return Plan{Name: n, Old: cur, New: v, Revert: revert, Risks: Risks(n, cur, v, c.session())}, nil
		}
	}
	if errors.Is(err, ErrInvalid) {
		c.journal(model.SysctlChange{Name: n, Old: cur, New: value, Outcome: model.SysctlRefused, Message: err.Error()})
	}
	return Plan{}, err
}

// Apply makes the planned change. With a deadline it first writes the
// pending change's file and starts the revert helper (which outlives
// netlens), then writes the value: unless Confirm comes before the
// deadline, the old value is written back.
func (c *Control) Apply(p Plan) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.recoverLocked(); err != nil {
		return Result{}, err
	}
	statePath, err := c.statePath()
	if err != nil {
		return Result{}, err
	}
	if st, err := colsysctl.ReadState(statePath); err == nil {
		return Result{}, fmt.Errorf("%w: %s = %s until %s (netlens sysctl confirm, or c on the Sysctl tab)", ErrPending, st.Name, st.New, st.RevertAt.Local().Format("15:04:05"))
	}
	cur, _, err := c.read(p.Name)
	if err != nil {
		return Result{}, err
	}
	if cur != p.Old {
		return Result{}, fmt.Errorf("%s: %w (%q, not %q): plan it again", p.Name, ErrChanged, cur, p.Old)
	}
	if err := c.writable(p.Name); err != nil {
		return Result{}, err
	}
	uid, who := whoAmI()
	entry := model.SysctlChange{Name: p.Name, Old: p.Old, New: p.New}
	var res Result
	if p.Revert > 0 {
		res = Result{Txn: rand.Uint32()>>1 | 1, RevertAt: time.Now().Add(p.Revert)}
		st := &colsysctl.State{SysctlPending: model.SysctlPending{Txn: res.Txn, Name: p.Name, Old: p.Old, New: p.New, RevertAt: res.RevertAt}, UID: uid, User: who}
		if err := c.arm(statePath, st); err != nil {
			entry.Outcome, entry.Message = model.SysctlFailed, "not written: "+err.Error()
			c.journal(entry)
			return Result{}, err
		}
		entry.Txn, entry.RevertAt = res.Txn, res.RevertAt
	}
	if err := c.write(p.Name, p.New); err != nil {
		os.Remove(statePath) // the helper sees it gone and exits
		entry.Outcome, entry.Message = model.SysctlFailed, err.Error()
		c.journal(entry)
		return Result{}, err
	}
	entry.Outcome = model.SysctlKept
	if p.Revert > 0 {
		entry.Outcome = model.SysctlApplied
	}
	if len(p.Risks) > 0 {
		entry.Message = "guard: " + strings.Join(p.Risks, "; ")
	}
	c.journal(entry)
	return res, nil
}

// arm writes the pending change's file and starts the revert helper.
func (c *Control) arm(statePath string, st *colsysctl.State) error {
	if err := writeState(statePath, st); err != nil {
		return err
	}
	argv := c.opt.HelperCmd
	if len(argv) == 0 {
		var err error
		if argv, err = reverthelper.Self("sysctl", "revert-watch"); err != nil {
			os.Remove(statePath)
			return err
		}
	}
	argv = append(slices.Clone(argv), statePath)
	_, journalPath := c.paths()
	pid, err := reverthelper.Spawn(argv, c.opt.NetNS, journalPath)
	if err != nil {
		os.Remove(statePath)
		return err
	}
	st.HelperPID = pid
	return writeState(statePath, st)
}

func writeState(path string, st *colsysctl.State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("sysctl revert state: %w", err)
	}
	if err := atomicfile.WriteFile(path, data, atomicfile.Private); err != nil {
		return fmt.Errorf("write sysctl revert state: %w", err)
	}
	return nil
}

// Confirm keeps the pending change: its file goes, and the helper exits
// without reverting at the deadline.
func (c *Control) Confirm() (model.SysctlPending, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	statePath, err := c.statePath()
	if err != nil {
		return model.SysctlPending{}, err
	}
	st, err := colsysctl.ReadState(statePath)
	if errors.Is(err, fs.ErrNotExist) {
		return model.SysctlPending{}, ErrNoPending
	}
	if err != nil {
		return model.SysctlPending{}, err
	}
	if time.Now().After(st.RevertAt) {
		return st.SysctlPending, fmt.Errorf("%w: too late, the deadline of %s passed", ErrNoPending, st.Name)
	}
	if err := os.Remove(statePath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return st.SysctlPending, fmt.Errorf("%w: too late, being reverted", ErrNoPending)
		}
		return st.SysctlPending, err
	}
	c.journal(model.SysctlChange{Txn: st.Txn, Name: st.Name, Old: st.Old, New: st.New, Outcome: model.SysctlConfirmed})
	return st.SysctlPending, nil
}

// Changes returns the namespace's pending change and journal.
func (c *Control) Changes() (*model.SysctlChanges, error) {
	key, err := collectors.NetNSKey(c.opt.NetNS)
	if err != nil {
		return nil, err
	}
	return colsysctl.ReadChanges(c.opt.StateDir, key)
}

// Recover reverts a pending change whose helper did not (it was killed):
// a state file still unclaimed recoverGrace after its deadline. It
// reports whether it reverted.
func (c *Control) Recover() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recoverLocked()
}

func (c *Control) recoverLocked() (bool, error) {
	statePath, err := c.statePath()
	if err != nil {
		return false, err
	}
	st, err := colsysctl.ReadState(statePath)
	if err != nil || time.Since(st.RevertAt) < recoverGrace {
		return false, nil
	}
	return c.claimAndRestore(statePath, st, fmt.Sprintf("written back %s after the deadline: its revert helper did not",
		time.Since(st.RevertAt).Round(time.Second)))
}

// claimAndRestore claims the state file (a rename: one process only
// reverts) and writes the old value back, journaling the outcome.
func (c *Control) claimAndRestore(statePath string, st *colsysctl.State, done string) (bool, error) {
	claimed := statePath + ".reverting"
	if err := os.Rename(statePath, claimed); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil // confirmed at the last moment, or claimed by another
		}
		// A revert must not wait on a writable directory.
		done += " (state file not claimed: " + err.Error() + ")"
	} else {
		defer os.Remove(claimed)
	}
	entry := model.SysctlChange{Txn: st.Txn, Name: st.Name, Old: st.New, New: st.Old, UID: st.UID, User: st.User}
	if cur, _, err := c.read(st.Name); err == nil && cur != st.New {
		done += "; it was " + strconv.Quote(cur) + ", not the value set"
		entry.Old = cur
	}
	if err := c.write(st.Name, st.Old); err != nil {
		entry.Outcome, entry.Message = model.SysctlFailed, "revert failed: "+err.Error()
		c.journalAs(entry)
		return false, err
	}
	entry.Outcome, entry.Message = model.SysctlReverted, done
	c.journalAs(entry)
	return true, nil
}

// RecoverLoop is the TUI's safety net: at once and then every interval
// until ctx is done it lets c revert an overdue change whose helper died,
// and calls after when it did.
func RecoverLoop(ctx context.Context, c *Control, every time.Duration, after func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if ok, _ := c.Recover(); ok && after != nil {
			after()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Control) paths() (string, string) {
	key, err := collectors.NetNSKey(c.opt.NetNS)
	if err != nil {
		return "", ""
	}
	return colsysctl.Paths(c.opt.StateDir, key)
}

func (c *Control) statePath() (string, error) {
	key, err := collectors.NetNSKey(c.opt.NetNS)
	if err != nil {
		return "", err
	}
	s, _ := colsysctl.Paths(c.opt.StateDir, key)
	return s, nil
}

// whoAmI is the real uid and its user name ("root (sudo from alice)").
func whoAmI() (int, string) {
	uid := os.Getuid()
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	if su := os.Getenv("SUDO_USER"); su != "" && uid == 0 {
		name += " (sudo from " + su + ")"
	}
	return uid, name
}

// journal appends e, as this process and its user, to the journal.
func (c *Control) journal(e model.SysctlChange) {
	e.UID, e.User = whoAmI()
	c.journalAs(e)
}

// journalAs appends e to the journal, By this process; a journal that
// cannot be written is said on stderr.
func (c *Control) journalAs(e model.SysctlChange) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if e.By == "" {
		e.By = by()
	}
	_, path := c.paths()
	err := appendJournal(path, e)
	if err != nil {
		fmt.Fprintf(os.Stderr, "netlens: sysctl journal: %v: %s %s -> %s: %s\n", err, e.Name, e.Old, e.New, e.Outcome)
	}
}

// by names this process in the journal.
var by = func() string {
	if os.Getenv(reverthelper.EnvVar) != "" {
		return fmt.Sprintf("revert helper (pid %d)", os.Getpid())
	}
	return fmt.Sprintf("netlens (pid %d)", os.Getpid())
}

func appendJournal(path string, e model.SysctlChange) error {
	if path == "" {
		return errors.New("no journal path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Value returns the current value of a sysctl of the namespace, as
// sysctl(8) prints it.
func (c *Control) Value(name string) (string, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return "", err
	}
	v, _, err := c.read(n)
	return v, err
}
