package dropmon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"netlens/collectors"
	"netlens/model"
)

// TestIntegrationDropMonitor runs the collector against the real kernel.
// Where the kernel has no drop monitor (CONFIG_NET_DROP_MONITOR off, as on
// the development machine) it checks that the collector says so in the
// words the UI shows. Where it has one, it sends UDP datagrams to a
// closed port in a namespace of its own and waits for the drop monitor
// (which lives in the initial namespace and sees every namespace's drops)
// to report them with drop reason NO_SOCKET (packet mode, 5.18+).
func TestIntegrationDropMonitor(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to run the drop monitor")
	}
	c := New(Options{})
	defer c.Close()
	var rec recorder
	err := c.Collect(context.Background(), &rec)
	if errors.Is(err, collectors.ErrNotSupported) {
		if collectors.Classify(err) != model.StateNotSupported || len(rec.drops) != 1 ||
			rec.drops[0].Reason != "kernel has no drop monitor (CONFIG_NET_DROP_MONITOR)" {
			t.Fatalf("err %v, update %+v", err, rec.drops)
		}
		t.Logf("this kernel has no drop monitor: %v", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("nldm-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	const sent = 20
	script := fmt.Sprintf("ip link set lo up; for i in $(seq %d); do echo x >/dev/udp/127.0.0.1/9; done", sent)
	if out, err := exec.Command("ip", "netns", "exec", ns, "bash", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sending: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := c.Collect(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
		m := rec.drops[len(rec.drops)-1]
		if m.Mode == "summary" && m.Total >= sent {
			return // no reasons in summary mode
		}
		for _, cn := range rec.counter[len(rec.counter)-1].Counters {
			if cn.Name == "NO_SOCKET" && cn.Value >= sent {
				if cn.Layer != model.LayerTransport {
					t.Errorf("NO_SOCKET at layer %s, want transport", cn.Layer)
				}
				return
			}
		}
	}
	t.Fatalf("the drop monitor did not report %d NO_SOCKET drops: %+v", sent, rec.drops[len(rec.drops)-1])
}
