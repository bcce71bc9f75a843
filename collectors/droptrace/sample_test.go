package droptrace

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"

	"netlens/internal/netnstest"
	"netlens/model"
)

// waitSeen collects until the tracer has seen want drops, or 5 s pass,
// then once more after the drops in flight have landed.
func waitSeen(t *testing.T, c *Collector, want uint64) model.DropTrace {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		tr, err := collect(c)
		must(t, err)
		if tr.Seen >= want {
			break
		}
	}
	time.Sleep(100 * time.Millisecond)
	tr, err := collect(c)
	must(t, err)
	return tr
}

// TestIntegrationSampleRate floods 20,000 UDP datagrams to a closed port
// with sampling 1 in 10, no cap and a ring large enough: the program
// samples one drop in ten on each CPU (so between 2,000 - CPUs and
// 2,000), emits every one of them (emitted + lost = sampled, lost 0),
// netlens reads them all, and each carries the flow and its headers.
func TestIntegrationSampleRate(t *testing.T) {
	const n, every = 20000, 10
	ns := netnstest.New(t, "dt-sample")
	c := newNSCollector(t, ns, Options{SampleEvery: every, SampleMax: 1 << 30, SampleRing: 1 << 20})
	dst := netip.MustParseAddrPort("127.0.0.1:4444")
	sendUDP(t, ns, "127.0.0.1", dst, n, 20)
	tr := waitSeen(t, c, n)
	sp := tr.Sampling
	n0, err := ebpf.PossibleCPU()
	must(t, err)
	ncpu := uint64(n0)
	t.Logf("seen %d: sampled %d emitted %d lost %d (limit %d) read %d, %d kept", tr.Seen, sp.Sampled, sp.Emitted, sp.Lost, sp.LostLimit, sp.Read, len(sp.Samples))
	switch {
	case tr.Seen != n:
		t.Errorf("seen %d, want %d", tr.Seen, n)
	case sp.Every != every:
		t.Errorf("every %d, want %d", sp.Every, every)
	case sp.Sampled > n/every || sp.Sampled+ncpu < n/every:
		t.Errorf("sampled %d of %d at 1/%d, want %d (less at most one per CPU)", sp.Sampled, n, every, n/every)
	case sp.Emitted+sp.Lost != sp.Sampled:
		t.Errorf("emitted %d + lost %d != sampled %d", sp.Emitted, sp.Lost, sp.Sampled)
	case sp.Lost != 0 || sp.Read != sp.Emitted:
		t.Errorf("lost %d, read %d of %d emitted: want none lost, all read", sp.Lost, sp.Read, sp.Emitted)
	case len(sp.Samples) != maxSamples:
		t.Errorf("%d samples kept, want %d", len(sp.Samples), maxSamples)
	}
	flow := tr.Flows[0]
	if got := len(tr.FlowSamples(flow)); got != maxSamples {
		t.Errorf("%d samples of flow %+v, want %d", got, flow, maxSamples)
	}
	s := sp.Samples[0]
	if s.Flow.Reason != "NO_SOCKET" || s.Flow.Dst != dst.Addr() || s.Flow.DstPort != dst.Port() || s.Flow.Proto != "udp" {
		t.Errorf("sample flow %+v, want NO_SOCKET udp to %v", s.Flow, dst)
	}
	// 20 + 8 + 20 bytes: the whole datagram, decoded.
	p := s.Packet
	var names []string
	for _, l := range p.Layers {
		names = append(names, l.Name)
	}
	if p.Length != 48 || p.CaptureLength != 48 || strings.Join(names, " ") != "IPv4 UDP Payload" || !strings.Contains(p.Summary, "4444") {
		t.Errorf("sample packet: length %d/%d, layers %v, summary %q", p.CaptureLength, p.Length, names, p.Summary)
	}
	if !sp.Samples[0].Packet.At.After(sp.Samples[len(sp.Samples)-1].Packet.At) && len(sp.Samples) > 1 {
		t.Error("samples not newest first")
	}
}

