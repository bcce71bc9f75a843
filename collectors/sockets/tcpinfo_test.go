package sockets

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// Real TCP dumps with INET_DIAG_INFO and INET_DIAG_CONG captured from
// this kernel (6.18, bbr the default) in a namespace holding a listener,
// a connection that moved data both ways, and one whose receiver never
// reads (rwnd-limited, one retransmission), with `ss -tinaH` of the same
// moment beside each.
var tcpInfoFixtures = []struct{ bin, ss string }{
	{"sockdiag_tcpinfo_ipv4.bin", "ss_tinaH_tcpinfo_ipv4.txt"},
	{"sockdiag_tcpinfo_ipv6.bin", "ss_tinaH_tcpinfo_ipv6.txt"},
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ssKey names a socket as ss prints its addresses ("[::1]:9001").
func ssKey(s model.Socket) string {
	addr := func(a string) string {
		if s.Family == model.FamilyIPv6 {
			i := strings.LastIndexByte(a, ':')
			return a[:i] + a[i:]
		}
		return a
	}
	return addr(s.Local.String()) + " " + addr(s.Remote.String())
}

func TestDecodeTCPInfoMatchesSS(t *testing.T) {
	for _, fx := range tcpInfoFixtures {
		t.Run(fx.bin, func(t *testing.T) {
			got, st, err := decodeDatagram(readFixture(t, fx.bin), fixtureSeq, model.ProtoTCP, nil, nil, nil)
			if err != nil || !st.done {
				t.Fatalf("decode: %v, %+v", err, st)
			}
			f, err := os.Open(filepath.Join("testdata", fx.ss))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ss, err := parseSSTCPInfo(f)
			if err != nil {
				t.Fatal(err)
			}
			byKey := map[string]model.Socket{}
			for _, s := range got {
				byKey[ssKey(s)] = s
			}
			if len(ss) != len(got) || len(ss) < 5 {
				t.Fatalf("%d sockets decoded, ss lists %d", len(got), len(ss))
			}
			for _, w := range ss {
				remote := strings.Replace(strings.Replace(w.Remote, "0.0.0.0:*", "0.0.0.0:0", 1), "[::]:*", "[::]:0", 1)
				s, ok := byKey[w.Local+" "+remote]
				if !ok {
					t.Errorf("ss %s %s: not decoded", w.Local, w.Remote)
					continue
				}
				ti := s.TCP
				if !ti.HasChrono() {
					t.Errorf("%s: tcp_info %+v, want this kernel's whole struct", w.Local, ti)
					continue
				}
				rtt, rttvar, _ := strings.Cut(w.Info["rtt"], "/")
				cur, total, _ := strings.Cut(w.Info["retrans"], "/")
				i := w.Info
				want := []uint64{ssMicros(rtt), ssMicros(rttvar), ssUint(i, "cwnd"), ssUint(i, "ssthresh"),
					ssUint(i, "bytes_acked"), ssUint(i, "bytes_received"), ssUint(i, "bytes_sent"), ssUint(i, "bytes_retrans"),
					ssUint(i, "segs_out"), ssUint(i, "segs_in"), ssUint(i, "data_segs_out"), ssUint(i, "data_segs_in"),
					ssUint(map[string]string{"r": cur}, "r"), ssUint(map[string]string{"r": total}, "r"), ssUint(i, "lost"), ssUint(i, "backoff"),
					ssUint(i, "sndbuf_limited"),
					ssUint(i, "delivery_rate") / 8, ssUint(i, "pacing_rate") / 8, ssUint(i, "notsent"), ssMicros(i["minrtt"]), ssUint(i, "pmtu")}
				gotv := []uint64{uint64(ti.RTT), uint64(ti.RTTVar), uint64(ti.SndCwnd), ssthreshShown(ti.SndSsthresh),
					ti.BytesAcked, ti.BytesReceived, ti.BytesSent, ti.BytesRetrans,
					uint64(ti.SegsOut), uint64(ti.SegsIn), uint64(ti.DataSegsOut), uint64(ti.DataSegsIn),
					uint64(ti.Retrans), uint64(ti.TotalRetrans), uint64(ti.Lost), uint64(ti.Backoff),
					ti.SndbufLimited / 1000,
					ti.DeliveryRate, ti.PacingRate, uint64(ti.NotsentBytes), uint64(ti.MinRTT), uint64(ti.PMTU)}
				if w.State == "LISTEN" {
					// ss prints only the congestion control and cwnd of a
					// listener.
					want, gotv = want[2:3], gotv[2:3]
				}
				if diff := cmp.Diff(want, gotv); diff != "" {
					t.Errorf("%s %s: tcp_info vs ss (-want +got)\n%s", w.Local, w.Remote, diff)
				}
				// A chrono still running counts up to the moment it is
				// read, and ss read a few milliseconds after the dump.
				for _, c := range []struct {
					name string
					got  uint64
				}{{"busy", ti.BusyTime / 1000}, {"rwnd_limited", ti.RwndLimited / 1000}} {
					if ms := ssUint(i, c.name); c.got > ms || ms-c.got > 20 {
						t.Errorf("%s %s: %s %d ms, ss says %d ms", w.Local, w.Remote, c.name, c.got, ms)
					}
				}
				if ti.Congestion != i["cong"] {
					t.Errorf("%s %s: congestion %q, ss says %q", w.Local, w.Remote, ti.Congestion, i["cong"])
				}
			}
		})
	}
}

// ssthreshShown is the ssthresh ss prints: none (0 here) while it is
// still "infinite" (TCP_INFINITE_SSTHRESH and anything at or above 0xffff).
func ssthreshShown(v uint32) uint64 {
	if v >= 0xffff {
		return 0
	}
	return uint64(v)
}

// infoAttr returns the INET_DIAG_INFO attribute of the first socket of a
// dump with a non-empty one, and that socket's message.
func infoAttr(t testing.TB, dump []byte) (msg, info []byte) {
	t.Helper()
	ne := binary.NativeEndian
	for off := 0; off+nlmsgHdrLen <= len(dump); {
		l := int(ne.Uint32(dump[off:]))
		m := dump[off : off+l]
		off += align4(l)
		if ne.Uint16(m[4:]) != msgSockDiagByFamily {
			continue
		}
		for a := m[nlmsgHdrLen+diagMsgLen:]; len(a) >= 4; {
			al := int(ne.Uint16(a))
			if diagAttr(ne.Uint16(a[2:])) == attrInfo && m[nlmsgHdrLen+1] == uint8(model.StateEstablished) {
				return m, a[4:al]
			}
			a = a[align4(al):]
		}
	}
	t.Fatal("no socket with INET_DIAG_INFO in the dump")
	return nil, nil
}

// TestDecodeTCPInfoLengths cuts a real tcp_info to the lengths older
// kernels send: fields within the length are those of the whole struct,
// fields beyond it zero.
func TestDecodeTCPInfoLengths(t *testing.T) {
	_, full := infoAttr(t, readFixture(t, "sockdiag_tcpinfo_ipv4.bin"))
	var whole model.TCPInfo
	decodeTCPInfo(full, &whole)
	if whole.BytesAcked == 0 || whole.BusyTime == 0 && whole.BytesReceived == 0 {
		t.Fatalf("fixture socket carries no counters: %+v", whole)
	}
	tests := []struct {
		name string
		n    int
		want func(w model.TCPInfo) model.TCPInfo
	}{
		{"none", 0, func(model.TCPInfo) model.TCPInfo { return model.TCPInfo{} }},
		{"shorter than any kernel's", 100, func(model.TCPInfo) model.TCPInfo { return model.TCPInfo{} }},
		{"2.6 (104)", 104, func(w model.TCPInfo) model.TCPInfo {
			w.PacingRate, w.MaxPacingRate, w.BytesAcked, w.BytesReceived, w.SegsOut, w.SegsIn = 0, 0, 0, 0, 0, 0
			w.NotsentBytes, w.MinRTT, w.DataSegsIn, w.DataSegsOut, w.DeliveryRate = 0, 0, 0, 0, 0
			w.BusyTime, w.RwndLimited, w.SndbufLimited, w.BytesSent, w.BytesRetrans = 0, 0, 0, 0, 0
			return w
		}},
		{"4.1 (136)", 136, func(w model.TCPInfo) model.TCPInfo {
			w.SegsOut, w.SegsIn = 0, 0
			w.NotsentBytes, w.MinRTT, w.DataSegsIn, w.DataSegsOut, w.DeliveryRate = 0, 0, 0, 0, 0
			w.BusyTime, w.RwndLimited, w.SndbufLimited, w.BytesSent, w.BytesRetrans = 0, 0, 0, 0, 0
			return w
		}},
		{"4.6 (160)", 160, func(w model.TCPInfo) model.TCPInfo {
			w.DeliveryRate = 0
			w.BusyTime, w.RwndLimited, w.SndbufLimited, w.BytesSent, w.BytesRetrans = 0, 0, 0, 0, 0
			return w
		}},
		{"4.10 (192)", 192, func(w model.TCPInfo) model.TCPInfo {
			w.BytesSent, w.BytesRetrans = 0, 0
			return w
		}},
		{"half a field (204)", 204, func(w model.TCPInfo) model.TCPInfo {
			w.BytesSent, w.BytesRetrans = 0, 0
			return w
		}},
		{"5.4 (232)", 232, func(w model.TCPInfo) model.TCPInfo { return w }},
		{"this kernel", len(full), func(w model.TCPInfo) model.TCPInfo { return w }},
		{"a future, longer struct", len(full) + 40, func(w model.TCPInfo) model.TCPInfo { return w }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, tt.n)
			copy(b, full)
			var got model.TCPInfo
			decodeTCPInfo(b, &got)
			want := tt.want(whole)
			if want.Known() || tt.n >= model.TCPInfoLenBase {
				want.Len = uint16(tt.n)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tcp_info of %d bytes (-want +got)\n%s", tt.n, diff)
			}
		})
	}
}

