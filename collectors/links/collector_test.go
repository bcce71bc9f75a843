package links

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"

	"netlens/collectors/internal/rtnl/rtnltest"
	"netlens/model"
)

// linkPayload builds an RTM_NEWLINK payload as the kernel does, with
// the attributes the collector reads.
func linkPayload(index int32, name, kind string, master int32, rxBytes, txBytes, rxPackets, txPackets uint64) []byte {
	b := make([]byte, sizeofIfinfomsg)
	ne.PutUint16(b[2:], 1) // ARPHRD_ETHER
	ne.PutUint32(b[4:], uint32(index))
	ne.PutUint32(b[8:], iffUp|iffLowerUp)
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = ne
	ae.String(uint16(iflaIfname), name)
	ae.Uint32(uint16(iflaMTU), 1500)
	ae.Bytes(uint16(iflaOperstate), []byte{6})
	if master != 0 {
		ae.Uint32(uint16(iflaMaster), uint32(master))
	}
	if kind != "" {
		ae.Nested(uint16(iflaLinkinfo), func(nae *netlink.AttributeEncoder) error {
			nae.String(iflaInfoKind, kind)
			return nil
		})
	}
	st := make([]byte, 8*len(model.LinkStatNames))
	ne.PutUint64(st[0:], rxPackets)
	ne.PutUint64(st[8:], txPackets)
	ne.PutUint64(st[16:], rxBytes)
	ne.PutUint64(st[24:], txBytes)
	ae.Bytes(uint16(iflaStats64), st)
	attrs, err := ae.Encode()
	if err != nil {
		panic(err)
	}
	return append(b, attrs...)
}

// fakeKernel answers the dumps: links from links(n) for the n-th
// sample, the captured addresses of lo and va, and va's htb class.
type fakeKernel struct {
	t      *testing.T
	links  func(n int) [][]byte
	n      int
	intr   int // flag the next intr link dumps interrupted
	dumps  map[netlink.HeaderType]int
	broken bool // add an undecodable link message
}

func (k *fakeKernel) fn(req []netlink.Message) ([]netlink.Message, error) {
	var out []netlink.Message
	add := func(typ netlink.HeaderType, flags netlink.HeaderFlags, b []byte) {
		out = append(out, netlink.Message{Header: netlink.Header{Type: typ, Flags: flags}, Data: b})
	}
	k.dumps[req[0].Header.Type]++
	switch req[0].Header.Type {
	case rtmGetLink:
		var flags netlink.HeaderFlags
		if k.intr > 0 {
			k.intr--
			flags = netlink.DumpInterrupted
		}
		for _, b := range k.links(k.n) {
			add(rtmNewLink, flags, b)
		}
		if k.broken {
			add(rtmNewLink, flags, readFixture(k.t, "broken-link-attr-overrun.bin"))
		}
		k.n++
	case rtmGetAddr:
		for _, f := range []string{"addr-inet-lo.bin", "addr-inet6-lo.bin", "addr-inet-va.bin"} {
			add(rtmNewAddr, 0, readFixture(k.t, f))
		}
	case rtmGetQdisc:
		add(rtmNewQdisc, 0, readFixture(k.t, "../../qdisc/testdata/qdisc-noqueue-lo.bin"))
		add(rtmNewQdisc, 0, readFixture(k.t, "../../qdisc/testdata/qdisc-tbf-va.bin"))
	case rtmGetTclass:
		if idx := int32(ne.Uint32(req[0].Data[4:])); idx != 3 {
			k.t.Errorf("class dump of ifindex %d: only va (3) has a classful qdisc", idx)
		}
		add(rtmNewTclass, 0, readFixture(k.t, "class-htb-va.bin"))
	default:
		k.t.Fatalf("unexpected request type %d", req[0].Header.Type)
	}
	return rtnltest.DumpReply(req[0], out)
}

func newFake(t *testing.T, k *fakeKernel, now func() time.Time) *Collector {
	k.t, k.dumps = t, map[netlink.HeaderType]int{}
	c := New(Options{Now: now})
	c.sock.Dialer = func() (*netlink.Conn, error) { return nltest.Dial(k.fn), nil }
	t.Cleanup(func() { c.Close() })
	return c
}

func byName(ifs []model.Interface) map[string]model.Interface {
	m := map[string]model.Interface{}
	for _, l := range ifs {
		m[l.Name] = l
	}
	return m
}

