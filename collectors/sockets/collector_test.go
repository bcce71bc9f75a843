package sockets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// fakeProcRoot is a proc root whose net/ holds the /proc/net fixtures and
// which has no processes.
func fakeProcRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range procNetFiles {
		b, err := os.ReadFile("testdata/proc_net_" + f.name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "net", f.name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

type capturePublisher struct{ updates []model.Update }

func (p *capturePublisher) Publish(u model.Update) { p.updates = append(p.updates, u) }

func TestCollectorFallsBackToProcNet(t *testing.T) {
	tests := []struct {
		name    string
		dialErr error
		state   model.CollectorState
	}{
		{"no sock_diag in the kernel", fmt.Errorf("open NETLINK_SOCK_DIAG: %w: %w", collectors.ErrNotSupported, unix.EPROTONOSUPPORT), model.StateNotSupported},
		{"sock_diag denied", fmt.Errorf("open NETLINK_SOCK_DIAG: %w: %w", collectors.ErrPermission, unix.EACCES), model.StateNoPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := time.Unix(1700000000, 0)
			c := New(Options{ProcRoot: fakeProcRoot(t), Now: func() time.Time { return at }})
			dials := 0
			c.dial = func(int) (*diagConn, error) { dials++; return nil, tt.dialErr }
			var pub capturePublisher
			for range 2 {
				if err := c.Collect(context.Background(), &pub); err != nil {
					t.Fatal(err)
				}
			}
			if dials != 1 {
				t.Errorf("sock_diag tried %d times, want once", dials)
			}
			if c.Source() != SourceProcNet {
				t.Errorf("source %q", c.Source())
			}
			st := c.Stats()
			if !strings.Contains(st.FallbackReason, tt.dialErr.Error()) || collectors.Classify(tt.dialErr) != tt.state {
				t.Errorf("fallback reason %q", st.FallbackReason)
			}
			u, ok := pub.updates[1].(model.SocketsUpdate)
			if !ok {
				t.Fatalf("update %T", pub.updates[1])
			}
			// 6 tcp, 4 tcp6, 2 udp, 1 udp6, 1 udplite, 1 raw, 1 raw6.
			if len(u.Sockets) != 16 || !u.At.Equal(at) || st.Sockets != 16 {
				t.Errorf("%d sockets at %v, stats %+v", len(u.Sockets), u.At, st)
			}
		})
	}
}

func TestCollectorErrors(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		dial  error
		state model.CollectorState
		text  string
	}{
		{"neither source", Options{ProcRoot: "/nonexistent"}, fmt.Errorf("x: %w", collectors.ErrNotSupported), model.StateNotSupported, "no such file"},
		{"forced sock_diag denied", Options{Source: SourceSockDiag}, fmt.Errorf("x: %w", collectors.ErrPermission), model.StateNoPermission, "permission denied"},
		{"unknown source", Options{Source: "ebpf"}, nil, model.StateError, `unknown socket source "ebpf"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.opts)
			c.dial = func(int) (*diagConn, error) { return nil, tt.dial }
			err := c.Collect(context.Background(), &capturePublisher{})
			if err == nil || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("error %v, want one containing %q", err, tt.text)
			}
			if got := collectors.Classify(err); got != tt.state {
				t.Errorf("state %s, want %s", got, tt.state)
			}
		})
	}
}

func TestCollectorNoOwners(t *testing.T) {
	c := New(Options{ProcRoot: fakeProcRoot(t), Source: SourceProcNet, NoOwners: true})
	socks, st, err := c.Sockets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(OwnerStats{}, st.Owners); diff != "" || c.owners != nil || len(socks) != 16 {
		t.Errorf("owners looked up: %d sockets, owners %v, (-want +got)\n%s", len(socks), c.owners, diff)
	}
	if c.Name() != "sockets" {
		t.Errorf("name %q", c.Name())
	}
}