// TestDecodeTCPInfoInDump checks the attribute walk: a short tcp_info in
// a message decodes, and INET_DIAG_INFO on a UDP socket is ignored.
func TestDecodeTCPInfoInDump(t *testing.T) {
	msg, full := infoAttr(t, readFixture(t, "sockdiag_tcpinfo_ipv4.bin"))
	base := diagMsg{family: afInet, state: 1, sport: 1, dport: 2, src: netip.MustParseAddr("127.0.0.1"), dst: netip.MustParseAddr("127.0.0.1"), cookie: 7, inode: 9}
	base.attrs = [][]byte{attr(uint16(attrInfo), full[:136]), attr(uint16(attrCong), []byte("cubic\x00"))}
	dg := cat(nlmsg(msgSockDiagByFamily, flagMulti, fixtureSeq, base.bytes()), nlmsg(msgDone, flagMulti, fixtureSeq, make([]byte, 4)))
	var whole model.TCPInfo
	decodeTCPInfo(full, &whole)
	for _, proto := range []model.Proto{model.ProtoTCP, model.ProtoUDP} {
		got, _, err := decodeDatagram(dg, fixtureSeq, proto, nil, nil, nil)
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %d sockets, %v", proto, len(got), err)
		}
		want := model.TCPInfo{Congestion: "cubic"}
		if proto == model.ProtoTCP {
			decodeTCPInfo(full[:136], &want)
			if want.BytesAcked != whole.BytesAcked || want.SegsOut != 0 {
				t.Errorf("136-byte tcp_info: bytes_acked %d (whole %d), segs_out %d", want.BytesAcked, whole.BytesAcked, want.SegsOut)
			}
		}
		if diff := cmp.Diff(&want, got[0].TCP); diff != "" {
			t.Errorf("%s: tcp_info (-want +got)\n%s", proto, diff)
		}
	}
	_ = msg
}

