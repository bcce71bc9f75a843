package all_test

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/all"
	"netlens/collectors/procnet"
	"netlens/collectors/qdisc"
	"netlens/control/filter"
	"netlens/internal/netnstest"
	"netlens/model"
	"netlens/model/rules"
)

// nsUnderTest is one namespace of the oracle test and the file that
// enters it.
type nsUnderTest struct {
	name string
	path string // /run/netns/NAME or /proc/PID/ns/net
	port int    // its TCP and UDP port
}

// sh runs a command inside the namespace (nsenter --net=PATH).
func (n nsUnderTest) sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	return netnstest.Run(t, "nsenter", append([]string{"--net=" + n.path, name}, args...)...)
}

// workload gives the namespace sockets with an owner (a TCP listener, a
// connection to it, a bound UDP socket, held by one python3 process),
// conntrack entries (an nft table with a ct rule makes conntrack track
// the namespace's traffic) and a filter table.
func (n nsUnderTest) workload(t *testing.T) {
	t.Helper()
	n.sh(t, "ip", "link", "set", "lo", "up")
	// A link and a qdisc of this namespace only, named after its port.
	dev := fmt.Sprintf("nlq%d", n.port)
	n.sh(t, "ip", "link", "add", dev, "type", "veth", "peer", "name", dev+"p")
	n.sh(t, "ip", "link", "set", dev, "up")
	n.sh(t, "tc", "qdisc", "replace", "dev", dev, "root", "handle", "1:", "pfifo", "limit", "77")
	n.sh(t, "nft", "add table inet nltest { chain out { type filter hook output priority 0; ct state new,established counter; }; }")
	script := fmt.Sprintf(`import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", %[1]d)); s.listen()
c = socket.create_connection(("127.0.0.1", %[1]d)); a = s.accept()
c.send(b"x"); a[0].recv(1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", %[1]d))
print("ready", flush=True)
time.sleep(600)`, n.port)
	cmd := exec.Command("nsenter", "--net="+n.path, "/usr/bin/python3", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("workload in %s did not start: %q", n.name, line)
	}
}

// TestIntegrationEveryCollectorInNetNS: for three named namespaces and
// two held only by processes, every collector built by all.Specs with
// Config.NetNS reads that namespace: sockets equal `ss -tuwanpH` inside
// (owners included), counters `nstat -az`, sysctls `sysctl -a`, flows
// `conntrack -L`, links and qdiscs `ip link` and `tc qdisc`, and a filter
// rule added through the nft backend is in
// `nft list ruleset` of that namespace only.
func TestIntegrationEveryCollectorInNetNS(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, tool := range []string{"nsenter", "ss", "nstat", "sysctl", "conntrack", "nft", "/usr/bin/python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Makefile TEST_PKGS)", tool)
		}
	}
	var nss []nsUnderTest
	for i := range 3 {
		ns := netnstest.New(t, fmt.Sprintf("nl-every%d", i))
		nss = append(nss, nsUnderTest{name: ns.Name, path: "/run/netns/" + ns.Name})
	}
	for i := range 2 {
		u := netnstest.NewUnshared(t, "")
		nss = append(nss, nsUnderTest{name: fmt.Sprintf("unshared%d", i), path: fmt.Sprintf("/proc/%d/ns/net", u.PID)})
	}
	for i := range nss {
		nss[i].port = 9101 + i
		nss[i].workload(t)
	}
	for i, n := range nss {
		t.Run(n.name, func(t *testing.T) {
			fd, err := unix.Open(n.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			b, err := filter.Open(filter.Options{Backend: rules.BackendNFT, NetNS: fd})
			if err != nil || b.ReadOnly() != "" {
				t.Fatalf("nft backend: %v %s", err, b.ReadOnly())
			}
			defer b.Close()
			rule := model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Family: model.RuleFamilyBoth, Proto: "tcp",
				DstPorts: model.PortRange{Min: uint16(7000 + i), Max: uint16(7000 + i)}, Action: model.ActionDrop}
			if _, err := b.Add(rule, 0); err != nil {
				t.Fatal(err)
			}
			snap := collectIn(t, fd, b)
			compareSockets(t, n, snap.Sockets)
			compareCounters(t, n, fd, snap.Counters)
			compareSysctls(t, n, snap.Sysctls)
			compareLinksQdiscs(t, n, nss, snap.Counters)
			compareFlows(t, n, snap.Flows)
			// Rules: the rule is in this namespace's ruleset and no other's.
			if snap.Rules == nil || len(snap.Rules.Rules) != 1 || snap.Rules.Rules[0].DstPorts.Min != uint16(7000+i) {
				t.Errorf("rules: %+v, want the one rule with dport %d", snap.Rules, 7000+i)
			}
			for j, m := range nss {
				has := strings.Contains(m.sh(t, "nft", "list", "ruleset"), fmt.Sprintf("dport %d", 7000+i))
				if has != (i == j) {
					t.Errorf("nft list ruleset in %s: dport %d present %v", m.name, 7000+i, has)
				}
			}
			for _, st := range snap.Collectors {
				if st.State != model.StateOK && st.Name != all.DropMon {
					t.Errorf("collector %s: %s %s", st.Name, st.State, st.Reason)
				}
			}
		})
	}
}

