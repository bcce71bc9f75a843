package cli

import (
	"context"
	"testing"
	"time"

	"netlens/model"
)

// TestTCPInfoWiring: with --no-tcp-info the TUI has no tcp_info lookup
// and its recorder writes the Store's snapshots as they are; without it,
// both are wired.
func TestTCPInfoWiring(t *testing.T) {
	store := model.NewStore("h", "k", time.Time{})
	if c := tcpControl(nil, options{noTCPInfo: true}); c != nil {
		t.Errorf("--no-tcp-info: a tcp_info control %T", c)
	}
	if src := recordSource(context.Background(), store, nil, options{noTCPInfo: true}); src != store {
		t.Errorf("--no-tcp-info: the recorder's source is %T, want the Store", src)
	}
	if c := tcpControl(nil, options{}); c == nil {
		t.Error("no tcp_info control")
	}
	if _, ok := recordSource(context.Background(), store, nil, options{}).(tcpInfoSource); !ok {
		t.Error("the recorder's source does not fill tcp_info")
	}
}

// TestWithTCPInfoAllNamespaces: the all-namespaces view's sockets keep
// what they have (their collectors read tcp_info whole); nothing is
// dumped, even from a namespace file that is not one.
func TestWithTCPInfoAllNamespaces(t *testing.T) {
	socks := []model.Socket{{Proto: model.ProtoTCP, State: model.StateEstablished, Cookie: 7, Namespace: "a"}}
	snap := model.Snapshot{Sockets: socks, NetNS: &model.NetNS{All: true}}
	got, err := withTCPInfo(context.Background(), -1, snap)
	if err != nil || &got.Sockets[0] != &socks[0] {
		t.Fatalf("all namespaces: %v, the list copied: %v", err, &got.Sockets[0] != &socks[0])
	}
}
