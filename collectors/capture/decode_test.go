package capture

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netlens/collectors/internal/bounded"
	"netlens/model"
)

func TestDecodeMalformed(t *testing.T) {
	frames, _ := readMixed(t)
	good := frames[0] // TCP SYN over IPv4
	tests := []struct {
		name    string
		frame   []byte
		wantErr bool
		layers  uint16
	}{
		{"tcp", good, false, layerEth | layerIPv4 | layerTCP},
		{"empty", nil, true, 0},
		{"short ethernet", good[:10], true, 0},
		{"truncated ip", good[:20], true, layerEth},
		{"truncated tcp", good[:40], true, layerEth | layerIPv4},
		{"lldp", frames[len(frames)-6], false, layerEth | layerOther},
	}
	d := newDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pi packetInfo
			d.decode(tt.frame, &pi)
			if pi.err != tt.wantErr || pi.layers != tt.layers {
				t.Errorf("decode: err %v layers %b, want err %v layers %b", pi.err, pi.layers, tt.wantErr, tt.layers)
			}
		})
	}
}

func TestDecodeFlowKey(t *testing.T) {
	frames, _ := readMixed(t)
	d := newDecoder()
	var pi packetInfo
	d.decode(frames[0], &pi) // 10.0.0.1:22 > 10.0.0.2:53
	want := model.CaptureFlowKey{Proto: model.ProtoTCP, A: netip.MustParseAddrPort("10.0.0.1:22"), B: netip.MustParseAddrPort("10.0.0.2:53")}
	if diff := cmp.Diff(want, pi.flow, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" || !pi.aIsSrc {
		t.Errorf("flow (-want +got):\n%s aIsSrc %v", diff, pi.aIsSrc)
	}
}

// FuzzDecode: no frame, of any of the link types netlens decodes, makes
// the decoder, the aggregation, the store or the layer-by-layer
// description panic.
func FuzzDecode(f *testing.F) {
	links := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2}
	for i, path := range []string{"testdata/mixed.pcap", "testdata/any-sll.pcap", "testdata/any-sll2.pcap"} {
		frames, _, _ := readPcap(f, path)
		for _, fr := range frames {
			f.Add(uint8(i), fr)
		}
	}
	var decs []*decoder
	for _, lt := range links {
		decs = append(decs, newDecoderFor(lt))
	}
	st := newStats()
	ps := newPacketStore(16, 4096)
	f.Fuzz(func(t *testing.T, link uint8, frame []byte) {
		i := int(link) % len(links)
		var pi packetInfo
		decs[i].decode(frame, &pi)
		st.add(&pi, time.Unix(1, 0), len(frame), len(frame))
		ps.add(frame, &gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), Length: len(frame), CaptureLength: len(frame)}, &pi)
		describe(frame, links[i], time.Unix(1, 0), len(frame))
	})
}

func TestTableEvictsLeastRecent(t *testing.T) {
	st := newStats()
	st.flows = bounded.New[model.CaptureFlowKey, flowEntry](16, hashFlowKey)
	st.hosts = bounded.New[netip.Addr, hostEntry](16, hashAddr)
	for i := range 100 {
		pi := packetInfo{hasFlow: true, aIsSrc: true,
			src: netip.AddrFrom4([4]byte{10, 0, 0, 1}), dst: netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i)})}
		pi.flow = model.CaptureFlowKey{Proto: model.ProtoUDP, A: netip.AddrPortFrom(pi.src, 1), B: netip.AddrPortFrom(pi.dst, 2)}
		// Flow i has i+1 packets of 100 bytes.
		for range i + 1 {
			st.add(&pi, time.Unix(int64(i), 0), 100, 100)
		}
	}
	if st.flows.Len() > 16 || st.flows.Evicted() == 0 {
		t.Fatalf("%d flows held, %d evicted", st.flows.Len(), st.flows.Evicted())
	}
	var cs model.CaptureStats
	st.snapshot(time.Unix(200, 0), &cs)
	if got := cs.TopFlows[0].Key.B.Addr(); got != netip.AddrFrom4([4]byte{10, 0, 0, 99}) {
		t.Errorf("top flow is to %v, want the biggest and latest (10.0.0.99)", got)
	}
	// A flow held is counted exactly: flow 99 had 100 packets.
	if got := cs.TopFlows[0].Packets(); got != 100 {
		t.Errorf("top flow has %d packets, want 100", got)
	}
	if cs.FlowsEvicted+uint64(cs.FlowsTracked) != 100 {
		t.Errorf("tracked %d + evicted %d != 100", cs.FlowsTracked, cs.FlowsEvicted)
	}
}

