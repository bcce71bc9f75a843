package sockets

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// testdata/proc_net_* were copied from this machine (kernel 6.18) in a
// namespace at the moment testdata/ss_tuwanH.txt was taken with
// `ss -tuwanH` (sock_diag for tcp and udp; /proc/net/raw{,6} for raw, as
// this kernel has no raw_diag).
func TestParseNetFixturesMatchSS(t *testing.T) {
	got, err := netFiles("testdata/proc_net_dir", procNetFiles, nil)
	if err == nil || len(got) != 0 {
		t.Fatalf("missing directory: %v, %d sockets", err, len(got))
	}
	for _, f := range procNetFiles {
		b, err := os.Open("testdata/proc_net_" + f.name)
		if err != nil {
			t.Fatal(err)
		}
		got, err = parseNetTCP(b, f.proto, got)
		b.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
	}
	f, err := os.Open("testdata/ss_tuwanH.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := parseSS(f)
	if err != nil {
		t.Fatal(err)
	}
	// /proc/net/tcp prints 0 as a listener's tx_queue where sock_diag (and
	// so ss) gives the backlog limit.
	for i := range want {
		if want[i].State == "LISTEN" {
			want[i].SendQ = 0
		}
	}
	if diff := cmp.Diff(canon(want), canon(ssLinesOf(got, false))); diff != "" {
		t.Errorf("/proc/net fixtures vs ss (-want +got)\n%s", diff)
	}
	var lite int
	for _, s := range got {
		if s.Proto == model.ProtoUDPLite {
			lite++
		}
	}
	if lite != 1 {
		t.Errorf("%d udplite sockets, want 1", lite)
	}
}

func TestParseNetTCP(t *testing.T) {
	const udpHeader = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            \n"
	const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     \n"
	const tcp6Header = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	tests := []struct {
		name    string
		proto   model.Proto
		in      string
		want    []model.Socket
		wantErr string
	}{
		{
			name:  "udp with drops",
			proto: model.ProtoUDP,
			in:    udpHeader + " 6911: 00000000:14E9 00000000:0000 07 00000000:00000500 00:00000000 00000000     0        0 51626 2 000000009575e345 19        \n",
			want: []model.Socket{{Proto: model.ProtoUDP, Family: model.FamilyIPv4, Local: netip.MustParseAddrPort("0.0.0.0:5353"), Remote: netip.MustParseAddrPort("0.0.0.0:0"),
				State: model.StateClose, RecvQ: 0x500, Inode: 51626, Drops: 19, HasDrops: true}},
		},
		{
			name:  "tcp has no drops column",
			proto: model.ProtoTCP,
			in:    tcpHeader + "   3: 0100007F:1F90 0100007F:EB6C 01 00000002:000003E8 00:00000000 00000000  1000        0 51621 1 0000000092863a00 20 4 32 10 -1                    \n",
			want: []model.Socket{{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: netip.MustParseAddrPort("127.0.0.1:8080"), Remote: netip.MustParseAddrPort("127.0.0.1:60268"),
				State: model.StateEstablished, SendQ: 2, RecvQ: 1000, UID: 1000, Inode: 51621}},
		},
		{
			name:  "tcp6 loopback and v4-mapped",
			proto: model.ProtoTCP,
			in: tcp6Header +
				"   0: 00000000000000000000000001000000:20FB 00000000000000000000000001000000:9552 01 00000000:0000004D 00:00000000 00000000     0        0 51624 1 0 20 4 30 10 -1\n" +
				"   1: 0000000000000000FFFF00000100007F:20FB 0000000000000000FFFF00000100007F:CB48 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0 20 4 30 10 -1\n",
			want: []model.Socket{
				{Proto: model.ProtoTCP, Family: model.FamilyIPv6, Local: netip.MustParseAddrPort("[::1]:8443"), Remote: netip.MustParseAddrPort("[::1]:38226"), State: model.StateEstablished, RecvQ: 77, Inode: 51624},
				{Proto: model.ProtoTCP, Family: model.FamilyIPv6, Local: netip.MustParseAddrPort("[::ffff:127.0.0.1]:8443"), Remote: netip.MustParseAddrPort("[::ffff:127.0.0.1]:52040"), State: model.StateEstablished},
			},
		},
		{name: "header only", proto: model.ProtoTCP, in: tcpHeader},
		{name: "blank lines are skipped", proto: model.ProtoTCP, in: tcpHeader + "\n   \n"},
		{name: "empty", proto: model.ProtoTCP, in: "", wantErr: "no header"},
		{name: "not a table", proto: model.ProtoTCP, in: "Ip: Forwarding\n", wantErr: "line 1"},
		{name: "short line", proto: model.ProtoTCP, in: tcpHeader + "   0: 0100007F:1F90 00000000:0000 0A\n", wantErr: "line 2: 4 fields"},
		{name: "bad address", proto: model.ProtoTCP, in: tcpHeader + "   0: 0100007G:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: "line 2: local address"},
		{name: "address without port", proto: model.ProtoTCP, in: tcpHeader + "   0: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: "local address"},
		{name: "odd address width", proto: model.ProtoTCP, in: tcpHeader + "   0: 0100007F00:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: "local address"},
		{name: "port too big", proto: model.ProtoTCP, in: tcpHeader + "   0: 0100007F:1F9000 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: "local address"},
		{name: "mixed families", proto: model.ProtoTCP, in: tcpHeader + "   0: 0100007F:1F90 00000000000000000000000001000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: "differ in family"},
		{name: "bad state", proto: model.ProtoTCP, in: tcpHeader + "   0: 0100007F:1F90 00000000:0000 1FF 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: "state"},
		{name: "bad queues", proto: model.ProtoTCP, in: tcpHeader + "   0: 0100007F:1F90 00000000:0000 0A 0000000000000000 00:00000000 00000000 0 0 1\n", wantErr: "queues"},
		{name: "queue overflow", proto: model.ProtoTCP, in: tcpHeader + "   0: 0100007F:1F90 00000000:0000 0A 100000000:0 00:00000000 00000000 0 0 1\n", wantErr: "queues"},
		{name: "bad uid", proto: model.ProtoTCP, in: tcpHeader + "   0: 0100007F:1F90 00000000:0000 0A 0:0 00:00000000 00000000 -1 0 1\n", wantErr: "uid"},
		{name: "bad inode", proto: model.ProtoTCP, in: tcpHeader + "   0: 0100007F:1F90 00000000:0000 0A 0:0 00:00000000 00000000 0 0 x\n", wantErr: "inode"},
		{name: "bad drops", proto: model.ProtoUDP, in: udpHeader + " 1: 00000000:14E9 00000000:0000 07 0:0 00:00000000 00000000 0 0 1 2 0 -5\n", wantErr: "drops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNetTCP(strings.NewReader(tt.in), tt.proto, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error %v does not wrap ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, equateAddrs); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseUint(t *testing.T) {
	tests := []struct {
		in   string
		base uint64
		bits uint
		want uint64
		ok   bool
	}{
		{"0", 10, 8, 0, true}, {"255", 10, 8, 255, true}, {"256", 10, 8, 0, false},
		{"ffffffff", 16, 32, 0xffffffff, true}, {"100000000", 16, 32, 0, false},
		{"18446744073709551615", 10, 64, 1<<64 - 1, true}, {"18446744073709551616", 10, 64, 0, false},
		{"", 10, 8, 0, false}, {"1a", 10, 8, 0, false}, {"-1", 10, 8, 0, false},
	}
	for _, tt := range tests {
		got, ok := parseUint([]byte(tt.in), tt.base, tt.bits)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseUint(%q, %d, %d) = %d, %v; want %d, %v", tt.in, tt.base, tt.bits, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseNetTCP(f *testing.F) {
	for _, name := range []string{"tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite"} {
		b, err := os.ReadFile("testdata/proc_net_" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		socks, err := parseNetTCP(strings.NewReader(string(b)), model.ProtoUDP, nil)
		if err != nil {
			return
		}
		for _, s := range socks {
			if s.Local.Addr().Is4() != (s.Family == model.FamilyIPv4) || s.Local.Addr().BitLen() != s.Remote.Addr().BitLen() {
				t.Fatalf("inconsistent socket %+v", s)
			}
		}
	})
}

func TestParseSockstat(t *testing.T) {
	const in = `sockets: used 14
TCP: inuse 5 orphan 1 tw 3 alloc 1004 mem 164
UDP: inuse 2 mem 0
UDPLITE: inuse 0
RAW: inuse 1
FRAG: inuse 7 memory 0
TCP6: inuse 0
UDP6: inuse x
`
	c := sockCounts{inuse: map[string]uint64{}}
	parseSockstat(strings.NewReader(in), &c)
	want := sockCounts{inuse: map[string]uint64{"tcp": 5, "udp": 2, "udplite": 0, "raw": 1, "tcp6": 0}, tw: 3}
	if diff := cmp.Diff(want, c, cmp.AllowUnexported(sockCounts{})); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if got := c.hint(); got != 5+3+2+1 {
		t.Errorf("hint %d, want 11", got)
	}
	for table, want := range map[string]bool{
		"tcp": false, "udp": false, "udplite": true, "raw": false,
		"tcp6":     false, // TIME-WAIT sockets may be IPv6
		"udp6":     false, // did not parse: unknown
		"udplite6": false, // not listed: unknown
	} {
		if got := c.empty(table); got != want {
			t.Errorf("empty(%s) = %v, want %v", table, got, want)
		}
	}
	c.tw = 0
	if !c.empty("tcp6") {
		t.Error("tcp6 with no socket and no TIME-WAIT is not empty")
	}
	c.inuse["tcp"], c.tw = 0, 1
	if c.empty("tcp") {
		t.Error("tcp with a TIME-WAIT socket (IPv4 or IPv6) is empty")
	}
	c.tw = 0
	if !c.empty("tcp") {
		t.Error("tcp with no socket and no TIME-WAIT is not empty")
	}
}

func FuzzParseSockstat(f *testing.F) {
	for _, name := range []string{"/proc/net/sockstat", "/proc/net/sockstat6"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := sockCounts{inuse: map[string]uint64{}}
		parseSockstat(strings.NewReader(string(b)), &c)
		if n := c.hint(); n < 0 || n > 1<<24 {
			t.Fatalf("hint %d", n)
		}
		for table, v := range c.inuse {
			if v >= 1<<31 || (v == 0) != c.empty(table) && table != "tcp" && table != "tcp6" {
				t.Fatalf("%s: inuse %d, empty %v", table, v, c.empty(table))
			}
		}
	})
}
