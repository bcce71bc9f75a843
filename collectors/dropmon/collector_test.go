package dropmon

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// fakeDM is a fake kernel drop monitor: it answers the control socket's
// commands and feeds the events socket from a channel.
type fakeDM struct {
	t         *testing.T
	noFamily  bool
	configErr map[alertMode]error
	startErr  error
	mu        sync.Mutex
	cmds      []string
	joined    uint32
	events    chan []genetlink.Message // nil message slice: ENOBUFS
	done      chan struct{}
}

var testFamily = genetlink.Family{ID: 0x1a, Name: familyName, Version: familyVer, Groups: []genetlink.MulticastGroup{{ID: 9, Name: eventsGroup}}}

func newFakeDM(t *testing.T) *fakeDM {
	return &fakeDM{t: t, configErr: map[alertMode]error{}, events: make(chan []genetlink.Message, 16), done: make(chan struct{})}
}

func (k *fakeDM) record(s string) {
	k.mu.Lock()
	k.cmds = append(k.cmds, s)
	k.mu.Unlock()
}

func (k *fakeDM) commands() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.cmds...)
}

func (k *fakeDM) ctrl(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
	if nreq.Header.Type != netlink.HeaderType(testFamily.ID) {
		k.t.Errorf("request to family %d", nreq.Header.Type)
	}
	switch command(greq.Header.Command) {
	case cmdConfig:
		ad, _ := netlink.NewAttributeDecoder(greq.Data)
		mode := alertMode(255)
		for ad.Next() {
			if attr(ad.Type()) == attrAlertMode {
				mode = alertMode(ad.Uint8())
			}
		}
		k.record("config " + map[alertMode]string{alertModePacket: "packet", alertModeSummary: "summary"}[mode])
		if err := k.configErr[mode]; err != nil {
			return nil, err
		}
	case cmdStart:
		k.record("start")
		if k.startErr != nil {
			return nil, k.startErr
		}
	case cmdStop:
		k.record("stop")
	case cmdStatsGet:
		ae := netlink.NewAttributeEncoder()
		ae.Nested(uint16(attrStats), func(nae *netlink.AttributeEncoder) error {
			nae.Uint64(statsDropped, 17)
			return nil
		})
		b, _ := ae.Encode()
		return []genetlink.Message{{Header: genetlink.Header{Command: uint8(cmdStatsNew), Version: familyVer}, Data: b}}, nil
	default:
		k.t.Errorf("unexpected command %d", greq.Header.Command)
	}
	return nil, io.EOF // an acknowledgement
}

func (k *fakeDM) recv(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
	select {
	case msgs := <-k.events:
		if msgs == nil {
			return nil, unix.ENOBUFS
		}
		return msgs, nil
	case <-k.done:
		return nil, errors.New("closed")
	}
}

// fakeConn is a genltest connection with the socket options nltest lacks.
type fakeConn struct {
	*genetlink.Conn
	k *fakeDM
}

func (c fakeConn) JoinGroup(g uint32) error                 { c.k.joined = g; return nil }
func (c fakeConn) SetReadBuffer(int) error                  { return nil }
func (c fakeConn) SetReadDeadline(time.Time) error          { return nil }
func (c fakeConn) SetOption(netlink.ConnOption, bool) error { return nil }

func (k *fakeDM) collector(opts Options) *Collector {
	c := New(opts)
	c.kallsyms = "testdata/kallsyms"
	n := 0
	c.dial = func() (conn, error) {
		n++
		fn := genltest.Func(k.ctrl)
		if n%2 == 0 {
			fn = k.recv
		}
		if k.noFamily {
			return fakeConn{genltest.Dial(func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
				return nil, genltest.Error(int(unix.ENOENT))
			}), k}, nil
		}
		return fakeConn{genltest.Dial(genltest.ServeFamily(testFamily, fn)), k}, nil
	}
	k.t.Cleanup(func() {
		select {
		case <-k.done:
		default:
			close(k.done)
		}
		c.Close()
	})
	return c
}

type recorder struct {
	mu      sync.Mutex
	drops   []model.DropMonitor
	counter []model.CountersUpdate
}

func (r *recorder) Publish(u model.Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch u := u.(type) {
	case model.DropsUpdate:
		r.drops = append(r.drops, u.Monitor)
	case model.CountersUpdate:
		r.counter = append(r.counter, u)
	}
}

