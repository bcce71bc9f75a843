package sockets

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// TestTCPRecLayout checks the offsets tcpiter.go reads struct tcprec,
// struct tcpcnt and their struct rechdr at against bpf/tcpiter.c, whose
// _Static_asserts hold clang to the same offsets and sizes.
func TestTCPRecLayout(t *testing.T) {
	src, err := os.ReadFile("bpf/tcpiter.c")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"h.cookie": trCookie, "h.ino": trIno, "h.saddr": trSaddr, "h.daddr": trDaddr, "h.sport": trSport,
		"h.dport": trDport, "h.family": trFamily, "h.state": trState, "h.kind": trKind, "h.flags": trFlags,
		"h.uid": trUID, "h.ifindex": trIfindex, "h.rqueue": trRqueue, "h.wqueue": trWqueue, "h.drops": trDrops,
		"ca_state": trCAState, "retransmits": trRetransmits,
		"backoff": trBackoff, "app_limited": trAppLimited, "rto": trRTO, "ato": trATO, "delack_max": trDelackMax,
		"rto_min": trRTOMin, "dst_rto_min_ms": trDstRTOMinMs, "snd_mss": trSndMSS, "rcv_mss": trRcvMSS,
		"unacked": trUnacked, "sacked": trSacked, "lost": trLost, "retrans": trRetrans,
		"data_sent_since": trDataSentSince, "data_recv_since": trDataRecvSince, "pmtu": trPMTU, "rtt": trRTT,
		"rttvar": trRTTVar, "snd_ssthresh": trSndSsthresh, "snd_cwnd": trSndCwnd, "reordering": trReordering,
		"total_retrans": trTotalRetrans, "pacing_rate": trPacingRate, "max_pacing_rate": trMaxPacingRate,
		"bytes_acked": trBytesAcked, "bytes_received": trBytesReceived, "segs_out": trSegsOut, "segs_in": trSegsIn,
		"notsent_bytes": trNotsentBytes, "min_rtt": trMinRTT, "data_segs_in": trDataSegsIn,
		"data_segs_out": trDataSegsOut, "rate_delivered": trRateDelivered, "rate_interval_us": trRateInterval,
		"chrono.stat": trChronoStat, "chrono.since": trChronoSince, "chrono.type": trChronoType,
		"bytes_sent": trBytesSent, "bytes_retrans": trBytesRetrans, "cong": trCong,
		"sizeof": tcpRecSize,
	}
	if diff := cmp.Diff(want, layout(src, "RECORD")); diff != "" {
		t.Errorf("struct tcprec offsets (-tcpiter.go +bpf/tcpiter.c)\n%s", diff)
	}
	want = map[string]int{
		"h": 0, "total_retrans": tcTotalRetrans, "bytes_acked": tcBytesAcked, "bytes_received": tcBytesReceived,
		"chrono.stat": tcChronoStat, "chrono.since": tcChronoSince, "chrono.type": tcChronoType,
		"sizeof": tcpCntSize,
	}
	if diff := cmp.Diff(want, layout(src, "COUNTERS")); diff != "" {
		t.Errorf("struct tcpcnt offsets (-tcpiter.go +bpf/tcpiter.c)\n%s", diff)
	}
	m := regexp.MustCompile(`(?m)^_Static_assert\(sizeof\(struct rechdr\) == (\d+),`).FindSubmatch(src)
	if m == nil || string(m[1]) != strconv.Itoa(tcpHdrSize) {
		t.Errorf("sizeof(struct rechdr): %q in bpf/tcpiter.c, %d in tcpiter.go", m, tcpHdrSize)
	}
	// Both records' struct chrono.
	if tcChronoSince-tcChronoStat != chronoSince || tcChronoType-tcChronoStat != chronoType {
		t.Errorf("struct tcpcnt's chrono fields are not laid out as struct tcprec's")
	}
}

