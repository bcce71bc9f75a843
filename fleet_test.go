package main

// End-to-end tests of serve, diff and record (issue #17): the real
// binary, in network namespaces, against a real Prometheus.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"netlens/internal/netnstest"
)

// startIn starts a command in netns ns and returns it; it is killed when
// the test ends. Its standard error goes to the returned lines channel.
func startIn(t *testing.T, ns string, name string, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, lines
}

// waitLine waits (bounded) for a line containing want.
func waitLine(t *testing.T, lines <-chan string, want string, timeout time.Duration) []string {
	t.Helper()
	var seen []string
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("exited before saying %q:\n%s", want, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.Contains(l, want) {
				return seen
			}
		case <-deadline:
			t.Fatalf("no %q after %s:\n%s", want, timeout, strings.Join(seen, "\n"))
		}
	}
}

// curlIn GETs url from inside ns and returns the body and HTTP status
// (0 when it could not connect).
func curlIn(t *testing.T, ns, u string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command("ip", append(append([]string{"netns", "exec", ns, "curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}"}, args...), u)...).Output()
	if err != nil {
		return err.Error(), 0
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	code, _ := strconv.Atoi(s[i+1:])
	return s[:i], code
}

// promQuery runs an instant PromQL query (at time at, unless zero) and
// returns its single value and the sample's timestamp; ok is false when
// the result is empty.
func promQuery(t *testing.T, ns, prom, expr string, at float64) (v, ts float64, ok bool) {
	t.Helper()
	q := url.Values{"query": {expr}}
	if at != 0 {
		q.Set("time", strconv.FormatFloat(at, 'f', 3, 64))
	}
	body, code := curlIn(t, ns, prom+"/api/v1/query?"+q.Encode())
	if code != 200 {
		t.Fatalf("query %s: HTTP %d: %s", expr, code, body)
	}
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("query %s: %v: %s", expr, err, body)
	}
	if len(r.Data.Result) == 0 {
		return 0, 0, false
	}
	if len(r.Data.Result) > 1 {
		t.Fatalf("query %s: %d series, want 1: %s", expr, len(r.Data.Result), body)
	}
	ts, _ = r.Data.Result[0].Value[0].(float64)
	s, _ := r.Data.Result[0].Value[1].(string)
	v, _ = strconv.ParseFloat(s, 64)
	return v, ts, true
}

// sendUDP sends n datagrams from inside ns to 127.0.0.1:port.
func sendUDP(t *testing.T, ns string, n, port int) {
	t.Helper()
	script := fmt.Sprintf("import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(%d): s.sendto(b'x',('127.0.0.1',%d))\ns.close()", n, port)
	if out, err := exec.Command("ip", "netns", "exec", ns, "/usr/bin/python3", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("send: %v: %s", err, out)
	}
}

