package dropmon

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// inNewNetns runs fn on a thread in a new network namespace of its own
// (unshare; the namespace goes away with the thread) with lo up. It needs
// no iproute2, so it works in the minimal VM of vmtest/run.sh too.
func inNewNetns(t *testing.T, fn func(nsfd int) error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(s)
		ifr, err := unix.NewIfreq("lo")
		if err != nil {
			errc <- err
			return
		}
		ifr.SetUint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
		if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
			errc <- fmt.Errorf("lo up: %w", err)
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		errc <- fn(fd)
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// sendUDP sends n datagrams to 127.0.0.1:port from an unconnected
// socket: a connected one would report the ICMP port unreachables of
// earlier datagrams as ECONNREFUSED instead of sending the next.
func sendUDP(n int, port int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}
	for range n {
		if err := unix.Sendto(fd, []byte("x"), 0, to); err != nil {
			return err
		}
	}
	return nil
}

// startOrSkip starts a collector, or ends the test when the kernel has no
// drop monitor after checking that the collector says so as the UI shows
// it.
func startOrSkip(t *testing.T, opts Options) (*Collector, *recorder, bool) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to run the drop monitor")
	}
	c := New(opts)
	t.Cleanup(func() { c.Close() })
	rec := &recorder{}
	err := c.Collect(context.Background(), rec)
	if errors.Is(err, collectors.ErrNotSupported) {
		if collectors.Classify(err) != model.StateNotSupported || len(rec.drops) != 1 ||
			rec.drops[0].Reason != "kernel has no drop monitor (CONFIG_NET_DROP_MONITOR)" {
			t.Fatalf("err %v, update %+v", err, rec.drops)
		}
		if os.Getenv("NETLENS_DM_REQUIRE") != "" {
			t.Fatalf("NETLENS_DM_REQUIRE is set (vmtest/run.sh) and the kernel has no drop monitor: %v", err)
		}
		t.Logf("this kernel has no drop monitor: %v", err)
		return nil, nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, rec, true
}

// fixtures prints the first message of each command c sees as
// "FIXTURE name hex" lines when NETLENS_DM_FIXTURES is set (vmtest/run.sh
// turns them into testdata files).
func fixtures(t *testing.T, c *Collector, prefix string) {
	if os.Getenv("NETLENS_DM_FIXTURES") == "" {
		return
	}
	var mu sync.Mutex
	seen := map[uint8]bool{}
	names := map[command]string{cmdPacketAlert: "packet-alert", cmdAlert: "summary-alert", cmdStatsNew: "stats-new"}
	tap := func(m genetlink.Message) {
		mu.Lock()
		defer mu.Unlock()
		if seen[m.Header.Command] {
			return
		}
		seen[m.Header.Command] = true
		name := names[command(m.Header.Command)]
		if name == "" {
			name = fmt.Sprintf("cmd%d", m.Header.Command)
		}
		fmt.Printf("FIXTURE %s-%s %s\n", prefix, name, hex.EncodeToString(m.Data))
	}
	c.tap.Store(&tap)
}

// waitCounter collects until the reason counter name reaches n.
func waitCounter(t *testing.T, c *Collector, rec *recorder, name string, n uint64) model.RawCounter {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := c.Collect(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		for _, cn := range rec.counter[len(rec.counter)-1].Counters {
			if cn.Name == name && cn.Value >= n {
				return cn
			}
		}
	}
	t.Fatalf("the drop monitor did not report %d %s: %+v", n, name, rec.drops[len(rec.drops)-1])
	return model.RawCounter{}
}

// TestIntegrationDropMonitor runs the collector against the real kernel.
// Where the kernel has no drop monitor (CONFIG_NET_DROP_MONITOR off, as
// on the development machine) it checks that the collector says so in the
// words the UI shows. Where it has one (vmtest/run.sh boots such a
// kernel), it sends UDP datagrams to a closed port in a namespace of its
// own and waits for the drop monitor (which lives in the initial
// namespace and sees every namespace's drops) to report them with drop
// reason NO_SOCKET.
func TestIntegrationDropMonitor(t *testing.T) {
	c, rec, ok := startOrSkip(t, Options{Mode: ModePacket})
	if !ok {
		return
	}
	fixtures(t, c, "no-socket")
	const sent = 20
	inNewNetns(t, func(int) error { return sendUDP(sent, 9) })
	cn := waitCounter(t, c, rec, "NO_SOCKET", sent)
	if cn.Layer != model.LayerTransport || cn.Group != GroupReason {
		t.Errorf("NO_SOCKET counter %+v", cn)
	}
	m := rec.drops[len(rec.drops)-1]
	if m.Mode != "packet" || !m.Supported {
		t.Errorf("monitor %+v", m)
	}
	found := false
	for _, d := range m.Drops {
		if d.Reason == "NO_SOCKET" && d.Location != "" && d.Origin == "sw" {
			found = true
			t.Logf("NO_SOCKET at %s: %d", d.Location, d.Total)
		}
	}
	if !found {
		t.Errorf("no NO_SOCKET aggregate with a location: %+v", m.Drops)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close (stop): %v", err)
	}
}

// TestIntegrationDropMonitorNetfilter drops with an nftables chain whose
// policy is drop (set up over nf_tables netlink, no nft binary needed) and
// expects the drops under reason NETFILTER_DROP at layer netfilter.
func TestIntegrationDropMonitorNetfilter(t *testing.T) {
	c, rec, ok := startOrSkip(t, Options{Mode: ModePacket})
	if !ok {
		return
	}
	fixtures(t, c, "netfilter")
	const sent = 15
	inNewNetns(t, func(fd int) error {
		nft, err := nftables.New(nftables.WithNetNSFd(fd))
		if err != nil {
			return err
		}
		tbl := nft.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "nl"})
		drop := nftables.ChainPolicyDrop
		nft.AddChain(&nftables.Chain{Name: "in", Table: tbl, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &drop})
		if err := nft.Flush(); err != nil {
			return fmt.Errorf("nftables: %w", err)
		}
		return sendUDP(sent, 9999)
	})
	cn := waitCounter(t, c, rec, "NETFILTER_DROP", sent)
	if cn.Layer != model.LayerNetfilter {
		t.Errorf("NETFILTER_DROP at layer %s", cn.Layer)
	}
}

// TestIntegrationDropMonitorSummary runs the monitor in summary mode: no
// reasons, counts per location about once a second.
func TestIntegrationDropMonitorSummary(t *testing.T) {
	c, rec, ok := startOrSkip(t, Options{Mode: ModeSummary})
	if !ok {
		return
	}
	fixtures(t, c, "summary")
	const sent = 20
	inNewNetns(t, func(int) error { return sendUDP(sent, 9) })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if err := c.Collect(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		if m := rec.drops[len(rec.drops)-1]; m.Total >= sent {
			if m.Mode != "summary" || len(m.Drops) == 0 || m.Drops[0].Reason != "" {
				t.Fatalf("summary monitor %+v", m)
			}
			if _, err := readKallsyms("/proc/kallsyms"); err == nil && strings.HasPrefix(m.Drops[0].Location, "0x") {
				t.Errorf("location %s not resolved through /proc/kallsyms", m.Drops[0].Location)
			}
			t.Logf("summary: %d drops at %s", m.Drops[0].Total, m.Drops[0].Location)
			return
		}
	}
	t.Fatalf("summary mode counted %d drops, want %d", rec.drops[len(rec.drops)-1].Total, sent)
}