// collectIn runs every collector once in the namespace fd.
func collectIn(t *testing.T, fd int, b filter.Backend) model.Snapshot {
	t.Helper()
	specs, err := all.Specs(all.Config{Refresh: time.Second, Owners: true, NetNS: fd, Filters: b})
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore("test", "test", time.Now())
	r := collectors.NewRunner(store, specs...)
	r.Once(context.Background(), 10*time.Second)
	for _, s := range specs {
		if c, ok := s.Collector.(collectors.Closer); ok && s.Collector.Name() != all.Filters {
			c.Close()
		}
	}
	return store.Snapshot()
}

var ssUsers = regexp.MustCompile(`pid=(\d+)`)

// ssAddr turns an ss address ("127.0.0.1:9101", "[::]:*", "*:*",
// "127.0.0.53%lo:53") into an AddrPort string.
func ssAddr(s string) string {
	i := strings.LastIndexByte(s, ':')
	host, port := s[:i], s[i+1:]
	if port == "*" {
		port = "0"
	}
	host = strings.Trim(host, "[]")
	if j := strings.IndexByte(host, '%'); j >= 0 {
		host = host[:j]
	}
	if host == "*" {
		host = "0.0.0.0"
	}
	p, _ := strconv.Atoi(port)
	a, err := netip.ParseAddr(host)
	if err != nil {
		return s
	}
	return netip.AddrPortFrom(a, uint16(p)).String()
}

func compareSockets(t *testing.T, n nsUnderTest, got []model.Socket) {
	t.Helper()
	var want []string
	sc := bufio.NewScanner(strings.NewReader(n.sh(t, "ss", "-tuwanpH")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			continue
		}
		var pids []string
		for _, m := range ssUsers.FindAllStringSubmatch(strings.Join(f[6:], " "), -1) {
			pids = append(pids, m[1])
		}
		slices.Sort(pids)
		pids = slices.Compact(pids)
		want = append(want, strings.Join([]string{f[0], f[1], ssAddr(f[4]), ssAddr(f[5]), strings.Join(pids, ",")}, " "))
	}
	var ours []string
	for _, s := range got {
		var pids []string
		for _, p := range s.Procs {
			pids = append(pids, strconv.Itoa(p.PID))
		}
		slices.Sort(pids)
		pids = slices.Compact(pids)
		ours = append(ours, strings.Join([]string{s.Proto.String(), s.State.String(), s.Local.String(), s.Remote.String(), strings.Join(pids, ",")}, " "))
	}
	slices.Sort(want)
	slices.Sort(ours)
	if d := cmp.Diff(want, ours); d != "" {
		t.Errorf("sockets vs ss -tuwanpH (-ss +netlens):\n%s", d)
	}
	if len(ours) != 4 {
		t.Errorf("%d sockets, want 4 (listener, two ends, UDP)", len(ours))
	}
}

func nstat(t *testing.T, n nsUnderTest) map[string]uint64 {
	cmd := exec.Command("nsenter", "--net="+n.path, "nstat", "-a", "-z", "-s")
	cmd.Env = append(os.Environ(), "NSTAT_HISTORY="+t.TempDir()+"/hist")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nstat: %v", err)
	}
	m := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && !strings.HasPrefix(f[0], "#") {
			v, _ := strconv.ParseUint(f[1], 10, 64)
			m[f[0]] = v
		}
	}
	return m
}