// TestIntegrationPrometheusScrapesServe: a real Prometheus scrapes
// `netlens serve` in a namespace where 500 datagrams go to a closed
// port; PromQL sees exactly 500 more NoPorts, as a raw counter delta and
// as increase() evaluated at the last scrape.
func TestIntegrationPrometheusScrapesServe(t *testing.T) {
	prometheus, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found: install the Debian package prometheus (make test-deps)")
	}
	ns := testNetns(t)
	bin := netlensBinary(t)
	_, serveLog := startIn(t, ns, bin, "serve", "--listen", "127.0.0.1:9347", "--refresh", "250ms", "--no-owners")
	waitLine(t, serveLog, "listening on", 20*time.Second)
	// The live exposition passes Prometheus's own linter.
	body, code := curlIn(t, ns, "http://127.0.0.1:9347/metrics")
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = strings.NewReader(body)
	if out, err := check.CombinedOutput(); code != 200 || err != nil || len(out) > 0 {
		t.Fatalf("promtool check metrics on /metrics (HTTP %d): %v\n%s", code, err, out)
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: netlens\n    static_configs:\n      - targets: ['127.0.0.1:9347']\n"), 0o644)
	startIn(t, ns, prometheus, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:9090", "--log.level=warn")
	const prom = "http://127.0.0.1:9090"
	const series = `netlens_drops_total{job="netlens",group="Udp",name="NoPorts"}`

	var v0 float64
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(250 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	// Up: ready, and two scrapes of the counter before anything is sent.
	var firstTS float64
	wait("the first scrape", func() bool {
		_, code := curlIn(t, ns, prom+"/-/ready")
		if code != 200 {
			return false
		}
		var ok bool
		v0, firstTS, ok = promQuery(t, ns, prom, series, 0)
		return ok
	})
	wait("a second scrape", func() bool {
		_, ts, ok := promQuery(t, ns, prom, "timestamp("+series+")", 0)
		return ok && ts > 0 && mustQuery(t, ns, prom, "timestamp("+series+")") > firstTS
	})
	v0 = mustQuery(t, ns, prom, series)

	sendUDP(t, ns, 500, 9)

	// serve reads the counters every 250 ms, sendUDP's burst takes some
	// milliseconds (more on a loaded machine): a read inside it exposes
	// part of the 500 until the next read, and a scrape then may take
	// it. So wait for a scrape with all of them; more is a failure.
	var v1 float64
	var seen []float64
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		v1 = mustQuery(t, ns, prom, series)
		if len(seen) == 0 || seen[len(seen)-1] != v1 {
			seen = append(seen, v1)
		}
		if v1-v0 >= 500 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scrape with the 500 datagrams in 60 s: NoPorts from %v, values scraped %v", v0, seen)
		}
	}
	if v1-v0 != 500 {
		t.Fatalf("raw counter delta %v, want 500 (from %v to %v; values scraped %v)", v1-v0, v0, v1, seen)
	}
	if slices.ContainsFunc(seen, func(v float64) bool { return v > v0 && v < v0+500 }) {
		t.Logf("a scrape took the counter in the middle of the burst: values scraped %v", seen)
	}
	// The scrape that follows changes nothing.
	last := mustQuery(t, ns, prom, "timestamp("+series+")")
	wait("the scrape that follows", func() bool { return mustQuery(t, ns, prom, "timestamp("+series+")") > last })
	ts := mustQuery(t, ns, prom, "timestamp("+series+")")
	if v := mustQuery(t, ns, prom, series); v != v1 {
		t.Fatalf("the next scrape says %v, want %v", v, v1)
	}
	// Evaluated at the last sample, with the counter starting at zero in
	// the fresh namespace, increase() extrapolates neither end.
	if v0 != 0 {
		t.Fatalf("NoPorts is %v in a fresh namespace, want 0", v0)
	}
	inc, _, ok := promQuery(t, ns, prom, `increase(`+series+`[1m])`, ts)
	if !ok || inc != 500 {
		t.Fatalf("increase(...[1m]) at the last scrape = %v (ok %v), want 500", inc, ok)
	}
	t.Logf("NoPorts %v -> %v; increase([1m]) at the last scrape %v", v0, v1, inc)
}

func mustQuery(t *testing.T, ns, prom, expr string) float64 {
	t.Helper()
	v, _, ok := promQuery(t, ns, prom, expr, 0)
	if !ok {
		t.Fatalf("query %s: no result", expr)
	}
	return v
}

// TestIntegrationServeUnprivileged: as nobody with no capabilities,
// serve still serves and says which collectors it cannot run.
func TestIntegrationServeUnprivileged(t *testing.T) {
	ns := testNetns(t)
	bin := netlensBinary(t)
	_, log := startIn(t, ns, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
		bin, "serve", "--listen", "127.0.0.1:9347", "--filter-backend", "none")
	seen := strings.Join(waitLine(t, log, "listening on", 20*time.Second), "\n")
	if !strings.Contains(seen, "cannot run conntrack: no-permission") {
		t.Errorf("serve did not say conntrack cannot run:\n%s", seen)
	}
	body, code := curlIn(t, ns, "http://127.0.0.1:9347/metrics")
	if code != 200 || !strings.Contains(body, `netlens_collector_up{collector="conntrack"} 0`) || !strings.Contains(body, `netlens_collector_up{collector="counters"} 1`) {
		t.Errorf("HTTP %d; metrics:\n%.3000s", code, body)
	}
}