func alertMsg(reason, sym string) genetlink.Message {
	return genetlink.Message{Header: genetlink.Header{Command: uint8(cmdPacketAlert), Version: familyVer}, Data: packetAlert(reason, sym, 1)}
}

// waitTotal waits until the collector has counted n drops.
func waitTotal(t *testing.T, c *Collector, n uint64) {
	t.Helper()
	waitAgg(t, c, func(a *aggregator) bool { return a.total >= n })
}

// waitLost waits until the collector has counted n ENOBUFS.
func waitLost(t *testing.T, c *Collector, n uint64) {
	t.Helper()
	waitAgg(t, c, func(a *aggregator) bool { return a.lost >= n })
}

func waitAgg(t *testing.T, c *Collector, ok func(*aggregator) bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c.agg.mu.Lock()
		done := ok(c.agg)
		c.agg.mu.Unlock()
		if done {
			return
		}
	}
	t.Fatal("the listener did not count in time")
}

func TestCollectorNotSupported(t *testing.T) {
	k := newFakeDM(t)
	k.noFamily = true
	c := k.collector(Options{})
	var rec recorder
	err := c.Collect(context.Background(), &rec)
	if !errors.Is(err, collectors.ErrNotSupported) || collectors.Classify(err) != model.StateNotSupported {
		t.Fatalf("err = %v, want ErrNotSupported", err)
	}
	want := []model.DropMonitor{{Reason: "kernel has no drop monitor (CONFIG_NET_DROP_MONITOR)"}}
	if diff := cmp.Diff(want, rec.drops, cmpIgnoreAt); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

var cmpIgnoreAt = cmp.Transformer("noAt", func(m model.DropMonitor) model.DropMonitor { m.At = time.Time{}; return m })

func TestCollectorPermission(t *testing.T) {
	k := newFakeDM(t)
	k.configErr[alertModePacket] = genltest.Error(int(unix.EPERM))
	c := k.collector(Options{})
	var rec recorder
	err := c.Collect(context.Background(), &rec)
	if !errors.Is(err, collectors.ErrPermission) || collectors.Classify(err) != model.StateNoPermission {
		t.Fatalf("err = %v, want ErrPermission", err)
	}
	if len(rec.drops) != 1 || rec.drops[0].Reason != "needs CAP_NET_ADMIN" || rec.drops[0].Supported {
		t.Fatalf("drops update: %+v", rec.drops)
	}
	if diff := cmp.Diff([]string{"config packet"}, k.commands()); diff != "" {
		t.Errorf("commands (-want +got)\n%s", diff)
	}
}

func TestCollectorPacketMode(t *testing.T) {
	k := newFakeDM(t)
	t0 := time.Unix(1000, 0)
	now := t0
	var nowMu sync.Mutex
	c := k.collector(Options{Now: func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); return now }})
	var rec recorder
	if err := c.Collect(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	if k.joined != 9 {
		t.Errorf("joined group %d, want the events group 9", k.joined)
	}
	k.events <- []genetlink.Message{alertMsg("NETFILTER_DROP", "nf_hook_slow+0x9c/0x140"), alertMsg("NETFILTER_DROP", "nf_hook_slow+0x9c/0x140")}
	k.events <- []genetlink.Message{alertMsg("SOCKET_RCVBUFF", "sock_queue_rcv_skb_reason+0x20/0x80"),
		{Header: genetlink.Header{Command: uint8(cmdPacketAlert)}, Data: []byte{1, 2, 3}}} // undecodable
	waitTotal(t, c, 3)
	k.events <- nil // ENOBUFS
	waitLost(t, c, 1)
	nowMu.Lock()
	now = t0.Add(time.Second)
	nowMu.Unlock()
	if err := c.Collect(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	got := rec.drops[len(rec.drops)-1]
	want := model.DropMonitor{At: t0.Add(time.Second), Supported: true, Mode: "packet", Total: 3, Lost: 1, QueueDropped: 17, Drops: []model.DropReason{
		{Reason: "NETFILTER_DROP", Layer: model.LayerNetfilter, Location: "nf_hook_slow+0x9c", Origin: "sw", Delta: 2, Total: 2, LastSeen: t0},
		{Reason: "SOCKET_RCVBUFF", Layer: model.LayerSocket, Location: "sock_queue_rcv_skb_reason+0x20", Origin: "sw", Delta: 1, Total: 1, LastSeen: t0},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	wantC := []model.RawCounter{
		{Layer: model.LayerNetfilter, Source: CounterSource, Group: GroupReason, Name: "NETFILTER_DROP", Kind: model.KindCounter, Value: 2},
		{Layer: model.LayerSocket, Source: CounterSource, Group: GroupReason, Name: "SOCKET_RCVBUFF", Kind: model.KindCounter, Value: 1},
	}
	if diff := cmp.Diff(wantC, rec.counter[len(rec.counter)-1].Counters); diff != "" {
		t.Errorf("counters (-want +got)\n%s", diff)
	}
	if c.DecodeErrors() != 1 {
		t.Errorf("decode errors %d, want 1", c.DecodeErrors())
	}
	// Deltas are per Collect.
	if err := c.Collect(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	for _, d := range rec.drops[len(rec.drops)-1].Drops {
		if d.Delta != 0 {
			t.Errorf("%s: delta %d after a quiet interval", d.Reason, d.Delta)
		}
	}
	if c.Source() != "NET_DM packet mode" {
		t.Errorf("Source() = %q", c.Source())
	}
	close(k.done)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"config packet", "start", "stop"}, slices.DeleteFunc(k.commands(), func(s string) bool { return s == "stats" })); diff != "" {
		t.Errorf("commands (-want +got)\n%s", diff)
	}
}

func TestCollectorFallsBackToSummary(t *testing.T) {
	k := newFakeDM(t)
	k.configErr[alertModePacket] = genltest.Error(int(unix.EINVAL)) // before 5.4
	c := k.collector(Options{})
	var rec recorder
	if err := c.Collect(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	k.events <- []genetlink.Message{{Header: genetlink.Header{Command: uint8(cmdAlert)},
		Data: summaryAlert(2, [2]uint64{0xffffffff81000010, 4}, [2]uint64{0xffffffff81000020, 1})}}
	waitTotal(t, c, 5)
	if err := c.Collect(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	m := rec.drops[len(rec.drops)-1]
	if m.Mode != "summary" || m.Total != 5 || len(m.Drops) != 2 || m.Drops[0].Reason != "" {
		t.Fatalf("summary: %+v", m)
	}
	cs := rec.counter[len(rec.counter)-1].Counters
	// The bare addresses resolved through testdata/kallsyms.
	if len(cs) != 2 || cs[0].Group != GroupLocation || cs[0].Name != "__entry_text_start+0x0" || cs[0].Value != 4 {
		t.Fatalf("summary counters: %+v", cs)
	}
	if diff := cmp.Diff([]string{"config packet", "config summary", "start"}, k.commands()); diff != "" {
		t.Errorf("commands (-want +got)\n%s", diff)
	}
}

func TestCollectorLeavesAnotherToolsMonitorRunning(t *testing.T) {
	k := newFakeDM(t)
	k.configErr[alertModePacket] = genltest.Error(int(unix.EBUSY))
	k.startErr = genltest.Error(int(unix.EAGAIN))
	c := k.collector(Options{})
	var rec recorder
	if err := c.Collect(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	close(k.done)
	c.Close()
	if diff := cmp.Diff([]string{"config packet", "start"}, k.commands()); diff != "" {
		t.Errorf("commands: no stop expected (-want +got)\n%s", diff)
	}
}

func TestAggregatorBounds(t *testing.T) {
	a := newAggregator(3)
	t0 := time.Unix(0, 0)
	for i, loc := range []string{"a+0x1", "b+0x1", "c+0x1", "d+0x1"} {
		a.add(alert{Reason: "NO_SOCKET", Location: loc, Origin: "sw", Count: 1}, t0.Add(time.Duration(i)*time.Second))
	}
	m, cs := a.snapshot(t0)
	if len(m.Drops) != 3 || m.Evicted != 1 || m.Drops[0].Location != "d+0x1" || m.Total != 4 {
		t.Fatalf("bounded aggregates: %+v", m)
	}
	if len(cs) != 1 || cs[0].Value != 4 || cs[0].Layer != model.LayerTransport {
		t.Fatalf("reason counter keeps every drop: %+v", cs)
	}
}
