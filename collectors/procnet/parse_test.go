package procnet

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// parsers maps a file's base name to its pure parser.
var parsers = map[string]func(io.Reader) ([]model.RawCounter, error){
	"snmp":         parseNetSNMP,
	"netstat":      parseNetNetstat,
	"snmp6":        parseNetSNMP6,
	"softnet_stat": parseNetSoftnetStat,
	"dev":          parseNetDev,
	"xfrm_stat":    parseNetXfrmStat,
}

func parseFile(t *testing.T, parse func(io.Reader) ([]model.RawCounter, error), path string) ([]model.RawCounter, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return parse(f)
}

// pick returns the counters of out with the given keys, in key order; a
// key that is not there gives a zero RawCounter so the diff shows it.
func pick(out []model.RawCounter, keys []model.CounterKey) []model.RawCounter {
	got := make([]model.RawCounter, len(keys))
	for i, k := range keys {
		for _, c := range out {
			if c.Key() == k {
				got[i] = c
			}
		}
	}
	return got
}

func keysOf(cs []model.RawCounter) []model.CounterKey {
	ks := make([]model.CounterKey, len(cs))
	for i, c := range cs {
		ks[i] = c.Key()
	}
	return ks
}

func rc(layer model.Layer, source, group, inst, name string, kind model.CounterKind, v uint64) model.RawCounter {
	return model.RawCounter{Layer: layer, Source: source, Group: group, Instance: inst, Name: name, Kind: kind, Value: v}
}

