package sysctl

import (
	"errors"
	"io/fs"
	"path/filepath"
	"time"

	colsysctl "netlens/collectors/sysctl"
	"netlens/internal/reverthelper"
)

// RevertWatch is the revert helper (`netlens sysctl revert-watch FILE`,
// started by Apply through internal/reverthelper): with the ready pipe
// on fd 3 and the namespace on fd 4, it reads the pending change's file,
// says it is ready, and waits for the deadline. If the file is still
// there then (no confirm), it claims it and writes the old value back,
// journaling it.
func RevertWatch(path string) error {
	st, err := colsysctl.ReadState(path)
	if err != nil {
		return err
	}
	c := New(Options{NetNS: reverthelper.NetNSFD, StateDir: filepath.Dir(path)})
	if err := reverthelper.Ready(); err != nil {
		return err
	}
	for {
		left := time.Until(st.RevertAt)
		if left <= 0 {
			break
		}
		time.Sleep(min(left, 50*time.Millisecond))
		cur, err := colsysctl.ReadState(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil // confirmed
		case err != nil:
			continue
		case cur.Txn != st.Txn:
			return nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err = c.claimAndRestore(path, st, "written back at the deadline: not confirmed")
	return err
}
