package sysctl

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
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

func TestProcSysNetFixture(t *testing.T) {
	got, st, err := ProcSysNet(filepath.Join("testdata", "sys"))
	if err != nil {
		t.Fatal(err)
	}
	w := func(name, value string) model.Sysctl {
		return model.Sysctl{Name: name, Value: value, Watched: true, Why: watchIndex[name]}
	}
	u := func(name, value string) model.Sysctl { return model.Sysctl{Name: name, Value: value} }
	want := []model.Sysctl{
		w("net.core.default_qdisc", "pfifo_fast"),
		w("net.core.netdev_max_backlog", "1000"),
		w("net.core.somaxconn", "4096"),
		w("net.ipv4.conf.all.rp_filter", "0"),
		u("net.ipv4.conf.eth0/100.rp_filter", "0"),
		u("net.ipv4.conf.lo.rp_filter", "0"),
		w("net.ipv4.ip_local_port_range", "32768 60999"),
		w("net.ipv4.ip_local_reserved_ports", ""),
		u("net.ipv4.neigh.eth0/100.gc_stale_time", "60"),
		u("net.ipv4.ping_group_range", "1 0"),
		u("net.ipv4.tcp_allowed_congestion_control", "reno bbr"),
		w("net.ipv4.tcp_congestion_control", "bbr"),
		w("net.ipv4.tcp_mem", "287901 383868 575802"),
		w("net.ipv4.tcp_rmem", "4096 131072 33554432"),
		w("net.ipv6.conf.all.forwarding", "0"),
		w("net.unix.max_dgram_qlen", "10"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if st.Entries != len(want) || len(st.Unreadable) != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"4096\t131072\t6291456\n", "4096 131072 6291456"},
		{"\n", ""},
		{"", ""},
		{"reno cubic\n", "reno cubic"},
		{"  a \t\t b  \n c \r\n", "a b c"},
		{"1\n2\n", "1 2"},
		{"00:11:22\n", "00:11:22"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, string(normalize(nil, []byte(tt.in)))); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestDottedName(t *testing.T) {
	tests := []struct{ path, name string }{
		{"net/core/somaxconn", "net.core.somaxconn"},
		{"net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter"},
		{"net/ipv6/conf/br.lan.7/forwarding", "net.ipv6.conf.br/lan/7.forwarding"},
		{"/net/bridge/bridge-nf-call-iptables", "net.bridge.bridge-nf-call-iptables"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if diff := cmp.Diff(tt.name, DottedName(tt.path)); diff != "" {
				t.Errorf("DottedName (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(strings.TrimPrefix(tt.path, "/"), PathOf(tt.name)); diff != "" {
				t.Errorf("PathOf (-want +got)\n%s", diff)
			}
		})
	}
}

func TestWatchList(t *testing.T) {
	seen := map[string]bool{}
	for _, w := range WatchList {
		if seen[w.Name] {
			t.Errorf("%s listed twice", w.Name)
		}
		seen[w.Name] = true
		if !strings.HasPrefix(w.Name, "net.") || w.Why == "" || strings.ContainsAny(w.Name, " \t") {
			t.Errorf("bad entry %+v", w)
		}
	}
	// Every watched sysctl that this kernel has must be found by a walk of
	// the real /proc/sys (catches typos in the list).
	if _, err := os.Stat("/proc/sys/net/core/somaxconn"); errors.Is(err, os.ErrNotExist) {
		t.Skip("no /proc/sys/net here")
	} else if err != nil {
		t.Fatal(err)
	}
	got, _, err := ProcSysNet("/proc/sys")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, e := range got {
		if e.Watched {
			found[e.Name] = true
		}
	}
	for _, w := range WatchList {
		if _, err := os.Stat(filepath.Join("/proc/sys", PathOf(w.Name))); err == nil && !found[w.Name] {
			t.Errorf("%s exists but was not marked watched", w.Name)
		}
	}
}

type recorder struct{ updates []model.Update }

func (r *recorder) Publish(u model.Update) { r.updates = append(r.updates, u) }

func TestCollector(t *testing.T) {
	at := time.Unix(1700000000, 0)
	c := New(filepath.Join("testdata", "sys"))
	c.Now = func() time.Time { return at }
	var r recorder
	for range 2 { // the second walk reuses the first one's strings
		if err := c.Collect(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.updates) != 2 {
		t.Fatalf("%d updates", len(r.updates))
	}
	a, b := r.updates[0].(model.SysctlsUpdate), r.updates[1].(model.SysctlsUpdate)
	if !b.At.Equal(at) || len(b.Sysctls) != 16 {
		t.Errorf("update at %v with %d entries", b.At, len(b.Sysctls))
	}
	if diff := cmp.Diff(a.Sysctls, b.Sysctls); diff != "" {
		t.Errorf("second walk differs (-first +second)\n%s", diff)
	}
	if &a.Sysctls[0] == &b.Sysctls[0] {
		t.Error("the two updates share a slice")
	}
	if c.Source() != "/proc/sys/net" {
		t.Errorf("source %q", c.Source())
	}

	c = New(t.TempDir())
	if err := c.Collect(context.Background(), &r); !errors.Is(err, collectors.ErrNotSupported) {
		t.Errorf("missing /proc/sys/net: got %v, want ErrNotSupported", err)
	}
}

// TestCollectorSeesChanges changes a value and removes an entry between
// walks.
func TestCollectorSeesChanges(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "net", "core")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, v string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("somaxconn", "4096\n")
	write("other", "1\n")
	c := New(root)
	var r recorder
	if err := c.Collect(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
	write("somaxconn", "65535\n")
	if err := os.Remove(filepath.Join(dir, "other")); err != nil {
		t.Fatal(err)
	}
	if err := c.Collect(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
	got := r.updates[1].(model.SysctlsUpdate).Sysctls
	want := []model.Sysctl{{Name: "net.core.somaxconn", Value: "65535", Watched: true, Why: watchIndex["net.core.somaxconn"]}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if v := r.updates[0].(model.SysctlsUpdate).Sysctls[1].Value; v != "4096" {
		t.Errorf("the first update changed: %q", v)
	}
}

// TestUnreadableOnLiveKernel walks the real /proc/sys/net: the write-only
// route.flush entries must be skipped and counted, not fail the walk.
func TestUnreadableOnLiveKernel(t *testing.T) {
	if _, err := os.Stat("/proc/sys/net/ipv4/route/flush"); errors.Is(err, os.ErrNotExist) {
		t.Skip("no /proc/sys/net/ipv4/route/flush on this kernel")
	} else if err != nil {
		t.Fatal(err)
	}
	c := New("/proc/sys")
	var r recorder
	if err := c.Collect(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if !contains(st.Unreadable, "net.ipv4.route.flush") {
		t.Errorf("net.ipv4.route.flush not counted unreadable: %v", st.Unreadable)
	}
	for _, e := range r.updates[0].(model.SysctlsUpdate).Sysctls {
		if e.Name == "net.ipv4.route.flush" {
			t.Error("write-only entry published")
		}
	}
	if !strings.Contains(c.Source(), "unreadable") {
		t.Errorf("source %q does not mention the unreadable entries", c.Source())
	}
	t.Logf("%d entries, unreadable: %v", st.Entries, st.Unreadable)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"4096\t131072\t6291456\n", "", "\n", "a  b\r\n c"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := normalize(nil, b)
		want := strings.Join(strings.FieldsFunc(string(b), func(r rune) bool { return strings.ContainsRune(" \t\n\r\v\f", r) }), " ")
		if string(got) != want {
			t.Fatalf("normalize(%q) = %q, want %q", b, got, want)
		}
		if again := normalize(nil, got); !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %q -> %q", got, again)
		}
	})
}

func FuzzDirent(f *testing.F) {
	rec := func(name string, typ byte) []byte {
		n := 19 + len(name) + 1
		n = (n + 7) &^ 7
		b := make([]byte, n)
		binary.NativeEndian.PutUint16(b[16:], uint16(n))
		b[18] = typ
		copy(b[19:], name)
		return b
	}
	f.Add(append(rec(".", 4), rec("somaxconn", 8)...))
	f.Add(rec("eth0.100", 4)[:10])
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			name, _, rest, ok := nextDirent(b)
			if !ok {
				return
			}
			if len(rest) >= len(b) || bytes.IndexByte(name, 0) >= 0 {
				t.Fatalf("no progress or NUL in name %q", name)
			}
			b = rest
		}
	})
}

func FuzzDottedName(f *testing.F) {
	for _, s := range []string{"net/ipv4/conf/eth0.100/rp_filter", "net/core/somaxconn", "a..b/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		p = strings.Trim(p, "/")
		if p == "" || strings.Contains(p, "//") {
			return
		}
		if got := PathOf(DottedName(p)); got != p {
			t.Fatalf("PathOf(DottedName(%q)) = %q", p, got)
		}
	})
}

func BenchmarkWalk(b *testing.B) {
	c := New("/proc/sys")
	var r discard
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Collect(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Publish(model.Update) {}

// BenchmarkSysctlCommand runs `sysctl -a --pattern '^net' >/dev/null`,
// the peer tool's way to the same table, to compare with BenchmarkWalk
// in the same run.
func BenchmarkSysctlCommand(b *testing.B) {
	path, err := exec.LookPath("sysctl")
	if err != nil {
		b.Skip("no sysctl(8)")
	}
	for b.Loop() {
		cmd := exec.Command(path, "-a", "--pattern", "^net")
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
