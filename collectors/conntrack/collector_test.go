package conntrack

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	ct "github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// ctnetlink attribute types (include/uapi/linux/netfilter/nfnetlink_conntrack.h),
// for building messages as the kernel sends them.
const (
	ctaTupleOrig     = 1  // CTA_TUPLE_ORIG
	ctaTupleReply    = 2  // CTA_TUPLE_REPLY
	ctaStatus        = 3  // CTA_STATUS
	ctaProtoinfo     = 4  // CTA_PROTOINFO
	ctaTimeout       = 7  // CTA_TIMEOUT
	ctaMark          = 8  // CTA_MARK
	ctaCountersOrig  = 9  // CTA_COUNTERS_ORIG
	ctaCountersReply = 10 // CTA_COUNTERS_REPLY
	ctaID            = 12 // CTA_ID
	ctaZone          = 18 // CTA_ZONE
	ctaTimestamp     = 20 // CTA_TIMESTAMP

	ctaTupleIP    = 1 // CTA_TUPLE_IP
	ctaTupleProto = 2 // CTA_TUPLE_PROTO

	ctaIPv4Src, ctaIPv4Dst, ctaIPv6Src, ctaIPv6Dst = 1, 2, 3, 4 // CTA_IP_V4_SRC ...

	ctaProtoNum, ctaProtoSrcPort, ctaProtoDstPort                                  = 1, 2, 3 // CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT
	ctaProtoICMPID, ctaProtoICMPType, ctaProtoICMPCode                             = 4, 5, 6 // CTA_PROTO_ICMP_ID ...
	ctaProtoICMPv6ID, ctaProtoICMPv6Type, ctaProtoICMPv6Code                       = 7, 8, 9 // CTA_PROTO_ICMPV6_ID ...
	ctaProtoinfoTCP, ctaProtoinfoTCPState                                          = 1, 1    // CTA_PROTOINFO_TCP, CTA_PROTOINFO_TCP_STATE
	ctaCountersPackets, ctaCountersBytes                                           = 1, 2    // CTA_COUNTERS_PACKETS, CTA_COUNTERS_BYTES
	ctaTimestampStart                                                              = 1       // CTA_TIMESTAMP_START
	msgCTDelete                                              netfilter.MessageType = 2       // IPCTNL_MSG_CT_DELETE
)

func tupleAttr(typ uint16, proto uint8, t model.FlowTuple) netfilter.Attribute {
	src, dst := t.Src.Addr(), t.Dst.Addr()
	ip := netfilter.Attribute{Type: ctaTupleIP, Nested: true}
	if src.Is4() {
		ip.Children = []netfilter.Attribute{{Type: ctaIPv4Src, Data: src.AsSlice()}, {Type: ctaIPv4Dst, Data: dst.AsSlice()}}
	} else {
		ip.Children = []netfilter.Attribute{{Type: ctaIPv6Src, Data: src.AsSlice()}, {Type: ctaIPv6Dst, Data: dst.AsSlice()}}
	}
	p := netfilter.Attribute{Type: ctaTupleProto, Nested: true, Children: []netfilter.Attribute{{Type: ctaProtoNum, Data: []byte{proto}}}}
	switch {
	case t.ICMP != nil && proto == 1:
		p.Children = append(p.Children, netfilter.Attribute{Type: ctaProtoICMPID, Data: netfilter.Uint16Bytes(t.ICMP.ID)},
			netfilter.Attribute{Type: ctaProtoICMPType, Data: []byte{t.ICMP.Type}}, netfilter.Attribute{Type: ctaProtoICMPCode, Data: []byte{t.ICMP.Code}})
	case t.ICMP != nil:
		p.Children = append(p.Children, netfilter.Attribute{Type: ctaProtoICMPv6ID, Data: netfilter.Uint16Bytes(t.ICMP.ID)},
			netfilter.Attribute{Type: ctaProtoICMPv6Type, Data: []byte{t.ICMP.Type}}, netfilter.Attribute{Type: ctaProtoICMPv6Code, Data: []byte{t.ICMP.Code}})
	default:
		p.Children = append(p.Children, netfilter.Attribute{Type: ctaProtoSrcPort, Data: netfilter.Uint16Bytes(t.Src.Port())},
			netfilter.Attribute{Type: ctaProtoDstPort, Data: netfilter.Uint16Bytes(t.Dst.Port())})
	}
	return netfilter.Attribute{Type: typ, Nested: true, Children: []netfilter.Attribute{ip, p}}
}

