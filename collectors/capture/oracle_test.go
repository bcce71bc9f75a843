package capture

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// notFrag excludes IP fragments: tshark (with reassembly off) dissects the
// transport header of a first fragment; netlens counts every fragment as
// "fragment" and none as TCP, UDP or ICMP.
const notFrag = "!(ip.flags.mf==1 || ip.frag_offset>0 || ipv6.fraghdr)"

// tsharkFilters are the display filters whose packet counts equal
// netlens's per-protocol counts.
var tsharkFilters = map[string]string{
	"eth":      "eth",
	"vlan":     "vlan",
	"arp":      "arp && (eth.type==0x0806 || sll.etype==0x0806)", // tshark counts RARP as arp
	"ipv4":     "ip",
	"ipv6":     "ipv6",
	"fragment": "!(" + notFrag + ")",
	// An ICMP error quotes the header of the packet it is about:
	// tshark's "udp" matches it, netlens counts it as ICMP only.
	"tcp":    "tcp && !icmp && !icmpv6 && " + notFrag,
	"udp":    "udp && !icmp && !icmpv6 && " + notFrag,
	"icmp":   "icmp && " + notFrag,
	"icmpv6": "icmpv6 && " + notFrag,
	// netlens decodes DNS over UDP port 53 only (not mDNS, not over
	// TCP); a malformed DNS message is a decode error.
	"dns": "dns && udp.port==53 && !icmp && !icmpv6 && " + notFrag + " && !_ws.malformed",
}

// flowCount is one direction-independent flow's counts.
type flowCount struct {
	PacketsAToB, BytesAToB, PacketsBToA, BytesBToA uint64
}

// tsharkCounts reads a capture file with tshark and returns the packet
// count per netlens protocol name and the TCP and UDP flows (fragments
// excluded), aggregated as netlens aggregates them. lim, when not "", is
// a display filter ending in "&& " that selects the frames to count.
func tsharkCounts(t *testing.T, path, lim string) (map[string]uint64, map[string]flowCount) {
	t.Helper()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install tshark): it is the oracle")
	}
	run := func(args ...string) string {
		args = append([]string{"-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"}, args...)
		out, err := exec.Command(tshark, args...).Output()
		if err != nil {
			t.Fatalf("tshark %q: %v", args, err)
		}
		return string(out)
	}
	// One pass for every filter: io,stat counts the frames each matches.
	names := slices.Sorted(maps.Keys(tsharkFilters))
	stat := "io,stat,0"
	for _, name := range names {
		stat += "," + lim + "(" + tsharkFilters[name] + ")"
	}
	protos := map[string]uint64{}
	for _, l := range strings.Split(run("-q", "-z", stat), "\n") {
		if !strings.Contains(l, "<>") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(l), "|"), "|")
		if len(cells) != 1+2*len(names) {
			t.Fatalf("tshark io,stat row %q: want %d columns", l, 1+2*len(names))
		}
		for i, name := range names {
			n, err := strconv.ParseUint(strings.TrimSpace(cells[1+2*i]), 10, 64)
			if err != nil {
				t.Fatalf("tshark io,stat row %q: %v", l, err)
			}
			if n > 0 {
				protos[name] = n
			}
		}
	}
	flows := map[string]flowCount{}
	out := run("-Y", lim+"(tcp || udp) && !icmp && !icmpv6 && "+notFrag, "-T", "fields", "-E", "separator=,", "-E", "aggregator=;",
		"-e", "frame.len", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst",
		"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "udp.dstport")
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		f := strings.Split(l, ",")
		n, _ := strconv.ParseUint(f[0], 10, 64)
		src, dst, proto, sp, dp := f[1], f[2], "tcp", f[5], f[6]
		if src == "" {
			src, dst = f[3], f[4]
		}
		if sp == "" {
			proto, sp, dp = "udp", f[7], f[8]
		}
		// tshark prints every value of a repeated field (tunnels): keep
		// the outermost.
		src, dst = strings.Split(src, ";")[0], strings.Split(dst, ";")[0]
		sPort, _ := strconv.ParseUint(sp, 10, 16)
		dPort, _ := strconv.ParseUint(dp, 10, 16)
		a := netip.AddrPortFrom(netip.MustParseAddr(src), uint16(sPort))
		b := netip.AddrPortFrom(netip.MustParseAddr(dst), uint16(dPort))
		fwd := compareAddrPort(a, b) <= 0
		if !fwd {
			a, b = b, a
		}
		pr, err := model.ParseProto(proto)
		if err != nil {
			t.Fatal(err)
		}
		k := model.CaptureFlowKey{Proto: pr, A: a, B: b}.String()
		c := flows[k]
		if fwd {
			c.PacketsAToB++
			c.BytesAToB += n
		} else {
			c.PacketsBToA++
			c.BytesBToA += n
		}
		flows[k] = c
	}
	return protos, flows
}

