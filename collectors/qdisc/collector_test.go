package qdisc

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"

	"netlens/collectors/internal/rtnl/rtnltest"
	"netlens/model"
)

// qdiscPayload builds an RTM_NEWQDISC payload as the kernel does.
func qdiscPayload(ifindex int32, handle, parent uint32, kind string, drops, overlimits, requeues uint32, packets uint32, pkt64 uint64) []byte {
	b := make([]byte, sizeofTcmsg)
	ne.PutUint32(b[4:], uint32(ifindex))
	ne.PutUint32(b[8:], handle)
	ne.PutUint32(b[12:], parent)
	ae := netlink.NewAttributeEncoder()
	ae.String(uint16(tcaKind), kind)
	ae.Nested(uint16(tcaStats2), func(nae *netlink.AttributeEncoder) error {
		basic := make([]byte, sizeofGnetStatsBasic)
		ne.PutUint64(basic[0:], 1000)
		ne.PutUint32(basic[8:], packets)
		nae.Bytes(uint16(tcaStatsBasic), basic)
		if pkt64 != 0 {
			nae.Uint64(uint16(tcaStatsPkt64), pkt64)
		}
		q := make([]byte, sizeofGnetStatsQueue)
		binary.NativeEndian.PutUint32(q[0:], 2)   // qlen
		binary.NativeEndian.PutUint32(q[4:], 300) // backlog
		binary.NativeEndian.PutUint32(q[8:], drops)
		binary.NativeEndian.PutUint32(q[12:], requeues)
		binary.NativeEndian.PutUint32(q[16:], overlimits)
		nae.Bytes(uint16(tcaStatsQueue), q)
		return nil
	})
	attrs, err := ae.Encode()
	if err != nil {
		panic(err)
	}
	return append(b, attrs...)
}

// fakeKernel answers link dumps with the captured lo and va and qdisc
// dumps with what qdiscs returns for the n-th dump.
type fakeKernel struct {
	t      *testing.T
	qdiscs func(n int) [][]byte
	intr   int // flag the next intr qdisc dumps as interrupted
	dumps  int
	// stats are the RTM_GETSTATS replies (stats-lo and stats-va when nil);
	// noStats answers RTM_GETSTATS with EOPNOTSUPP, as kernels before 4.7.
	stats     []string
	noStats   bool
	linkDumps int
}

func (k *fakeKernel) fn(req []netlink.Message) ([]netlink.Message, error) {
	var out []netlink.Message
	var flags netlink.HeaderFlags
	switch req[0].Header.Type {
	case rtmGetStats:
		if k.noStats {
			// An NLMSG_ERROR as the kernel sends it: errno, then the
			// request's header.
			hdr, _ := req[0].MarshalBinary()
			errno := -int32(unix.EOPNOTSUPP)
			data := binary.NativeEndian.AppendUint32(nil, uint32(errno))
			return []netlink.Message{{Header: netlink.Header{Type: netlink.Error, Sequence: req[0].Header.Sequence, PID: req[0].Header.PID},
				Data: append(data, hdr[:16]...)}}, nil
		}
		files := k.stats
		if files == nil {
			files = []string{"stats-lo.bin", "stats-va.bin"}
		}
		for _, f := range files {
			out = append(out, netlink.Message{Header: netlink.Header{Type: rtmNewStats}, Data: readFixture(k.t, f)})
		}
	case rtmGetLink:
		k.linkDumps++
		for _, f := range []string{"link-lo.bin", "link-va.bin"} {
			out = append(out, netlink.Message{Header: netlink.Header{Type: rtmNewLink}, Data: readFixture(k.t, f)})
		}
	case rtmGetQdisc:
		if k.intr > 0 {
			k.intr--
			flags = netlink.DumpInterrupted
		}
		for _, p := range k.qdiscs(k.dumps) {
			out = append(out, netlink.Message{Header: netlink.Header{Type: rtmNewQdisc, Flags: flags}, Data: p})
		}
		k.dumps++
	default:
		k.t.Fatalf("unexpected request type %d", req[0].Header.Type)
	}
	return rtnltest.DumpReply(req[0], out)
}

