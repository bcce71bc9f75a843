package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/internal/netnstest"
	"netlens/model"
)

func TestRunCLIFile(t *testing.T) {
	var out bytes.Buffer
	if err := RunCLI(context.Background(), &out, CLIOptions{Options: Options{File: "testdata/mixed.pcap", Filter: "tcp"}, JSON: true}); err != nil {
		t.Fatal(err)
	}
	var cs model.CaptureStats
	if err := json.Unmarshal(out.Bytes(), &cs); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.Bytes())
	}
	// tcpdump's "tcp" accepts 34 of them: not the 802.1Q-tagged ones, not
	// those behind an IPv6 extension header other than a fragment one.
	if cs.Packets != 34 || cs.Filter != "tcp" || cs.Source != "file" || len(cs.TopFlows) == 0 {
		t.Errorf("packets %d filter %q source %q flows %d; want 34 tcp file >0", cs.Packets, cs.Filter, cs.Source, len(cs.TopFlows))
	}
	out.Reset()
	if err := RunCLI(context.Background(), &out, CLIOptions{Options: Options{File: "testdata/mixed.pcap"}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"305 packets", "decode errors 8", "PROTOCOL", "TOP FLOWS (125 tracked, 0 evicted)", "TOP HOSTS", "vlan      64"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestIntegrationCLICount: `netlens capture -i lo --count 4 --filter icmp
// -w FILE` in a namespace counts the 4 ICMP packets of two pings (the
// kernel filter keeps the UDP out) and writes them as pcapng.
func TestIntegrationCLICount(t *testing.T) {
	ns := netnstest.New(t, "capcli")
	path := filepath.Join(t.TempDir(), "out.pcapng")
	var out bytes.Buffer
	errc := make(chan error, 1)
	started := make(chan struct{})
	go ns.Do(t, func() {
		close(started)
		errc <- RunCLI(context.Background(), &out, CLIOptions{Options: Options{Interface: "lo", Count: 4, Filter: "icmp"}, JSON: true, Write: path, Duration: 20 * time.Second})
	})
	<-started
	time.Sleep(300 * time.Millisecond)
	ns.Do(t, func() {
		c, err := net.Dial("udp4", "127.0.0.1:9")
		if err == nil {
			c.Write([]byte("not icmp"))
			c.Close()
		}
	})
	ns.Run(t, "ping", "-c", "2", "-i", "0.05", "127.0.0.1")
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	var cs model.CaptureStats
	if err := json.Unmarshal(out.Bytes(), &cs); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.Bytes())
	}
	if cs.Packets != 4 || cs.Protocols[8].Packets != 4 || cs.Protocols[7].Packets != 0 {
		t.Errorf("packets %d, icmp %d, udp %d; want 4 4 0", cs.Packets, cs.Protocols[8].Packets, cs.Protocols[7].Packets)
	}
	if tshark, err := exec.LookPath("tshark"); err == nil {
		b, err := exec.Command(tshark, "-n", "-r", path, "-Y", "icmp", "-T", "fields", "-e", "frame.number").Output()
		if err != nil {
			t.Fatal(err)
		}
		if n := len(strings.Fields(string(b))); n != 4 {
			t.Errorf("tshark reads %d ICMP packets from %s, want 4", n, path)
		}
	}
}

// TestIntegrationRingDropsCounted: with a 1 MiB ring and a reader that
// starts late, the kernel drops packets and netlens counts them: every
// packet sent is either captured or a ring drop.
func TestIntegrationRingDropsCounted(t *testing.T) {
	ns := netnstest.New(t, "capdrop")
	e, err := newEngine(Options{Interface: "lo", RingMiB: 1})
	if err != nil {
		t.Fatal(err)
	}
	const sent = 5000
	var sink net.PacketConn
	ns.Do(t, func() {
		tp, _, err := e.openLive()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tp.Close)
		// A socket that never reads: the packets are delivered (and seen
		// by the tap) without ICMP errors.
		if sink, err = net.ListenPacket("udp4", "127.0.0.1:7777"); err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("udp4", "127.0.0.1:7777")
		if err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, 1400)
		for range sent {
			c.Write(payload)
		}
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		e.run(ctx, tp, tp, time.Time{})
	})
	sink.Close()
	cs := e.snapshot(time.Now())
	t.Logf("sent %d: captured %d, ring drops %d, freezes %d", sent, cs.Packets, cs.RingDrops, cs.RingFreezes)
	if cs.RingDrops == 0 {
		t.Error("no ring drops counted with a 1 MiB ring and 7 MB sent before reading")
	}
	if cs.Packets+cs.RingDrops != sent {
		t.Errorf("captured %d + dropped %d != sent %d", cs.Packets, cs.RingDrops, sent)
	}
}

// TestRunCLIFiles: a pcapng file (editcap's conversion of mixed.pcap)
// gives the same statistics as the pcap; a file cut short gives the
// statistics of what it holds, then an error.
func TestRunCLIFiles(t *testing.T) {
	read := func(path string) (model.CaptureStats, error) {
		var out bytes.Buffer
		err := RunCLI(context.Background(), &out, CLIOptions{Options: Options{File: path}, JSON: true})
		var cs model.CaptureStats
		if jerr := json.Unmarshal(out.Bytes(), &cs); jerr != nil {
			t.Fatalf("%s: not JSON: %v\n%s", path, jerr, out.Bytes())
		}
		return cs, err
	}
	pcap, err := read("testdata/mixed.pcap")
	if err != nil {
		t.Fatal(err)
	}
	ng, err := read("testdata/mixed.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pcap.Protocols, ng.Protocols); diff != "" || pcap.Packets != ng.Packets {
		t.Errorf("pcapng differs from pcap (-pcap +pcapng):\n%s", diff)
	}
	cut, err := read("testdata/broken-truncated.pcap")
	if err == nil || cut.Packets == 0 || cut.Packets >= pcap.Packets {
		t.Errorf("truncated file: %d packets, error %v; want some packets and an error", cut.Packets, err)
	}
}