func TestCollectorRows(t *testing.T) {
	k := &fakeKernel{links: func(int) [][]byte {
		return [][]byte{linkPayload(3, "va", "veth", 4, 0, 0, 0, 0), linkPayload(1, "lo", "", 0, 0, 0, 0, 0), linkPayload(4, "br0", "bridge", 0, 0, 0, 0, 0)}
	}}
	c := newFake(t, k, nil)
	got, err := c.Sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Name != "lo" || got[1].Name != "va" || got[2].Name != "br0" {
		t.Fatalf("rows not by index: %+v", got)
	}
	m := byName(got)
	if diff := cmp.Diff([]model.InterfaceAddr{{Family: "inet", Address: "127.0.0.1", PrefixLen: 8, Scope: "host"}, {Family: "inet6", Address: "::1", PrefixLen: 128, Scope: "host"}}, m["lo"].Addresses); diff != "" {
		t.Errorf("lo addresses (-want +got)\n%s", diff)
	}
	if m["va"].Master != "br0" || m["va"].Kind != "veth" || m["br0"].Addresses == nil {
		t.Errorf("va %+v br0 %+v", m["va"], m["br0"])
	}
	wantTC := []model.TCObject{
		{Kind: "tbf", Handle: "1:", Parent: "root", Bytes: 76676, Packets: 64, Drops: 297, Overlimits: 355},
		{Class: true, Kind: "htb", Handle: "1:10", Parent: "root"},
	}
	if diff := cmp.Diff(wantTC, m["va"].TC, cmp.FilterPath(func(p cmp.Path) bool {
		// The class's counters are whatever the capture holds.
		return p.Last().String() == ".Bytes" || p.Last().String() == ".Packets"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("va tc (-want +got)\n%s", diff)
	}
	if k.dumps[rtmGetTclass] != 1 {
		t.Errorf("%d class dumps, want 1 (va; lo has noqueue)", k.dumps[rtmGetTclass])
	}
}

func TestCollectorRates(t *testing.T) {
	type va struct{ rxB, txB, rxP, txP uint64 }
	steps := []struct {
		name  string
		va    va
		vaAs  string // va's name in the step (a rename is a new interface)
		dt    time.Duration
		known bool
		want  model.InterfaceRate
	}{
		{name: "first sight: no rate", va: va{1000, 2000, 10, 20}, vaAs: "va"},
		{name: "deltas over 2 s", va: va{3000, 2000, 30, 20}, vaAs: "va", dt: 2 * time.Second, known: true,
			want: model.InterfaceRate{Known: true, Interval: 2 * time.Second, RxBitsPerSec: 8000, RxPacketsPerSec: 10}},
		{name: "counters went backwards: no rate, not a spike", va: va{10, 10, 1, 1}, vaAs: "va", dt: time.Second},
		{name: "rate again", va: va{1010, 510, 11, 6}, vaAs: "va", dt: time.Second, known: true,
			want: model.InterfaceRate{Known: true, Interval: time.Second, RxBitsPerSec: 8000, TxBitsPerSec: 4000, RxPacketsPerSec: 10, TxPacketsPerSec: 5}},
		{name: "another name at the index: no rate", va: va{2010, 510, 21, 6}, vaAs: "vx", dt: time.Second},
	}
	at := time.Unix(1000, 0)
	n := 0
	k := &fakeKernel{links: func(int) [][]byte {
		s := steps[n]
		return [][]byte{linkPayload(3, s.vaAs, "veth", 0, s.va.rxB, s.va.txB, s.va.rxP, s.va.txP)}
	}}
	c := newFake(t, k, func() time.Time { return at })
	for i, s := range steps {
		n = i
		at = at.Add(s.dt)
		got, err := c.Sample(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.want, got[0].Rate); diff != "" {
			t.Errorf("%s (-want +got)\n%s", s.name, diff)
		}
	}
}

func TestCollectorRetriesAndSkips(t *testing.T) {
	k := &fakeKernel{intr: 2, broken: true, links: func(int) [][]byte { return [][]byte{linkPayload(3, "va", "veth", 0, 1, 1, 1, 1)} }}
	c := newFake(t, k, nil)
	var pub recorder
	err := c.Collect(context.Background(), &pub)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err %v, want ErrMalformed for the broken message", err)
	}
	if k.dumps[rtmGetLink] != 3 {
		t.Errorf("%d link dumps, want 3 (two interrupted)", k.dumps[rtmGetLink])
	}
	if len(pub.u) != 1 || len(pub.u[0].Interfaces) != 1 || pub.u[0].Interfaces[0].Name != "va" {
		t.Fatalf("the good link was not published: %+v", pub.u)
	}
}

type recorder struct{ u []model.InterfacesUpdate }

func (r *recorder) Publish(u model.Update) { r.u = append(r.u, u.(model.InterfacesUpdate)) }