type recorder struct{ updates []model.CountersUpdate }

func (r *recorder) Publish(u model.Update) { r.updates = append(r.updates, u.(model.CountersUpdate)) }

func byName(cs []model.RawCounter, inst string) map[string]uint64 {
	m := map[string]uint64{}
	for _, c := range cs {
		if c.Instance == inst {
			m[c.Name] = c.Value
		}
	}
	return m
}

func newFake(t *testing.T, k *fakeKernel, opts Options) *Collector {
	c := New(opts)
	c.sock.Dialer = func() (*netlink.Conn, error) { return nltest.Dial(k.fn), nil }
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCollectorCounters(t *testing.T) {
	k := &fakeKernel{t: t, qdiscs: func(int) [][]byte {
		return [][]byte{readFixture(t, "qdisc-tbf-va.bin"), readFixture(t, "qdisc-noqueue-lo.bin")}
	}}
	at := time.Unix(100, 0)
	c := newFake(t, k, Options{Links: true, Now: func() time.Time { return at }})
	var rec recorder
	if err := c.Collect(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	got := rec.updates[0]
	if got.Collector != Name || !got.At.Equal(at) {
		t.Fatalf("update %s at %v", got.Collector, got.At)
	}
	want := map[string]uint64{"drops": 297, "overlimits": 355, "requeues": 0, "bytes": 76676, "packets": 64, "backlog": 0, "qlen": 0}
	if diff := cmp.Diff(want, byName(got.Counters, "va tbf 1: root")); diff != "" {
		t.Errorf("tbf on va (-want +got)\n%s", diff)
	}
	links := byName(got.Counters, "va")
	if links["rx_packets"] != 1 || links["tx_bytes"] != 308 || len(links) != len(linkStatNames) {
		t.Errorf("link va (from RTM_GETSTATS): %v", links)
	}
	for _, cn := range got.Counters {
		wantLayer := model.LayerQdisc
		if cn.Group == GroupLink {
			wantLayer = model.LayerNIC
		}
		if cn.Layer != wantLayer || cn.Source != Source {
			t.Errorf("%+v: layer or source wrong", cn)
		}
		if (cn.Name == "backlog" || cn.Name == "qlen") != (cn.Kind == model.KindGauge) {
			t.Errorf("%s kind %s", cn.Name, cn.Kind)
		}
	}
}

func TestCollectorWidens32BitCounters(t *testing.T) {
	const near = 1<<32 - 10
	steps := []struct {
		drops, packets uint32
		pkt64          uint64
		wantDrops      uint64
		wantPackets    uint64
	}{
		{near, near, 0, near, near},
		{near + 5, near + 5, 0, near + 5, near + 5},
		{3, 3, 0, 1<<32 + 3, 1<<32 + 3},              // wrapped: 13 more, not a reset
		{20, 20, 1<<33 + 20, 1<<32 + 20, 1<<33 + 20}, // TCA_STATS_PKT64 wins
	}
	n := 0
	k := &fakeKernel{t: t, qdiscs: func(int) [][]byte {
		s := steps[n]
		return [][]byte{qdiscPayload(3, 0x10000, tcHRoot, "tbf", s.drops, 1, 2, s.packets, s.pkt64)}
	}}
	c := newFake(t, k, Options{})
	for i, s := range steps {
		n = i
		var rec recorder
		if err := c.Collect(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
		got := byName(rec.updates[0].Counters, "va tbf 1: root")
		if got["drops"] != s.wantDrops || got["packets"] != s.wantPackets {
			t.Errorf("step %d: drops %d packets %d, want %d %d", i, got["drops"], got["packets"], s.wantDrops, s.wantPackets)
		}
	}
}

func TestCollectorRetriesInterruptedDump(t *testing.T) {
	k := &fakeKernel{t: t, intr: 2, qdiscs: func(int) [][]byte { return [][]byte{readFixture(t, "qdisc-tbf-va.bin")} }}
	c := newFake(t, k, Options{})
	var rec recorder
	if err := c.Collect(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	if k.dumps != 3 {
		t.Errorf("%d qdisc dumps, want 3 (two interrupted)", k.dumps)
	}
	if len(byName(rec.updates[0].Counters, "va tbf 1: root")) != 7 {
		t.Errorf("counters: %v", rec.updates[0].Counters)
	}
}

func TestCollectorSkipsBadMessages(t *testing.T) {
	k := &fakeKernel{t: t, qdiscs: func(int) [][]byte {
		return [][]byte{readFixture(t, "broken-qdisc-attr-overrun.bin"), readFixture(t, "qdisc-tbf-va.bin")}
	}}
	c := newFake(t, k, Options{})
	var rec recorder
	err := c.Collect(context.Background(), &rec)
	if err == nil {
		t.Fatal("no error for a malformed message")
	}
	if len(rec.updates) != 1 || len(byName(rec.updates[0].Counters, "va tbf 1: root")) != 7 {
		t.Fatalf("the good qdisc was not published: %v", rec.updates)
	}
}

func TestCollectorNamesRefresh(t *testing.T) {
	k := &fakeKernel{t: t, qdiscs: func(int) [][]byte { return nil }}
	c := newFake(t, k, Options{Links: true})
	collect := func() map[string]uint64 {
		t.Helper()
		var rec recorder
		if err := c.Collect(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
		return byName(rec.updates[0].Counters, "va")
	}
	for range NamesEvery + 1 {
		if len(collect()) == 0 {
			t.Fatal("no va counters")
		}
	}
	if k.linkDumps != 2 {
		t.Errorf("%d link dumps in %d samples, want 2 (first, then after %d)", k.linkDumps, NamesEvery+1, NamesEvery)
	}
	// An interface the names do not know makes the sample redo the dump.
	k.stats = []string{"stats-lo.bin", "stats-va.bin", "stats-vb.bin"}
	before := k.linkDumps
	collect()
	if k.linkDumps != before+1 {
		t.Errorf("unknown ifindex: %d link dumps, want %d", k.linkDumps, before+1)
	}
}

func TestCollectorWithoutGetStats(t *testing.T) {
	k := &fakeKernel{t: t, noStats: true, qdiscs: func(int) [][]byte { return nil }}
	c := newFake(t, k, Options{Links: true})
	for i := range 3 {
		var rec recorder
		if err := c.Collect(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
		if va := byName(rec.updates[0].Counters, "va"); va["rx_packets"] != 68 {
			t.Fatalf("sample %d: va from the link dump: %v", i, va)
		}
	}
	if k.linkDumps != 3 {
		t.Errorf("%d link dumps, want one per sample", k.linkDumps)
	}
}

// TestCollectorReusesListOnlyForACopier: into a Store (a
// collectors.CountersCopier) the second Collect fills the first one's
// list again and the first snapshot is unchanged; into a recorder each
// update has its own list.
func TestCollectorReusesListOnlyForACopier(t *testing.T) {
	k := &fakeKernel{t: t, qdiscs: func(int) [][]byte {
		return [][]byte{readFixture(t, "qdisc-tbf-va.bin"), readFixture(t, "qdisc-noqueue-lo.bin")}
	}}
	c := newFake(t, k, Options{Links: true})
	s := model.NewStore("h", "k", time.Unix(0, 0))
	if err := c.Collect(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	first := s.Snapshot()
	want := slices.Clone(first.Counters)
	spare := c.spare
	if cap(spare) == 0 {
		t.Fatal("no spare list after publishing into a Store")
	}
	if err := c.Collect(context.Background(), s.Scoped()); err != nil {
		t.Fatal(err)
	}
	if cap(c.spare) == 0 || &c.spare[:1][0] != &spare[:1][0] {
		t.Error("the second Collect did not fill the first one's list")
	}
	if diff := cmp.Diff(want, first.Counters); diff != "" {
		t.Errorf("the first snapshot changed (-then +now)\n%s", diff)
	}
	c = newFake(t, k, Options{Links: true})
	var rec recorder
	for range 2 {
		if err := c.Collect(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
	}
	if c.spare != nil || &rec.updates[0].Counters[0] == &rec.updates[1].Counters[0] {
		t.Error("a list reused for a publisher that keeps its updates")
	}
}
