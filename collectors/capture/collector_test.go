package capture

import (
	"context"
	"errors"
	"testing"
	"time"

	"netlens/model"
)

// TestCollectorReplaysFile: the collector replays a file into the Store;
// the published statistics carry a Control that decodes a flow's packets.
func TestCollectorReplaysFile(t *testing.T) {
	c, err := New(Options{File: "testdata/mixed.pcap"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	store := model.NewStore("h", "k", time.Now())
	deadline := time.Now().Add(10 * time.Second)
	var cs model.CaptureStats
	for {
		if err := c.Collect(context.Background(), store); err != nil {
			t.Fatal(err)
		}
		cs = store.Snapshot().Capture
		if !cs.Running && cs.Packets > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if cs.Packets != 305 || cs.Source != "file" || cs.Running {
		t.Fatalf("packets %d source %q running %v, want 305 file false", cs.Packets, cs.Source, cs.Running)
	}
	if len(cs.TopFlows) == 0 || len(cs.TopHosts) == 0 || len(cs.Protocols) != len(model.CaptureProtocols) {
		t.Fatalf("top flows %d, hosts %d, protocols %d", len(cs.TopFlows), len(cs.TopHosts), len(cs.Protocols))
	}
	if cs.PacketsPerSec <= 0 {
		t.Errorf("packets/s %v: a file's rate is its average over its packets' times", cs.PacketsPerSec)
	}
	pk := c.FlowPackets(cs.TopFlows[0].Key, 2)
	if len(pk) == 0 || pk[len(pk)-1].Layers[0].Name != "Ethernet" {
		t.Fatalf("FlowPackets = %+v", pk)
	}
	if cs.CPUSeconds <= 0 || cs.CPUPercent < 0 || cs.CPUPercent > 100 {
		t.Errorf("cpu_seconds %v cpu_percent %v, want > 0 and within [0, 100] (one thread)", cs.CPUSeconds, cs.CPUPercent)
	}
	// Ended, and its last interval reported: it uses no CPU now.
	if err := c.Collect(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	if cs = store.Snapshot().Capture; cs.CPUPercent != 0 || cs.CPUSeconds <= 0 {
		t.Errorf("after the end: cpu_seconds %v cpu_percent %v, want > 0 and 0", cs.CPUSeconds, cs.CPUPercent)
	}
}

func TestNewRefusesBadFilter(t *testing.T) {
	if _, err := New(Options{File: "testdata/mixed.pcap", Filter: "ether host 1"}); !errors.Is(err, ErrFilter) {
		t.Fatalf("New with an unsupported filter: %v", err)
	}
}
