package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// oracleExprs are checked against tcpdump over testdata/mixed.pcap.
var oracleExprs = []string{
	"tcp", "udp", "icmp", "icmp6", "arp", "ip", "ip6", "vlan", "vlan 10", "vlan 20", "not vlan",
	"host 10.0.0.1", "src host 10.0.0.1", "dst host 10.0.0.2", "ip host 10.0.0.1", "arp host 10.0.0.2",
	"host 2001:db8::1", "ip6 src host 2001:db8::1", "dst host fe80::1",
	"net 10.0.0.0/8", "net 10.0.0.0/24", "src net 192.168.0.0/16", "net 2001:db8::/32", "dst net 2001:db8:1::/48",
	"port 53", "src port 80", "dst port 443", "tcp port 80", "udp port 53", "tcp dst port 22", "udp src port 5353",
	"portrange 1000-2000", "src portrange 1-1024", "tcp portrange 400-500", "port 65535",
	"tcp or udp", "tcp and not port 22", "not (tcp or udp)", "(tcp or icmp) and host 10.0.0.2",
	"host 10.0.0.1 and (port 80 or port 443)", "host 10.0.0.1 or 10.0.0.2", "port 80 or 443 or 53",
	"vlan and udp", "vlan and tcp port 80", "vlan and vlan", "vlan 100 and vlan 20 and udp", "vlan and host 10.0.0.1",
	"ip6 and tcp port 80", "icmp6 || arp", "!ip && !ip6", "ip and not tcp and not udp",
	"udp and not (port 53 or port 5353)", "ip6 and not ip6 host 2001:db8::2",
	"net 0.0.0.0/0", "ip6 net ::/0", "not net 0.0.0.0/0", "src net 10.0.0.0/31",
}

// readMixed returns the frames of testdata/mixed.pcap and their
// timestamps as tcpdump -tt prints them.
func readMixed(t testing.TB) ([][]byte, []string) {
	t.Helper()
	frames, stamps, _ := readPcap(t, "testdata/mixed.pcap")
	return frames, stamps
}

// readPcap returns the frames of a pcap file, their timestamps as tcpdump
// -tt prints them, and the link type.
func readPcap(t testing.TB, path string) ([][]byte, []string, layers.LinkType) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	var stamps []string
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, data)
		stamps = append(stamps, fmt.Sprintf("%d.%06d", ci.Timestamp.Unix(), ci.Timestamp.Nanosecond()/1000))
	}
	return frames, stamps, r.LinkType()
}

// TestFilterMatchesTcpdump: for each expression, the packets the compiled
// program accepts are exactly those tcpdump accepts: over the mixed
// Ethernet capture, and over real `tcpdump -i any` captures (LINUX_SLL and
// LINUX_SLL2, where "vlan" does not apply).
func TestFilterMatchesTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed (apt-get install tcpdump): it is the oracle")
	}
	for _, path := range []string{"testdata/mixed.pcap", "testdata/any-sll.pcap", "testdata/any-sll2.pcap"} {
		frames, stamps, lt := readPcap(t, path)
		accepted := 0
		for _, expr := range oracleExprs {
			if lt != layers.LinkTypeEthernet && strings.Contains(expr, "vlan") {
				continue
			}
			t.Run(filepath.Base(path)+"/"+expr, func(t *testing.T) {
				out, err := exec.Command(tcpdump, "-tt", "-nn", "-r", path, expr).Output()
				if err != nil {
					t.Fatalf("tcpdump %q: %v", expr, err)
				}
				var want []string
				for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					if l != "" {
						want = append(want, strings.Fields(l)[0])
					}
				}
				f, err := CompileFor(expr, lt)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for i, fr := range frames {
					if f.Match(fr, len(fr)) {
						got = append(got, stamps[i])
					}
				}
				accepted += len(want)
				if len(want) == 0 && lt == layers.LinkTypeEthernet {
					t.Errorf("tcpdump accepts no packet: the fixture does not exercise %q", expr)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("accepted packets differ from tcpdump's (-want +got):\n%s", diff)
				}
			})
		}
		if accepted < 100 {
			t.Errorf("%s: tcpdump accepted only %d packets over all expressions", path, accepted)
		}
	}
}

func TestFilterRefusesUnsupported(t *testing.T) {
	for _, expr := range []string{
		"", "ether host 02:00:00:00:00:01", "tcp[13] & 2 != 0", "less 100", "greater 100", "gateway x",
		"host example.com", "port http", "portrange 10", "net 10.0.0.1/8", "src or dst host 10.0.0.1",
		"proto 47", "sctp", "(tcp", "tcp)", "tcp and", "not", "host", "vlan 5000", "icmp port 80",
		"ip6 host 10.0.0.1", "broadcast", "tcp host 10.0.0.1", "src", "port 1-2", "port 99999", "a=b",
	} {
		t.Run(expr, func(t *testing.T) {
			_, err := Compile(expr)
			if !errors.Is(err, ErrFilter) {
				t.Fatalf("Compile(%q) = %v, want an error wrapping ErrFilter", expr, err)
			}
		})
	}
}

func TestFilterKernelProgram(t *testing.T) {
	f, err := Compile("tcp port 80")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Kernel) != len(f.Program)+3 {
		t.Fatalf("kernel program has %d instructions, want %d", len(f.Kernel), len(f.Program)+3)
	}
	for _, tt := range []struct {
		f    *Filter
		lo   int
		want int
	}{{nil, 1, 6}, {nil, 0, 1}, {f, 1, 5 + len(f.Kernel)}} {
		raw, err := kernelProgram(tt.f, tt.lo)
		if err != nil || len(raw) != tt.want {
			t.Errorf("kernelProgram(lo %d) = %d instructions, %v; want %d", tt.lo, len(raw), err, tt.want)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, e := range oracleExprs {
		f.Add(e)
	}
	f.Add("((((tcp))))")
	f.Add("not not not udp")
	frames, _ := readMixed(f)
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := Compile(expr)
		if err != nil {
			if !errors.Is(err, ErrFilter) {
				t.Fatalf("error does not wrap ErrFilter: %v", err)
			}
			return
		}
		for _, fr := range frames[:20] {
			flt.Match(fr, len(fr))
		}
	})
}
