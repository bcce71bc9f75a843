package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors/procnet"
	"netlens/collectors/qdisc"
	"netlens/model"
	"netlens/model/drops"
)

const pairs = 32

// enterNamespace creates a namespace with pairs veth pairs, all up, and
// moves the calling goroutine's thread into it (locked) until the
// benchmark ends. It skips when namespaces cannot be made (not root).
func enterNamespace(b *testing.B) (fd int) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root (CAP_SYS_ADMIN) to create a network namespace")
	}
	for _, tool := range []string{"ip", "nstat", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("needs %s (apt-get install -y iproute2)", tool)
		}
	}
	name := fmt.Sprintf("nldr-bench-%d", os.Getpid())
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			b.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	run("netns", "add", name)
	b.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	// One ip -batch for the 32 pairs: quicker than 96 processes.
	batch := "link set lo up\n"
	for i := range pairs {
		batch += fmt.Sprintf("link add va%d type veth peer name vb%d\nlink set va%d up\nlink set vb%d up\n", i, i, i, i)
	}
	f, err := os.CreateTemp(b.TempDir(), "batch")
	if err != nil {
		b.Fatal(err)
	}
	f.WriteString(batch)
	f.Close()
	run("-n", name, "-batch", f.Name())
	fd, err = unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	runtime.LockOSThread()
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		} // else the thread stays locked and exits with the goroutine
		unix.Close(orig)
		unix.Close(fd)
	})
	return fd
}

// funnel is one full netlens funnel sample: every /proc/net counter file,
// every interface's rtnl_link_stats64 and every qdisc's statistics over
// rtnetlink, published into a Store, and the funnel built from the
// snapshot.
type funnel struct {
	pn    *procnet.Collector
	qd    *qdisc.Collector
	store *model.Store
	n     int
}

func newFunnel(fd int) *funnel {
	return &funnel{
		pn:    procnet.New("/proc/thread-self"),
		qd:    qdisc.New(qdisc.Options{NetNS: fd, Links: true}),
		store: model.NewStore("bench", "bench", time.Now()),
	}
}

func (f *funnel) sample(b *testing.B) {
	ctx := context.Background()
	if err := f.pn.Collect(ctx, f.store); err != nil {
		b.Fatal(err)
	}
	if err := f.qd.Collect(ctx, f.store); err != nil {
		b.Fatal(err)
	}
	f.n = len(drops.Funnel(f.store.Snapshot().Counters))
}

// peers runs nstat -az, ip -s link and tc -s qdisc in the namespace (the
// children inherit the locked thread's namespace), output discarded.
func peers(b *testing.B, hist string) {
	for _, args := range [][]string{{"nstat", "-a", "-z", "-s"}, {"ip", "-s", "link"}, {"tc", "-s", "qdisc"}} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "NSTAT_HISTORY="+hist)
		if err := cmd.Run(); err != nil {
			b.Fatalf("%v: %v", args, err)
		}
	}
}

// BenchmarkFunnelSample is one funnel sample alone, for its allocations.
func BenchmarkFunnelSample(b *testing.B) {
	fd := enterNamespace(b)
	f := newFunnel(fd)
	defer f.qd.Close()
	f.sample(b)
	b.ReportAllocs()
	for b.Loop() {
		f.sample(b)
	}
	b.ReportMetric(float64(f.n), "funnel-counters")
}

// BenchmarkFunnelVsPeers times, in each iteration, one funnel sample and
// then one run of the three peer tools, and reports both and their ratio
// (netlens time / peer time; the target is at most 1.0).
func BenchmarkFunnelVsPeers(b *testing.B) {
	fd := enterNamespace(b)
	f := newFunnel(fd)
	defer f.qd.Close()
	hist := b.TempDir() + "/nstat.hist"
	f.sample(b)
	var own, peer time.Duration
	for b.Loop() {
		t0 := time.Now()
		f.sample(b)
		t1 := time.Now()
		peers(b, hist)
		own += t1.Sub(t0)
		peer += time.Since(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(own.Nanoseconds())/n, "netlens-ns/op")
	b.ReportMetric(float64(peer.Nanoseconds())/n, "peers-ns/op")
	b.ReportMetric(float64(own)/float64(peer), "ratio")
	b.ReportMetric(float64(f.n), "funnel-counters")
}