// flowMsg builds the ctnetlink message the kernel sends for f: a NEW or
// UPDATE event, a dump entry (evUpdate), or a DESTROY event.
func flowMsg(t testing.TB, kind eventKind, f model.Flow) netlink.Message {
	t.Helper()
	attrs := []netfilter.Attribute{
		tupleAttr(ctaTupleOrig, f.ProtoNum, f.Orig),
		tupleAttr(ctaTupleReply, f.ProtoNum, f.Reply),
		{Type: ctaStatus, Data: netfilter.Uint32Bytes(uint32(f.Status))},
		{Type: ctaTimeout, Data: netfilter.Uint32Bytes(uint32(f.Timeout / time.Second))},
		{Type: ctaID, Data: netfilter.Uint32Bytes(f.ID)},
	}
	if f.Mark != 0 {
		attrs = append(attrs, netfilter.Attribute{Type: ctaMark, Data: netfilter.Uint32Bytes(f.Mark)})
	}
	if f.Zone != 0 {
		attrs = append(attrs, netfilter.Attribute{Type: ctaZone, Data: netfilter.Uint16Bytes(f.Zone)})
	}
	if f.ProtoNum == 6 && f.TCPState != 0 {
		attrs = append(attrs, netfilter.Attribute{Type: ctaProtoinfo, Nested: true, Children: []netfilter.Attribute{
			{Type: ctaProtoinfoTCP, Nested: true, Children: []netfilter.Attribute{{Type: ctaProtoinfoTCPState, Data: []byte{uint8(f.TCPState)}}}}}})
	}
	if f.CountersKnown {
		for _, c := range []struct {
			typ       uint16
			pk, bytes uint64
		}{{ctaCountersOrig, f.OrigPackets, f.OrigBytes}, {ctaCountersReply, f.ReplyPackets, f.ReplyBytes}} {
			attrs = append(attrs, netfilter.Attribute{Type: c.typ, Nested: true, Children: []netfilter.Attribute{
				{Type: ctaCountersPackets, Data: netfilter.Uint64Bytes(c.pk)}, {Type: ctaCountersBytes, Data: netfilter.Uint64Bytes(c.bytes)}}})
		}
	}
	if !f.Start.IsZero() {
		attrs = append(attrs, netfilter.Attribute{Type: ctaTimestamp, Nested: true, Children: []netfilter.Attribute{
			{Type: ctaTimestampStart, Data: netfilter.Uint64Bytes(uint64(f.Start.UnixNano()))}}})
	}
	h := netfilter.Header{SubsystemID: netfilter.NFSubsysCTNetlink, MessageType: msgCTNew, Family: netfilter.ProtoIPv4}
	switch kind {
	case evNew:
		h.Flags = netlink.Create | netlink.Excl
	case evDestroy:
		h.MessageType = msgCTDelete
	}
	m, err := netfilter.MarshalNetlink(h, attrs)
	if err != nil {
		t.Fatal(err)
	}
	// Round-trip through the wire format, as the kernel's bytes.
	m.Header.Length = uint32(16 + len(m.Data))
	b, _ := m.MarshalBinary()
	var back netlink.Message
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return back
}

var t0 = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

func tcpFlow(id uint32, sport uint16, bytes uint64) model.Flow {
	f := model.Flow{ID: id, Family: model.FamilyIPv4, Proto: model.ProtoTCP, ProtoNum: 6,
		Orig:     model.FlowTuple{Src: netip.AddrPortFrom(netip.MustParseAddr("10.1.0.2"), sport), Dst: netip.MustParseAddrPort("10.1.0.1:8080")},
		Reply:    model.FlowTuple{Src: netip.MustParseAddrPort("10.2.0.2:80"), Dst: netip.AddrPortFrom(netip.MustParseAddr("10.2.0.1"), sport)},
		TCPState: model.TCPSynSent, Status: model.StatusConfirmed, Timeout: 120 * time.Second, FirstSeen: t0, Updated: t0}
	if bytes > 0 {
		f.OrigPackets, f.OrigBytes, f.ReplyPackets, f.ReplyBytes, f.CountersKnown = 1, bytes/2, 1, bytes-bytes/2, true
	}
	f.SetNAT()
	return f
}

