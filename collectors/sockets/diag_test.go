package sockets

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"netlens/model"
)

// Real dumps captured from this kernel (6.18) in a namespace holding the
// sockets listed by testdata/ss_diag_fixture.txt (`ss -tuanH` at the same
// moment).
var diagFixtures = []string{"sockdiag_tcp_ipv4.bin", "sockdiag_tcp_ipv6.bin", "sockdiag_udp_ipv4.bin", "sockdiag_udp_ipv6.bin"}

const fixtureSeq = 1000

// equateAddrs lets cmp compare netip values.
var equateAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})

func TestDecodeRealDumpsMatchSS(t *testing.T) {
	names := &ifNames{byIndex: map[uint32]string{1: "lo"}}
	var got []model.Socket
	for _, name := range diagFixtures {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		proto := model.ProtoTCP
		if strings.HasPrefix(name, "sockdiag_udp") {
			proto = model.ProtoUDP
		}
		var st dumpStatus
		got, st, err = decodeDatagram(b, fixtureSeq, proto, names, nil, got)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !st.done || st.interrupted {
			t.Errorf("%s: status %+v, want done and not interrupted", name, st)
		}
	}
	f, err := os.Open("testdata/ss_diag_fixture.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := parseSS(f)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(canon(want), canon(ssLinesOf(got, false))); diff != "" {
		t.Errorf("sock_diag fixture vs ss (-want +got)\n%s", diff)
	}
	// The UDP socket that received more than its 1 KiB buffer holds
	// counted drops; every full socket carries SKMEMINFO.
	var drops uint64
	for _, s := range got {
		if s.State != model.StateTimeWait && s.Inode != 0 && !s.HasDrops {
			t.Errorf("%v %v: no SKMEMINFO drops", s.Proto, s.Local)
		}
		if s.Local.Port() == 5353 && s.State == model.StateClose {
			drops = s.Drops
		}
		if s.Cookie == 0 && s.Inode != 0 {
			t.Errorf("%v %v: no cookie", s.Proto, s.Local)
		}
	}
	if drops == 0 {
		t.Errorf("udp 0.0.0.0:5353: no drops, want > 0")
	}
}

// diagMsg is a synthetic inet_diag_msg for tests.
type diagMsg struct {
	family       uint8
	state        uint8
	sport, dport uint16
	src, dst     netip.Addr
	ifindex      uint32
	cookie       uint64
	rq, wq       uint32
	uid          uint32
	inode        uint32
	attrs        [][]byte
}

func (m diagMsg) bytes() []byte {
	b := make([]byte, diagMsgLen)
	ne := binary.NativeEndian
	b[0], b[1] = m.family, m.state
	binary.BigEndian.PutUint16(b[4:], m.sport)
	binary.BigEndian.PutUint16(b[6:], m.dport)
	if m.src.IsValid() {
		copy(b[8:24], m.src.AsSlice())
	}
	if m.dst.IsValid() {
		copy(b[24:40], m.dst.AsSlice())
	}
	ne.PutUint32(b[40:], m.ifindex)
	ne.PutUint32(b[44:], uint32(m.cookie))
	ne.PutUint32(b[48:], uint32(m.cookie>>32))
	ne.PutUint32(b[56:], m.rq)
	ne.PutUint32(b[60:], m.wq)
	ne.PutUint32(b[64:], m.uid)
	ne.PutUint32(b[68:], m.inode)
	for _, a := range m.attrs {
		b = append(b, a...)
	}
	return b
}

