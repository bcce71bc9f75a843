package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/collectors/capture"
	"netlens/internal/netnstest"
	"netlens/model"
)

func TestRunCLIFile(t *testing.T) {
	var out bytes.Buffer
	if err := runCapture(context.Background(), &out, captureOptions{OnceOptions: capture.OnceOptions{Options: capture.Options{File: "../collectors/capture/testdata/mixed.pcap", Filter: "tcp"}}, JSON: true}); err != nil {
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
	// Without -w nothing reads the last packets, so none are kept.
	if cs.StorePackets != 0 || cs.StoreBytes != 0 {
		t.Errorf("store %d packets, %d bytes without -w; want none", cs.StorePackets, cs.StoreBytes)
	}
	out.Reset()
	if err := runCapture(context.Background(), &out, captureOptions{OnceOptions: capture.OnceOptions{Options: capture.Options{File: "../collectors/capture/testdata/mixed.pcap"}}}); err != nil {
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
		errc <- runCapture(context.Background(), &out, captureOptions{OnceOptions: capture.OnceOptions{Options: capture.Options{Interface: "lo", Count: 4, Filter: "icmp"}, Write: path, Duration: 20 * time.Second}, JSON: true})
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
	// Ping until the capture has its 4 packets: it may start after the
	// first pings on a loaded machine (at most 400 pings, 20 s).
	ping := ns.Command("ping", "-q", "-c", "400", "-i", "0.05", "127.0.0.1")
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	ping.Process.Kill()
	ping.Wait()
	if err != nil {
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

// TestIntegrationCLIWriteUnwritable: `capture -i lo --duration 30s -w
// DIR/missing/x` fails at once, before capturing (it used to capture
// for the whole --duration, or until Ctrl-C, and lose it all at the
// write); nothing is created.
func TestIntegrationCLIWriteUnwritable(t *testing.T) {
	ns := netnstest.New(t, "capw")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go ns.Do(t, func() {
		errc <- runCapture(ctx, &bytes.Buffer{}, captureOptions{OnceOptions: capture.OnceOptions{Options: capture.Options{Interface: "lo"},
			Write: filepath.Join(dir, "missing", "x"), Duration: 30 * time.Second}})
	})
	select {
	case err := <-errc:
		if err == nil || ExitCode(err) != 1 || !strings.Contains(err.Error(), "cannot create a file in") {
			t.Errorf("err %v (exit %d), want the unwritable path, exit 1", err, ExitCode(err))
		}
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("still capturing after 10s with an unwritable -w; then: %v", <-errc)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left %v in %s", ents, dir)
	}
}

// TestRunCLIFiles: a pcapng file (editcap's conversion of mixed.pcap)
// gives the same statistics as the pcap; a file cut short gives the
// statistics of what it holds, then an error.
func TestRunCLIFiles(t *testing.T) {
	read := func(path string) (model.CaptureStats, error) {
		var out bytes.Buffer
		err := runCapture(context.Background(), &out, captureOptions{OnceOptions: capture.OnceOptions{Options: capture.Options{File: path}}, JSON: true})
		var cs model.CaptureStats
		if jerr := json.Unmarshal(out.Bytes(), &cs); jerr != nil {
			t.Fatalf("%s: not JSON: %v\n%s", path, jerr, out.Bytes())
		}
		return cs, err
	}
	pcap, err := read("../collectors/capture/testdata/mixed.pcap")
	if err != nil {
		t.Fatal(err)
	}
	ng, err := read("../collectors/capture/testdata/mixed.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pcap.Protocols, ng.Protocols); diff != "" || pcap.Packets != ng.Packets {
		t.Errorf("pcapng differs from pcap (-pcap +pcapng):\n%s", diff)
	}
	cut, err := read("../collectors/capture/testdata/broken-truncated.pcap")
	if err == nil || cut.Packets == 0 || cut.Packets >= pcap.Packets {
		t.Errorf("truncated file: %d packets, error %v; want some packets and an error", cut.Packets, err)
	}
}

func TestRunCaptureUsage(t *testing.T) {
	err := runCapture(context.Background(), nil, captureOptions{OnceOptions: capture.OnceOptions{Options: capture.Options{Interface: "lo"}}})
	if ExitCode(err) != 2 {
		t.Fatalf("runCapture without --count: %v", err)
	}
	// -i and --pcap: the file was read and -i ignored without a word.
	err = runCapture(context.Background(), &bytes.Buffer{}, captureOptions{OnceOptions: capture.OnceOptions{Options: capture.Options{Interface: "lo", Count: 1,
		File: "../collectors/capture/testdata/mixed.pcap"}}})
	if ExitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "exclude each other") {
		t.Errorf("runCapture -i lo --pcap FILE: exit %d (%v), want 2", ExitCode(err), err)
	}
}
