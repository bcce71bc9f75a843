package cli

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/collectors/droptrace"
	"netlens/model"
)

func traceSnapshot() (prev, cur model.Snapshot) {
	t0 := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)
	s := model.NewStore("h", "k", t0)
	prev = s.Snapshot()
	s.Publish(model.SocketsUpdate{At: t0, Sockets: []model.Socket{
		{Proto: model.ProtoUDP, Family: model.FamilyIPv4, Local: netip.MustParseAddrPort("127.0.0.1:7008"), Cookie: 77,
			Procs: []model.Proc{{PID: 1234, Comm: "python3", FD: 3}}},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv6, Local: netip.MustParseAddrPort("[::]:80"), State: model.StateListen,
			Procs: []model.Proc{{PID: 99, Comm: "nginx", FD: 6}}},
	}})
	s.Publish(model.DropTraceUpdate{Trace: model.DropTrace{At: t0.Add(time.Second), Supported: true, Attach: droptrace.AttachBTF,
		Seen: 110, Attributed: 100, Unattributed: 10, Flows: []model.DropTraceFlow{
			{Reason: "SOCKET_RCVBUFF", Location: "__udp_enqueue_schedule_skb+0x1", Proto: "udp", L3: "ipv4", Parsed: true, Cookie: 77,
				Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.1"), SrcPort: 5000, DstPort: 7008, Packets: 60, Delta: 10},
			{Reason: "TCP_LISTEN_OVERFLOW", Location: "tcp_v4_syn_recv_sock+0x2", Proto: "tcp", L3: "ipv4", Parsed: true,
				Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 40000, DstPort: 80, Packets: 30, Delta: 30},
			{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x3", Proto: "udp", L3: "ipv4", Parsed: true,
				Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 1, DstPort: 9, Packets: 10},
		}}})
	return prev, s.Snapshot()
}

func TestTraceSample(t *testing.T) {
	prev, cur := traceSnapshot()
	s := newTraceSample(prev, cur)
	type row struct {
		Reason string
		Delta  uint64
		Owner  string
	}
	var got []row
	for _, r := range s.Rows {
		got = append(got, row{r.Reason, r.Delta, traceOwner(r)})
	}
	want := []row{
		{"TCP_LISTEN_OVERFLOW", 30, "~nginx[99]"}, // by tuple: the wildcard listener
		{"SOCKET_RCVBUFF", 10, "python3[1234]"},   // by cookie
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got)\n%s", diff)
	}
	if s.UnattributedShare != 10.0/110 {
		t.Errorf("unattributed share %v", s.UnattributedShare)
	}
	var b bytes.Buffer
	if err := s.print(&b, false); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"110 drops seen, 100 attributed, 10 unattributed (9.1%)", "127.0.0.1:5000", "python3[1234]", "tcp_v4_syn_recv_sock+0x2"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, b.String())
		}
	}
	b.Reset()
	if err := s.print(&b, true); err != nil {
		t.Fatal(err)
	}
	var back traceSample
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back.Rows) != 2 || back.Rows[1].Owner.Cookie != 77 || !back.Rows[1].Exact {
		t.Errorf("JSON %s: %v", b.String(), err)
	}
	// Not running: the reason.
	b.Reset()
	_ = newTraceSample(prev, model.Snapshot{DropTrace: model.DropTrace{Reason: "needs CAP_BPF and CAP_PERFMON (or root)"}}).print(&b, false)
	if !strings.Contains(b.String(), "CAP_BPF") {
		t.Errorf("unsupported: %q", b.String())
	}
}

// TestTraceSampleSampling prints the samples read since the previous
// sample (Read moved by 2: the two newest) and the counts.
func TestTraceSampleSampling(t *testing.T) {
	mk := func(read uint64, ports ...uint16) model.Snapshot {
		var ss []model.DropTraceSample
		for _, p := range ports {
			ss = append(ss, model.DropTraceSample{
				Flow:   model.DropTraceFlow{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x3", Proto: "udp", DstPort: p},
				Packet: model.CapturedPacket{Summary: "UDP 127.0.0.1:5000 > 127.0.0.1:" + strconv.Itoa(int(p)) + " len 29"}})
		}
		return model.Snapshot{DropTrace: model.DropTrace{Supported: true, Sampling: model.DropTraceSampling{
			Every: 10, MaxPerSecond: 1000, Sampled: read + 1, Emitted: read, Lost: 1, LostLimit: 1, Read: read, Samples: ss}}}
	}
	s := newTraceSample(mk(3, 3, 2, 1), mk(5, 5, 4, 3, 2, 1))
	var ports []uint16
	for _, x := range s.Sampling.Samples {
		ports = append(ports, x.Flow.DstPort)
	}
	if diff := cmp.Diff([]uint16{5, 4}, ports); diff != "" {
		t.Errorf("samples of the interval (-want +got)\n%s", diff)
	}
	var b bytes.Buffer
	if err := s.print(&b, false); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"sampled 1 in 10: 6 sampled, 5 emitted, 1 lost (1 over the cap of 1000/s per CPU), 5 read", "127.0.0.1:5 len 29", "127.0.0.1:4 len 29"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, b.String())
		}
	}
	if strings.Contains(b.String(), "127.0.0.1:3 len") {
		t.Errorf("table prints a sample of the previous interval:\n%s", b.String())
	}
	// Off: no sampling section.
	if s := newTraceSample(model.Snapshot{}, model.Snapshot{DropTrace: model.DropTrace{Supported: true}}); s.Sampling != nil {
		t.Errorf("sampling off: %+v", s.Sampling)
	}
}
