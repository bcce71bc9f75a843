package capture

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"netlens/collectors/sockets"
	"netlens/internal/netnstest"
	"netlens/model"
)

// udpPacer is a Python UDP sender: connected to argv[1]:argv[2], it
// prints READY, waits for a line on stdin, then sends argv[3] bytes per
// second for argv[4] seconds in 1000-byte datagrams, paced on the clock
// (every 2 ms it sends what is due since the start), prints DONE and the
// bytes sent, and holds its socket until stdin closes.
const udpPacer = `import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], int(sys.argv[2])))
rate, secs = float(sys.argv[3]), float(sys.argv[4])
print("READY", flush=True)
sys.stdin.readline()
buf = b"x" * 1000
start = time.monotonic()
sent = 0
while time.monotonic() - start < secs:
    due = int(rate * (time.monotonic() - start)) // 1000 * 1000
    while sent < due:
        s.send(buf)
        sent += len(buf)
    time.sleep(0.002)
print("DONE", sent, flush=True)
sys.stdin.read()
`

// TestIntegrationSampledUDPRates runs a capture on a veth in a namespace
// while a paced UDP sender there sends 2 MB/s to a receiver in another
// namespace: the sender's socket, joined to the capture's UDP flows
// (model.SampledUDPRates), has a rate marked sampled every second it
// sends; over the run the rates account for every byte it sent and are
// within 5% of the paced rate; without the capture it has none.
func TestIntegrationSampledUDPRates(t *testing.T) {
	const rate, port = 2e6, 7400
	a, b := netnstest.New(t, "udpra"), netnstest.New(t, "udprb")
	netnstest.Run(t, "ip", "link", "add", "a0", "netns", a.Name, "type", "veth", "peer", "name", "b0", "netns", b.Name)
	a.Run(t, "ip", "addr", "add", "10.78.0.1/24", "dev", "a0")
	b.Run(t, "ip", "addr", "add", "10.78.0.2/24", "dev", "b0")
	a.Run(t, "ip", "link", "set", "a0", "up")
	b.Run(t, "ip", "link", "set", "b0", "up")

	// The receiver drains the port in B.
	recv := b.Command("/usr/bin/python3", "-c", fmt.Sprintf(`import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", %d))
print("READY", flush=True)
while True: s.recv(65536)`, port))
	recvIn, recvLines := startPy(t, recv)
	defer recvIn.Close()
	waitLine(t, recvLines, "READY")

	send := a.Command("/usr/bin/python3", "-c", udpPacer, "10.78.0.2", strconv.Itoa(port), strconv.FormatFloat(rate, 'f', 0, 64), "9")
	sendIn, sendLines := startPy(t, send)
	waitLine(t, sendLines, "READY")

	c, err := New(Options{Interface: "a0"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	socks := sockets.New(sockets.Options{NetNS: a.FD(t), NoOwners: true})
	defer socks.Close()
	store := model.NewStore("h", "k", time.Now())
	ctx := context.Background()

	// Without a capture the UDP socket has no rate.
	table, _, err := socks.Sockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap := store.Snapshot(); model.SampledUDPRates(table, &snap.Capture) != nil {
		t.Error("UDP rates without a capture")
	}

	a.Do(t, func() { // the first Collect opens the ring in A
		if err := c.Collect(ctx, store); err != nil {
			t.Fatal(err)
		}
	})
	prevAt := store.Snapshot().Capture.At
	if _, err := fmt.Fprintln(sendIn, "go"); err != nil {
		t.Fatal(err)
	}
	// Once a second while the sender sends (9 s), and once after it is
	// done and the ring has drained: the sender's sampled rate, and the
	// bytes it accounts for (rate times the capture's interval).
	start := time.Now()
	var got []float64
	var bytes float64
	sample := func(i int, sending bool) {
		if err := c.Collect(ctx, store); err != nil {
			t.Fatal(err)
		}
		table, _, err := socks.Sockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		snap := store.Snapshot()
		dt := snap.Capture.At.Sub(prevAt).Seconds()
		prevAt = snap.Capture.At
		rates := model.SampledUDPRates(table, &snap.Capture)
		found := false
		for j, s := range table {
			if s.Proto != model.ProtoUDP || s.Remote.Port() != port {
				continue
			}
			found = true
			r, ok := rates[j]
			if !ok {
				if sending {
					t.Errorf("second %d: sender %s -> %s has no sampled rate", i, s.Local, s.Remote)
				}
				continue
			}
			if !r.Known || !r.Sampled || r.RxBps != 0 || (sending && r.TxBps <= 0) {
				t.Errorf("second %d: sender's rate %+v, want known, sampled, tx > 0, rx 0", i, r)
			}
			got = append(got, r.TxBps)
			bytes += r.TxBps * dt
		}
		if !found {
			t.Fatalf("second %d: no UDP socket to port %d in A", i, port)
		}
	}
	for i := 1; i <= 8; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second)))
		sample(i, true)
	}
	var sent float64
	select {
	case l := <-sendLines:
		if _, err := fmt.Sscanf(l, "DONE %f", &sent); err != nil {
			t.Fatalf("sender said %q", l)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("sender not done after 15 s")
	}
	time.Sleep(500 * time.Millisecond) // the capture drains its ring
	sample(9, false)
	// One second alone moves by what the capture goroutine had not yet
	// taken from the ring when the snapshot was taken (it then counts in
	// the next second): under load, by tens of percent. Over the run the
	// rates add up to every byte sent, and to the pace.
	t.Logf("sampled tx of the sender, per second: %.0f (paced %.0f B/s); %.0f bytes in all, the sender sent %.0f", got, rate, bytes, sent)
	if math.Abs(bytes-sent) > 0.01*sent {
		t.Errorf("the sampled rates account for %.0f bytes, the sender sent %.0f (want within 1%%)", bytes, sent)
	}
	if mean := bytes / 9; math.Abs(mean-rate) > 0.05*rate {
		t.Errorf("sender's sampled tx over its 9 s: %.0f B/s, paced %.0f B/s (%.1f%% off, want within 5%%)", mean, rate, 100*math.Abs(mean-rate)/rate)
	}
	sendIn.Close()
}

// startPy starts cmd and returns its stdin and stdout lines; it is
// stopped (stdin closed, then killed after 5 s) when the test ends.
func startPy(t *testing.T, cmd *exec.Cmd) (io.WriteCloser, chan string) {
	t.Helper()
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		in.Close()
		_ = cmd.Process.Kill() // the receiver never ends on its own
		_ = cmd.Wait()
	})
	return in, lines
}

// waitLine waits (15 s at most) for the next line of lines to be want.
func waitLine(t *testing.T, lines chan string, want string) {
	t.Helper()
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, want) {
			t.Fatalf("helper said %q, want %q", l, want)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("helper: no %q after 15 s", want)
	}
}
