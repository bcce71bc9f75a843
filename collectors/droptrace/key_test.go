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

// TestAggregatorRowsKeptWhileQuiet checks that a read in which nothing
// changed returns the previous read's flow and reason slices (the UI
// then skips joining thousands of flows to every socket), and that a
// drop, a cleared delta or a forgotten flow makes new ones.
func TestAggregatorRowsKeptWhileQuiet(t *testing.T) {
	a := newAggregator(&Reasons{names: map[uint32]string{3: "NO_SOCKET"}}, 1, nil)
	key := func(port uint16) flowKey {
		return flowKey{Location: 0x10, Reason: 3, L3: ethPIP, L4: protoUDP, Flags: flagParsed | flagL4,
			Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.1"), SPort: 1, DPort: port}
	}
	clk := clock{wall: time.Unix(1000, 0), mono: 1000}
	type rows struct {
		flows   []model.DropTraceFlow
		reasons []model.DropTraceReason
	}
	var ns uint64
	read := func(adds ...flowKey) rows {
		a.begin()
		for _, k := range adds {
			ns += 100 // the newer flow is kept
			a.add(k, flowVal{Packets: 1, Bytes: 60, FirstNs: ns, LastNs: ns}, clk)
		}
		a.end()
		return rows{a.flowRows(clk), a.reasonRows()}
	}
	same := func(x, y rows) bool {
		return &x.flows[0] == &y.flows[0] && &x.reasons[0] == &y.reasons[0]
	}
	r1 := read(key(1))
	r2 := read() // the delta of 1 cleared: new rows
	if same(r1, r2) || r2.flows[0].Delta != 0 || r2.reasons[0].Delta != 0 {
		t.Fatalf("a cleared delta kept the rows: %+v", r2.flows)
	}
	if r3 := read(); !same(r2, r3) {
		t.Error("a quiet read made new rows")
	}
	r4 := read(key(2)) // a drop, and flow 1 forgotten (maxFlows 1)
	if same(r2, r4) || len(r4.flows) != 1 || r4.flows[0].DstPort != 2 || r4.reasons[0].Packets != 2 {
		t.Errorf("after a drop: %+v %+v", r4.flows, r4.reasons)
	}
}
