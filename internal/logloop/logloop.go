// Package logloop is the read loop the packet logs of both filter
// backends share (the kernel module's genetlink group, nftables'
// nfnetlink_log group): bounded reads until a context ends, losses
// reported and skipped.
package logloop

import (
	"context"
	"errors"
	"time"
)

// Poll is how long one read waits before ctx is looked at again.
const Poll = 250 * time.Millisecond

// Run calls recv until ctx is done, each call bounded by a deadline Poll
// ahead (set through deadline), and each value it returns to each. An
// error that is lostErr (the socket's buffer overran) calls lost and the
// loop goes on, as it does after a timeout; any other error ends it,
// unless ctx is done (then Run returns nil). Run is not safe for
// concurrent use of the same recv.
func Run[T any](ctx context.Context, deadline func(time.Time) error, recv func() ([]T, error), lostErr error, lost func(), each func(T)) error {
	for ctx.Err() == nil {
		_ = deadline(time.Now().Add(Poll))
		vs, err := recv()
		switch {
		case errors.Is(err, lostErr):
			if lost != nil {
				lost()
			}
			continue
		case err != nil && isTimeout(err):
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, v := range vs {
			each(v)
		}
	}
	return nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
