package droptrace

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/collectors/capture"
	"netlens/model"
)

func TestKeyRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		key  flowKey
	}{
		{"udp4", flowKey{Location: 0xffffffff81a0b0c0, Cookie: 42, Netns: 4026531840, Reason: 3, Ifindex: 1, L3: ethPIP, L4: protoUDP, Flags: flagParsed | flagL4,
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SPort: 5353, DPort: 53}},
		{"icmpv6 fragment", flowKey{Reason: 77, L3: ethPIPv6, L4: protoICMPv6, Flags: flagParsed | flagFragment | flagL4,
			Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"), SPort: 128, DPort: 0}},
		{"not parsed", flowKey{Reason: 2, L3: 0x0806}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encodeKey(tt.key)
			got, err := decodeKey(b[:])
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.key, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	if _, err := decodeKey(make([]byte, keySize-1)); err == nil {
		t.Error("short key accepted")
	}
	if _, err := decodeVal(make([]byte, valSize+1)); err == nil {
		t.Error("long value accepted")
	}
	b := encodeKey(flowKey{L3: 0x0806, Flags: flagParsed})
	if _, err := decodeKey(b[:]); err == nil {
		t.Error("parsed ARP key accepted")
	}
}

// TestAggregatorDrains adds four drains of one flow: each drain's
// packets are its delta and add to the flow's total and to Attributed;
// an empty drain leaves the total and makes the delta 0.
func TestAggregatorDrains(t *testing.T) {
	a := newAggregator(&Reasons{names: map[uint32]string{3: "NO_SOCKET"}}, 10, nil)
	k := flowKey{Location: 0x10, Reason: 3, L3: ethPIP, L4: protoUDP, Flags: flagParsed | flagL4,
		Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.1"), SPort: 1, DPort: 2}
	clk := clock{wall: time.Unix(1000, 0), mono: 1000}
	read := func(v flowVal) model.DropTraceFlow {
		a.begin()
		a.add(k, v, clk)
		a.end()
		return a.flowRows(clk)[0]
	}
	steps := []struct {
		v                 flowVal
		delta, total, att uint64
	}{
		{flowVal{Packets: 5, Bytes: 500, FirstNs: 100, LastNs: 200}, 5, 5, 5},
		{flowVal{Packets: 2, Bytes: 200, FirstNs: 250, LastNs: 300}, 2, 7, 7},
		{flowVal{Packets: 3, Bytes: 300, FirstNs: 400, LastNs: 500}, 3, 10, 10},
		{flowVal{}, 0, 10, 10}, // nothing dropped since
	}
	for i, s := range steps {
		f := read(s.v)
		if f.Delta != s.delta || f.Packets != s.total || a.attributed != s.att {
			t.Errorf("step %d: delta %d packets %d attributed %d, want %d %d %d", i, f.Delta, f.Packets, a.attributed, s.delta, s.total, s.att)
		}
	}
	rows := a.reasonRows()
	want := []model.DropTraceReason{{Reason: "NO_SOCKET", Code: 3, Location: "0x10", Function: "0x10", Layer: model.LayerTransport,
		Packets: 10, Bytes: 1000, Delta: 0, LastSeen: clk.at(500)}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("reasons (-want +got)\n%s", diff)
	}
	// Unknown reasons are numbers.
	if got := a.reasons.Name(999); got != "999" {
		t.Errorf("Name(999) = %q", got)
	}
}

func FuzzDecodeKey(f *testing.F) {
	addSeeds(f, "keys")
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := decodeKey(b)
		if err != nil {
			return
		}
		if k.Flags&flagParsed != 0 && !k.Src.IsValid() {
			t.Fatal("parsed key without addresses")
		}
		// Decoding what it encodes gives the key back.
		e := encodeKey(k)
		k2, err := decodeKey(e[:])
		if err != nil || k2 != k {
			t.Fatalf("round trip: %+v != %+v (%v)", k2, k, err)
		}
	})
}

func FuzzDecodeVal(f *testing.F) {
	addSeeds(f, "vals")
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeVal(b)
		if err != nil {
			return
		}
		a := newAggregator(&Reasons{}, 1, nil)
		a.add(flowKey{}, v, clock{})
		if a.attributed != v.Packets {
			t.Fatalf("attributed %d of a new flow with %d packets", a.attributed, v.Packets)
		}
	})
}

// addSeeds adds every file under testdata/<dir> to the corpus.
func addSeeds(f *testing.F, dir string) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata/%s", dir)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// TestAggregatorForgetsOldest keeps maxFlows flows, the most recently
// dropped; the forgotten ones stay attributed.
func TestAggregatorForgetsOldest(t *testing.T) {
	a := newAggregator(&Reasons{}, 2, nil)
	a.begin()
	for i := range 3 {
		a.add(flowKey{Flags: flagL4, DPort: uint16(i)}, flowVal{Packets: 1, FirstNs: uint64(i), LastNs: uint64(10 + i)}, clock{})
	}
	a.end()
	var ports []uint16
	for _, f := range a.flowRows(clock{}) {
		ports = append(ports, f.DstPort)
	}
	if diff := cmp.Diff([]uint16{2, 1}, ports); diff != "" || a.attributed != 3 {
		t.Errorf("flows kept (-want +got)\n%s; attributed %d, want 3", diff, a.attributed)
	}
}

// TestFlowValAdd sums values: empty slots (zero packets) do not
// move first/last.
func TestFlowValAdd(t *testing.T) {
	slots := []flowVal{{}, {Packets: 2, Bytes: 20, FirstNs: 50, LastNs: 60}, {}, {Packets: 1, Bytes: 5, FirstNs: 40, LastNs: 45}}
	var sum flowVal
	for _, v := range slots {
		sum = sum.add(v)
	}
	if diff := cmp.Diff(flowVal{Packets: 3, Bytes: 25, FirstNs: 40, LastNs: 60}, sum); diff != "" {
		t.Errorf("sum (-want +got)\n%s", diff)
	}
}

func FuzzDecodeSample(f *testing.F) {
	addSeeds(f, "samples")
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSample(b)
		if err != nil {
			return
		}
		if len(s.Data) > sampleBytes {
			t.Fatalf("%d header bytes", len(s.Data))
		}
		// The headers decode without a panic, whatever they hold.
		p := capture.DescribeIP(s.Data, time.Time{}, int(s.Len))
		if p.CaptureLength != len(s.Data) {
			t.Fatalf("capture length %d, want %d", p.CaptureLength, len(s.Data))
		}
	})
}
