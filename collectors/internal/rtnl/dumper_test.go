package rtnl

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
)

// got is one dump's replies, copied out of fn.
type got struct {
	types []netlink.HeaderType
	flags []netlink.HeaderFlags
	data  [][]byte
}

func collect(t testing.TB, dump func(*netlink.Conn, netlink.Message, func(netlink.Message) error) (error, error), conn *netlink.Conn, req netlink.Message) got {
	t.Helper()
	var g got
	bad, err := dump(conn, req, func(m netlink.Message) error {
		g.types = append(g.types, m.Header.Type)
		g.flags = append(g.flags, m.Header.Flags)
		g.data = append(g.data, bytes.Clone(m.Data))
		return nil
	})
	if err != nil || bad != nil {
		t.Fatalf("dump %d: %v, %v", req.Header.Type, bad, err)
	}
	return g
}

// TestIntegrationDumperSameAsDump dumps the links, addresses and qdiscs
// of a quiet namespace of 40 interfaces (veths, down) (a dump of several
// datagrams) with Dump and with one Dumper, three times over, and wants
// the same messages; then a request the kernel refuses, which both must
// return its errno for; then compares what the two allocate.
func TestIntegrationDumperSameAsDump(t *testing.T) {
	ns := netnstest.New(t, "dumper")
	for i := range 20 {
		ns.Run(t, "ip", "link", "add", fmt.Sprintf("a%02d", i), "type", "veth", "peer", "name", fmt.Sprintf("b%02d", i))
	}
	conn, err := Dial(ns.FD(t), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var d Dumper
	reqs := map[string]netlink.Message{
		"links":     {Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, unix.SizeofIfInfomsg)},
		"addresses": {Header: netlink.Header{Type: unix.RTM_GETADDR, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, unix.SizeofIfAddrmsg)},
		"qdiscs":    {Header: netlink.Header{Type: unix.RTM_GETQDISC, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, 20)}, // struct tcmsg,
	}
	for name, req := range reqs {
		want := collect(t, Dump, conn, req)
		if name == "links" && len(want.types) != 41 {
			t.Fatalf("links: %d messages", len(want.types))
		}
		for try := range 3 {
			g := collect(t, d.Dump, conn, req)
			if fmt.Sprint(g.types, g.flags) != fmt.Sprint(want.types, want.flags) || len(g.data) != len(want.data) {
				t.Fatalf("%s, try %d: %v %v, want %v %v", name, try, g.types, g.flags, want.types, want.flags)
			}
			for i := range g.data {
				if !bytes.Equal(g.data[i], want.data[i]) {
					t.Fatalf("%s, try %d: message %d differs", name, try, i)
				}
			}
		}
	}
	// A link dump with a header too short for strict checking: EINVAL.
	short := netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, 2)}
	_, werr := Dump(conn, short, func(netlink.Message) error { return nil })
	_, gerr := d.Dump(conn, short, func(netlink.Message) error { return nil })
	var oe *netlink.OpError
	if !errors.Is(werr, unix.EINVAL) || !errors.As(gerr, &oe) || gerr.Error() != werr.Error() {
		t.Fatalf("refused request: Dump %v, Dumper %v", werr, gerr)
	}
	t.Logf("refused: %v", gerr)
	// The socket still works after the error.
	collect(t, d.Dump, conn, reqs["links"])
	// A deadline passed: an error, not a wait.
	_ = conn.SetDeadline(time.Now().Add(-time.Second))
	if _, err := d.Dump(conn, reqs["links"], func(netlink.Message) error { return nil }); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("deadline passed: %v", err)
	}
	_ = conn.SetDeadline(time.Time{})

	bench := func(dump func(*netlink.Conn, netlink.Message, func(netlink.Message) error) (error, error)) int64 {
		return testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := dump(conn, reqs["links"], func(netlink.Message) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		}).AllocedBytesPerOp()
	}
	old, now := bench(Dump), bench(d.Dump)
	t.Logf("a dump of 41 links allocates %d bytes with Dump, %d with a Dumper", old, now)
	if now > 1024 {
		t.Errorf("a Dumper's dump of 41 links allocates %d bytes, want at most 1 KB (Dump: %d)", now, old)
	}
}