const (
	ctr   = model.KindCounter
	gauge = model.KindGauge
)

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		name   string
		file   string // under testdata
		parse  func(io.Reader) ([]model.RawCounter, error)
		count  int
		want   []model.RawCounter
		absent []model.CounterKey
	}{
		{
			name: "snmp 6.18", file: "proc/net/snmp", parse: parseNetSNMP,
			count: 20 + 29 + 1 + 14 + 9 + 9, // Tcp MaxConn (-1) skipped
			want: []model.RawCounter{
				rc(model.LayerIP, SourceSNMP, "Ip", "", "Forwarding", gauge, 2),
				rc(model.LayerIP, SourceSNMP, "Ip", "", "DefaultTTL", gauge, 64),
				rc(model.LayerIP, SourceSNMP, "Ip", "", "InReceives", ctr, 11927),
				rc(model.LayerIP, SourceSNMP, "Ip", "", "InHdrErrors", ctr, 0),
				rc(model.LayerIP, SourceSNMP, "Ip", "", "OutTransmits", ctr, 8984),
				rc(model.LayerIP, SourceSNMP, "IcmpMsg", "", "InType3", ctr, 1),
				rc(model.LayerTransport, SourceSNMP, "Tcp", "", "RtoAlgorithm", gauge, 1),
				rc(model.LayerTransport, SourceSNMP, "Tcp", "", "RtoMin", gauge, 200),
				rc(model.LayerTransport, SourceSNMP, "Tcp", "", "RtoMax", gauge, 120000),
				rc(model.LayerTransport, SourceSNMP, "Tcp", "", "ActiveOpens", ctr, 85),
				rc(model.LayerTransport, SourceSNMP, "Tcp", "", "CurrEstab", gauge, 0),
				rc(model.LayerTransport, SourceSNMP, "Tcp", "", "OutRsts", ctr, 6),
				rc(model.LayerTransport, SourceSNMP, "Udp", "", "InErrors", ctr, 0),
				rc(model.LayerTransport, SourceSNMP, "Udp", "", "OutDatagrams", ctr, 68),
				rc(model.LayerTransport, SourceSNMP, "Udp", "", "MemErrors", ctr, 0),
				rc(model.LayerTransport, SourceSNMP, "UdpLite", "", "InDatagrams", ctr, 0),
			},
			absent: []model.CounterKey{{Source: SourceSNMP, Group: "Tcp", Name: "MaxConn"}},
		},
		{
			name: "snmp 4.x (procfs fixture, no OutTransmits)", file: "old/snmp", parse: parseNetSNMP,
			count: 19 + 27 + 2 + 14 + 8 + 8,
			want: []model.RawCounter{
				rc(model.LayerIP, SourceSNMP, "Ip", "", "InReceives", ctr, 594223),
				rc(model.LayerIP, SourceSNMP, "IcmpMsg", "", "OutType3", ctr, 50),
				rc(model.LayerTransport, SourceSNMP, "Tcp", "", "CurrEstab", gauge, 15),
				rc(model.LayerTransport, SourceSNMP, "Udp", "", "IgnoredMulti", ctr, 58),
			},
			absent: []model.CounterKey{{Source: SourceSNMP, Group: "Ip", Name: "OutTransmits"}},
		},
		{
			name: "netstat 6.18", file: "proc/net/netstat", parse: parseNetNetstat,
			count: 135 + 18 + 76,
			want: []model.RawCounter{
				rc(model.LayerTransport, SourceNetstat, "TcpExt", "", "ListenDrops", ctr, 0),
				rc(model.LayerTransport, SourceNetstat, "TcpExt", "", "ListenOverflows", ctr, 0),
				rc(model.LayerIP, SourceNetstat, "TcpExt", "", "IPReversePathFilter", ctr, 0),
				rc(model.LayerIP, SourceNetstat, "IpExt", "", "InNoRoutes", ctr, 0),
				rc(model.LayerTransport, SourceNetstat, "MPTcpExt", "", "MPCurrEstab", gauge, 0),
				rc(model.LayerTransport, SourceNetstat, "MPTcpExt", "", "WinProbe", ctr, 0),
			},
		},
		{
			name: "netstat 4.x", file: "old/netstat", parse: parseNetNetstat,
			count: 113 + 18,
			want: []model.RawCounter{
				rc(model.LayerTransport, SourceNetstat, "TcpExt", "", "TW", ctr, 83),
				rc(model.LayerTransport, SourceNetstat, "TcpExt", "", "TCPWqueueTooBig", ctr, 0),
				rc(model.LayerIP, SourceNetstat, "IpExt", "", "InOctets", ctr, 190585481),
			},
		},
		{
			name: "snmp6 6.18", file: "proc/net/snmp6", parse: parseNetSNMP6,
			count: 90,
			want: []model.RawCounter{
				rc(model.LayerIP, SourceSNMP6, "Ip6", "", "InReceives", ctr, 1),
				rc(model.LayerIP, SourceSNMP6, "Icmp6", "", "InType1", ctr, 1),
				rc(model.LayerTransport, SourceSNMP6, "Udp6", "", "InErrors", ctr, 0),
				rc(model.LayerTransport, SourceSNMP6, "UdpLite6", "", "NoPorts", ctr, 0),
			},
		},
		{
			name: "snmp6 4.x", file: "old/snmp6", parse: parseNetSNMP6,
			count: 92,
			want: []model.RawCounter{
				rc(model.LayerIP, SourceSNMP6, "Ip6", "", "InReceives", ctr, 92166),
			},
		},
		{
			name: "softnet 6.18, 15 columns", file: "proc/net/softnet_stat", parse: parseNetSoftnetStat,
			count: 2 * 9,
			want: []model.RawCounter{
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu0", "processed", ctr, 0x5f),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu1", "processed", ctr, 0x2e3c),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu1", "dropped", ctr, 0),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu1", "backlog_len", gauge, 0),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu1", "input_qlen", gauge, 0),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu1", "process_qlen", gauge, 0),
			},
		},
		{
			// Lines of 13, 13, 11, 9 and 10 columns (procfs's fixture): the
			// first two carry their CPU index, the others are numbered by
			// position.
			name: "softnet mixed widths", file: "old/softnet_stat-mixed", parse: parseNetSoftnetStat,
			count: 7 + 7 + 6 + 4 + 5,
			want: []model.RawCounter{
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu0", "processed", ctr, 0x358fe3),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu0", "received_rps", ctr, 0x855fc),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu1", "backlog_len", gauge, 0xdc),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu1", "time_squeeze", ctr, 0xb1),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu2", "time_squeeze", ctr, 0xf0000769),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu2", "flow_limit_count", ctr, 2),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu3", "cpu_collision", ctr, 0x20e76),
				rc(model.LayerSoftnet, SourceSoftnet, "", "cpu4", "received_rps", ctr, 0x10),
			},
			absent: []model.CounterKey{{Source: SourceSoftnet, Instance: "cpu3", Name: "received_rps"}},
		},
		{
			name: "dev 6.18", file: "proc/net/dev", parse: parseNetDev,
			count: 4 * 16,
			want: []model.RawCounter{
				rc(model.LayerNIC, SourceDev, "Receive", "lo", "bytes", ctr, 40183),
				rc(model.LayerNIC, SourceDev, "Receive", "eth0", "bytes", ctr, 426627369),
				rc(model.LayerNIC, SourceDev, "Receive", "eth0", "drop", ctr, 0),
				rc(model.LayerNIC, SourceDev, "Transmit", "eth0", "packets", ctr, 8800),
				rc(model.LayerNIC, SourceDev, "Transmit", "eth0", "carrier", ctr, 0),
			},
		},
		{
			name: "dev 4.x", file: "old/dev", parse: parseNetDev,
			count: 2 * 16,
			want: []model.RawCounter{
				rc(model.LayerNIC, SourceDev, "Transmit", "eth0", "bytes", ctr, 648),
			},
		},
		{
			name: "xfrm_stat 6.18", file: "proc/net/xfrm_stat", parse: parseNetXfrmStat,
			count: 32,
			want: []model.RawCounter{
				rc(model.LayerIPsec, SourceXfrmStat, "", "", "XfrmInError", ctr, 0),
				rc(model.LayerIPsec, SourceXfrmStat, "", "", "XfrmOutNoQueueSpace", ctr, 0),
			},
		},
		{
			name: "xfrm_stat procfs fixture", file: "old/xfrm_stat", parse: parseNetXfrmStat,
			count: 28,
			want: []model.RawCounter{
				rc(model.LayerIPsec, SourceXfrmStat, "", "", "XfrmInHdrError", ctr, 4),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := parseFile(t, tt.parse, filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != tt.count {
				t.Errorf("got %d counters, want %d", len(out), tt.count)
			}
			if diff := cmp.Diff(tt.want, pick(out, keysOf(tt.want))); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			seen := map[model.CounterKey]bool{}
			for _, c := range out {
				if seen[c.Key()] {
					t.Errorf("duplicate key %+v", c.Key())
				}
				seen[c.Key()] = true
				if c.Layer.Rank() >= len(model.Layers) || c.Kind == "" || c.Name == "" {
					t.Errorf("incomplete counter %+v", c)
				}
			}
			for _, k := range tt.absent {
				if seen[k] {
					t.Errorf("%+v should not be reported", k)
				}
			}
		})
	}
}

