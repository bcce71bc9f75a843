package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
)

// cgroup2Root returns the writable cgroup v2 mount, or skips.
func cgroup2Root(t *testing.T) string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if f := strings.Fields(pre); ok && strings.HasPrefix(post, "cgroup2 ") && len(f) > 5 && strings.HasPrefix(f[5], "rw") {
			return f[4]
		}
	}
	t.Skip("needs a writable cgroup v2 hierarchy")
	return ""
}

// unsharedIn starts `unshare -n sleep 600` in the cgroup (made, and
// removed at the end, under the cgroup v2 mount) and returns its PID.
func unsharedIn(t *testing.T, cgroup string) int {
	t.Helper()
	cmd := exec.Command("unshare", "-n", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var made []string
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		for i := len(made) - 1; i >= 0; i-- {
			for j := 0; j < 100 && os.Remove(made[i]) != nil; j++ {
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
	dir := cgroup2Root(t)
	for _, e := range strings.Split(strings.Trim(cgroup, "/"), "/") {
		dir = filepath.Join(dir, e)
		if err := os.Mkdir(dir, 0o755); err == nil {
			made = append(made, dir)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	own, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; i < 200; i++ { // until unshare has unshared and exec'd sleep
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
		c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid))
		if l != own && strings.TrimSpace(string(c)) == "sleep" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd.Process.Pid
}

type netnsJSON struct {
	Namespaces []struct {
		Inode     uint64   `json:"inode"`
		Names     []string `json:"names"`
		PID       int      `json:"pid"`
		NProcs    int      `json:"nprocs"`
		Container *struct {
			Runtime, ID string
			PodUID      string `json:"pod_uid"`
		} `json:"container"`
		Enterable bool `json:"enterable"`
	} `json:"namespaces"`
}

// TestIntegrationNetnsCommand: `netlens netns --json` lists three named
// namespaces and two held only by processes in Docker- and
// Kubernetes-shaped cgroups with the right identities; inodes and PIDs
// agree with lsns -t net -J (for the named ones, which have no process
// and which lsns 2.38 does not list, with stat). `--netns pid:PID
// snapshot` records the container.
func TestIntegrationNetnsCommand(t *testing.T) {
	requireRoot(t)
	var named []string
	for range 3 {
		named = append(named, testNetns(t))
	}
	id := fmt.Sprintf("%064x", os.Getpid())
	kid := strings.Repeat("ab", 32)
	uid := fmt.Sprintf("%08x-aaaa-bbbb-cccc-0123456789ab", os.Getpid())
	dpid := unsharedIn(t, fmt.Sprintf("/netlens-cli-%d.slice/docker-%s.scope", os.Getpid(), id))
	kpid := unsharedIn(t, "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"+strings.ReplaceAll(uid, "-", "_")+".slice/cri-containerd-"+kid+".scope")

	out, stderr, code := runNetlens(t, "netns", "--json")
	if code != 0 {
		t.Fatalf("netlens netns --json: exit %d: %s", code, stderr)
	}
	var got netnsJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lsOut, err := exec.Command("lsns", "-t", "net", "-J", "-o", "NS,PID").Output()
	if err != nil {
		t.Fatal(err)
	}
	var ls struct {
		Namespaces []struct {
			NS  uint64
			PID int
		}
	}
	json.Unmarshal(lsOut, &ls)
	lsPID := map[uint64]int{}
	for _, n := range ls.Namespaces {
		lsPID[n.NS] = n.PID
	}
	ino := func(p string) uint64 {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	find := func(i uint64) int {
		for k, n := range got.Namespaces {
			if n.Inode == i {
				return k
			}
		}
		t.Fatalf("net:[%d] not listed:\n%s", i, out)
		return -1
	}
	for _, name := range named {
		n := got.Namespaces[find(ino("/run/netns/"+name))]
		if len(n.Names) != 1 || n.Names[0] != name || n.PID != 0 || n.Container != nil || !n.Enterable {
			t.Errorf("%s: %+v", name, n)
		}
	}
	for _, c := range []struct {
		pid                 int
		runtime, id, poduid string
	}{{dpid, "docker", id, ""}, {kpid, "containerd", kid, uid}} {
		i := ino(fmt.Sprintf("/proc/%d/ns/net", c.pid))
		n := got.Namespaces[find(i)]
		if n.PID != c.pid || n.NProcs != 1 || lsPID[i] != c.pid {
			t.Errorf("pid %d: netlens pid %d nprocs %d, lsns pid %d", c.pid, n.PID, n.NProcs, lsPID[i])
		}
		if n.Container == nil || n.Container.Runtime != c.runtime || n.Container.ID != c.id || n.Container.PodUID != c.poduid {
			t.Errorf("pid %d: container %+v, want %s %s pod %q", c.pid, n.Container, c.runtime, c.id, c.poduid)
		}
	}
	snap, stderr, code := runNetlens(t, "--netns", fmt.Sprintf("pid:%d", kpid), "snapshot")
	if code != 0 {
		t.Fatalf("snapshot --netns: exit %d: %s", code, stderr)
	}
	m := validateSnapshot(t, []byte(snap))
	ns, _ := m["netns"].(map[string]any)
	if ns["pod"] != "pod "+uid || ns["container"] != kid[:12] || ns["runtime"] != "containerd" || ns["pid"] != float64(kpid) {
		t.Errorf("snapshot netns = %v", ns)
	}
	if _, stderr, code := runNetlens(t, "--netns", "pid:zero", "flows"); code != 2 {
		t.Errorf("bad selector: exit %d, want 2 (%s)", code, stderr)
	}
	if _, stderr, code := runNetlens(t, "--netns", "nl-no-such-namespace", "flows"); code != 1 || !strings.Contains(stderr, "no such network namespace") {
		t.Errorf("missing namespace: exit %d: %s", code, stderr)
	}
}

// TestIntegrationNetnsSubcommands: flows, rules and capture with --netns
// read the namespace: a UDP flow made inside (tracked because of an nft
// ct rule made inside) is in `flows`, the rules are those of the
// namespace, and `capture -i lo` sees the namespace's loopback traffic.
func TestIntegrationNetnsSubcommands(t *testing.T) {
	requireRoot(t)
	ns := testNetns(t)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("nft", "add table inet t { chain o { type filter hook output priority 0; ct state new counter; }; }")
	// Traffic inside: UDP datagrams to a closed port on loopback, for
	// 3 s, while capture runs.
	traffic := exec.Command("ip", "netns", "exec", ns, "/usr/bin/python3", "-c",
		`import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"x", ("127.0.0.1", 47999)); time.sleep(0.01)`)
	if err := traffic.Start(); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runNetlens(t, "--netns", ns, "capture", "-i", "lo", "--count", "20", "--duration", "10s", "--json")
	if code != 0 {
		t.Fatalf("capture --netns: exit %d: %s", code, stderr)
	}
	var cs struct{ Packets uint64 }
	if err := json.Unmarshal([]byte(out), &cs); err != nil || cs.Packets != 20 {
		t.Errorf("capture --netns: %d packets (%v), want 20:\n%s", cs.Packets, err, out)
	}
	out, stderr, code = runNetlens(t, "--netns", ns, "flows", "--json")
	if code != 0 || !strings.Contains(out, `"127.0.0.1:47999"`) {
		t.Errorf("flows --netns: exit %d, no flow to 127.0.0.1:47999: %s\n%s", code, stderr, out)
	}
	if out, _, _ := runNetlens(t, "flows", "--json"); strings.Contains(out, `"127.0.0.1:47999"`) {
		t.Errorf("flows without --netns shows the namespace's flow")
	}
	// drops: the namespace's Udp NoPorts moves by the datagrams sent
	// inside it (the host's is left alone by this test).
	traffic.Wait()
	drops := exec.Command(netlensBinary(t), "--netns", ns, "drops", "--json", "--interval", "1s", "--count", "4")
	lines, moved := dropsNoPorts(t, drops, func() {
		run("/usr/bin/python3", "-c", "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(20): s.sendto(b'x',('127.0.0.1',9))")
	})
	if moved != 20 {
		t.Errorf("drops --netns: Udp NoPorts moved by %d, want 20:\n%s", moved, strings.Join(lines, "\n"))
	}
	out, stderr, code = runNetlens(t, "--netns", ns, "rules", "list", "--filter-backend", "nft")
	if code != 0 {
		t.Errorf("rules --netns: exit %d: %s\n%s", code, stderr, out)
	}
}

// TestIntegrationNetnsAsNobody: without privileges `netlens netns` lists
// what /proc allows (the named namespaces, its own) and marks every
// namespace but its own as not enterable, saying it needs CAP_SYS_ADMIN;
// --netns then fails with that reason.
func TestIntegrationNetnsAsNobody(t *testing.T) {
	requireRoot(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	asNobody := func(args ...string) (string, error) {
		cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", bin}, args...)...)
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := asNobody("netns", "--json")
	if err != nil {
		t.Fatalf("netns as nobody: %v: %s", err, out)
	}
	var got struct {
		Namespaces []struct {
			Names     []string `json:"names"`
			Current   bool     `json:"current"`
			Enterable bool     `json:"enterable"`
			Reason    string   `json:"reason"`
		} `json:"namespaces"`
		Unreadable int `json:"unreadable_processes"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	named, current := false, false
	for _, n := range got.Namespaces {
		named = named || (len(n.Names) == 1 && n.Names[0] == ns)
		current = current || n.Current
		if n.Current {
			if !n.Enterable || n.Reason != "" {
				t.Errorf("as nobody: own namespace %+v, want enterable (it needs no entering)", n)
			}
		} else if n.Enterable || !strings.Contains(n.Reason, "CAP_SYS_ADMIN") {
			t.Errorf("as nobody: %+v, want not enterable, needs CAP_SYS_ADMIN", n)
		}
	}
	if !named || !current || got.Unreadable == 0 {
		t.Errorf("as nobody: named %s listed %v, own listed %v, unreadable processes %d (root's should be)", ns, named, current, got.Unreadable)
	}
	if out, err := asNobody("--netns", ns, "flows"); err == nil || !strings.Contains(out, "CAP_SYS_ADMIN") {
		t.Errorf("--netns as nobody: %v: %s", err, out)
	}
}

// TestIntegrationNetnsOwnAsNobody: without privileges `netlens netns`
// lists its own namespace's interfaces, addresses and socket counts as
// `ip addr` and /proc/net/sockstat show them to the same user, and does
// not say it needs CAP_SYS_ADMIN to enter it (it said so, and left them
// out, though reading them needs no entering and --netns takes it).
func TestIntegrationNetnsOwnAsNobody(t *testing.T) {
	requireRoot(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	for _, args := range [][]string{{"-n", ns, "link", "add", "nlown0", "type", "veth", "peer", "name", "nlown1"}, {"-n", ns, "addr", "add", "10.78.0.1/24", "dev", "nlown0"},
		{"-n", ns, "link", "set", "nlown0", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	// One UDP socket in the namespace, for its socket counts.
	udp := exec.Command("ip", "netns", "exec", ns, "socat", "-u", "UDP-RECV:9999", "OPEN:/dev/null")
	if err := udp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Process.Kill(); udp.Wait() })
	for i := 0; i < 50 && !strings.Contains(netnstest.Run(t, "ip", "netns", "exec", ns, "ss", "-Hlun"), ":9999"); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	asNobody := func(args ...string) string {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"}, args...)...)
		cmd.Dir = "/"
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v as nobody: %v", args, err)
		}
		return string(out)
	}
	var got struct {
		Namespaces []struct {
			Current    bool `json:"current"`
			Enterable  bool `json:"enterable"`
			Reason     string
			Interfaces []struct {
				Name  string   `json:"name"`
				Addrs []string `json:"addrs"`
			} `json:"interfaces"`
			Sockets *struct {
				UDP int `json:"udp"`
			} `json:"sockets"`
		} `json:"namespaces"`
	}
	if out := asNobody(bin, "netns", "--json"); json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("not JSON:\n%s", out)
	}
	// The oracle: ip, as the same user in the same namespace.
	var ipAddrs []struct {
		Name  string `json:"ifname"`
		Addrs []struct {
			Local  string `json:"local"`
			Prefix int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(asNobody("ip", "-j", "addr")), &ipAddrs); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, l := range ipAddrs {
		want[l.Name] = []string{}
		for _, a := range l.Addrs {
			want[l.Name] = append(want[l.Name], fmt.Sprintf("%s/%d", a.Local, a.Prefix))
		}
	}
	own := 0
	for _, n := range got.Namespaces {
		if !n.Current {
			continue
		}
		own++
		if !n.Enterable || n.Reason != "" {
			t.Errorf("own namespace: enterable %v, reason %q; want enterable, no reason", n.Enterable, n.Reason)
		}
		gotAddrs := map[string][]string{}
		for _, it := range n.Interfaces {
			gotAddrs[it.Name] = append([]string{}, it.Addrs...)
		}
		if d := cmp.Diff(want, gotAddrs, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
			t.Errorf("own namespace's interfaces, against ip -j addr (-want +got):\n%s", d)
		}
		if n.Sockets == nil || n.Sockets.UDP != 1 {
			t.Errorf("own namespace: sockets %+v, want its one UDP socket", n.Sockets)
		}
	}
	if own != 1 {
		t.Errorf("%d namespaces marked current, want 1", own)
	}
}

// TestIntegrationNetnsRulesChangeTheNamespace: `netlens --netns NS rules
// add` changes the rules of NS (nft list ruleset inside it shows the
// rule) and not those of the host; --netns naming no namespace fails
// before anything is changed. (The rules command's own pre-run hook once
// hid the root's, so --netns was ignored and the host's rules changed.)
func TestIntegrationNetnsRulesChangeTheNamespace(t *testing.T) {
	requireRoot(t)
	ns := testNetns(t)
	label := fmt.Sprintf("audit-ns-%d", time.Now().UnixNano()%1000000)
	// Should the rule land on the host, take it away again (a count
	// rule: it never drops).
	t.Cleanup(func() {
		out, _, _ := runNetlens(t, "rules", "list", "--json", "--filter-backend", "nft")
		var st struct {
			Rules []struct {
				ID    uint32 `json:"id"`
				Label string `json:"label"`
			} `json:"rules"`
		}
		json.Unmarshal([]byte(out), &st)
		for _, r := range st.Rules {
			if r.Label == label {
				runNetlens(t, "rules", "del", strconv.Itoa(int(r.ID)), "--filter-backend", "nft")
			}
		}
	})
	if _, stderr, code := runNetlens(t, "--netns", ns, "rules", "add", "--filter-backend", "nft", "--action", "count", "--proto", "udp", "--dport", "47998", "--label", label); code != 0 {
		t.Fatalf("rules add --netns: exit %d: %s", code, stderr)
	}
	inside, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "ruleset").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list ruleset in %s: %v: %s", ns, err, inside)
	}
	if !strings.Contains(string(inside), `comment "`+label+`"`) {
		t.Errorf("nft list ruleset in the namespace has no rule %q:\n%s", label, inside)
	}
	host, _ := exec.Command("nft", "list", "ruleset").CombinedOutput()
	if strings.Contains(string(host), label) {
		t.Errorf("the host's ruleset has the namespace's rule %q", label)
	}
	out, stderr, code := runNetlens(t, "--netns", ns, "rules", "list", "--filter-backend", "nft")
	if code != 0 || !strings.Contains(out, label) {
		t.Errorf("rules list --netns: exit %d, no rule %q: %s\n%s", code, label, stderr, out)
	}
	if _, stderr, code := runNetlens(t, "--netns", "nl-no-such-namespace", "rules", "list"); code != 1 || !strings.Contains(stderr, "no such network namespace") {
		t.Errorf("rules --netns of a missing namespace: exit %d, want 1 naming it: %s", code, stderr)
	}
}

// TestIntegrationRulesWithoutRoot: with CAP_NET_ADMIN but not root (the
// README's setcap), a change that needs the revert state under
// /run/netlens/nft (root's) fails saying so, and changes nothing (nft
// list ruleset inside as the oracle).
func TestIntegrationRulesWithoutRoot(t *testing.T) {
	requireRoot(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	if err := os.MkdirAll("/run/netlens/nft", 0o700); err != nil { // as netlens makes it
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=+net_admin", "--ambient-caps=+net_admin", "env", "-u", "SSH_CONNECTION",
		bin, "rules", "add", "--filter-backend", "nft", "--action", "drop", "--proto", "tcp", "--dport", "47997", "--revert", "10s")
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "/run/netlens/nft is root's") {
		t.Errorf("rules add with CAP_NET_ADMIN only: %v, want exit 1 saying /run/netlens/nft is root's:\n%s", err, out)
	}
	rs, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "ruleset").CombinedOutput()
	if strings.Contains(string(rs), "47997") {
		t.Errorf("the refused change is in the ruleset:\n%s", rs)
	}
}

// TestIntegrationRulesPolicyPending: with nftables, `rules policy` lists
// a default policy change that waits for its confirm, as `rules list`
// does (it listed only the kernel module's).
func TestIntegrationRulesPolicyPending(t *testing.T) {
	requireRoot(t)
	ns := testNetns(t)
	run := func(args ...string) string {
		t.Helper()
		out, stderr, code := runNetlens(t, append([]string{"--netns", ns, "rules", "--filter-backend", "nft"}, args...)...)
		if code != 0 {
			t.Fatalf("rules %v: exit %d: %s", args, code, stderr)
		}
		return out
	}
	run("policy", "output", "drop", "--revert", "30s")
	if out := run("policy"); !strings.Contains(out, "pending: txn ") {
		t.Errorf("rules policy lists no pending change:\n%s", out)
	}
	if out := run("policy", "--json"); !strings.Contains(out, `"pending"`) {
		t.Errorf("rules policy --json lists no pending change:\n%s", out)
	}
	run("confirm")
	run("policy", "output", "accept")
}