func TestCongName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"cubic\x00", "cubic"}, {"bbr", "bbr"}, {"\x00", ""}, {"", ""},
		{"my_cc\x00\x00", "my_cc"}, {"a-name-longer-than-16", ""},
	} {
		if got := congName([]byte(tt.in)); got != tt.want {
			t.Errorf("congName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = congName([]byte("cubic\x00")) }); n != 0 {
		t.Errorf("congName of a known algorithm allocates %v times", n)
	}
}

func TestExtensions(t *testing.T) {
	got := []uint8{extensions(protoTCP), extensions(protoUDP), extensions(protoUDPLite), extensions(protoRAW)}
	// INET_DIAG_INFO (bit 1), INET_DIAG_CONG (bit 3), INET_DIAG_SKMEMINFO (bit 6).
	want := []uint8{1<<1 | 1<<3 | 1<<6, 1 << 6, 1 << 6, 1 << 6}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("idiag_ext (-want +got)\n%s", diff)
	}
}

func FuzzDecodeTCPInfo(f *testing.F) {
	for _, fx := range tcpInfoFixtures {
		_, info := infoAttr(f, readFixture(f, fx.bin))
		f.Add(info)
		f.Add(info[:136])
		f.Add(info[:190])
	}
	f.Add(make([]byte, 103))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got model.TCPInfo
		decodeTCPInfo(b, &got)
		if len(b) < model.TCPInfoLenBase {
			if got != (model.TCPInfo{}) {
				t.Fatalf("%d bytes decoded to %+v", len(b), got)
			}
			return
		}
		if int(got.Len) != min(len(b), 0xffff) {
			t.Fatalf("Len %d for %d bytes", got.Len, len(b))
		}
		// A prefix decodes to the same fields, or zero.
		var pre model.TCPInfo
		decodeTCPInfo(b[:tiBytesAcked+7], &pre)
		if pre.RTT != got.RTT || pre.TotalRetrans != got.TotalRetrans || pre.BytesAcked != 0 {
			t.Fatalf("prefix: %+v, whole %+v", pre, got)
		}
		if len(b) < tiBusyTime+8 && got.BusyTime != 0 || len(b) < tiSndbufLimited+8 && got.SndbufLimited != 0 {
			t.Fatalf("busy time from %d bytes", len(b))
		}
	})
}