func TestPacketStoreBounded(t *testing.T) {
	ps := newPacketStore(8, 1000)
	var pi packetInfo
	for i := range 50 {
		data := bytes.Repeat([]byte{byte(i)}, 100+i)
		ps.add(data, &gopacket.CaptureInfo{Timestamp: time.Unix(int64(i), 0), Length: len(data)}, &pi)
	}
	got := ps.last(nil, 100)
	if len(got) == 0 || len(got) > 8 {
		t.Fatalf("%d packets kept", len(got))
	}
	for _, p := range got {
		want := bytes.Repeat([]byte{p.data[0]}, len(p.data))
		if !bytes.Equal(p.data, want) || len(p.data) != 100+int(p.data[0]) {
			t.Fatalf("packet %d corrupted", p.data[0])
		}
	}
	if got[len(got)-1].data[0] != 49 {
		t.Errorf("last packet is %d, want 49", got[len(got)-1].data[0])
	}
}

// TestPcapngRoundTrip: the pcapng netlens writes opens in tshark with the
// same packet count, and netlens reads it back the same.
func TestPcapngRoundTrip(t *testing.T) {
	e, protos, flows := netlensCounts(t, "testdata/mixed.pcap", 0)
	path := filepath.Join(t.TempDir(), "out.pcapng")
	n, err := e.WritePcapng(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != 305 {
		t.Errorf("wrote %d packets, want 305", n)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("%d files in the directory, want just the pcapng", len(ents))
	}
	_, protos2, flows2 := netlensCounts(t, path, 0)
	if diff := cmp.Diff(protos, protos2); diff != "" {
		t.Errorf("protocols read back (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(flows, flows2); diff != "" {
		t.Errorf("flows read back (-want +got):\n%s", diff)
	}
	if tshark, err := exec.LookPath("tshark"); err == nil {
		out, err := exec.Command(tshark, "-n", "-r", path, "-T", "fields", "-e", "frame.number").Output()
		if err != nil {
			t.Fatalf("tshark cannot read %s: %v", path, err)
		}
		if got := len(strings.Fields(string(out))); got != n {
			t.Errorf("tshark reads %d packets, want %d", got, n)
		}
	}
	// A flow's packets only.
	var key model.CaptureFlowKey
	for k := range e.st.flows.All() {
		key = k
		break
	}
	fp := e.FlowPackets(key, 3)
	if len(fp) == 0 || len(fp[0].Layers) < 2 || fp[0].Summary == "" {
		t.Fatalf("FlowPackets(%v) = %+v", key, fp)
	}
	if _, err := e.WritePcapng(filepath.Join(t.TempDir(), "missing", "x.pcapng"), &key); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestOpenFileRejects(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "", "text": "hello world, not a capture"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := openFile(p); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

// BenchmarkDecode decodes and aggregates the mixed capture's frames: the
// per-packet cost of a capture, without the ring.
func BenchmarkDecode(b *testing.B) {
	frames, _ := readMixed(b)
	d := newDecoder()
	st := newStats()
	var pi packetInfo
	at := time.Unix(1, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		fr := frames[i%len(frames)]
		d.decode(fr, &pi)
		st.add(&pi, at, len(fr), len(fr))
	}
}

// BenchmarkReplay is the whole per-packet path of an offline capture:
// read a record from a pcap (in memory), decode, aggregate, store.
func BenchmarkReplay(b *testing.B) {
	frames, _ := readMixed(b)
	var file bytes.Buffer
	w := pcapgo.NewWriter(&file)
	w.WriteFileHeader(262144, layers.LinkTypeEthernet)
	for i := range 100 * len(frames) {
		fr := frames[i%len(frames)]
		w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(int64(i), 0), CaptureLength: len(fr), Length: len(fr)}, fr)
	}
	e, err := newEngine(Options{File: "mem"})
	if err != nil {
		b.Fatal(err)
	}
	d := newDecoder()
	var pi packetInfo
	// The records repeat for ever after the file header: one reader, as
	// in a real replay.
	r, err := pcapgo.NewReader(&loopReader{data: file.Bytes(), start: 24})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		data, ci, err := r.ZeroCopyReadPacketData()
		if err != nil {
			b.Fatal(err)
		}
		e.packet(d, &pi, data, &ci)
	}
}

// loopReader reads data, then data[start:] again and again.
type loopReader struct {
	data       []byte
	off, start int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.off == len(l.data) {
		l.off = l.start
	}
	n := copy(p, l.data[l.off:])
	l.off += n
	return n, nil
}
