package cli

import (
	"errors"

	"netlens/collectors/capture"
	"netlens/model/rules"
)

// UsageError marks an error in how netlens was called: a bad flag or
// argument, invalid rules, a bad capture filter. The command changed
// nothing; netlens exits 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// ExitCode is the exit status for err: 2 for a usage error (a UsageError,
// or input a package below refused: rules.InvalidError,
// capture.ErrFilter), 1 for any other error, 0 for nil.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.As(err, new(UsageError)), errors.As(err, new(rules.InvalidError)),
		errors.Is(err, capture.ErrFilter):
		return 2
	}
	return 1
}