func attr(typ uint16, v []byte) []byte {
	b := make([]byte, 4, 4+len(v)+3)
	binary.NativeEndian.PutUint16(b, uint16(4+len(v)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func memInfo(drops uint32) []byte {
	v := make([]byte, 9*4)
	binary.NativeEndian.PutUint32(v[skMemInfoDrops*4:], drops)
	return attr(uint16(attrSKMemInfo), v)
}

func nlmsg(typ, flags uint16, seq uint32, payload []byte) []byte {
	b := make([]byte, nlmsgHdrLen, nlmsgHdrLen+len(payload)+3)
	binary.NativeEndian.PutUint32(b, uint32(nlmsgHdrLen+len(payload)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func errPayload(errno int32, extack string) []byte {
	p := make([]byte, 4+nlmsgHdrLen)
	binary.NativeEndian.PutUint32(p, uint32(errno))
	binary.NativeEndian.PutUint32(p[4:], nlmsgHdrLen) // original header, capped
	if extack != "" {
		p = append(p, attr(nlmsgerrAttrMsg, append([]byte(extack), 0))...)
	}
	return p
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestDecodeDatagram(t *testing.T) {
	const seq = 7
	v4 := diagMsg{family: afInet, state: 1, sport: 443, dport: 51000, src: netip.MustParseAddr("10.0.0.1"), dst: netip.MustParseAddr("10.0.0.2"),
		ifindex: 3, cookie: 0x1_0000_0002, rq: 5, wq: 6, uid: 1000, inode: 4242, attrs: [][]byte{attr(uint16(attrShutdown), []byte{0}), memInfo(17)}}
	v6 := diagMsg{family: afInet6, state: 10, sport: 22, src: netip.IPv6Unspecified(), dst: netip.IPv6Unspecified(), wq: 128, inode: 9}
	done := nlmsg(msgDone, flagMulti, seq, []byte{0, 0, 0, 0})
	tests := []struct {
		name    string
		in      []byte
		want    []model.Socket
		status  dumpStatus
		wantErr error
		errText string
	}{
		{
			name: "ipv4 with meminfo and ipv6 listener",
			in:   cat(nlmsg(msgSockDiagByFamily, flagMulti, seq, v4.bytes()), nlmsg(msgSockDiagByFamily, flagMulti, seq, v6.bytes()), done),
			want: []model.Socket{
				{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: netip.MustParseAddrPort("10.0.0.1:443"), Remote: netip.MustParseAddrPort("10.0.0.2:51000"),
					State: model.StateEstablished, RecvQ: 5, SendQ: 6, UID: 1000, Inode: 4242, Cookie: 0x1_0000_0002, Interface: "eth0", Drops: 17, HasDrops: true},
				{Proto: model.ProtoTCP, Family: model.FamilyIPv6, Local: netip.MustParseAddrPort("[::]:22"), Remote: netip.MustParseAddrPort("[::]:0"),
					State: model.StateListen, SendQ: 128, Inode: 9},
			},
			status: dumpStatus{done: true},
		},
		{
			name:   "other sequence numbers are skipped",
			in:     cat(nlmsg(msgSockDiagByFamily, flagMulti, seq+1, v4.bytes()), done),
			status: dumpStatus{done: true},
		},
		{
			name:   "dump interrupted",
			in:     cat(nlmsg(msgSockDiagByFamily, flagMulti|flagDumpIntr, seq, v6.bytes()), nlmsg(msgDone, flagMulti|flagDumpIntr, seq, []byte{0, 0, 0, 0})),
			want:   []model.Socket{{Proto: model.ProtoTCP, Family: model.FamilyIPv6, Local: netip.MustParseAddrPort("[::]:22"), Remote: netip.MustParseAddrPort("[::]:0"), State: model.StateListen, SendQ: 128, Inode: 9}},
			status: dumpStatus{done: true, interrupted: true},
		},
		{
			name:   "more to come",
			in:     nlmsg(msgSockDiagByFamily, flagMulti, seq, v6.bytes()),
			want:   []model.Socket{{Proto: model.ProtoTCP, Family: model.FamilyIPv6, Local: netip.MustParseAddrPort("[::]:22"), Remote: netip.MustParseAddrPort("[::]:0"), State: model.StateListen, SendQ: 128, Inode: 9}},
			status: dumpStatus{},
		},
		{
			name:    "error with extended ack",
			in:      nlmsg(msgError, flagCapped|flagAckTLVs, seq, errPayload(-int32(syscall.ENOENT), "no handler")),
			wantErr: syscall.ENOENT,
			errText: "sock_diag: no handler: no such file or directory",
		},
		{
			name:    "error without extended ack",
			in:      nlmsg(msgError, 0, seq, errPayload(-int32(syscall.EPERM), "")),
			wantErr: syscall.EPERM,
		},
		{
			name:    "done carrying an error",
			in:      nlmsg(msgDone, flagMulti, seq, []byte{0xf4, 0xff, 0xff, 0xff}), // -ENOMEM
			wantErr: syscall.ENOMEM,
			status:  dumpStatus{done: true},
		},
		{
			name:    "short error",
			in:      nlmsg(msgError, 0, seq, []byte{1}),
			wantErr: ErrMalformed,
		},
		{
			name:    "short inet_diag_msg",
			in:      nlmsg(msgSockDiagByFamily, flagMulti, seq, v4.bytes()[:40]),
			wantErr: ErrMalformed,
		},
		{
			name:    "message longer than datagram",
			in:      nlmsg(msgSockDiagByFamily, flagMulti, seq, v4.bytes())[:50],
			wantErr: ErrMalformed,
		},
		{
			name: "message length below header",
			in: func() []byte {
				b := nlmsg(msgSockDiagByFamily, flagMulti, seq, v4.bytes())
				binary.NativeEndian.PutUint32(b, 8)
				return b
			}(),
			wantErr: ErrMalformed,
		},
		{
			name: "attribute overruns message",
			in: func() []byte {
				m := v6
				m.attrs = [][]byte{{200, 0, 7, 0, 1, 2, 3, 4}}
				return nlmsg(msgSockDiagByFamily, flagMulti, seq, m.bytes())
			}(),
			wantErr: ErrMalformed,
		},
		{
			name: "unknown family",
			in: func() []byte {
				m := v6
				m.family = 1
				return nlmsg(msgSockDiagByFamily, flagMulti, seq, m.bytes())
			}(),
			wantErr: ErrMalformed,
		},
		{
			name: "short meminfo has no drops",
			in: func() []byte {
				m := v6
				m.attrs = [][]byte{attr(uint16(attrSKMemInfo), make([]byte, 8*4))}
				return nlmsg(msgSockDiagByFamily, flagMulti, seq, m.bytes())
			}(),
			want: []model.Socket{{Proto: model.ProtoTCP, Family: model.FamilyIPv6, Local: netip.MustParseAddrPort("[::]:22"), Remote: netip.MustParseAddrPort("[::]:0"), State: model.StateListen, SendQ: 128, Inode: 9}},
		},
		{
			name:   "trailing bytes shorter than a header are ignored",
			in:     cat(done[:nlmsgHdrLen+4], []byte{1, 2, 3}),
			status: dumpStatus{done: true},
		},
	}
	names := &ifNames{byIndex: map[uint32]string{3: "eth0"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st, err := decodeDatagram(tt.in, seq, model.ProtoTCP, names, nil, nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				if tt.errText != "" && err.Error() != tt.errText {
					t.Errorf("error text %q, want %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, equateAddrs); diff != "" {
				t.Errorf("sockets (-want +got)\n%s", diff)
			}
			if st != tt.status {
				t.Errorf("status %+v, want %+v", st, tt.status)
			}
		})
	}
}

func TestAppendDumpRequest(t *testing.T) {
	b := appendDumpRequest(nil, 42, afInet6, protoRAW)
	ne := binary.NativeEndian
	got := []uint64{uint64(len(b)), uint64(ne.Uint32(b)), uint64(ne.Uint16(b[4:])), uint64(ne.Uint16(b[6:])), uint64(ne.Uint32(b[8:])),
		uint64(b[16]), uint64(b[17]), uint64(b[18]), uint64(b[19]), uint64(ne.Uint32(b[20:]))}
	want := []uint64{72, 72, 20, 0x301, 42, afInet6, 255, 1 << 6, 0, 0x1fff}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got)\n%s", diff)
	}
}

func TestIfNames(t *testing.T) {
	calls := 0
	n := &ifNames{lookup: func() map[uint32]string { calls++; return map[uint32]string{2: "veth0"} }}
	got := []string{n.name(2), n.name(2), n.name(9), n.name(9), (*ifNames)(nil).name(4)}
	if diff := cmp.Diff([]string{"veth0", "veth0", "if9", "if9", "if4"}, got); diff != "" {
		t.Errorf("names (-want +got)\n%s", diff)
	}
	if calls != 2 {
		t.Errorf("%d lookups, want 2 (one per unknown index)", calls)
	}
}

func FuzzDecodeDatagram(f *testing.F) {
	for _, fx := range tcpInfoFixtures {
		f.Add(readFixture(f, fx.bin))
	}
	for _, name := range diagFixtures {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(nlmsg(msgError, flagAckTLVs, fixtureSeq, errPayload(-2, "x")))
	f.Add(nlmsg(msgError, 0, fixtureSeq, []byte{0xff, 0xff, 0xff, 0xff, 200, 0, 0, 0}))
	names := &ifNames{byIndex: map[uint32]string{1: "lo"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		prefix := []model.Socket{{Proto: model.ProtoRAW}}
		out, _, err := decodeDatagram(b, fixtureSeq, model.ProtoTCP, names, nil, prefix)
		if len(out) == 0 || out[0].Proto != model.ProtoRAW || (err != nil && len(out) != 1) {
			t.Fatalf("sockets before the datagram lost or partial result kept: %d, %v", len(out), err)
		}
		for _, s := range out[1:] {
			if s.Family != model.FamilyIPv4 && s.Family != model.FamilyIPv6 {
				t.Fatalf("family %q", s.Family)
			}
		}
		if n := len(out) - 1; n > len(b)/(nlmsgHdrLen+diagMsgLen) {
			t.Fatalf("%d sockets from %d bytes", len(out)-1, len(b))
		}
		_ = decodeError(b, flagAckTLVs)
		_ = decodeError(b, flagAckTLVs|flagCapped)
		parseLinks(b, map[uint32]string{})
	})
}
