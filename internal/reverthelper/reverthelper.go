// Package reverthelper starts and runs the revert helpers of netlens's
// controls: a process of netlens's own binary (`netlens rules
// revert-watch FILE`, `netlens sysctl revert-watch FILE`) that outlives
// the netlens that made a change, waits for its deadline and undoes the
// change unless its state file is gone (confirmed) by then. The nft
// filter backend (control/filter/nft) and the sysctl control
// (control/sysctl) share it.
//
// The helper runs in its own session (setsid), outside the caller's
// process group, so it survives the caller being killed (SIGKILL) and
// the terminal hanging up. It gets the ready pipe on fd 3 (it writes one
// byte once it has read its state file) and the network namespace of the
// change on fd 4; its standard output and error go to a log file.
package reverthelper

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Helper file descriptors, as the helper sees them.
const (
	ReadyFD = 3
	NetNSFD = 4
)

// EnvVar is set in the helper's environment.
const EnvVar = "NETLENS_REVERT_WATCH"

// readyTimeout is how long Spawn waits for the helper to say it is ready.
const readyTimeout = 5 * time.Second

// Spawn starts argv as a revert helper in the network namespace open as
// netns (0: the calling thread's), its output appended to logPath, and
// returns its pid once it has said it is ready. The helper is reaped in
// the background if it ends while the caller still runs. On error no
// helper runs.
func Spawn(argv []string, netns int, logPath string) (int, error) {
	rd, wr, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	nsPath := "/proc/thread-self/ns/net"
	if netns > 0 {
		nsPath = "/proc/self/fd/" + strconv.Itoa(netns)
	}
	ns, err := os.Open(nsPath)
	if err != nil {
		wr.Close()
		return 0, fmt.Errorf("open netns: %w", err)
	}
	defer ns.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.ExtraFiles = []*os.File{wr, ns} // fd 3: ready, fd 4: the namespace
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = append(os.Environ(), EnvVar+"=1")
	if logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
		defer logf.Close()
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	if err := cmd.Start(); err != nil {
		wr.Close()
		return 0, fmt.Errorf("start revert helper: %w", err)
	}
	wr.Close()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 1)
		_, err := rd.Read(buf)
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(readyTimeout):
		err = errors.New("timed out")
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, fmt.Errorf("revert helper did not start: %w", err)
	}
	// The helper outlives us; reap it if we are still here when it ends.
	go func() { _ = cmd.Wait() }()
	return cmd.Process.Pid, nil
}

// Ready is the helper's side: it says on fd 3 that it has read its
// state and will act on it.
func Ready() error {
	ready := os.NewFile(ReadyFD, "ready")
	defer ready.Close()
	_, err := ready.Write([]byte{1})
	return err
}

// Self is the argv of this executable with args appended (the helper's
// command line when none is configured).
func Self(args ...string) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return append([]string{exe}, args...), nil
}

// ReadLogTail reads the end of a helper's log (JSON lines): at most
// limit bytes, starting at a line boundary, and the file's modification
// time (the date of lines that are not entries: a helper's crash).
func ReadLogTail(path string, limit int64) ([]byte, time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	off := max(fi.Size()-limit, 0)
	data := make([]byte, fi.Size()-off)
	n, err := f.ReadAt(data, off)
	if err != nil && err != io.EOF {
		return nil, time.Time{}, err
	}
	data = data[:n]
	if off > 0 {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return data, fi.ModTime(), nil
}