// netlensCounts replays a file through the engine.
func netlensCounts(t *testing.T, path string, limit int) (*engine, map[string]uint64, map[string]flowCount) {
	t.Helper()
	e, err := newEngine(Options{File: path, Count: limit})
	if err != nil {
		t.Fatal(err)
	}
	src, err := openFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := e.setLink(src.link); err != nil {
		t.Fatal(err)
	}
	if err := e.run(context.Background(), src, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	protos := map[string]uint64{}
	for i, name := range model.CaptureProtocols {
		if _, ok := tsharkFilters[name]; ok && e.st.protoPkts[i] > 0 {
			protos[name] = e.st.protoPkts[i]
		}
	}
	flows := map[string]flowCount{}
	for k, f := range e.st.flows.All() {
		if k.Proto == model.ProtoTCP || k.Proto == model.ProtoUDP {
			flows[k.String()] = flowCount{f.pktsAB, f.bytesAB, f.pktsBA, f.bytesBA}
		}
	}
	return e, protos, flows
}

// TestCountsMatchTshark: over the well-formed part of the mixed capture
// (its first 300 frames), netlens's per-protocol and per-flow counts are
// tshark's.
func TestCountsMatchTshark(t *testing.T) {
	const path, clean = "testdata/mixed.pcap", 300
	wantP, wantF := tsharkCounts(t, path, fmt.Sprintf("frame.number <= %d && ", clean))
	_, gotP, gotF := netlensCounts(t, path, clean)
	if diff := cmp.Diff(wantP, gotP); diff != "" {
		t.Errorf("per-protocol packets differ from tshark's (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantF, gotF); diff != "" {
		t.Errorf("flows differ from tshark's (-want +got):\n%s", diff)
	}
	if len(wantF) < 50 {
		t.Errorf("only %d flows compared", len(wantF))
	}
}

// TestCountsMatchTsharkCooked: the same over real `tcpdump -i any`
// captures (LINUX_SLL, LINUX_SLL2).
func TestCountsMatchTsharkCooked(t *testing.T) {
	for _, path := range []string{"testdata/any-sll.pcap", "testdata/any-sll2.pcap"} {
		t.Run(path, func(t *testing.T) {
			wantP, wantF := tsharkCounts(t, path, "")
			e, gotP, gotF := netlensCounts(t, path, 0)
			if diff := cmp.Diff(wantP, gotP); diff != "" {
				t.Errorf("per-protocol packets differ from tshark's (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantF, gotF); diff != "" {
				t.Errorf("flows differ from tshark's (-want +got):\n%s", diff)
			}
			for _, name := range []string{"ipv4", "ipv6", "tcp", "udp", "icmp", "icmpv6", "fragment"} {
				if gotP[name] == 0 {
					t.Errorf("no %s packets: the fixture does not exercise it", name)
				}
			}
			// One malformed DNS query ("query\n" sent to port 53).
			if e.st.decodeErrors != 1 {
				t.Errorf("%d decode errors, want 1", e.st.decodeErrors)
			}
		})
	}
}