// layout returns the offsets of the PREFIX_OFFSET lines of C source src,
// and its PREFIX_SIZE as "sizeof".
func layout(src []byte, prefix string) map[string]int {
	got := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^`+prefix+`_OFFSET\(([\w.]+), (\d+)\);`).FindAllSubmatch(src, -1) {
		got[string(m[1])], _ = strconv.Atoi(string(m[2]))
	}
	if m := regexp.MustCompile(`(?m)^` + prefix + `_SIZE\((\d+)\);`).FindSubmatch(src); m != nil {
		got["sizeof"], _ = strconv.Atoi(string(m[1]))
	}
	return got
}

func TestJiffies(t *testing.T) {
	for _, tt := range []struct {
		hz                  uint32
		j                   uint32
		usecs, msecs, fromM uint32
	}{
		{hz: 250, j: 50, usecs: 200000, msecs: 200, fromM: 13}, // fromMsecs(50 ms) = ceil(50/4)
		{hz: 1000, j: 50, usecs: 50000, msecs: 50, fromM: 50},
		{hz: 100, j: 3, usecs: 30000, msecs: 30, fromM: 5},
		{hz: 300, j: 7, usecs: 23333, msecs: 24, fromM: 15}, // 7*10000/3; ceil(70/3); ceil(50*300/1000)
		{hz: 2000, j: 7, usecs: 3500, msecs: 4, fromM: 100}, // ceil(7/2); 50*2
		{hz: 250, j: 0, usecs: 0, msecs: 0, fromM: 13},
	} {
		c := jiffies{hz: tt.hz}
		got := [3]uint32{c.usecs(tt.j), c.msecs(tt.j), c.fromMsecs(50)}
		if want := [3]uint32{tt.usecs, tt.msecs, tt.fromM}; got != want {
			t.Errorf("HZ %d, %d jiffies: usecs, msecs, fromMsecs(50) = %v, want %v", tt.hz, tt.j, got, want)
		}
	}
}

func TestParseConfigHZ(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want uint32
		err  bool
	}{
		{"CONFIG_HZ_250=y\nCONFIG_HZ=250\n", 250, false},
		{"# CONFIG_HZ_1000 is not set\nCONFIG_HZ=1000", 1000, false},
		{"CONFIG_HZ_PERIODIC=y\n", 0, true},
		{"CONFIG_HZ=abc\n", 0, true},
		{"CONFIG_HZ=0\n", 0, true},
	} {
		got, err := parseConfigHZ(strings.NewReader(tt.in))
		if got != tt.want || (err != nil) != tt.err || (err != nil && !errors.Is(err, ErrMalformed)) {
			t.Errorf("%q: %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// rec is a struct tcprec under construction.
type rec [tcpRecSize]byte

func (r *rec) u8(off int, v uint8)   { r[off] = v }
func (r *rec) u16(off int, v uint16) { binary.NativeEndian.PutUint16(r[off:], v) }
func (r *rec) u32(off int, v uint32) { binary.NativeEndian.PutUint32(r[off:], v) }
func (r *rec) u64(off int, v uint64) { binary.NativeEndian.PutUint64(r[off:], v) }

// established is the record of an established IPv4 socket with every
// tcp_info field set.
func established() *rec {
	var r rec
	r.u64(trCookie, 0x1234)
	r.u64(trIno, 777)
	copy(r[trSaddr:], []byte{10, 0, 0, 1})
	copy(r[trDaddr:], []byte{10, 0, 0, 2})
	r.u16(trSport, 443)
	binary.BigEndian.PutUint16(r[trDport:], 50000)
	r.u8(trFamily, afInet)
	r.u8(trState, uint8(model.StateEstablished))
	r.u8(trKind, kindFull)
	r.u8(trFlags, recTCP)
	r.u32(trUID, 1000)
	r.u32(trIfindex, 1)
	r.u32(trRqueue, 11)
	r.u32(trWqueue, 22)
	r.u32(trDrops, 3)
	r.u8(trCAState, uint8(model.CARecovery))
	r.u8(trRetransmits, 2)
	r.u8(trBackoff, 1)
	r.u8(trAppLimited, 1)
	r.u32(trRTO, 51) // jiffies
	r.u32(trATO, 10) // jiffies
	r.u32(trDelackMax, 50)
	r.u32(trRTOMin, 50)
	r.u32(trSndMSS, 1448)
	r.u32(trRcvMSS, 536)
	r.u32(trUnacked, 5)
	r.u32(trSacked, 1)
	r.u32(trLost, 2)
	r.u32(trRetrans, 1)
	r.u32(trDataSentSince, 25) // 100 ms at 250 Hz
	r.u32(trDataRecvSince, 250)
	r.u32(trPMTU, 1500)
	r.u32(trRTT, 1200)
	r.u32(trRTTVar, 300)
	r.u32(trSndSsthresh, 20)
	r.u32(trSndCwnd, 10)
	r.u32(trReordering, 3)
	r.u32(trTotalRetrans, 9)
	r.u64(trPacingRate, 1e6)
	r.u64(trMaxPacingRate, ^uint64(0))
	r.u64(trBytesAcked, 1e9)
	r.u64(trBytesReceived, 2e9)
	r.u32(trSegsOut, 100)
	r.u32(trSegsIn, 200)
	r.u32(trNotsentBytes, 4)
	r.u32(trMinRTT, 900)
	r.u32(trDataSegsIn, 150)
	r.u32(trDataSegsOut, 90)
	r.u32(trRateDelivered, 10)
	r.u32(trRateInterval, 1000)
	r.u32(trChronoStat, 100)  // busy
	r.u32(trChronoStat+4, 20) // rwnd-limited
	r.u32(trChronoStat+8, 5)  // sndbuf-limited
	r.u32(trChronoSince, 10)  // the running chrono's time
	r.u32(trChronoType, 2)    // TCP_CHRONO_RWND_LIMITED
	r.u64(trBytesSent, 3e9)
	r.u64(trBytesRetrans, 1e4)
	copy(r[trCong:], "cubic")
	return &r
}

func TestDecodeTCPRec(t *testing.T) {
	names := &ifNames{byIndex: map[uint32]string{1: "lo", 2: "eth0"}}
	estab := model.Socket{
		Proto: model.ProtoTCP, Family: model.FamilyIPv4, State: model.StateEstablished,
		Local: netip.MustParseAddrPort("10.0.0.1:443"), Remote: netip.MustParseAddrPort("10.0.0.2:50000"),
		RecvQ: 11, SendQ: 22, UID: 1000, Inode: 777, Cookie: 0x1234, Interface: "lo", Drops: 3, HasDrops: true,
		TCP: &model.TCPInfo{
			Len: 280, CAState: model.CARecovery, Retransmits: 2, Backoff: 1, DeliveryRateAppLimited: true,
			RTO: 204000, ATO: 40000, SndMSS: 1448, RcvMSS: 536, Unacked: 5, Sacked: 1, Lost: 2, Retrans: 1,
			LastDataSent: 100, LastDataRecv: 1000, PMTU: 1500, RTT: 1200, RTTVar: 300, SndSsthresh: 20,
			SndCwnd: 10, Reordering: 3, TotalRetrans: 9, PacingRate: 1e6, MaxPacingRate: ^uint64(0),
			BytesAcked: 1e9, BytesReceived: 2e9, SegsOut: 100, SegsIn: 200, NotsentBytes: 4, MinRTT: 900,
			DataSegsIn: 150, DataSegsOut: 90, DeliveryRate: 10 * 1448 * 1e6 / 1000,
			// (100 + 20+10 + 5) jiffies of 4000 us; rwnd-limited running.
			BusyTime: 135 * 4000, RwndLimited: 30 * 4000, SndbufLimited: 5 * 4000,
			BytesSent: 3e9, BytesRetrans: 1e4, Congestion: "cubic",
		},
	}
	tests := []struct {
		name    string
		rec     func() *rec
		noInfo  bool
		want    model.Socket
		wantErr bool
	}{
		{name: "established", rec: established, want: estab},
		{name: "without tcp_info", rec: established, noInfo: true, want: func() model.Socket {
			s := estab
			s.TCP = nil
			return s
		}()},
		{name: "route locks rto_min", rec: func() *rec {
			r := established()
			r.u8(trFlags, recTCP|recDstRTOMin)
			r.u32(trDstRTOMinMs, 20) // 5 jiffies: ato capped at 20 ms
			return r
		}, want: func() model.Socket {
			s := estab
			ti := *s.TCP
			ti.ATO = 20000
			s.TCP = &ti
			return s
		}()},
		{name: "listener", rec: func() *rec {
			r := established()
			r.u8(trState, uint8(model.StateListen))
			copy(r[trDaddr:], []byte{0, 0, 0, 0})
			binary.BigEndian.PutUint16(r[trDport:], 0)
			r.u32(trRqueue, 1)
			r.u32(trWqueue, 4096)
			r.u32(trUnacked, 1)
			r.u32(trSacked, 4096)
			r.u32(trIfindex, 0)
			return r
		}, want: model.Socket{
			Proto: model.ProtoTCP, Family: model.FamilyIPv4, State: model.StateListen,
			Local: netip.MustParseAddrPort("10.0.0.1:443"), Remote: netip.MustParseAddrPort("0.0.0.0:0"),
			RecvQ: 1, SendQ: 4096, UID: 1000, Inode: 777, Cookie: 0x1234, Drops: 3, HasDrops: true,
			TCP: &model.TCPInfo{Len: 280, Unacked: 1, Sacked: 4096, SndCwnd: 10, Reordering: 3, PacingRate: 1e6,
				MaxPacingRate: ^uint64(0), Congestion: "cubic"},
		}},
		{name: "time-wait v6", rec: func() *rec {
			var r rec
			r.u64(trCookie, 9)
			copy(r[trSaddr:], netip.MustParseAddr("::ffff:127.0.0.1").AsSlice())
			copy(r[trDaddr:], netip.MustParseAddr("fd00::2").AsSlice())
			r.u16(trSport, 80)
			binary.BigEndian.PutUint16(r[trDport:], 1234)
			r.u8(trFamily, afInet6)
			r.u8(trState, uint8(model.StateFinWait2))
			r.u8(trKind, kindTW)
			r.u32(trIfindex, 2)
			return &r
		}, want: model.Socket{
			Proto: model.ProtoTCP, Family: model.FamilyIPv6, State: model.StateFinWait2,
			Local: netip.MustParseAddrPort("[::ffff:127.0.0.1]:80"), Remote: netip.MustParseAddrPort("[fd00::2]:1234"),
			Cookie: 9, Interface: "eth0",
		}},
		{name: "bad family", rec: func() *rec { r := established(); r.u8(trFamily, 1); return r }, wantErr: true},
		{name: "bad kind", rec: func() *rec { r := established(); r.u8(trKind, 7); return r }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tcpDecoder{conv: jiffies{hz: 250}, infoLen: 280, names: names, tcpInfo: !tt.noInfo}
			prefix := []model.Socket{{Proto: model.ProtoUDP}}
			r := tt.rec()
			out, err := d.decode(r[:], prefix)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) || len(out) != 1 {
					t.Fatalf("error %v with %d sockets, want ErrMalformed and the prefix alone", err, len(out))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]model.Socket{prefix[0], tt.want}, out, equateAddrs); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	d := tcpDecoder{conv: jiffies{hz: 250}}
	if _, err := d.decode(make([]byte, tcpRecSize+1), nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("a partial record: %v", err)
	}
}

// counted is the counters-only record (struct tcpcnt) of the socket of
// established.
func counted() []byte {
	r := make([]byte, tcpCntSize)
	copy(r, established()[:tcpHdrSize])
	r[trFlags] = recTCP | recCounters
	ne := binary.NativeEndian
	ne.PutUint32(r[tcTotalRetrans:], 9)
	ne.PutUint64(r[tcBytesAcked:], 1e9)
	ne.PutUint64(r[tcBytesReceived:], 2e9)
	ne.PutUint32(r[tcChronoStat:], 100)  // busy
	ne.PutUint32(r[tcChronoStat+4:], 20) // rwnd-limited
	ne.PutUint32(r[tcChronoStat+8:], 5)  // sndbuf-limited
	ne.PutUint32(r[tcChronoSince:], 10)
	ne.PutUint32(r[tcChronoType:], 2) // TCP_CHRONO_RWND_LIMITED
	return r
}

func TestDecodeTCPCnt(t *testing.T) {
	names := &ifNames{byIndex: map[uint32]string{1: "lo"}}
	want := model.Socket{
		Proto: model.ProtoTCP, Family: model.FamilyIPv4, State: model.StateEstablished,
		Local: netip.MustParseAddrPort("10.0.0.1:443"), Remote: netip.MustParseAddrPort("10.0.0.2:50000"),
		RecvQ: 11, SendQ: 22, UID: 1000, Inode: 777, Cookie: 0x1234, Interface: "lo", Drops: 3, HasDrops: true,
	}
	wantCnt := tcpCounters{ok: true, retrans: 9, acked: 1e9, received: 2e9,
		busy: 135 * 4000, rwnd: 30 * 4000, sndbuf: 5 * 4000}
	tw := counted()
	clear(tw[tcpHdrSize:])
	tw[trKind], tw[trState], tw[trFlags] = kindTW, uint8(model.StateTimeWait), recCounters
	// Three sockets: a full record between two counters-only ones, each
	// as long as its flags say.
	b := slices.Concat(counted(), established()[:], tw)
	var cnt []tcpCounters
	d := tcpDecoder{conv: jiffies{hz: 250}, infoLen: 280, names: names, cnt: &cnt, tcpInfo: true}
	out, err := d.decode(b, []model.Socket{{Proto: model.ProtoUDP}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 || out[2].TCP == nil || out[3].State != model.StateTimeWait || out[3].HasDrops {
		t.Fatalf("%d sockets: %+v", len(out), out)
	}
	if diff := cmp.Diff(want, out[1], equateAddrs); diff != "" {
		t.Errorf("counters-only socket (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]tcpCounters{1: wantCnt}, cnt, cmp.AllowUnexported(tcpCounters{})); diff != "" {
		t.Errorf("counters (-want +got)\n%s", diff)
	}

	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"header cut short", counted()[:tcpHdrSize-1]},
		{"record cut short", counted()[:tcpCntSize-1]},
		{"a full record's length", slices.Concat(counted(), make([]byte, tcpRecSize-tcpCntSize))},
		{"second record cut short", slices.Concat(counted(), counted()[:tcpHdrSize+8])},
		{"full record flagged counters", func() []byte { r := established(); r[trFlags] |= recCounters; return r[:] }()},
		{"counters record with a route's rto_min", func() []byte { r := counted(); r[trFlags] |= recDstRTOMin; return r }()},
		{"unknown flag", func() []byte { r := counted(); r[trFlags] |= 0x80; return r }()},
	} {
		cnt = nil
		out, err := d.decode(tt.b, []model.Socket{{Proto: model.ProtoUDP}})
		if !errors.Is(err, ErrMalformed) || len(out) != 1 {
			t.Errorf("%s: error %v with %d sockets, want ErrMalformed and the prefix alone", tt.name, err, len(out))
		}
	}
}

// TestDecodeTCPRecFixture decodes records the iterator wrote for the
// sockets of tcpIterEnv (testdata/tcpiter_records.bin, from this
// machine's kernel, little-endian).
func TestDecodeTCPRecFixture(t *testing.T) {
	b := leFixture(t, "testdata/tcpiter_records.bin")
	d := tcpDecoder{conv: jiffies{hz: 250}, infoLen: 280, tcpInfo: true}
	socks, err := d.decode(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	for _, s := range socks {
		states[string(s.Family)+" "+s.State.String()]++
		if tw := s.State == model.StateTimeWait || s.State == model.StateFinWait2 || s.State == model.StateSynRecv; tw == (s.TCP != nil) {
			t.Errorf("%v %v %v: tcp_info %v", s.State, s.Local, s.Remote, s.TCP != nil)
		}
	}
	if diff := cmp.Diff(fixtureStates, states); diff != "" {
		t.Errorf("sockets by family and state (-want +got)\n%s", diff)
	}
}

// leFixture returns the records of little-endian fixture path, or skips
// the test on a big-endian machine.
func leFixture(t *testing.T, path string) []byte {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the fixture is little-endian")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureStates counts the sockets of the fixtures by family and state.
var fixtureStates = map[string]int{
	"ipv4 LISTEN": 6, "ipv6 LISTEN": 2, "ipv4 ESTAB": 8, "ipv6 ESTAB": 3, "ipv4 TIME-WAIT": 1,
	"ipv4 FIN-WAIT-2": 1, "ipv4 CLOSE-WAIT": 1, "ipv4 SYN-RECV": 1, "ipv4 SYN-SENT": 1,
}

// TestDecodeTCPCntFixture decodes records the counters-only iterator
// wrote for the sockets of tcpIterEnv (testdata/tcpiter_counters.bin,
// from this machine's kernel, little-endian).
func TestDecodeTCPCntFixture(t *testing.T) {
	b := leFixture(t, "testdata/tcpiter_counters.bin")
	if len(b)%tcpCntSize != 0 {
		t.Fatalf("%d bytes, not whole %d-byte records", len(b), tcpCntSize)
	}
	var cnt []tcpCounters
	d := tcpDecoder{conv: jiffies{hz: 250}, infoLen: 280, cnt: &cnt, tcpInfo: true}
	socks, err := d.decode(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != len(b)/tcpCntSize {
		t.Fatalf("%d sockets from %d records", len(socks), len(b)/tcpCntSize)
	}
	states := map[string]int{}
	acked := false
	for i, s := range socks {
		states[string(s.Family)+" "+s.State.String()]++
		full := s.State != model.StateTimeWait && s.State != model.StateFinWait2 && s.State != model.StateSynRecv
		hasCnt := i < len(cnt) && cnt[i].ok
		if s.TCP != nil || s.HasDrops != full || hasCnt != (full && s.State != model.StateListen) {
			t.Errorf("%v %v %v: tcp_info %v, drops %v, counters %v", s.State, s.Local, s.Remote, s.TCP != nil, s.HasDrops, hasCnt)
		}
		acked = acked || hasCnt && cnt[i].acked > 1
	}
	if !acked {
		t.Error("no socket with bytes acked")
	}
	if diff := cmp.Diff(fixtureStates, states); diff != "" {
		t.Errorf("sockets by family and state (-want +got)\n%s", diff)
	}
}

func FuzzDecodeTCPRec(f *testing.F) {
	b, err := os.ReadFile("testdata/tcpiter_records.bin")
	if err != nil {
		f.Fatal(err)
	}
	c, err := os.ReadFile("testdata/tcpiter_counters.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, uint32(250))
	f.Add(established()[:], uint32(300))
	f.Add(b[:tcpRecSize+7], uint32(1000))
	f.Add(c, uint32(250))
	f.Add(slices.Concat(counted(), established()[:], counted()), uint32(100))
	f.Add(c[:tcpCntSize+tcpHdrSize], uint32(1000))
	names := &ifNames{byIndex: map[uint32]string{1: "lo"}}
	f.Fuzz(func(t *testing.T, b []byte, hz uint32) {
		var cnt []tcpCounters
		d := tcpDecoder{conv: jiffies{hz: hz}, infoLen: 280, names: names, cnt: &cnt, tcpInfo: true}
		prefix := []model.Socket{{Proto: model.ProtoRAW}}
		out, err := d.decode(b, prefix)
		if len(out) == 0 || out[0].Proto != model.ProtoRAW || (err != nil && len(out) != 1) {
			t.Fatalf("sockets before the records lost or partial result kept: %d, %v", len(out), err)
		}
		// Without error, b is whole records, each as long as its flags say.
		n := 0
		for rest := b; len(rest) > 0 && err == nil; n++ {
			l := tcpRecLen(rest)
			if l == 0 || l > len(rest) {
				t.Fatalf("no error from %d bytes ending in a partial record", len(b))
			}
			if want := map[bool]int{false: tcpRecSize, true: tcpCntSize}[rest[trFlags]&recCounters != 0]; l != want {
				t.Fatalf("a record of %d bytes, flags %#x", l, rest[trFlags])
			}
			rest = rest[l:]
		}
		if err == nil && len(out)-1 != n {
			t.Fatalf("%d sockets from %d records", len(out)-1, n)
		}
		if len(cnt) > len(out) {
			t.Fatalf("%d counters for %d sockets", len(cnt), len(out))
		}
		for _, s := range out[1:] {
			if s.Proto != model.ProtoTCP || (s.Family != model.FamilyIPv4 && s.Family != model.FamilyIPv6) {
				t.Fatalf("proto %q family %q", s.Proto, s.Family)
			}
		}
	})
}

func FuzzParseConfigHZ(f *testing.F) {
	f.Add("CONFIG_HZ_250=y\nCONFIG_HZ=250\n")
	f.Add("CONFIG_HZ=\n")
	f.Add("CONFIG_HZ=99999999999\n")
	f.Fuzz(func(t *testing.T, in string) {
		hz, err := parseConfigHZ(strings.NewReader(in))
		if (err == nil) == (hz == 0) {
			t.Fatalf("%q: HZ %d with error %v", in, hz, err)
		}
	})
}
