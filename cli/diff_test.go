package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// TestDiffExitStatus: netlens diff exits like diff(1): 0 for snapshots
// that are the same, 1 (an ExitStatus: no message) for snapshots that
// differ, 2 for a file it cannot read.
func TestDiffExitStatus(t *testing.T) {
	const a, b = "../ui/testdata/offline-a.json", "../ui/testdata/offline-b.json"
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
	}{
		{"same", []string{a, a}, 0, ""},
		{"different", []string{a, b}, 1, "net.ipv4.ip_forward"},
		{"missing", []string{a, "/nonexistent.json"}, 2, ""},
		{"one file", []string{a}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := diffCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(tt.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.ExecuteContext(context.Background())
			if got := ExitCode(err); got != tt.code {
				t.Errorf("exit %d (%v), want %d", got, err, tt.code)
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("output does not contain %q:\n%s", tt.stdout, out.String())
			}
		})
	}
}

// fullWriter fails every write as /dev/full does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestDiffWriteError: output that cannot be written (stdout on a full
// disk, /dev/full) is trouble, exit 2 as diff(1)'s, whether the snapshots
// differ or not: 1 would tell a script they differ, 0 that they are the
// same.
func TestDiffWriteError(t *testing.T) {
	const a, b = "../ui/testdata/offline-a.json", "../ui/testdata/offline-b.json"
	for _, args := range [][]string{{a, a}, {a, b}, {"--json", a, a}, {"--json", a, b}} {
		cmd := diffCmd()
		cmd.SetOut(fullWriter{})
		cmd.SetArgs(args)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.ExecuteContext(context.Background())
		if got := ExitCode(err); got != 2 || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%v: exit %d (%v), want 2 with the write error", args, got, err)
		}
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{UsageError{errors.New("bad flag")}, 2},
		{ExitStatus(1), 1},
		{fmt.Errorf("wrapped: %w", ExitStatus(3)), 3},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
