package logloop

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var errLost = errors.New("lost")

// TestRun: values in order, a loss reported and skipped, a timeout
// skipped, another error ends the loop, and a cancelled context ends it
// with nil.
func TestRun(t *testing.T) {
	steps := []struct {
		vs  []int
		err error
	}{{[]int{1, 2}, nil}, {nil, errLost}, {nil, os.ErrDeadlineExceeded}, {[]int{3}, nil}, {nil, errors.New("socket closed")}}
	i, deadlines, lost := 0, 0, 0
	var got []int
	err := Run(context.Background(), func(time.Time) error { deadlines++; return nil },
		func() ([]int, error) { s := steps[i]; i++; return s.vs, s.err }, errLost, func() { lost++ }, func(v int) { got = append(got, v) })
	if err == nil || err.Error() != "socket closed" {
		t.Errorf("Run ended with %v, want the socket error", err)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, got); diff != "" || lost != 1 || deadlines != 5 {
		t.Errorf("values (-want +got):\n%s lost %d, deadlines %d", diff, lost, deadlines)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = Run(ctx, func(time.Time) error { return nil }, func() ([]int, error) { cancel(); return nil, errors.New("closed") }, errLost, nil, func(int) {})
	if err != nil {
		t.Errorf("Run after cancel: %v, want nil", err)
	}
}
