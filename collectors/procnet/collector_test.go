package procnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/collectors"
	"netlens/model"
)

type recorder struct{ updates []model.Update }

func (r *recorder) Publish(u model.Update) { r.updates = append(r.updates, u) }

// copyProc copies testdata/proc/net into a temporary proc root, leaving
// out the files in skip, and returns the root.
func copyProc(t *testing.T, skip ...string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "proc", "net"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if contains(skip, e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", "proc", "net", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "net", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func collectOnce(t *testing.T, c *Collector) (model.CountersUpdate, bool, error) {
	t.Helper()
	var r recorder
	err := c.Collect(context.Background(), &r)
	if len(r.updates) > 1 {
		t.Fatalf("%d updates, want at most 1", len(r.updates))
	}
	if len(r.updates) == 0 {
		return model.CountersUpdate{}, false, err
	}
	return r.updates[0].(model.CountersUpdate), true, err
}

func TestCollector(t *testing.T) {
	at := time.Unix(1700000000, 0)
	tests := []struct {
		name        string
		skip        []string          // files left out
		broken      map[string]string // files replaced by this text
		wantCount   int               // counters published; -1: no update
		wantSource  string
		wantErr     string // in the error; "" for none
		unsupported bool   // the error wraps collectors.ErrNotSupported
	}{
		{name: "all files", wantCount: 64 + 18 + 82 + 90 + 229 + 12 + 6 + 32, wantSource: "/proc/net"},
		{name: "no IPv6, no xfrm", skip: []string{"snmp6", "sockstat6", "xfrm_stat"}, wantCount: 64 + 18 + 82 + 229 + 12,
			wantSource: "/proc/net (no snmp6, sockstat6, xfrm_stat)"},
		{name: "one file broken", broken: map[string]string{"snmp": "Ip: Forwarding\nIp: x\n"}, wantCount: 64 + 18 + 90 + 229 + 12 + 6 + 32,
			wantSource: "/proc/net", wantErr: `parse /proc/net/snmp line 2: Ip Forwarding: "x" is not a decimal number`},
		{name: "nothing there", skip: []string{"dev", "softnet_stat", "snmp", "snmp6", "netstat", "sockstat", "sockstat6", "xfrm_stat"},
			wantCount: -1, wantErr: "no counter file under", unsupported: true,
			wantSource: "/proc/net (no dev, softnet_stat, snmp, snmp6, netstat, sockstat, sockstat6, xfrm_stat)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := copyProc(t, tt.skip...)
			for name, text := range tt.broken {
				if err := os.WriteFile(filepath.Join(root, "net", name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c := New(root)
			c.Now = func() time.Time { return at }
			u, published, err := collectOnce(t, c)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("error %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if got := errors.Is(err, collectors.ErrNotSupported); got != tt.unsupported {
				t.Errorf("errors.Is(ErrNotSupported) = %v", got)
			}
			if tt.wantCount < 0 {
				if published {
					t.Errorf("published %d counters", len(u.Counters))
				}
			} else {
				if !published {
					t.Fatal("nothing published")
				}
				if u.Collector != Name || !u.At.Equal(at) || len(u.Counters) != tt.wantCount {
					t.Errorf("update %s at %v with %d counters, want %d", u.Collector, u.At, len(u.Counters), tt.wantCount)
				}
			}
			if diff := cmp.Diff(tt.wantSource, c.Source()); diff != "" {
				t.Errorf("Source (-want +got)\n%s", diff)
			}
		})
	}
}

// TestCollectorRepeats checks that a second collection over the same text
// gives the same counters (the reused buffers and intern table carry no
// state into the output).
func TestCollectorRepeats(t *testing.T) {
	c := New(filepath.Join("testdata", "proc"))
	first, _, err := collectOnce(t, c)
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := collectOnce(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first.Counters, second.Counters); diff != "" {
		t.Errorf("(-first +second)\n%s", diff)
	}
}

func TestCollectorSysfs(t *testing.T) {
	sys := t.TempDir()
	for _, f := range []struct{ iface, name, val string }{
		{"eth0", "rx_missed_errors", "7\n"}, {"eth0", "rx_dropped", "3\n"}, {"lo", "rx_nohandler", "0\n"}, {"lo", "bogus", "x\n"},
	} {
		dir := filepath.Join(sys, "class", "net", f.iface, "statistics")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.val), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(sys, "class", "net", "bonding_masters"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := ClassNetStatistics(sys)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.RawCounter{
		rc(model.LayerNIC, SourceClassNet, "statistics", "eth0", "rx_dropped", ctr, 3),
		rc(model.LayerNIC, SourceClassNet, "statistics", "eth0", "rx_missed_errors", ctr, 7),
		rc(model.LayerNIC, SourceClassNet, "statistics", "lo", "rx_nohandler", ctr, 0),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	c := New(filepath.Join("testdata", "proc"))
	c.SysRoot = sys
	u, _, err := collectOnce(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, u.Counters[len(u.Counters)-3:]); diff != "" {
		t.Errorf("collector with SysRoot (-want +got)\n%s", diff)
	}
}

func TestCollectorCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var r recorder
	if err := New("/proc").Collect(ctx, &r); !errors.Is(err, context.Canceled) || len(r.updates) != 0 {
		t.Fatalf("err %v, %d updates", err, len(r.updates))
	}
}

// BenchmarkCollect measures one full collection of this machine's
// /proc/net (every file the Collector reads), publishing into a no-op;
// "with-sysfs" adds /sys/class/net/*/statistics; "proc-into-store"
// publishes into a Store.
func BenchmarkCollect(b *testing.B) {
	for _, sys := range []string{"", "/sys"} {
		name := map[string]string{"": "proc", "/sys": "with-sysfs"}[sys]
		b.Run(name, func(b *testing.B) {
			c := New("/proc")
			c.SysRoot = sys
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Collect(context.Background(), discard{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Into a Store (a CountersCopier: the list is filled again), what
	// the Store's apply allocates included.
	b.Run("proc-into-store", func(b *testing.B) {
		c := New("/proc")
		s := model.NewStore("h", "k", time.Now())
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Collect(context.Background(), s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParse measures the parsers alone on the fixtures.
func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"snmp", "netstat", "snmp6", "softnet_stat", "dev", "xfrm_stat"} {
		data, err := os.ReadFile(filepath.Join("testdata", "proc", "net", name))
		if err != nil {
			b.Fatal(err)
		}
		fn := map[string]parseFunc{"snmp": parseSNMPBytes, "netstat": parseNetstatBytes, "snmp6": parseSNMP6Bytes,
			"softnet_stat": parseSoftnetBytes, "dev": parseDevBytes, "xfrm_stat": parseXfrmStatBytes}[name]
		b.Run(name, func(b *testing.B) {
			p := newParser()
			var out []model.RawCounter
			b.ReportAllocs()
			for b.Loop() {
				out, err = fn(p, data, out[:0])
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type discard struct{}

func (discard) Publish(model.Update) {}

// BenchmarkNstatCommand runs `nstat -az` (snmp, snmp6 and netstat only),
// the peer tool, to compare with BenchmarkCollect in the same run.
func BenchmarkNstatCommand(b *testing.B) {
	path, err := exec.LookPath("nstat")
	if err != nil {
		b.Skip("no nstat(8)")
	}
	hist := b.TempDir() + "/nstat.hist"
	for b.Loop() {
		cmd := exec.Command(path, "-a", "-z", "-s")
		cmd.Env = append(os.Environ(), "NSTAT_HISTORY="+hist)
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCollectorForgetsOldNames checks that the intern table does not keep
// the names of interfaces that went away forever.
func TestCollectorForgetsOldNames(t *testing.T) {
	root := copyProc(t)
	c := New(root)
	header := "Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	for i := range 200 {
		var b strings.Builder
		b.WriteString(header)
		for j := range 10 {
			fmt.Fprintf(&b, "veth%d_%d: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", i, j)
		}
		if err := os.WriteFile(filepath.Join(root, "net", "dev"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := c.collect(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.p.names); n > 3000 {
		t.Errorf("intern table holds %d names after 2000 interfaces came and went", n)
	}
}

// TestCollectReusesListOnlyForACopier collects this machine's /proc/net
// into a Store, whose Publish copies the counters, and into a recorder,
// which keeps the updates: into the Store the second collection fills
// the first one's list again, and the first snapshot is unchanged; into
// the recorder every update has a list of its own.
func TestCollectReusesListOnlyForACopier(t *testing.T) {
	var _ collectors.CountersCopier = (*model.Store)(nil)
	var _ collectors.CountersCopier = (*model.ScopedPublisher)(nil)
	c := New("/proc")
	s := model.NewStore("h", "k", time.Now())
	if err := c.Collect(context.Background(), s.Scoped()); err != nil {
		t.Fatal(err)
	}
	first := s.Snapshot()
	want := append([]model.Counter(nil), first.Counters...)
	spare := c.spare
	if cap(spare) == 0 {
		t.Fatal("no spare list after publishing into a Store")
	}
	if err := c.Collect(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if c.spare == nil || &c.spare[:1][0] != &spare[:1][0] {
		t.Error("the second collection did not fill the first one's list")
	}
	if diff := cmp.Diff(want, first.Counters); diff != "" {
		t.Errorf("the first snapshot changed (-then +now)\n%s", diff)
	}
	if len(s.Snapshot().Counters) != len(want) {
		t.Errorf("%d counters, then %d", len(want), len(s.Snapshot().Counters))
	}

	r := &recorder{}
	c = New("/proc")
	for range 2 {
		if err := c.Collect(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	a, b := r.updates[0].(model.CountersUpdate).Counters, r.updates[1].(model.CountersUpdate).Counters
	if c.spare != nil || &a[0] == &b[0] {
		t.Error("a list reused for a publisher that keeps its updates")
	}
}
