package capture

import (
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"netlens/internal/netnstest"
	"netlens/model"
)

// TestStartClosedMeanwhile: a Close between Start's asking for the
// namespace and its opening the capture (a switch away from that
// namespace, which found no capture to stop) makes Start give up: the
// capture would read the namespace being left, under the new one's name.
func TestStartClosedMeanwhile(t *testing.T) {
	var c *Control
	held, released := 0, 0
	c = New(&lastCapture{}, func() (int, func()) {
		held++
		_ = c.Close() // the switch, while Start holds the old namespace
		return 0, func() { released++ }
	}, time.Second)
	err := c.Start(model.CaptureRequest{Interface: "lo", Count: 1})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Start: %v, want ErrClosed", err)
	}
	if c.Running() || held != 1 || released != 1 {
		t.Errorf("running %v, namespace held %d and released %d times, want not running, 1 and 1", c.Running(), held, released)
	}
}

func TestCheckRequest(t *testing.T) {
	tests := []struct {
		name string
		req  model.CaptureRequest
		want error // nil: valid
	}{
		{"count", model.CaptureRequest{Interface: "any", Count: 20}, nil},
		{"duration and filter", model.CaptureRequest{Interface: "eth0", Filter: "udp port 53", Duration: time.Minute}, nil},
		{"no limit", model.CaptureRequest{Interface: "any"}, ErrLimit},
		{"no interface", model.CaptureRequest{Count: 1}, ErrLimit},
		{"negative count", model.CaptureRequest{Interface: "any", Count: -1}, ErrLimit},
		{"too long", model.CaptureRequest{Interface: "any", Duration: MaxDuration + time.Second}, ErrLimit},
		{"bad filter", model.CaptureRequest{Interface: "any", Count: 1, Filter: "udp port"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRequest(tt.req)
			switch {
			case tt.name == "bad filter":
				if err == nil || !strings.Contains(err.Error(), "capture filter") {
					t.Fatalf("CheckRequest = %v, want a capture filter error", err)
				}
			case tt.want == nil && err != nil:
				t.Fatalf("CheckRequest = %v, want nil", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("CheckRequest = %v, want %v", err, tt.want)
			}
		})
	}
}

// lastCapture is a Publisher that keeps the last capture statistics.
type lastCapture struct {
	mu sync.Mutex
	cs model.CaptureStats
	n  int
}

func (p *lastCapture) Publish(u model.Update) {
	if cu, ok := u.(model.CaptureUpdate); ok {
		p.mu.Lock()
		p.cs, p.n = cu.Stats, p.n+1
		p.mu.Unlock()
	}
}

func (p *lastCapture) get() (model.CaptureStats, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cs, p.n
}

// TestIntegrationStartStop starts a capture on a veth inside a
// namespace with "udp port 53", sends 20 matching and 20 other UDP
// datagrams, and checks the published count, Stop, and the pcapng file
// against tshark.
func TestIntegrationStartStop(t *testing.T) {
	netnstest.RequireRoot(t)
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (make test-deps)")
	}
	a, b := netnstest.New(t, "ccapa"), netnstest.New(t, "ccapb")
	netnstest.Run(t, "ip", "link", "add", "ca0", "netns", a.Name, "type", "veth", "peer", "name", "cb0", "netns", b.Name)
	a.Run(t, "ip", "addr", "add", "10.78.0.1/24", "dev", "ca0")
	b.Run(t, "ip", "addr", "add", "10.78.0.2/24", "dev", "cb0")
	a.Run(t, "ip", "link", "set", "ca0", "up")
	b.Run(t, "ip", "link", "set", "cb0", "up")
	// Resolve the neighbour first: datagrams queued behind ARP may be
	// dropped (unres_qlen_bytes).
	a.Run(t, "ping", "-c1", "-W2", "10.78.0.2")
	pub := &lastCapture{}
	fd := a.FD(t)
	c := New(pub, func() (int, func()) { return fd, func() {} }, 200*time.Millisecond)
	names, err := c.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if diff := strings.Join(names, " "); diff != "any ca0 lo" {
		t.Fatalf("Interfaces() = %q, want any ca0 lo", diff)
	}
	if err := c.Start(model.CaptureRequest{Interface: "ca0", Filter: "udp port 53", Duration: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(model.CaptureRequest{Interface: "ca0", Count: 1}); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Start = %v, want ErrRunning", err)
	}
	a.Do(t, func() {
		// Unconnected: the port unreachable replies do not fail the
		// next writes.
		conn, err := net.ListenPacket("udp", "10.78.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, port := range []int{53, 54} {
			for range 20 {
				if _, err := conn.WriteTo([]byte("netlens"), &net.UDPAddr{IP: net.IPv4(10, 78, 0, 2), Port: port}); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		cs, _ := pub.get()
		if cs.Packets >= 20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	cs, _ := pub.get()
	if cs.Running || cs.Packets != 20 || cs.Interface != "ca0" || cs.Filter != "udp port 53" {
		t.Fatalf("after Stop: running %v packets %d interface %q filter %q, want false 20 ca0 \"udp port 53\"", cs.Running, cs.Packets, cs.Interface, cs.Filter)
	}
	if c.Running() {
		t.Fatal("Running() after Stop")
	}
	if err := c.Stop(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("second Stop = %v, want ErrNotRunning", err)
	}
	path := filepath.Join(t.TempDir(), "c.pcapng")
	n, err := c.WritePcapng(path, nil)
	if err != nil || n != 20 {
		t.Fatalf("WritePcapng = %d, %v, want 20", n, err)
	}
	out, err := exec.Command("tshark", "-r", path, "-Y", "udp.dstport == 53", "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(strings.Fields(string(out))); got != 20 {
		t.Fatalf("tshark reads %d packets to port 53, want 20", got)
	}
}

// TestIntegrationCountLimit: a capture with a packet limit ends by
// itself at it.
func TestIntegrationCountLimit(t *testing.T) {
	netnstest.RequireRoot(t)
	a := netnstest.New(t, "ccapn")
	pub := &lastCapture{}
	fd := a.FD(t)
	c := New(pub, func() (int, func()) { return fd, func() {} }, 100*time.Millisecond)
	if err := c.Start(model.CaptureRequest{Interface: "lo", Filter: "udp", Count: 5}); err != nil {
		t.Fatal(err)
	}
	a.Do(t, func() {
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for range 10 {
			conn.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for c.Running() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if c.Running() {
		t.Fatal("the capture still runs after its 5 packets")
	}
	if cs, _ := pub.get(); cs.Packets != 5 || cs.Running {
		t.Fatalf("packets %d running %v, want 5 false", cs.Packets, cs.Running)
	}
}