// compareCounters: each snmp/netstat/snmp6 counter read before nstat
// (A) and again after it (B) brackets nstat's value (A <= N <= B).
func compareCounters(t *testing.T, n nsUnderTest, fd int, before []model.Counter) {
	t.Helper()
	nst := nstat(t, n)
	specs, _ := all.Specs(all.Config{Only: []string{all.Counters}, NetNS: fd})
	store := model.NewStore("test", "test", time.Now())
	collectors.NewRunner(store, specs...).Once(context.Background(), 5*time.Second)
	after := map[model.CounterKey]uint64{}
	for _, c := range store.Snapshot().Counters {
		after[c.Key()] = c.Value
	}
	compared := 0
	for _, c := range before {
		if c.Source != procnet.SourceSNMP && c.Source != procnet.SourceNetstat && c.Source != procnet.SourceSNMP6 {
			continue
		}
		v, ok := nst[c.Group+c.Name]
		if !ok {
			continue // nstat's useless_numbers (settings, gauges)
		}
		if a, b := c.Value, after[c.Key()]; a > v || v > b {
			t.Errorf("%s%s: netlens %d then %d, nstat %d", c.Group, c.Name, a, b, v)
		}
		compared++
	}
	if compared < 100 || compared+10 < len(nst) {
		t.Errorf("compared %d counters, nstat prints %d", compared, len(nst))
	}
	if nst["TcpActiveOpens"] != 1 {
		t.Errorf("nstat TcpActiveOpens %d, want 1 (the workload's connection): not this namespace?", nst["TcpActiveOpens"])
	}
}

// compareLinksQdiscs: the qdisc collector's links and qdiscs are this
// namespace's (its veth link and pfifo qdisc, as ip and tc list them
// inside), not another's.
func compareLinksQdiscs(t *testing.T, n nsUnderTest, all []nsUnderTest, got []model.Counter) {
	t.Helper()
	links, qdiscs := map[string]bool{}, map[string]bool{}
	for _, c := range got {
		if c.Source != qdisc.Source {
			continue
		}
		switch c.Group {
		case qdisc.GroupLink:
			links[c.Instance] = true
		case qdisc.GroupQdisc:
			qdiscs[c.Instance] = true
		}
	}
	ipOut := n.sh(t, "ip", "-o", "link", "show")
	tcOut := n.sh(t, "tc", "qdisc", "show")
	for _, m := range all {
		dev := fmt.Sprintf("nlq%d", m.port)
		own := m.port == n.port
		inIP := strings.Contains(ipOut, " "+dev+"@") // "7: nlq9101@nlq9101p: <..."
		if links[dev] != own || inIP != own {
			t.Errorf("link %s: netlens has it %v, ip link inside %v; want %v", dev, links[dev], inIP, own)
		}
		inst := dev + " pfifo 1: root"
		if qdiscs[inst] != own || strings.Contains(tcOut, "qdisc pfifo 1: dev "+dev+" root") != own {
			t.Errorf("qdisc %q: netlens has it %v, tc qdisc show inside %v; want %v", inst, qdiscs[inst], strings.Contains(tcOut, "qdisc pfifo 1: dev "+dev+" root"), own)
		}
	}
}

func compareSysctls(t *testing.T, n nsUnderTest, got []model.Sysctl) {
	t.Helper()
	oracle := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(n.sh(t, "sysctl", "-a", "--deprecated", "--pattern", "^net")))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " = ")
		if !ok {
			name, _ = strings.CutSuffix(sc.Text(), " =")
		}
		v := strings.Join(strings.Fields(val), " ")
		if prev, ok := oracle[name]; ok {
			v = strings.TrimSpace(prev + " " + v)
		}
		oracle[name] = v
	}
	ours := map[string]string{}
	for _, s := range got {
		ours[s.Name] = strings.Join(strings.Fields(s.Value), " ")
	}
	diffs := 0
	for name, v := range oracle {
		if g, ok := ours[name]; (!ok || g != v) && name != "net.netfilter.nf_conntrack_count" {
			if diffs++; diffs < 10 {
				t.Errorf("%s: netlens %q (present %v), sysctl %q", name, g, ok, v)
			}
		}
	}
	if len(ours) != len(oracle) {
		t.Errorf("netlens has %d sysctls, sysctl -a %d", len(ours), len(oracle))
	}
}

func compareFlows(t *testing.T, n nsUnderTest, got []model.Flow) {
	t.Helper()
	var want []string
	sc := bufio.NewScanner(strings.NewReader(n.sh(t, "conntrack", "-L")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		kv := map[string]string{}
		for _, x := range f {
			if k, v, ok := strings.Cut(x, "="); ok {
				if _, seen := kv[k]; !seen {
					kv[k] = v
				}
			}
		}
		want = append(want, fmt.Sprintf("%s %s:%s %s:%s", f[0], kv["src"], kv["sport"], kv["dst"], kv["dport"]))
	}
	var ours []string
	for _, fl := range got {
		ours = append(ours, fmt.Sprintf("%s %s %s", fl.Proto, fl.Orig.Src, fl.Orig.Dst))
	}
	slices.Sort(want)
	slices.Sort(ours)
	if d := cmp.Diff(want, ours); d != "" {
		t.Errorf("flows vs conntrack -L (-conntrack +netlens):\n%s", d)
	}
	if len(ours) == 0 {
		t.Error("no flows: conntrack did not track the workload's connection")
	}
}