// TestIntegrationDiffScripted: snapshots around a scripted change (a new
// listener, 30 datagrams to a closed port, a sysctl flipped, a rule
// added) differ by exactly those four; identical snapshots exit 0; a
// truncated one exits 2 and says so.
func TestIntegrationDiffScripted(t *testing.T) {
	ns := testNetns(t)
	bin := netlensBinary(t)
	dir := t.TempDir()
	snap := func(name string) string {
		p := filepath.Join(dir, name)
		if out, err := exec.Command("ip", "netns", "exec", ns, bin, "snapshot", "--filter-backend", "nft", "-o", p).CombinedOutput(); err != nil {
			t.Fatalf("snapshot: %v: %s", err, out)
		}
		return p
	}
	a := snap("a.json")

	pyListenIn(t, ns)
	sendUDP(t, ns, 30, 9)
	if o, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.tcp_syncookies=0").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v: %s", err, o)
	}
	if o, err := exec.Command("ip", "netns", "exec", ns, bin, "rules", "add", "--filter-backend", "nft", "--action", "count",
		"--proto", "udp", "--dport", "9999", "--label", "count 9999").CombinedOutput(); err != nil {
		t.Fatalf("rules add: %v: %s", err, o)
	}
	b := snap("b.json")

	res, code := runDiff(t, bin, a, b)
	if code != 1 {
		t.Fatalf("diff exit %d, want 1", code)
	}
	got := []string{}
	for _, s := range res.SocketsAppeared {
		got = append(got, "socket "+s.Local+" "+s.State+" "+s.Owner)
	}
	hostWide := 0
	for _, c := range res.Counters {
		if c.Source == "/proc/net/softnet_stat" {
			hostWide++
			// Per CPU for the whole host, in every namespace: any other
			// traffic on the machine moves it (a CI run saw time_squeeze
			// +1), so the script cannot own it.
			continue
		}
		got = append(got, fmt.Sprintf("counter %s %s +%d", c.Group, c.Name, c.Delta))
	}
	for _, s := range res.Sysctls {
		got = append(got, "sysctl "+s.Name+" "+s.A+"->"+s.B)
	}
	for _, r := range res.RulesAdded {
		got = append(got, "rule "+r.Summary)
	}
	want := []string{"socket 127.0.0.1:8080 LISTEN python3", "counter Udp NoPorts +30", "sysctl net.ipv4.tcp_syncookies 1->0",
		`rule count input both udp dport 9999 "count 9999"`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || res.Changes != 4+hostWide {
		t.Errorf("changes (%d):\n%s\nwant exactly:\n%s", res.Changes, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	if _, code := runDiff(t, bin, a, a); code != 0 {
		t.Errorf("identical snapshots: exit %d, want 0", code)
	}
	whole, _ := os.ReadFile(a)
	cut := filepath.Join(dir, "cut.json")
	os.WriteFile(cut, whole[:len(whole)/2], 0o644)
	_, stderr, code := runNetlens(t, "diff", a, cut)
	if code != 2 || !strings.Contains(stderr, "truncated") {
		t.Errorf("truncated file: exit %d, stderr %q; want 2 and the reason", code, stderr)
	}
}

type diffResult struct {
	Changes         int `json:"changes"`
	SocketsAppeared []struct {
		Local, State string
		Owners       []struct{ Comm string }
		Owner        string
	} `json:"sockets_appeared"`
	Counters []struct {
		Group, Name, Source string
		Delta               uint64
	} `json:"counters"`
	Sysctls []struct {
		Name, A, B string
	} `json:"sysctls"`
	RulesAdded []struct {
		Summary string
	} `json:"rules_added"`
}

func runDiff(t *testing.T, bin, a, b string) (diffResult, int) {
	t.Helper()
	stdout, stderr, code := runNetlens(t, "diff", "--json", a, b)
	var r diffResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("diff --json: %v\n%s\n%s", err, stdout, stderr)
	}
	for i, s := range r.SocketsAppeared {
		if len(s.Owners) > 0 {
			r.SocketsAppeared[i].Owner = s.Owners[0].Comm
		}
	}
	return r, code
}

// TestIntegrationRecordKeep: 100 intervals of 0.1 s with --keep 10
// leave exactly 10 files, each readable by diff.
func TestIntegrationRecordKeep(t *testing.T) {
	ns := testNetns(t)
	bin := netlensBinary(t)
	dir := t.TempDir()
	cmd, log := startIn(t, ns, bin, "record", "--dir", dir, "--interval", "100ms", "--keep", "10", "--no-owners", "-v")
	for range 100 {
		waitLine(t, log, ".json.gz", 30*time.Second)
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 10 {
		t.Fatalf("%d files after 100 intervals, want 10: %v", len(files), files)
	}
	for _, f := range files {
		if _, stderr, code := runNetlens(t, "diff", files[0], f); code == 2 {
			t.Errorf("diff %s: %s", f, stderr)
		}
	}
}

// TestIntegrationRecordFullDisk: on a small, full tmpfs, record stops
// with a clear message and leaves no partial file.
func TestIntegrationRecordFullDisk(t *testing.T) {
	ns := testNetns(t)
	bin := netlensBinary(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "netlens-rec", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	// Leave 4 KiB: less than a snapshot of a namespace's sysctls.
	if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, 60<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "record", "--dir", dir, "--interval", "100ms", "--min-free", "0")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("record did not stop on a full disk")
	}
	if err == nil || !strings.Contains(string(out), "not enough free space") || !strings.Contains(string(out), "recording stopped") {
		t.Errorf("record: %v\n%s", err, out)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only the filler", names)
	}
}

// TestIntegrationOpenTmuxAsNobody: netlens --open on a gzip-compressed
// snapshot, as nobody with no capabilities and in an empty namespace (so
// nothing on screen can come from this host): the header says whose
// snapshot and when; tabs, a filter and quit work.
func TestIntegrationOpenTmuxAsNobody(t *testing.T) {
	requireTmux(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	dir, err := os.MkdirTemp("", "netlens-open")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	raw, err := os.ReadFile("ui/testdata/offline-b.json")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "web-1.json.gz")
	gzipFile(t, file, raw)
	script := fmt.Sprintf(`setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all %s --open %s
echo "EXIT=$?"
sleep 60`, bin, file)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s sh -c '%s'", ns, strings.ReplaceAll(script, "'", `'\''`)))
	scr := s.waitText("snapshot of web-1 at 2026-11-21 05:01:13Z", 10*time.Second)
	if !strings.Contains(scr, "OFFLINE") || !strings.Contains(scr, "0.0.0.0:8080") || !strings.Contains(scr, "web/99") {
		t.Fatalf("offline Connections tab:\n%s", scr)
	}
	s.keys("2")
	s.waitText("NoPorts", 5*time.Second)
	s.keys("3")
	s.waitText("net.ipv4.ip_forward", 5*time.Second)
	s.keys("4")
	s.waitText("block 9999", 5*time.Second)
	s.keys("1", "/")
	s.literal("8080")
	s.keys("Enter")
	scr = s.waitText("filter: 8080", 5*time.Second)
	if strings.Contains(scr, "10.0.0.1:22") {
		t.Errorf("filter let 10.0.0.1:22 through:\n%s", scr)
	}
	s.keys("q")
	s.waitText("EXIT=0", 5*time.Second)
}

func gzipFile(t *testing.T, path string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(data)
	w.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationServeWarnsOffLoopback: listening beyond loopback with no
// web configuration is allowed when asked for, with a warning.
func TestIntegrationServeWarnsOffLoopback(t *testing.T) {
	ns := testNetns(t)
	_, log := startIn(t, ns, netlensBinary(t), "serve", "--listen", "0.0.0.0:9347", "--filter-backend", "none")
	seen := strings.Join(waitLine(t, log, "is not loopback and there is no --web.config.file", 20*time.Second), "\n")
	// An IPv4 address binds IPv4 alone (not Go's dual-stack [::]).
	if !strings.Contains(seen, "listening on http 0.0.0.0:9347") {
		t.Errorf("stderr:\n%s", seen)
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-tlnH", "sport = :9347").CombinedOutput()
	if err != nil {
		t.Fatalf("ss: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "0.0.0.0:9347") || strings.Contains(string(out), "[::]") || strings.Contains(string(out), "*:9347") {
		t.Errorf("ss -tln: want one IPv4 listener on 0.0.0.0:9347:\n%s", out)
	}
}

// metricValue returns the value of the series (name and labels as the
// text format prints them, labels in order) in a text exposition.
func metricValue(body, series string) (float64, bool) {
	for _, l := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(l, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// waitMetric scrapes url (bounded) until cond holds for the series'
// value; it returns the last body.
func waitMetric(t *testing.T, ns, u, series string, cond func(v float64, ok bool) bool) string {
	t.Helper()
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var code int
		body, code = curlIn(t, ns, u)
		v, ok := metricValue(body, series)
		if code == 200 && cond(v, ok) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: value %v (present %v), HTTP %d; exposition:\n%.4000s", series, v, ok, code, body)
		}
	}
}

// TestIntegrationServeDropTraceReasons: with the eBPF tracer as the drop
// source, N datagrams to a closed port show as exactly N more
// NO_SOCKET drops at the transport layer, source="ebpf", none of them
// unattributed.
func TestIntegrationServeDropTraceReasons(t *testing.T) {
	ns := testNetns(t)
	bin := netlensBinary(t)
	_, log := startIn(t, ns, bin, "serve", "--listen", "127.0.0.1:9347", "--refresh", "250ms", "--no-owners", "--drop-source", "ebpf", "--filter-backend", "none")
	waitLine(t, log, "listening on", 20*time.Second)
	const u = "http://127.0.0.1:9347/metrics"
	const reason = `netlens_drop_reason_total{layer="transport",reason="NO_SOCKET",source="ebpf"}`
	body := waitMetric(t, ns, u, `netlens_collector_up{collector="droptrace"}`, func(v float64, ok bool) bool { return ok && v == 1 })
	before, _ := metricValue(body, reason)
	const n = 137
	sendUDP(t, ns, n, 9)
	var last float64
	body = waitMetric(t, ns, u, reason, func(v float64, ok bool) bool { last = v; return ok && v-before >= n })
	// One more refresh: nothing else arrives.
	time.Sleep(time.Second)
	body, _ = curlIn(t, ns, u)
	v, _ := metricValue(body, reason)
	if v-before != n || last != v {
		t.Fatalf("%s went from %v to %v (then %v), want +%d", reason, before, last, v, n)
	}
	if u, ok := metricValue(body, "netlens_drop_trace_unattributed_total"); !ok || u != 0 {
		t.Errorf("netlens_drop_trace_unattributed_total = %v (present %v), want 0", u, ok)
	}
	if s, ok := metricValue(body, "netlens_drop_trace_seen_total"); !ok || s < n {
		t.Errorf("netlens_drop_trace_seen_total = %v (present %v), want at least %d", s, ok, n)
	}
	if strings.Contains(body, `source="netdm"`) || strings.Contains(body, `source="drop_trace"`) {
		t.Errorf("reasons of another source, or tracer reasons in the funnel:\n%.4000s", body)
	}
}

// seriesValue returns the value of the one series of family name whose
// labels include every label (`k="v"`) in a text exposition; n is how
// many series matched.
func seriesValue(body, name string, labels ...string) (v float64, n int) {
	for _, l := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(l, name+"{")
		if !ok {
			continue
		}
		ls, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		have := strings.Split(ls, ",")
		all := true
		for _, want := range labels {
			all = all && slices.Contains(have, want)
		}
		if all {
			n++
			v, _ = strconv.ParseFloat(strings.TrimSpace(val), 64)
		}
	}
	return v, n
}

// TestIntegrationServeNetnsAll: serve --netns all, run in a namespace of
// the test's, exports it and two more the test made (one named, one
// held by a process in a Docker-like cgroup) with netns and container
// labels: 50, 300 and 200 datagrams to closed ports in each are exactly
// 50, 300 and 200 under each label; a listener is counted in its own
// namespace only; each namespace gone between scrapes (its process
// killed, its name deleted) is gone from the next.
func TestIntegrationServeNetnsAll(t *testing.T) {
	own := testNetns(t)
	b := testNetns(t)
	const id = "a3c5e7f9b1d3a3c5e7f9b1d3a3c5e7f9b1d3a3c5e7f9b1d3a3c5e7f9b1d3a3c5"
	c := netnstest.NewUnshared(t, fmt.Sprintf("/system.slice/docker-%s.scope", id))
	cns := fmt.Sprintf("/proc/%d/ns/net", c.PID)
	if out, err := exec.Command("nsenter", "--net="+cns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in %s: %v: %s", cns, err, out)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(cns, &st); err != nil {
		t.Fatal(err)
	}
	cLabels := []string{fmt.Sprintf(`netns="inode:%d"`, st.Ino), `container="a3c5e7f9b1d3"`}

	bin := netlensBinary(t)
	// Other tests' namespaces come and go on this host: a cap above them.
	_, log := startIn(t, own, bin, "serve", "--netns", "all", "--max-netns", "10000", "--listen", "127.0.0.1:9347",
		"--refresh", "250ms", "--no-owners", "--filter-backend", "none", "--drop-source", "counters")
	waitLine(t, log, "listening on", 60*time.Second)
	const u = "http://127.0.0.1:9347/metrics"

	listener := pyListenIn(t, b)

	noPorts := func(body string, labels ...string) (float64, int) {
		return seriesValue(body, "netlens_drops_total", append([]string{`group="Udp"`, `name="NoPorts"`}, labels...)...)
	}
	scrape := func(what string, cond func(body string) bool) string {
		t.Helper()
		var body string
		for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(250 * time.Millisecond) {
			var code int
			body, code = curlIn(t, own, u)
			if code == 200 && cond(body) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; last scrape (HTTP %d):\n%s", what, code, grepLines(body, "NoPorts"))
			}
		}
	}
	// Every namespace there, its counters read, before anything is sent.
	ready := func(body string) bool {
		for _, ls := range [][]string{{`netns="` + own + `"`}, {`netns="` + b + `"`}, cLabels} {
			if _, n := noPorts(body, ls...); n != 1 {
				return false
			}
		}
		return true
	}
	body := scrape("the three namespaces", ready)
	for _, ls := range [][]string{{`netns="` + own + `"`}, {`netns="` + b + `"`}, cLabels} {
		if v, _ := noPorts(body, ls...); v != 0 {
			t.Fatalf("NoPorts %v in fresh namespace %v, want 0", v, ls)
		}
	}

	sendUDP(t, own, 50, 9)
	sendUDP(t, b, 300, 9)
	script := "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(200): s.sendto(b'x',('127.0.0.1',9))\ns.close()"
	if out, err := exec.Command("nsenter", "--net="+cns, "/usr/bin/python3", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("send in %s: %v: %s", cns, err, out)
	}
	want := []struct {
		labels []string
		n      float64
	}{{[]string{`netns="` + own + `"`, `container=""`}, 50}, {[]string{`netns="` + b + `"`, `container=""`}, 300}, {cLabels, 200}}
	body = scrape("the datagrams in every namespace", func(body string) bool {
		for _, w := range want {
			if v, n := noPorts(body, w.labels...); n != 1 || v != w.n {
				return false
			}
		}
		return true
	})
	// The listener in b: the all-namespaces sockets collector dumps the
	// namespaces that changed within a budget a refresh, the longest
	// unread first, so on a host where other namespaces hold many
	// sockets it can come a few refreshes later.
	listens := func(body, ns string) bool {
		v, n := seriesValue(body, "netlens_sockets", `netns="`+ns+`"`, `proto="tcp"`, `state="LISTEN"`)
		return n == 1 && v == 1
	}
	scrape("the listener in "+b, func(body string) bool { return listens(body, b) && listens(body, own) })
	// The scrape that follows says the same.
	time.Sleep(time.Second)
	body, _ = curlIn(t, own, u)
	for _, w := range want {
		if v, n := noPorts(body, w.labels...); n != 1 || v != w.n {
			t.Errorf("NoPorts%v = %v (%d series), want %v", w.labels, v, n, w.n)
		}
	}
	if v, n := seriesValue(body, "netlens_sockets", `netns="`+b+`"`, `proto="tcp"`, `state="LISTEN"`); n != 1 || v != 1 {
		t.Errorf("LISTEN sockets in %s = %v (%d series), want 1", b, v, n)
	}
	// In netlens's own namespace, only its own listener.
	if v, n := seriesValue(body, "netlens_sockets", `netns="`+own+`"`, `proto="tcp"`, `state="LISTEN"`); n != 1 || v != 1 {
		t.Errorf("LISTEN sockets in %s = %v (%d series), want 1 (serve's)", own, v, n)
	}
	for _, ls := range [][]string{{`netns="` + own + `"`}, {`netns="` + b + `"`}, cLabels} {
		for _, col := range []string{"counters", "conntrack"} {
			if v, n := seriesValue(body, "netlens_collector_up", append([]string{`collector="` + col + `"`}, ls...)...); n != 1 || v != 1 {
				t.Errorf("netlens_collector_up{collector=%q}%v = %v (%d series), want 1", col, ls, v, n)
			}
		}
		if _, n := seriesValue(body, "netlens_conntrack_entries", ls...); n != 1 {
			t.Errorf("netlens_conntrack_entries%v: %d series, want 1", ls, n)
		}
	}
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = strings.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	// Gone between scrapes: the process holding c, then b's name.
	syscall.Kill(c.PID, syscall.SIGKILL)
	scrape("the killed namespace to go", func(body string) bool { return !strings.Contains(body, cLabels[0]) })
	// Not ip netns pids: a thread of serve's inside b can make it list
	// serve.
	listener.Process.Kill()
	listener.Wait()
	if out, err := exec.Command("ip", "netns", "del", b).CombinedOutput(); err != nil {
		t.Fatalf("ip netns del %s: %v: %s", b, err, out)
	}
	body = scrape("the deleted namespace to go", func(body string) bool { return !strings.Contains(body, `netns="`+b+`"`) })
	if _, n := noPorts(body, `netns="`+own+`"`); n != 1 {
		t.Errorf("netlens's own namespace went too:\n%s", grepLines(body, "NoPorts"))
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// pyListenIn starts a TCP listener on 127.0.0.1:8080 in ns (a python3
// process, killed when the test ends) and returns once it listens.
func pyListenIn(t *testing.T, ns string) *exec.Cmd {
	t.Helper()
	listener := exec.Command("ip", "netns", "exec", ns, "/usr/bin/python3", "-c",
		"import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',8080))\ns.listen()\nprint('ok',flush=True)\ntime.sleep(120)")
	out, _ := listener.StdoutPipe()
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Process.Kill(); listener.Wait() })
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	return listener
}

// TestIntegrationServeWithCapabilities: as nobody with only the
// capabilities docs/metrics.md lists (CAP_NET_ADMIN for conntrack, NET_DM
// and nftables; CAP_BPF and CAP_PERFMON for the eBPF tracer), every
// collector runs: serve names none it cannot run, every
// netlens_collector_up is 1, and the tracer counts drops.
func TestIntegrationServeWithCapabilities(t *testing.T) {
	ns := testNetns(t)
	bin := netlensBinary(t)
	// As on a host where a sysctl was ever changed: the change journal's
	// directory exists, root's, mode 0700. nobody cannot read it, and
	// the sysctl collector still runs (it says so in its source).
	if err := os.MkdirAll("/run/netlens/sysctl", 0o700); err != nil {
		t.Fatal(err)
	}
	const caps = "-all,+net_admin,+bpf,+perfmon"
	cmd, log := startIn(t, ns, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		"--inh-caps="+caps, "--ambient-caps="+caps, "--bounding-set="+caps,
		bin, "serve", "--listen", "127.0.0.1:9347", "--refresh", "250ms", "--drop-source", "ebpf", "--filter-backend", "nft")
	seen := strings.Join(waitLine(t, log, "listening on", 30*time.Second), "\n")
	if strings.Contains(seen, "cannot run") {
		t.Errorf("serve with its capabilities cannot run some collectors:\n%s", seen)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	// Uid nobody; CapEff CAP_NET_ADMIN (12), CAP_PERFMON (38), CAP_BPF (39).
	if err != nil || !strings.Contains(string(status), "\nUid:\t65534\t65534\t65534\t65534\n") || !strings.Contains(string(status), "\nCapEff:\t000000c000001000\n") {
		t.Fatalf("serve does not run as nobody with three capabilities: %v\n%s", err, status)
	}
	const u = "http://127.0.0.1:9347/metrics"
	const reason = `netlens_drop_reason_total{layer="transport",reason="NO_SOCKET",source="ebpf"}`
	body := waitMetric(t, ns, u, `netlens_collector_up{collector="droptrace"}`, func(v float64, ok bool) bool { return ok && v == 1 })
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "netlens_collector_up{") && !strings.HasSuffix(l, " 1") {
			t.Errorf("not up as nobody with its capabilities: %s", l)
		}
	}
	before, _ := metricValue(body, reason)
	sendUDP(t, ns, 20, 9)
	waitMetric(t, ns, u, reason, func(v float64, ok bool) bool { return ok && v-before == 20 })
}

// TestIntegrationServeLoopbackByDefault: without --listen, serve listens
// on 127.0.0.1 only: a client on the namespace's other address is
// refused.
func TestIntegrationServeLoopbackByDefault(t *testing.T) {
	ns := testNetns(t)
	for _, args := range [][]string{{"link", "add", "v0", "type", "veth", "peer", "name", "v1"}, {"addr", "add", "10.99.0.1/24", "dev", "v0"}, {"link", "set", "v0", "up"}, {"link", "set", "v1", "up"}} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	_, log := startIn(t, ns, netlensBinary(t), "serve", "--filter-backend", "none")
	seen := strings.Join(waitLine(t, log, "listening on", 20*time.Second), "\n")
	if !strings.Contains(seen, "listening on http 127.0.0.1:9347") {
		t.Errorf("stderr:\n%s", seen)
	}
	if _, code := curlIn(t, ns, "http://127.0.0.1:9347/metrics"); code != 200 {
		t.Errorf("loopback: HTTP %d, want 200", code)
	}
	if body, code := curlIn(t, ns, "http://10.99.0.1:9347/metrics"); code != 0 {
		t.Errorf("10.99.0.1: HTTP %d, want no connection: %.200s", code, body)
	}
}