// TestIntegrationSampleLost fills a one-page ring (about 18 samples)
// without reading it, then caps the rate: every sampled drop is still
// either emitted or lost, exactly, with the cause counted.
func TestIntegrationSampleLost(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		wantLimit bool
	}{
		{"ring full", Options{SampleEvery: 1, SampleMax: 1 << 30, SampleRing: 4096}, false},
		{"cap", Options{SampleEvery: 1, SampleMax: 50, SampleRing: 1 << 20}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 5000
			ns := netnstest.New(t, "dt-lost")
			c := newNSCollector(t, ns, tt.opts)
			sendUDP(t, ns, "127.0.0.1", netip.MustParseAddrPort("127.0.0.1:4445"), n, 1)
			tr := waitSeen(t, c, n)
			sp := tr.Sampling
			t.Logf("seen %d: sampled %d emitted %d lost %d (limit %d) read %d", tr.Seen, sp.Sampled, sp.Emitted, sp.Lost, sp.LostLimit, sp.Read)
			switch {
			case tr.Seen != n || sp.Sampled != n:
				t.Errorf("seen %d sampled %d, want %d", tr.Seen, sp.Sampled, n)
			case sp.Emitted+sp.Lost != sp.Sampled:
				t.Errorf("emitted %d + lost %d != sampled %d", sp.Emitted, sp.Lost, sp.Sampled)
			case sp.Lost == 0 || sp.Read != sp.Emitted:
				t.Errorf("lost %d, read %d of %d emitted: want some lost, all emitted read", sp.Lost, sp.Read, sp.Emitted)
			case tt.wantLimit != (sp.LostLimit > 0) || (!tt.wantLimit && sp.LostLimit != 0) || (tt.wantLimit && sp.LostLimit != sp.Lost):
				t.Errorf("lost %d of which over the cap %d", sp.Lost, sp.LostLimit)
			}
		})
	}
}

// TestIntegrationSampleOff: by default nothing is sampled.
func TestIntegrationSampleOff(t *testing.T) {
	ns := netnstest.New(t, "dt-nosample")
	c := newNSCollector(t, ns, Options{})
	sendUDP(t, ns, "127.0.0.1", netip.MustParseAddrPort("127.0.0.1:4446"), 100, 1)
	tr := waitSeen(t, c, 100)
	if diff := cmp.Diff(model.DropTraceSampling{MaxPerSecond: DefaultSampleMax}, tr.Sampling); diff != "" {
		t.Errorf("sampling (-want +got)\n%s", diff)
	}
}

// TestIntegrationSampleSwitch switches the sampled stream on and off
// while the tracer runs (the Drops tab's key): off, 100 drops sample
// nothing; on at one in 10, 1,000 drops sample one in ten per CPU and
// each sample read carries its flow; off again, 100 more sample nothing
// and the counts stay where they were.
func TestIntegrationSampleSwitch(t *testing.T) {
	ns := netnstest.New(t, "dt-sswitch")
	c := newNSCollector(t, ns, Options{SampleMax: 1 << 20})
	dst := netip.MustParseAddrPort("127.0.0.1:4447")
	sendUDP(t, ns, "127.0.0.1", dst, 100, 1)
	tr := waitSeen(t, c, 100)
	if tr.Sampling.Every != 0 || tr.Sampling.Sampled != 0 {
		t.Fatalf("off: sampling %+v, want nothing sampled", tr.Sampling)
	}

	must(t, c.SetSampling(10))
	sendUDP(t, ns, "127.0.0.1", dst, 1000, 1)
	tr = waitSeen(t, c, 1100)
	s := tr.Sampling
	cpus := uint64(ebpf.MustPossibleCPU())
	if s.Every != 10 || s.Sampled < 100-cpus || s.Sampled > 100 || s.Emitted != s.Sampled || s.Read != s.Emitted || s.Lost != 0 {
		t.Errorf("on: sampling %+v, want one in 10 of 1000 (%d-100) emitted and read", s, 100-cpus)
	}
	if len(s.Samples) == 0 || s.Samples[0].Flow.DstPort != dst.Port() {
		t.Errorf("on: samples %+v, want the flow to port %d", s.Samples, dst.Port())
	}

	must(t, c.SetSampling(0))
	sendUDP(t, ns, "127.0.0.1", dst, 100, 1)
	tr = waitSeen(t, c, 1200)
	if tr.Sampling.Every != 0 || tr.Sampling.Sampled != s.Sampled || tr.Sampling.Read != s.Read {
		t.Errorf("off again: sampling %+v, want the counts of %+v", tr.Sampling, s)
	}
}

// TestIntegrationSampleSetBeforeStart: SetSampling before the first
// Collect (cli gives a namespace switch's new tracer the setting in
// force) is what the tracer starts with.
func TestIntegrationSampleSetBeforeStart(t *testing.T) {
	ns := netnstest.New(t, "dt-sbefore")
	ino, err := NetnsInode("/run/netns/" + ns.Name)
	must(t, err)
	c := New(Options{Netns: ino})
	t.Cleanup(func() { c.Close() })
	must(t, c.SetSampling(5))
	sendUDP(t, ns, "127.0.0.1", netip.MustParseAddrPort("127.0.0.1:4448"), 1, 1) // before the tracer: not seen
	_, err = collect(c)
	must(t, err)
	sendUDP(t, ns, "127.0.0.1", netip.MustParseAddrPort("127.0.0.1:4448"), 50, 1)
	tr := waitSeen(t, c, 50)
	cpus := uint64(ebpf.MustPossibleCPU())
	if s := tr.Sampling; s.Every != 5 || s.Sampled < 10-cpus || s.Sampled > 10 || s.Read != s.Sampled {
		t.Errorf("sampling %+v, want one in 5 of 50 from the start", s)
	}
}
