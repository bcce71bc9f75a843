package cli

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"netlens/collectors/capture"
	"netlens/model/rules"
)

// UsageError marks an error in how netlens was called: a bad flag or
// argument, invalid rules, a bad capture filter. The command changed
// nothing; netlens exits 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// ExitStatus ends netlens with that status and no message: the command
// has said what it had to (netlens diff exits 1 when the snapshots
// differ, as diff(1) does). main prints nothing for it.
type ExitStatus int

func (e ExitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ExitCode is the exit status for err: an ExitStatus's own, 2 for a usage
// error (a UsageError, or input a package below refused:
// rules.InvalidError, capture.ErrFilter), 1 for any other error, 0 for
// nil.
func ExitCode(err error) int {
	var st ExitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &st):
		return int(st)
	case errors.As(err, new(UsageError)), errors.As(err, new(rules.InvalidError)),
		errors.Is(err, capture.ErrFilter):
		return 2
	}
	return 1
}

// stickyWriter writes to w and keeps the first error a write returned;
// it is safe for concurrent use.
type stickyWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	return n, err
}

// Err is the first error a write returned, or nil.
func (s *stickyWriter) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