func TestToModel(t *testing.T) {
	tcp := tcpFlow(7, 40000, 300)
	tcp.TCPState, tcp.Status, tcp.Mark, tcp.Zone = model.TCPEstablished, model.StatusSeenReply|model.StatusAssured|model.StatusConfirmed, 42, 3
	tcp.Start = t0.Add(-time.Minute)
	icmp6 := model.Flow{ID: 9, Family: model.FamilyIPv6, Proto: model.ProtoICMPv6, ProtoNum: 58,
		Orig:   model.FlowTuple{Src: netip.MustParseAddrPort("[fd01::2]:0"), Dst: netip.MustParseAddrPort("[fd02::2]:0"), ICMP: &model.ICMPKey{Type: 128, ID: 77}},
		Reply:  model.FlowTuple{Src: netip.MustParseAddrPort("[fd02::2]:0"), Dst: netip.MustParseAddrPort("[fd02::1]:0"), ICMP: &model.ICMPKey{Type: 129, ID: 77}},
		Status: model.StatusConfirmed | model.StatusSeenReply, Timeout: 29 * time.Second, FirstSeen: t0, Updated: t0}
	icmp6.SetNAT()
	udp := model.Flow{ID: 11, Family: model.FamilyIPv4, Proto: model.ProtoUDP, ProtoNum: 17,
		Orig:   model.FlowTuple{Src: netip.MustParseAddrPort("10.0.0.1:5000"), Dst: netip.MustParseAddrPort("10.0.0.2:53")},
		Reply:  model.FlowTuple{Src: netip.MustParseAddrPort("10.0.0.2:53"), Dst: netip.MustParseAddrPort("10.0.0.1:5000")},
		Status: model.StatusConfirmed, Timeout: 30 * time.Second, FirstSeen: t0, Updated: t0}
	for _, want := range []model.Flow{tcp, icmp6, udp} {
		t.Run(want.Proto.String(), func(t *testing.T) {
			var ev ct.Event
			if err := ev.Unmarshal(flowMsg(t, evUpdate, want)); err != nil {
				t.Fatal(err)
			}
			got := toModel(ev.Flow, t0)
			if diff := cmp.Diff(want, got, addrOpts); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	if src, _ := icmp6.NATAddrs(); icmp6.NAT != model.NATSrc || src != netip.MustParseAddrPort("[fd02::1]:77") {
		t.Errorf("icmpv6 masquerade: %s %s", icmp6.NAT, src)
	}
}

func TestMerge(t *testing.T) {
	old := tcpFlow(1, 40000, 500)
	old.Mark, old.Start = 5, t0.Add(-time.Hour)
	u := tcpFlow(1, 40000, 0)
	u.TCPState, u.Status, u.Timeout, u.Updated = model.TCPEstablished, model.StatusAssured|model.StatusSeenReply, time.Hour, t0.Add(time.Second)
	got := merge(old, u)
	want := old
	want.TCPState, want.Status, want.Timeout, want.Updated = model.TCPEstablished, model.StatusAssured|model.StatusSeenReply, time.Hour, t0.Add(time.Second)
	if diff := cmp.Diff(want, got, addrOpts); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	// An update without protocol state keeps the old one.
	u2 := u
	u2.TCPState = model.TCPNone
	if merge(got, u2).TCPState != model.TCPEstablished {
		t.Error("state lost")
	}
}

func TestTableBoundedTopN(t *testing.T) {
	tab := newTable(3)
	d := newTopN(3, 0)
	for i := range 10 {
		d.add(tcpFlow(uint32(i), uint16(1000+i), uint64((i*7)%10)*100))
	}
	tab.replace(d)
	ids := func() []uint32 {
		var out []uint32
		for _, f := range tab.snapshot() {
			out = append(out, f.ID)
		}
		return out
	}
	// bytes: id0 0, 1 700, 2 400, 3 100, 4 800, 5 500, 6 200, 7 900, 8 600, 9 300
	if diff := cmp.Diff([]uint32{7, 4, 1}, ids()); diff != "" || !tab.truncated {
		t.Fatalf("top 3 by bytes (-want +got)\n%s truncated=%v", diff, tab.truncated)
	}
	tab.apply(event{evNew, tcpFlow(20, 2000, 0)})
	if tab.len() != 3 {
		t.Fatalf("table grew past its limit: %d", tab.len())
	}
	tab.apply(event{evDestroy, tcpFlow(4, 1004, 0)})
	tab.apply(event{evNew, tcpFlow(21, 2001, 0)})
	if diff := cmp.Diff([]uint32{7, 1, 21}, ids()); diff != "" {
		t.Errorf("after destroy + new (-want +got)\n%s", diff)
	}
	// A dump that fits clears truncation and keeps FirstSeen.
	d = newTopN(3, 0)
	later := tcpFlow(7, 1007, 900)
	later.FirstSeen = t0.Add(time.Hour)
	d.add(later)
	tab.replace(d)
	if tab.truncated || tab.len() != 1 || tab.snapshot()[0].FirstSeen != t0 {
		t.Errorf("after a small dump: truncated=%v flows=%+v", tab.truncated, tab.snapshot())
	}
}

func TestTableApply(t *testing.T) {
	tab := newTable(10)
	a := tcpFlow(1, 1, 0)
	tab.apply(event{evUpdate, a}) // an update for an unknown flow adds it
	if tab.len() != 1 {
		t.Fatal("update of unknown flow not added")
	}
	tab.apply(event{evDestroy, tcpFlow(1, 2, 0)}) // unknown: no-op
	b := a
	b.ID = 99 // same tuple, new entry: replaces
	tab.apply(event{evNew, b})
	if tab.len() != 1 || tab.snapshot()[0].ID != 99 {
		t.Fatalf("new with a reused tuple: %+v", tab.snapshot())
	}
	z := a
	z.Zone = 5 // same tuple, other zone: another entry
	tab.apply(event{evNew, z})
	tab.apply(event{eventKind(42), z})
	if tab.len() != 2 {
		t.Fatalf("zones not kept apart: %d", tab.len())
	}
	tab.apply(event{evDestroy, a}) // a late DESTROY for the replaced entry (id 1)
	if tab.len() != 2 {
		t.Fatalf("a stale DESTROY removed the new entry: %+v", tab.snapshot())
	}
	tab.apply(event{evDestroy, b})
	if tab.len() != 1 || tab.snapshot()[0].Zone != 5 {
		t.Fatalf("destroy: %+v", tab.snapshot())
	}
	c := z
	c.ID, c.TCPState = 7, model.TCPEstablished // an UPDATE for a new entry under the tuple replaces
	c.Mark = 0
	tab.apply(event{evUpdate, c})
	if f := tab.snapshot()[0]; f.ID != 7 || f.TCPState != model.TCPEstablished {
		t.Fatalf("update with a new id: %+v", f)
	}
}

// fakeReceiver plays back a script of Receive results, then reports the
// socket closed.
type fakeReceiver struct {
	steps []func() ([]netlink.Message, error)
}

func (f *fakeReceiver) Receive() ([]netlink.Message, error) {
	if len(f.steps) == 0 {
		return nil, os.ErrClosed
	}
	s := f.steps[0]
	f.steps = f.steps[1:]
	return s()
}

func msgs(m ...netlink.Message) func() ([]netlink.Message, error) {
	return func() ([]netlink.Message, error) { return m, nil }
}

func TestListenAppliesEventsAndCountsENOBUFS(t *testing.T) {
	now := t0
	c := New(Config{Now: func() time.Time { return now }})
	a, b := tcpFlow(1, 1000, 0), tcpFlow(2, 2000, 0)
	aUp := a
	aUp.TCPState, aUp.Status = model.TCPEstablished, model.StatusSeenReply|model.StatusAssured
	enobufs := &netlink.OpError{Op: "receive", Err: os.NewSyscallError("recvmsg", unix.ENOBUFS)}
	r := &fakeReceiver{steps: []func() ([]netlink.Message, error){
		msgs(flowMsg(t, evNew, a)),
		msgs(flowMsg(t, evNew, b), flowMsg(t, evUpdate, aUp)),
		func() ([]netlink.Message, error) { return nil, enobufs },
		msgs(flowMsg(t, evDestroy, b), netlink.Message{Header: netlink.Header{Type: 99}, Data: []byte{1, 2}}),
	}}
	c.listening, c.cur = true, r
	c.closing.Store(true)
	c.listen(r)
	if c.listening || c.evErr != nil {
		t.Errorf("after close: listening=%v err=%v", c.listening, c.evErr)
	}
	st := c.st
	if st.EventsNew != 2 || st.EventsUpdate != 1 || st.EventsDestroy != 1 || st.Overruns != 1 || st.DecodeErrors != 1 {
		t.Errorf("counts: %+v", st)
	}
	if !c.needResync {
		t.Error("ENOBUFS did not mark the table for a re-dump")
	}
	flows := c.tab.snapshot()
	if len(flows) != 1 || flows[0].ID != 1 || flows[0].TCPState != model.TCPEstablished || flows[0].Status&model.StatusAssured == 0 {
		t.Errorf("table: %+v", flows)
	}

	// A failure that is not a close is reported.
	c2 := New(Config{})
	r2 := &fakeReceiver{steps: []func() ([]netlink.Message, error){func() ([]netlink.Message, error) { return nil, unix.EIO }}}
	c2.listening, c2.cur = true, r2
	c2.listen(r2)
	if c2.listening || c2.evErr == nil || !c2.needResync {
		t.Errorf("fatal error: listening=%v err=%v resync=%v", c2.listening, c2.evErr, c2.needResync)
	}
}

func TestResyncAfterLossAndEventsDuringDump(t *testing.T) {
	now := t0
	c := New(Config{Now: func() time.Time { return now }, Refresh: time.Hour})
	kernel := []model.Flow{tcpFlow(1, 1000, 100), tcpFlow(2, 2000, 200)}
	var during []event // events that "arrive" while the dump runs
	c.fakeDump = func(ctx context.Context, now time.Time, start func(), fn func(*model.Flow)) (uint64, error) {
		start()
		for _, f := range kernel {
			var got model.Flow
			if err := decodeFlow(flowMsg(t, evUpdate, f).Data[nfgenmsgLen:], now, &got); err != nil {
				return 0, err
			}
			fn(&got)
		}
		c.mu.Lock()
		c.applyLocked(during)
		c.mu.Unlock()
		return 0, nil
	}
	if !c.dumpDue(now, true) {
		t.Fatal("no first dump")
	}
	if err := c.dump(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if c.tab.len() != 2 || c.st.Dumps != 1 || c.st.Resyncs != 0 {
		t.Fatalf("first dump: %d flows, %+v", c.tab.len(), c.st)
	}
	now = now.Add(2 * time.Second)
	if c.dumpDue(now, true) {
		t.Fatal("dump due before Refresh")
	}
	// Events were lost: a re-dump is due, not before a second has passed.
	c.mu.Lock()
	c.needResync = true
	c.mu.Unlock()
	if !c.dumpDue(now, true) || c.dumpDue(c.st.LastDump.Add(500*time.Millisecond), true) {
		t.Fatal("re-dump not due after loss, or due too soon")
	}
	kernel = append(kernel, tcpFlow(3, 3000, 300))
	during = []event{{evDestroy, tcpFlow(1, 1000, 0)}, {evNew, tcpFlow(4, 4000, 0)}}
	if err := c.dump(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	var ids []uint32
	for _, f := range c.tab.snapshot() {
		ids = append(ids, f.ID)
	}
	if diff := cmp.Diff([]uint32{3, 2, 4}, ids); diff != "" {
		t.Errorf("after re-dump with events during it (-want +got)\n%s", diff)
	}
	if c.st.Resyncs != 1 || c.needResync || c.st.Dumps != 2 {
		t.Errorf("stats after re-dump: %+v resync=%v", c.st, c.needResync)
	}
	c.RequestDump()
	if !c.dumpDue(now, true) {
		t.Error("RequestDump did not make a dump due")
	}
	// A failed dump keeps the table, applies the queued events and asks
	// for another.
	c.fakeDump = func(ctx context.Context, now time.Time, start func(), fn func(*model.Flow)) (uint64, error) {
		start()
		c.mu.Lock()
		c.applyLocked([]event{{evDestroy, tcpFlow(2, 2000, 0)}})
		c.mu.Unlock()
		return 0, errors.New("boom")
	}
	if err := c.dump(context.Background(), 0); err == nil {
		t.Fatal("no error")
	}
	if c.tab.len() != 2 || !c.needResync {
		t.Errorf("after a failed dump: %d flows, resync=%v", c.tab.len(), c.needResync)
	}
}

// TestDemandSkipsCounterDumps: with Demand saying no, the periodic dump
// (counters only) is not made while events keep the table; the first
// dump, RequestDump, a re-dump after loss, and a table without events
// (the sysctl off, or no listener) are dumped as before; Want(true)
// makes a dump due at once when the counters are older than Refresh.
func TestDemandSkipsCounterDumps(t *testing.T) {
	now := t0
	var d Demand
	if !d.Wanted() {
		t.Fatal("the zero Demand does not want the counters")
	}
	d.Want(false)
	c := New(Config{Now: func() time.Time { return now }, Refresh: 10 * time.Second, Demand: &d})
	c.fakeDump = func(ctx context.Context, now time.Time, start func(), fn func(*model.Flow)) (uint64, error) {
		start()
		f := tcpFlow(1, 1000, 100)
		fn(&f)
		return 0, nil
	}
	c.mu.Lock()
	c.listening = true
	c.mu.Unlock()
	if !c.dumpDue(now, true) {
		t.Fatal("no first dump while the counters are not wanted")
	}
	if err := c.dump(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if c.dumpDue(now, true) {
		t.Error("a counters-only dump is due while nobody wants the counters")
	}
	if !c.dumpDue(now, false) {
		t.Error("no dump due with the events sysctl off: the table would go stale")
	}
	c.mu.Lock()
	c.listening = false
	c.mu.Unlock()
	if !c.dumpDue(now, true) {
		t.Error("no dump due without an event listener")
	}
	c.mu.Lock()
	c.listening, c.needResync = true, true
	c.mu.Unlock()
	if !c.dumpDue(now, true) {
		t.Error("no re-dump due after lost events")
	}
	c.mu.Lock()
	c.needResync = false
	c.mu.Unlock()
	c.RequestDump()
	if !c.dumpDue(now, true) {
		t.Error("RequestDump did not make a dump due")
	}
	c.requested.Store(false)
	d.Want(true)
	if !c.dumpDue(now, true) {
		t.Error("wanted again a minute after the last dump, and no dump due")
	}
	if c.dumpDue(c.st.LastDump.Add(5*time.Second), true) {
		t.Error("wanted, and a dump due before Refresh")
	}
}

func TestPendingQueueIsBounded(t *testing.T) {
	c := New(Config{MaxFlows: 2})
	c.resyncing = true
	var evs []event
	for i := range 20 {
		evs = append(evs, event{evNew, tcpFlow(uint32(i), uint16(i), 0)})
	}
	c.applyLocked(evs)
	if len(c.pending) != 2 || !c.needResync || c.st.EventsNew != 20 {
		t.Errorf("pending %d resync %v new %d", len(c.pending), c.needResync, c.st.EventsNew)
	}
}

func TestDecodeStats(t *testing.T) {
	u32 := func(typ uint16, v uint32) netfilter.Attribute {
		return netfilter.Attribute{Type: typ, Data: netfilter.Uint32Bytes(v)}
	}
	m, _ := netfilter.MarshalNetlink(netfilter.Header{SubsystemID: netfilter.NFSubsysCTNetlink, MessageType: msgCTGetStatsCPU, ResourceID: 3},
		[]netfilter.Attribute{u32(attrStatsFound, 1), u32(attrStatsInvalid, 2), u32(attrStatsIgnore, 3), u32(attrStatsInsert, 4),
			u32(attrStatsInsertFailed, 5), u32(attrStatsDrop, 6), u32(attrStatsEarlyDrop, 7), u32(attrStatsError, 8),
			u32(attrStatsSearchRestart, 9), u32(attrStatsClashResolve, 10), u32(attrStatsChainTooLong, 11),
			u32(attrStatsSearched, 99), u32(42, 99), {Type: attrStatsDrop, Data: []byte{1}}})
	got, err := decodeCPUStats(m)
	if err != nil {
		t.Fatal(err)
	}
	want := model.ConntrackCPU{CPU: 3, Found: 1, Invalid: 2, Ignore: 3, Insert: 4, InsertFailed: 5, Drop: 6, EarlyDrop: 7, Error: 8, SearchRestart: 9, ClashResolve: 10, ChainTooLong: 11}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	g, _ := netfilter.MarshalNetlink(netfilter.Header{SubsystemID: netfilter.NFSubsysCTNetlink, MessageType: msgCTGetStats},
		[]netfilter.Attribute{u32(attrStatsGlobalEntries, 12), u32(attrStatsGlobalMaxEntries, 262144)})
	if n, max, err := decodeGlobalStats(g); err != nil || n != 12 || max != 262144 {
		t.Errorf("global = %d %d %v", n, max, err)
	}
	for _, bad := range []netlink.Message{{Data: []byte{1}}, {Data: []byte{0, 0, 0, 0, 9, 0}}} {
		if _, err := decodeCPUStats(bad); !errors.Is(err, ErrDecode) {
			t.Errorf("decodeCPUStats(%v) err = %v", bad.Data, err)
		}
		if _, _, err := decodeGlobalStats(bad); !errors.Is(err, ErrDecode) {
			t.Errorf("decodeGlobalStats(%v) err = %v", bad.Data, err)
		}
	}
	st := model.ConntrackStats{Count: 5, Max: 10, EventsLost: 3, Total: want}
	var names []string
	for _, c := range counters(st) {
		if c.Layer != model.LayerNetfilter || c.Source != "ctnetlink" {
			t.Errorf("counter %+v", c)
		}
		names = append(names, fmt.Sprintf("%s=%d", c.Name, c.Value))
	}
	if diff := cmp.Diff("found=1 invalid=2 ignore=3 insert=4 insert_failed=5 drop=6 early_drop=7 error=8 search_restart=9 clash_resolve=10 chaintoolong=11 entries=5 max=10 events_lost=3", strings.Join(names, " ")); diff != "" {
		t.Errorf("counters (-want +got)\n%s", diff)
	}
}

func TestParseSysctlUint(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  bool
	}{
		{"262144\n", 262144, false},
		{"0", 0, false},
		{" 7 \n", 7, false},
		{"", 0, true},
		{"-1\n", 0, true},
		{"1 2\n", 0, true},
		{"99999999999999999999999\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSysctlUint(strings.NewReader(tt.in))
		if (err != nil) != tt.err || got != tt.want || (err != nil && !errors.Is(err, ErrParse)) {
			t.Errorf("parseSysctlUint(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func TestNetfilterSysctls(t *testing.T) {
	dir := t.TempDir()
	if _, err := netfilterSysctls(dir); !errors.Is(err, collectors.ErrNotSupported) {
		t.Fatalf("empty dir: %v, want ErrNotSupported", err)
	}
	for name, v := range map[string]string{"nf_conntrack_max": "262144\n", "nf_conntrack_count": "12\n", "nf_conntrack_buckets": "65536\n",
		"nf_conntrack_acct": "1\n", "nf_conntrack_timestamp": "0\n", "nf_conntrack_events": "2\n"} {
		os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644)
	}
	s, err := netfilterSysctls(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.max != 262144 || s.count != 12 || s.buckets != 65536 || !s.acct || s.timestamp || !s.eventsOn {
		t.Errorf("%+v", s)
	}
	os.WriteFile(filepath.Join(dir, "nf_conntrack_count"), []byte("x\n"), 0o644)
	if _, err := netfilterSysctls(dir); !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), "nf_conntrack_count") {
		t.Errorf("bad count: %v", err)
	}
}

// TestFormatFlow: one line per flow as conntrack -L -o extended prints
// it, with the NAT at the end (cli/flows_test.go checks the listing
// `netlens flows` prints around these lines).
func TestFormatFlow(t *testing.T) {
	f := tcpFlow(7, 40000, 300)
	f.TCPState, f.Status, f.Zone, f.Timeout, f.Updated = model.TCPEstablished, model.StatusSeenReply|model.StatusAssured, 3, 431999*time.Second, time.Now()
	u := model.Flow{Family: model.FamilyIPv6, Proto: model.ProtoICMPv6, ProtoNum: 58, Timeout: 29 * time.Second, Updated: time.Now(),
		Orig:  model.FlowTuple{Src: netip.MustParseAddrPort("[fd01::2]:0"), Dst: netip.MustParseAddrPort("[fd02::2]:0"), ICMP: &model.ICMPKey{Type: 128, ID: 5}},
		Reply: model.FlowTuple{Src: netip.MustParseAddrPort("[fd02::2]:0"), Dst: netip.MustParseAddrPort("[fd01::2]:0"), ICMP: &model.ICMPKey{Type: 129, ID: 5}}}
	now := time.Now()
	got := FormatFlow(&f, now) + "\n" + FormatFlow(&u, now) + "\n" + "netlens: 2 flow entries shown.\n"
	want := "ipv4     2 tcp      6 431999 ESTABLISHED src=10.1.0.2 dst=10.1.0.1 sport=40000 dport=8080 packets=1 bytes=150 src=10.2.0.2 dst=10.2.0.1 sport=80 dport=40000 packets=1 bytes=150 [ASSURED] mark=0 zone=3 [SNAT 10.2.0.1:40000] [DNAT 10.2.0.2:80]\n" +
		"ipv6     10 icmpv6   58 29 src=fd01::2 dst=fd02::2 type=128 code=0 id=5 [UNREPLIED] src=fd02::2 dst=fd01::2 type=129 code=0 id=5 mark=0\n" +
		"netlens: 2 flow entries shown.\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	// The text is what conntrack prints, so the oracle parser reads it back.
	back, err := parseConntrackL(strings.NewReader(strings.ReplaceAll(strings.ReplaceAll(got, " [SNAT 10.2.0.1:40000] [DNAT 10.2.0.2:80]", ""), "netlens:", "conntrack v")))
	if err != nil || len(back) != 2 || back[0].Orig != f.Orig || back[1].Reply.String() != u.Reply.String() {
		t.Errorf("parse back: %v %+v", err, back)
	}
}

func TestCloseWaitsForListener(t *testing.T) {
	c := New(Config{})
	block := make(chan struct{})
	var once sync.Once
	r := &fakeReceiver{steps: []func() ([]netlink.Message, error){func() ([]netlink.Message, error) { <-block; return nil, os.ErrClosed }}}
	c.listening, c.cur = true, r
	c.lwg.Add(1)
	go func() { defer c.lwg.Done(); c.listen(r) }()
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
		t.Fatal("Close returned while the listener ran")
	case <-time.After(50 * time.Millisecond):
	}
	once.Do(func() { close(block) })
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not return")
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, k := range []eventKind{evNew, evUpdate, evDestroy} {
		tf := tcpFlow(1, 1, 100)
		tf.Start, tf.Mark, tf.Zone = t0, 3, 4
		m := flowMsg(f, k, tf)
		m.Header.Length = uint32(16 + len(m.Data))
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	for _, m := range realMessages(f, "ctnetlink-events-nat.bin") {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m netlink.Message
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		var ev ct.Event
		if err := ev.Unmarshal(m); err != nil || ev.Flow == nil {
			return
		}
		fl := toModel(ev.Flow, t0)
		tab := newTable(4)
		tab.apply(event{evNew, fl})
		tab.apply(event{evUpdate, fl})
		tab.apply(event{evDestroy, fl})
		_ = FormatFlow(&fl, t0)
	})
}

func FuzzDecodeStats(f *testing.F) {
	m, _ := netfilter.MarshalNetlink(netfilter.Header{SubsystemID: netfilter.NFSubsysCTNetlink, MessageType: msgCTGetStatsCPU, ResourceID: 1},
		[]netfilter.Attribute{{Type: attrStatsDrop, Data: netfilter.Uint32Bytes(5)}})
	f.Add(m.Data)
	f.Fuzz(func(t *testing.T, b []byte) {
		m := netlink.Message{Data: b}
		_, _ = decodeCPUStats(m)
		_, _, _ = decodeGlobalStats(m)
		// The other kernel-message decoders: NLMSG_ERROR payloads (with
		// and without extended ACK TLVs) and event batches.
		_ = nlError(0, b)
		_ = nlError(0x300, b)
		_ = nlError(0x200, b)
		_, _ = parseMessages(b)
	})
}

func FuzzParseSysctlUint(f *testing.F) {
	for _, s := range []string{"262144\n", "0", "-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseSysctlUint(strings.NewReader(s))
	})
}

func TestSortFlowsMatchesTableOrder(t *testing.T) {
	tab := newTable(100)
	var fl []model.Flow
	for i := range 50 {
		f := tcpFlow(uint32((i*37)%11), uint16(1000+(i*13)%50), uint64((i*7)%5)*100)
		fl = append(fl, f)
		tab.apply(event{evNew, f})
	}
	sortFlows(fl)
	if diff := cmp.Diff(tab.snapshot(), fl, addrOpts); diff != "" {
		t.Errorf("sortFlows differs from table order (-table +sortFlows)\n%s", diff)
	}
	for i := 1; i < len(fl); i++ {
		if fl[i-1].Bytes() < fl[i].Bytes() {
			t.Fatalf("not by bytes at %d", i)
		}
	}
	sortFlows(nil)
}

func TestDecodeFlowMatchesTiMo(t *testing.T) {
	tcp := tcpFlow(7, 40000, 300)
	tcp.TCPState, tcp.Mark, tcp.Zone, tcp.Start = model.TCPEstablished, 42, 3, t0.Add(-time.Minute)
	icmp := model.Flow{ID: 9, Family: model.FamilyIPv6, Proto: model.ProtoICMPv6, ProtoNum: 58,
		Orig:  model.FlowTuple{Src: netip.MustParseAddrPort("[fd01::2]:0"), Dst: netip.MustParseAddrPort("[fd02::2]:0"), ICMP: &model.ICMPKey{Type: 128, ID: 77}},
		Reply: model.FlowTuple{Src: netip.MustParseAddrPort("[fd02::2]:0"), Dst: netip.MustParseAddrPort("[fd02::1]:0"), ICMP: &model.ICMPKey{Type: 129, ID: 77}}}
	for _, f := range []model.Flow{tcp, icmp} {
		m := flowMsg(t, evUpdate, f)
		var fast model.Flow
		if err := decodeFlow(m.Data[nfgenmsgLen:], t0, &fast); err != nil {
			t.Fatal(err)
		}
		var ev ct.Event
		if err := ev.Unmarshal(m); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(toModel(ev.Flow, t0), fast, addrOpts); diff != "" {
			t.Errorf("(-ti-mo +decodeFlow)\n%s", diff)
		}
	}
	for _, bad := range [][]byte{{1}, {4, 0, 1, 0}, {8, 0, 1, 0, 4, 0, 1, 0}, {5, 0, 12, 0, 1, 0, 0, 0}} {
		var f model.Flow
		if err := decodeFlow(bad, t0, &f); !errors.Is(err, ErrDecode) {
			t.Errorf("decodeFlow(%v) err = %v", bad, err)
		}
	}
}

// FuzzDecodeFlow checks decodeFlow against ti-mo/conntrack's decoder: when
// both accept a message they must agree.
func FuzzDecodeFlow(f *testing.F) {
	for _, fl := range []model.Flow{tcpFlow(1, 1, 100), tcpFlow(2, 3, 0)} {
		fl.Start, fl.Mark, fl.Zone = t0, 3, 4
		f.Add(flowMsg(f, evUpdate, fl).Data[nfgenmsgLen:])
	}
	for _, name := range []string{"ctnetlink-dump-nat.bin", "ctnetlink-events-nat.bin"} {
		for _, m := range realMessages(f, name) {
			f.Add(m.Data[nfgenmsgLen:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast model.Flow
		ferr := decodeFlow(b, t0, &fast)
		var ev ct.Event
		m := netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(nfnlSubsysCTNetlink << 8)}, Data: append([]byte{2, 0, 0, 0}, b...)}
		if err := ev.Unmarshal(m); err != nil || ev.Flow == nil || ferr != nil {
			return
		}
		slow := toModel(ev.Flow, t0)
		if !slow.Orig.Src.IsValid() || !slow.Reply.Src.IsValid() {
			return // ti-mo accepts flows without tuples; decodeFlow does not
		}
		if diff := cmp.Diff(slow, fast, addrOpts); diff != "" {
			t.Errorf("(-ti-mo +decodeFlow)\n%s", diff)
		}
	})
}

func TestNLError(t *testing.T) {
	ack := []byte{0, 0, 0, 0}
	if err := nlError(0, ack); err != nil {
		t.Errorf("ACK: %v", err)
	}
	minusEPERM := -int32(unix.EPERM)
	eperm := binary.NativeEndian.AppendUint32(nil, uint32(minusEPERM))
	if err := nlError(0, eperm); !errors.Is(err, unix.EPERM) {
		t.Errorf("EPERM: %v", err)
	}
	// Capped, with an extended ACK message.
	b := append(append([]byte{}, eperm...), make([]byte, unix.NLMSG_HDRLEN)...)
	msg := []byte("ctnetlink says no\x00")
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(msg)))
	b = binary.NativeEndian.AppendUint16(b, 1)
	b = append(b, msg...)
	err := nlError(0x300, b)
	if !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "ctnetlink says no") {
		t.Errorf("extack: %v", err)
	}
	if err := nlError(0, []byte{1}); !errors.Is(err, ErrDecode) {
		t.Errorf("short: %v", err)
	}
	// And it reads as a permission error.
	if pe := permError("dump", err); !errors.Is(pe, collectors.ErrPermission) || !strings.Contains(pe.Error(), "needs CAP_NET_ADMIN") {
		t.Errorf("permError: %v", pe)
	}
}

// realMessages reads netlink messages the kernel sent (captured by
// TestIntegrationCaptureFixtures).
func realMessages(t testing.TB, name string) []netlink.Message {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := parseMessages(b)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestRealKernelDump(t *testing.T) {
	msgs := realMessages(t, "ctnetlink-dump-nat.bin")
	var flows []model.Flow
	for _, m := range msgs {
		var fast model.Flow
		if err := decodeFlow(m.Data[nfgenmsgLen:], t0, &fast); err != nil {
			t.Fatal(err)
		}
		var ev ct.Event
		if err := ev.Unmarshal(m); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(toModel(ev.Flow, t0), fast, addrOpts); diff != "" {
			t.Errorf("(-ti-mo +decodeFlow)\n%s", diff)
		}
		flows = append(flows, fast)
	}
	var dnat, mark, zone6, icmp, icmp6 bool
	for _, f := range flows {
		switch {
		case f.ProtoNum == 6:
			_, to := f.NATAddrs()
			dnat = f.NAT == model.NATBoth && to == netip.MustParseAddrPort("10.2.0.2:80") && f.CountersKnown && !f.Start.IsZero() &&
				f.TCPState == model.TCPEstablished && f.Status&model.StatusAssured != 0
		case f.ProtoNum == 17 && f.Mark == 42:
			mark = f.NAT == model.NATSrc && f.Family == model.FamilyIPv4
		case f.ProtoNum == 17 && f.Zone == 7:
			zone6 = f.Family == model.FamilyIPv6
		case f.Proto == model.ProtoICMP:
			icmp = f.Orig.ICMP != nil && f.Orig.ICMP.Type == 8
		case f.Proto == model.ProtoICMPv6:
			icmp6 = f.Orig.ICMP != nil && f.Orig.ICMP.Type == 128 && f.Reply.ICMP.Type == 129
		}
	}
	if !dnat || !mark || !zone6 || !icmp || !icmp6 {
		t.Errorf("dump of %d flows: dnat=%v mark=%v zone6=%v icmp=%v icmp6=%v", len(flows), dnat, mark, zone6, icmp, icmp6)
	}
	// Broken variants: a truncated capture fails cleanly.
	b, _ := os.ReadFile("testdata/ctnetlink-dump-nat.bin")
	for _, n := range []int{len(b) - 7, len(b) / 2, 10} {
		if msgs, err := parseMessages(b[:n]); err == nil {
			for _, m := range msgs {
				var f model.Flow
				if len(m.Data) >= nfgenmsgLen {
					_ = decodeFlow(m.Data[nfgenmsgLen:], t0, &f)
				}
			}
		}
	}
	for _, m := range msgs {
		p := m.Data[nfgenmsgLen:]
		var f model.Flow
		if err := decodeFlow(p[:len(p)-3], t0, &f); err == nil {
			t.Errorf("a message cut short decoded")
		}
	}
}

func TestRealKernelEvents(t *testing.T) {
	msgs := realMessages(t, "ctnetlink-events-nat.bin")
	kinds := map[string]int{}
	r := &fakeReceiver{}
	for _, m := range msgs {
		var ev ct.Event
		if err := ev.Unmarshal(m); err != nil {
			t.Fatal(err)
		}
		kinds[fmt.Sprint(ev.Type)]++
		r.steps = append(r.steps, msgs1(m))
	}
	if kinds["EventNew"] == 0 || kinds["EventUpdate"] == 0 || kinds["EventDestroy"] == 0 {
		t.Fatalf("event kinds: %v", kinds)
	}
	c := New(Config{Now: func() time.Time { return t0 }})
	c.listening, c.cur = true, r
	c.closing.Store(true)
	c.listen(r)
	st := c.st
	if st.DecodeErrors != 0 || int(st.EventsNew+st.EventsUpdate+st.EventsDestroy) != len(msgs) {
		t.Errorf("listener counts %+v for %d messages", st, len(msgs))
	}
	// The UDP 5353 flow was deleted, the TCP connection closed: no flow
	// held is a deleted one, and the TCP flow went through its states.
	for _, f := range c.tab.snapshot() {
		if f.ProtoNum == 17 && f.Orig.Dst.Port() == 5353 {
			t.Errorf("deleted flow still held: %s", FormatFlow(&f, t0))
		}
		if f.ProtoNum == 6 && f.TCPState == model.TCPSynSent {
			t.Errorf("TCP flow stuck in SYN_SENT: %s", FormatFlow(&f, t0))
		}
	}
	t.Logf("%d events: %v; %d flows held", len(msgs), kinds, c.tab.len())
}

func msgs1(m netlink.Message) func() ([]netlink.Message, error) {
	return func() ([]netlink.Message, error) { return []netlink.Message{m}, nil }
}

// TestTableSnapshotsNeverChange checks the copy on write and the lists
// filled again: a snapshot published into a Store and held by readers
// (Store.Hold, released some steps later, or Store.Snapshot, for good)
// stays as it was through every kind of change and dump, while the table
// fills the memory of lists let go again; the table, checked against a
// map after each step, stays right.
func TestTableSnapshotsNeverChange(t *testing.T) {
	tab := newTable(64)
	ref := map[flowKey]model.Flow{}
	type kept struct {
		got, want []model.Flow
		lease     *model.Lease // nil: pinned by Store.Snapshot
		until     int
	}
	var snaps []kept
	store := model.NewStore("h", "k", time.Now())
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 2000 {
		f := tcpFlow(uint32(rng.IntN(80)), uint16(1000+rng.IntN(80)), uint64(rng.IntN(5000)))
		k := keyOf(&f)
		switch rng.IntN(4) {
		case 0:
			tab.apply(event{evDestroy, f})
			if old, ok := ref[k]; ok && (old.ID == f.ID || f.ID == 0 || old.ID == 0) {
				delete(ref, k)
			}
		case 1:
			d := tab.newTopN(0)
			clear(ref)
			for range rng.IntN(70) {
				g := tcpFlow(uint32(rng.IntN(80)), uint16(1000+rng.IntN(80)), uint64(rng.IntN(5000)))
				d.add(g)
			}
			for _, g := range d.flows {
				ref[keyOf(&g)] = g // a later entry under a key wins
			}
			tab.replace(d)
		default:
			tab.apply(event{evNew, f})
			if _, ok := ref[k]; ok || len(ref) < 64 {
				ref[k] = f
			}
		}
		if step%7 == 0 && tab.dirty {
			s := tab.snapshot()
			tab.dirty = false
			store.Publish(model.FlowsUpdate{At: time.Now(), Flows: s, Gen: tab.life.Ref()})
			if step%91 == 0 {
				snap := store.Snapshot()
				snaps = append(snaps, kept{got: snap.Flows, want: slices.Clone(snap.Flows)})
			} else {
				snap, lease := store.Hold()
				// Like the screen: most are let go at the next snapshot,
				// some much later (a paused screen).
				snaps = append(snaps, kept{snap.Flows, slices.Clone(snap.Flows), lease, step + 1 + rng.IntN(8) + 40*rng.IntN(2)})
			}
		}
		live := snaps[:0]
		for _, k := range snaps {
			if !slices.Equal(k.want, k.got) { // every field: == is cheap, the diff only to report
				t.Fatalf("step %d: a held snapshot changed (-want +got)\n%s", step, cmp.Diff(k.want, k.got, addrOpts))
			}
			if k.lease != nil && k.until <= step {
				k.lease.Release()
				continue
			}
			live = append(live, k)
		}
		snaps = live
		if tab.len() != len(ref) || tab.x.len() != len(ref) {
			t.Fatalf("step %d: table holds %d (index %d), want %d", step, tab.len(), tab.x.len(), len(ref))
		}
		for i := range tab.flows {
			k := keyOf(&tab.flows[i])
			if s, ok := tab.x.find(tab.flows, k, hashFlowKey(k)); !ok || tab.x.pos(s) != int32(i) {
				t.Fatalf("step %d: the index does not find flow %d where it is", step, i)
			}
		}
	}
	if tab.reused == 0 {
		t.Errorf("the table filled no list again (%d new)", tab.made)
	}
	t.Logf("%d lists new, %d filled again", tab.made, tab.reused)
	got := tab.snapshot()
	want := slices.Collect(maps.Values(ref))
	sortFlows(want)
	if diff := cmp.Diff(want, got, addrOpts); diff != "" {
		t.Errorf("final table (-want +got)\n%s", diff)
	}
}