func TestParseBroken(t *testing.T) {
	tests := []struct {
		file  string // under testdata/broken
		parse string // key of parsers
		want  string // in the error message
	}{
		{"snmp-count-mismatch", "snmp", "/proc/net/snmp line 10: group Udp has 9 names but 8 values"},
		{"snmp-truncated", "snmp", "line 8: group Tcp has 15 names but 3 values"},
		{"snmp-header-only", "snmp", "line 7: group Tcp has a header but no values line"},
		{"snmp-nonnumeric", "snmp", `line 2: Ip DefaultTTL: "sixty-four" is not a decimal number`},
		{"snmp-overflow", "snmp", `line 10: Udp InDatagrams: "18446744073709551616" overflows 64 bits`},
		{"snmp-group-mismatch", "snmp", `line 4: values line does not start with "Icmp:"`},
		{"snmp-no-colon", "snmp", `line 1: header "Ip Forwarding`},
		{"empty", "snmp", "parse /proc/net/snmp: empty file"},
		{"netstat-count-mismatch", "netstat", "/proc/net/netstat line 2: group TcpExt has 135 names but 136 values"},
		{"empty", "netstat", "empty file"},
		{"snmp6-three-fields", "snmp6", `/proc/net/snmp6 line 3: want "Name value", got 3 fields`},
		{"snmp6-missing-value", "snmp6", `line 1: want "Name value", got 1 fields in "Ip6InReceives"`},
		{"snmp6-nonnumeric", "snmp6", `line 2: Ip6InHdrErrors: "0x1f" is not a decimal number`},
		{"empty", "snmp6", "empty file"},
		{"softnet-short", "softnet_stat", "/proc/net/softnet_stat line 2: 8 columns, want at least 9"},
		{"softnet-nonhex", "softnet_stat", `line 1: column 2: "0000zz00" is not a hexadecimal number`},
		{"softnet-overflow", "softnet_stat", `line 1: column 1: "100000000000000014" overflows 64 bits`},
		{"empty", "softnet_stat", "empty file"},
		{"dev-no-header", "dev", "/proc/net/dev line 2: header is not"},
		{"dev-short-line", "dev", "line 4: interface ifb0 has 13 values, header has 16 columns"},
		{"dev-no-colon", "dev", `line 5: no "iface:" in`},
		{"dev-nonnumeric", "dev", `line 3: lo Receive errs: "-3" is not a decimal number`},
		{"dev-empty-name", "dev", "line 3: empty interface name"},
		{"empty", "dev", "/proc/net/dev line 0: missing the two header lines"},
		{"xfrm_stat-nonnumeric", "xfrm_stat", `/proc/net/xfrm_stat line 5: XfrmInStateProtoError: "many" is not a decimal number`},
		{"empty", "xfrm_stat", "empty file"},
	}
	for _, tt := range tests {
		t.Run(tt.parse+"/"+tt.file, func(t *testing.T) {
			out, err := parseFile(t, parsers[tt.parse], filepath.Join("testdata", "broken", tt.file))
			if err == nil {
				t.Fatalf("no error; %d counters", len(out))
			}
			if !errors.Is(err, ErrParse) {
				t.Errorf("error %q does not wrap ErrParse", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if len(out) != 0 {
				t.Errorf("%d counters returned with the error", len(out))
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		in      string
		v       uint64
		neg, ok bool
	}{
		{"0", 0, false, true},
		{"18446744073709551615", 1<<64 - 1, false, true},
		{"18446744073709551616", 0, false, false},
		{"99999999999999999999", 0, false, false},
		{"-1", 1, true, true},
		{"-0", 0, false, true},
		{"+7", 7, false, true},
		{"-", 0, false, false},
		{"", 0, false, false},
		{"1e3", 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, neg, err := parseValue([]byte(tt.in))
			if diff := cmp.Diff([3]any{tt.v, tt.neg, tt.ok}, [3]any{v, neg, err == nil}); err == nil && diff != "" || (err == nil) != tt.ok {
				t.Errorf("(-want +got)\n%s (err %v)", diff, err)
			}
		})
	}
}

// TestIcmpMsgAbsent: a kernel that has sent and received no ICMP prints no
// IcmpMsg lines at all (a fresh network namespace).
func TestIcmpMsgAbsent(t *testing.T) {
	in := "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm MaxConn CurrEstab\nTcp: 1 -1 3\n"
	out, err := parseNetSNMP(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []model.RawCounter{
		rc(model.LayerIP, SourceSNMP, "Ip", "", "Forwarding", gauge, 1),
		rc(model.LayerIP, SourceSNMP, "Ip", "", "DefaultTTL", gauge, 64),
		rc(model.LayerTransport, SourceSNMP, "Tcp", "", "RtoAlgorithm", gauge, 1),
		rc(model.LayerTransport, SourceSNMP, "Tcp", "", "CurrEstab", gauge, 3),
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// TestReaders reads the copies of this machine's files through the
// readers, with testdata/proc as the proc root.
func TestReaders(t *testing.T) {
	root := filepath.Join("testdata", "proc")
	readers := map[string]func(string) ([]model.RawCounter, error){
		"snmp": NetSNMP, "netstat": NetNetstat, "snmp6": NetSNMP6, "softnet_stat": NetSoftnetStat,
		"dev": NetDev, "xfrm_stat": NetXfrmStat, "sockstat": NetSockstat, "sockstat6": NetSockstat6,
	}
	for name, read := range readers {
		t.Run(name, func(t *testing.T) {
			out, err := read(root)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) == 0 {
				t.Fatal("no counters")
			}
			if p, ok := parsers[name]; ok {
				want, err := parseFile(t, p, filepath.Join(root, "net", name))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, out); diff != "" {
					t.Errorf("reader and parser differ (-want +got)\n%s", diff)
				}
			}
		})
	}
	if _, err := NetSNMP(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want os.ErrNotExist", err)
	}
}

func TestSockstat(t *testing.T) {
	out, err := NetSockstat(filepath.Join("testdata", "proc"))
	if err != nil {
		t.Fatal(err)
	}
	want := []model.RawCounter{
		rc(model.LayerSocket, SourceSockstat, "sockets", "", "used", gauge, 14),
		rc(model.LayerSocket, SourceSockstat, "TCP", "", "inuse", gauge, 1),
		rc(model.LayerSocket, SourceSockstat, "TCP", "", "orphan", gauge, 0),
		rc(model.LayerSocket, SourceSockstat, "TCP", "", "tw", gauge, 4),
		rc(model.LayerSocket, SourceSockstat, "TCP", "", "alloc", gauge, 1),
		rc(model.LayerSocket, SourceSockstat, "TCP", "", "mem", gauge, 0),
		rc(model.LayerSocket, SourceSockstat, "UDP", "", "inuse", gauge, 0),
		rc(model.LayerSocket, SourceSockstat, "UDP", "", "mem", gauge, 0),
		rc(model.LayerSocket, SourceSockstat, "UDPLITE", "", "inuse", gauge, 0),
		rc(model.LayerSocket, SourceSockstat, "RAW", "", "inuse", gauge, 0),
		rc(model.LayerIP, SourceSockstat, "FRAG", "", "inuse", gauge, 0),
		rc(model.LayerIP, SourceSockstat, "FRAG", "", "memory", gauge, 0),
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	out6, err := NetSockstat6(filepath.Join("testdata", "proc"))
	if err != nil {
		t.Fatal(err)
	}
	if len(out6) != 6 || out6[0].Group != "TCP6" || out6[5].Layer != model.LayerIP {
		t.Errorf("sockstat6: %+v", out6)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "net", "sockstat"), []byte("TCP: inuse x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NetSockstat(dir); !errors.Is(err, ErrParse) {
		t.Errorf("broken sockstat: got %v, want ErrParse", err)
	}
}

// fuzzParser checks that parse never panics, and that what it returns is
// either an ErrParse with no counters or well-formed counters.
func fuzzParser(f *testing.F, parse func(io.Reader) ([]model.RawCounter, error), seeds ...string) {
	for _, s := range seeds {
		for _, dir := range []string{"proc/net", "old", "broken"} {
			matches, _ := filepath.Glob(filepath.Join("testdata", dir, s+"*"))
			for _, m := range matches {
				b, err := os.ReadFile(m)
				if err == nil {
					f.Add(b)
				}
			}
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := parse(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error %v does not wrap ErrParse", err)
			}
			if len(out) != 0 {
				t.Fatalf("%d counters returned with an error", len(out))
			}
			return
		}
		for _, c := range out {
			if c.Name == "" || c.Source == "" || c.Kind == "" || c.Layer == "" {
				t.Fatalf("incomplete counter %+v", c)
			}
		}
	})
}

func FuzzParseNetSNMP(f *testing.F)     { fuzzParser(f, parseNetSNMP, "snmp") }
func FuzzParseNetNetstat(f *testing.F)  { fuzzParser(f, parseNetNetstat, "netstat", "snmp") }
func FuzzParseNetSNMP6(f *testing.F)    { fuzzParser(f, parseNetSNMP6, "snmp6") }
func FuzzParseNetSoftnet(f *testing.F)  { fuzzParser(f, parseNetSoftnetStat, "softnet") }
func FuzzParseNetDev(f *testing.F)      { fuzzParser(f, parseNetDev, "dev") }
func FuzzParseNetXfrmStat(f *testing.F) { fuzzParser(f, parseNetXfrmStat, "xfrm_stat") }

// TestRepeatedInstances: a line repeated by a racing multi-read seq_file
// walk is reported once.
func TestRepeatedInstances(t *testing.T) {
	dev := "Inter-| Receive | Transmit\n face |bytes packets|bytes packets\n  lo: 1 2 3 4\n  lo: 1 2 3 4\n eth0: 5 6 7 8\n"
	out, err := parseNetDev(strings.NewReader(dev))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 8 {
		t.Errorf("%d counters, want 8: %+v", len(out), out)
	}
	softnet := strings.Repeat("00000001 00000002 00000003 0 0 0 0 0 0 0 0 0 00000000 0 0\n", 2)
	out, err = parseNetSoftnetStat(strings.NewReader(softnet))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 9 {
		t.Errorf("%d counters, want 9", len(out))
	}
}
