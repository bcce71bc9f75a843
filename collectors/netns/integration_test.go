package netns

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
	"netlens/model"
)

// testNamespaces are the five namespaces the integration tests make:
// three named, two held only by processes in test-made cgroups shaped
// like Docker's and Kubernetes's.
type testNamespaces struct {
	named        []*netnstest.NS
	docker, kube *netnstest.Unshared
	dockerID     string
	kubeID       string
	podUID       string
}

func makeTestNamespaces(t *testing.T) *testNamespaces {
	t.Helper()
	netnstest.RequireRoot(t)
	tn := &testNamespaces{}
	for i := range 3 {
		tn.named = append(tn.named, netnstest.New(t, fmt.Sprintf("nl-disc%d", i)))
	}
	tag := fmt.Sprintf("%08x", os.Getpid())
	tn.dockerID = strings.Repeat(tag, 8)
	tn.kubeID = strings.Repeat("c0ffee"+tag[:2], 8)
	tn.podUID = tag + "-1f2b-4c3d-9e8f-0a1b2c3d4e5f"
	tn.docker = netnstest.NewUnshared(t, fmt.Sprintf("/netlens-test-%d.slice/docker-%s.scope", os.Getpid(), tn.dockerID))
	pod := strings.ReplaceAll(tn.podUID, "-", "_")
	tn.kube = netnstest.NewUnshared(t, "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"+pod+".slice/cri-containerd-"+tn.kubeID+".scope")
	return tn
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

type lsnsEntry struct {
	NS   uint64  `json:"ns"`
	PID  *int    `json:"pid"`
	NSFS *string `json:"nsfs"`
}

func lsns(t *testing.T) map[uint64]lsnsEntry {
	t.Helper()
	out, err := exec.Command("lsns", "-t", "net", "-J", "-o", "NS,PID,NSFS").Output()
	if err != nil {
		t.Fatalf("lsns: %v", err)
	}
	var v struct{ Namespaces []lsnsEntry }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("lsns -J: %v\n%s", err, out)
	}
	m := map[uint64]lsnsEntry{}
	for _, e := range v.Namespaces {
		m[e.NS] = e
	}
	return m
}

// TestIntegrationDiscover: the five test namespaces are found with their
// names, main processes, container identities (names from state files
// laid out as Docker and the kubelet do), interfaces and socket counts;
// inodes and PIDs agree with lsns -t net -J.
func TestIntegrationDiscover(t *testing.T) {
	tn := makeTestNamespaces(t)
	// Interfaces: a veth pair between named 0 and named 1, with addresses.
	a, b := tn.named[0], tn.named[1]
	netnstest.Run(t, "ip", "link", "add", "nlda0", "netns", a.Name, "type", "veth", "peer", "name", "nldb0", "netns", b.Name)
	a.Run(t, "ip", "addr", "add", "10.77.0.1/24", "dev", "nlda0")
	a.Run(t, "ip", "link", "set", "nlda0", "up")
	// Sockets: two TCP listeners in named 2.
	tn.named[2].Do(t, func() {
		for range 2 {
			l, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}
	})
	// State files where Docker and the kubelet keep them, in a temp root.
	state := t.TempDir()
	os.MkdirAll(filepath.Join(state, "docker", tn.dockerID), 0o755)
	os.WriteFile(filepath.Join(state, "docker", tn.dockerID, "config.v2.json"), []byte(`{"ID":"`+tn.dockerID+`","Name":"/web-1"}`), 0o644)
	os.MkdirAll(filepath.Join(state, "pods", "prod_api-7f9c_"+tn.podUID), 0o755)

	// lsns is read before and after Discover: other packages' tests make
	// and remove namespaces at any moment, and only those lsns lists
	// both times, held by the same process, were there for all of
	// Discover's walk.
	lsBefore := lsns(t)
	res, err := Discover(Options{Details: true, State: &StateFiles{DockerContainers: filepath.Join(state, "docker"), PodLogs: filepath.Join(state, "pods")}})
	if err != nil {
		t.Fatal(err)
	}
	ls := lsns(t)
	check := func(name string, ino uint64, want Namespace, wantCont *Container) *Namespace {
		t.Helper()
		got := res.Find(ino)
		if got == nil {
			t.Fatalf("%s (net:[%d]) not discovered", name, ino)
		}
		if d := cmp.Diff(wantCont, got.Container); d != "" {
			t.Errorf("%s container (-want +got):\n%s", name, d)
		}
		if d := cmp.Diff(want.Names, got.Names); d != "" {
			t.Errorf("%s names (-want +got):\n%s", name, d)
		}
		if got.PID != want.PID || got.NProcs != want.NProcs || !got.Enterable || got.Sockets == nil {
			t.Errorf("%s: pid %d nprocs %d enterable %v sockets %v, want pid %d nprocs %d, enterable, sockets", name, got.PID, got.NProcs, got.Enterable, got.Sockets, want.PID, want.NProcs)
		}
		if want.NProcs == 0 {
			// lsns (util-linux 2.38) lists only namespaces that have a
			// process; the oracle for the others is stat(2), used above
			// to find ino, and ip netns list, below.
			return got
		}
		e, ok := ls[ino]
		switch {
		case !ok:
			t.Errorf("%s: lsns does not list net:[%d]", name, ino)
		case e.PID == nil || *e.PID != got.PID:
			t.Errorf("%s: lsns pid %v, netlens %d", name, e.PID, got.PID)
		}
		return got
	}
	ipList := netnstest.Run(t, "ip", "netns", "list")
	for i, ns := range tn.named {
		if !strings.Contains(ipList, ns.Name) {
			t.Errorf("ip netns list does not show %s", ns.Name)
		}
		got := check(ns.Name, inode(t, "/run/netns/"+ns.Name), Namespace{Names: []string{ns.Name}}, nil)
		switch i {
		case 0:
			want := []Interface{{Index: 1, Name: "lo", Up: true, Addrs: []string{"127.0.0.1/8", "::1/128"}}}
			if len(got.Interfaces) != 2 {
				t.Fatalf("%s interfaces: %+v, want lo and nlda0", ns.Name, got.Interfaces)
			}
			// No carrier (the peer is down): no IPv6 link-local address yet.
			veth := got.Interfaces[1]
			want = append(want, Interface{Index: veth.Index, Name: "nlda0", Up: true, Addrs: []string{"10.77.0.1/24"}})
			if d := cmp.Diff(want, got.Interfaces); d != "" {
				t.Errorf("%s lo (-want +got):\n%s", ns.Name, d)
			}
		case 2:
			if got.Sockets.TCP != 2 {
				t.Errorf("%s: %d TCP sockets, want 2", ns.Name, got.Sockets.TCP)
			}
		}
	}
	check("docker", inode(t, "/proc/"+strconv.Itoa(tn.docker.PID)+"/ns/net"), Namespace{PID: tn.docker.PID, NProcs: 1},
		&Container{Runtime: RuntimeDocker, ID: tn.dockerID, Name: "web-1", Cgroup: tn.docker.Cgroup})
	got := check("kube", inode(t, "/proc/"+strconv.Itoa(tn.kube.PID)+"/ns/net"), Namespace{PID: tn.kube.PID, NProcs: 1},
		&Container{Runtime: RuntimeContainerd, ID: tn.kubeID, PodUID: tn.podUID, PodName: "api-7f9c", PodNamespace: "prod", Cgroup: tn.kube.Cgroup})
	if got.Comm != "sleep" || got.Cmdline != "sleep 600" {
		t.Errorf("kube main process %q %q, want sleep, sleep 600", got.Comm, got.Cmdline)
	}
	if got.Label() != "prod/api-7f9c "+tn.kubeID[:12] {
		t.Errorf("Label() = %q", got.Label())
	}
	// The kernel threads' namespace is the host's; no test namespace is.
	host := res.Find(inode(t, "/proc/2/ns/net"))
	if host == nil || !host.Host || host.Label() != "host" {
		t.Errorf("kthreadd's namespace: %+v, want Host and Label() host", host)
	}
	for i := range res.Namespaces {
		if n := &res.Namespaces[i]; n.Host && n != host {
			t.Errorf("net:[%d] (%s) is marked Host too", n.Inode, n.Label())
		}
	}
	// Every namespace lsns lists before and after Discover, held by the
	// same process both times, is discovered: one made during the walk
	// (or after it, before the second lsns) may or may not be, one gone
	// is not.
	compared := 0
	for ino, e := range ls {
		b, ok := lsBefore[ino]
		if !ok || e.PID == nil || b.PID == nil || *e.PID != *b.PID {
			continue
		}
		compared++
		if n := res.Find(ino); n == nil {
			t.Errorf("lsns lists net:[%d] (pid %d) before and after Discover, netlens does not", ino, *e.PID)
		}
	}
	if compared < 3 {
		t.Errorf("only %d namespaces listed by lsns before and after Discover: the host's and the two test processes' at least", compared)
	}
}

// TestIntegrationBindMountOnly: a namespace held by nothing but a bind
// mount outside the named directories is found from mountinfo, and can
// be opened by inode.
func TestIntegrationBindMountOnly(t *testing.T) {
	netnstest.RequireRoot(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "held")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	u := netnstest.NewUnshared(t, "")
	if err := unix.Mount(fmt.Sprintf("/proc/%d/ns/net", u.PID), target, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
	ino := inode(t, target)
	// The process goes; the bind mount keeps the namespace.
	p, _ := os.FindProcess(u.PID)
	p.Kill()
	p.Wait()
	res, err := Discover(Options{Details: true})
	if err != nil {
		t.Fatal(err)
	}
	n := res.Find(ino)
	if n == nil {
		t.Fatalf("net:[%d] held by %s not found", ino, target)
	}
	if n.NProcs != 0 || !cmp.Equal(n.Mounts, []string{target}) || n.EnterPath != target || n.Sockets == nil {
		t.Errorf("got %+v, want no processes, mount %s", n, target)
	}
	h, err := Open(Selector{Kind: ByInode, Inode: ino}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Namespace.Inode != ino {
		t.Errorf("opened net:[%d], want %d", h.Namespace.Inode, ino)
	}
}

// TestIntegrationBindMountOtherMountNS: a namespace held by nothing but
// a bind mount made inside another mount namespace (invisible in ours,
// as a container runtime's can be) is found from that process's
// /proc/PID/mountinfo, entered through its /proc/PID/root, and its
// details read.
func TestIntegrationBindMountOtherMountNS(t *testing.T) {
	netnstest.RequireRoot(t)
	target := filepath.Join(t.TempDir(), "held-elsewhere")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	u := netnstest.NewUnshared(t, "")
	ino := inode(t, fmt.Sprintf("/proc/%d/ns/net", u.PID))
	// A process in a mount namespace of its own bind-mounts u's network
	// namespace there, then sleeps.
	m := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		fmt.Sprintf("mount --bind /proc/%d/ns/net %s && exec sleep 600", u.PID, target))
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Process.Kill(); m.Wait() })
	mountinfo := fmt.Sprintf("/proc/%d/mountinfo", m.Process.Pid)
	for i := 0; ; i++ { // bounded: 5 s
		if b, _ := os.ReadFile(mountinfo); strings.Contains(string(b), target) {
			break
		}
		if i == 500 {
			t.Fatalf("the bind mount did not appear in %s", mountinfo)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), target) {
		t.Fatal("the bind mount is visible in our own mount namespace: the test proves nothing")
	}
	p, _ := os.FindProcess(u.PID) // the namespace's only process goes
	p.Kill()
	p.Wait()
	res, err := Discover(Options{Details: true})
	if err != nil {
		t.Fatal(err)
	}
	n := res.Find(ino)
	if n == nil {
		t.Fatalf("net:[%d] bind-mounted at %s in mount namespace of PID %d not found", ino, target, m.Process.Pid)
	}
	wantEnter := fmt.Sprintf("/proc/%d/root%s", m.Process.Pid, target)
	if n.NProcs != 0 || !cmp.Equal(n.Mounts, []string{target}) || n.EnterPath != wantEnter {
		t.Errorf("got procs %d, mounts %v, enter %s; want 0, [%s], %s", n.NProcs, n.Mounts, n.EnterPath, target, wantEnter)
	}
	if n.Sockets == nil || len(n.Interfaces) != 1 || n.Interfaces[0].Name != "lo" {
		t.Errorf("details not read by entering it: sockets %v, interfaces %+v", n.Sockets, n.Interfaces)
	}
	h, err := Open(Selector{Kind: ByInode, Inode: ino}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Namespace.Inode != ino {
		t.Errorf("opened net:[%d], want %d", h.Namespace.Inode, ino)
	}
}

// TestIntegrationOpen: each selector kind opens the namespace it names.
func TestIntegrationOpen(t *testing.T) {
	ns := netnstest.New(t, "nl-open")
	u := netnstest.NewUnshared(t, "")
	named := inode(t, "/run/netns/"+ns.Name)
	held := inode(t, fmt.Sprintf("/proc/%d/ns/net", u.PID))
	tests := []struct {
		sel  string
		want uint64
	}{
		{ns.Name, named},
		{"/run/netns/" + ns.Name, named},
		{fmt.Sprintf("pid:%d", u.PID), held},
		{fmt.Sprintf("inode:%d", held), held},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			sel, err := ParseSelector(tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			h, err := Open(sel, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if h.Namespace.Inode != tt.want {
				t.Errorf("opened net:[%d], want %d", h.Namespace.Inode, tt.want)
			}
		})
	}
	for _, bad := range []string{"nl-no-such-ns", "/proc/self/ns/mnt", "pid:999999999", "inode:1"} {
		sel, _ := ParseSelector(bad)
		if h, err := Open(sel, Options{}); err == nil {
			h.Close()
			t.Errorf("Open(%s) succeeded", bad)
		}
	}
}

type lastSockets struct{ socks []model.Socket }

func (l *lastSockets) Publish(u model.Update) {
	if s, ok := u.(model.SocketsUpdate); ok {
		l.socks = s.Sockets
	}
}

// TestIntegrationAllSockets: the all-namespaces collector returns each
// test namespace's listener tagged with that namespace, with its owner
// (a host PID), and drops a namespace that went away.
func TestIntegrationAllSockets(t *testing.T) {
	a, b := netnstest.New(t, "nl-alla"), netnstest.New(t, "nl-allb")
	var held []net.Listener
	for i, ns := range []*netnstest.NS{a, b} {
		ns.Do(t, func() {
			l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", 47900+i))
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, l)
		})
	}
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	c := NewAllSockets(Options{}, nil, false)
	defer c.Close()
	var pub lastSockets
	if err := c.Collect(context.Background(), &pub); err != nil {
		t.Fatal(err)
	}
	for i, ns := range []*netnstest.NS{a, b} {
		ino := inode(t, "/run/netns/"+ns.Name)
		var found []model.Socket
		for _, s := range pub.socks {
			if s.NetNS == ino {
				found = append(found, s)
			}
		}
		if len(found) != 1 || found[0].Local.Port() != uint16(47900+i) || found[0].Namespace != ns.Name {
			t.Errorf("%s: %+v, want one listener on %d", ns.Name, found, 47900+i)
			continue
		}
		if len(found[0].Procs) != 1 || found[0].Procs[0].PID != os.Getpid() {
			t.Errorf("%s: owner %+v, want this process (%d)", ns.Name, found[0].Procs, os.Getpid())
		}
	}
	own := 0
	for _, s := range pub.socks {
		if s.Namespace == "host" {
			own++
		}
	}
	t.Logf("%d sockets from %d namespaces (%d in the host's); note: %s", len(pub.socks), len(c.per), own, c.Note())
	held[1].Close()
	netnstest.Run(t, "ip", "netns", "del", b.Name)
	c.found = time.Time{} // rediscover now
	if err := c.Collect(context.Background(), &pub); err != nil {
		t.Fatal(err)
	}
	for _, s := range pub.socks {
		if s.Namespace == b.Name {
			t.Errorf("socket of the deleted %s: %+v", b.Name, s)
		}
	}
}

// TestIntegrationAllSocketsRedumpsChanged: a namespace is dumped again
// when something in it changed (a new listener, a UDP bind, a connection,
// a close) and not otherwise; the sweep dumps the unchanged ones.
func TestIntegrationAllSocketsRedumpsChanged(t *testing.T) {
	a, b := netnstest.New(t, "nl-chga"), netnstest.New(t, "nl-chgb")
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	listen := func(ns *netnstest.NS, network, addr string) io.Closer {
		t.Helper()
		var c io.Closer
		ns.Do(t, func() {
			var err error
			if network == "udp4" {
				c, err = net.ListenPacket(network, addr)
			} else {
				c, err = net.Listen(network, addr)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
		closers = append(closers, c)
		return c
	}
	listen(a, "tcp4", "127.0.0.1:47910")
	listen(b, "tcp4", "127.0.0.1:47911")
	c := NewAllSockets(Options{}, nil, true)
	defer c.Close()
	c.Sweep = 0 // no sweep until the end
	// Other tests' namespaces on this host change too and, on a loaded
	// machine, would use up the 250 ms budget before a or b: this test
	// checks which namespaces count as changed, not the budget's cut.
	c.Budget = time.Minute
	inoA, inoB := inode(t, "/run/netns/"+a.Name), inode(t, "/run/netns/"+b.Name)
	var pub lastSockets
	collect := func() (dumpedA, dumpedB bool) {
		t.Helper()
		before := map[uint64]time.Time{}
		for ino, ps := range c.per {
			before[ino] = ps.at
		}
		if err := c.Collect(context.Background(), &pub); err != nil {
			t.Fatal(err)
		}
		return c.per[inoA].at != before[inoA], c.per[inoB].at != before[inoB]
	}
	// has: a socket of proto in ino on local port port, or, if remote,
	// connected to it.
	has := func(ino uint64, proto model.Proto, port uint16, remote bool) bool {
		for _, s := range pub.socks {
			if s.NetNS == ino && s.Proto == proto && (!remote && s.Local.Port() == port || remote && s.Remote.Port() == port) {
				return true
			}
		}
		return false
	}
	collect()
	if !has(inoA, model.ProtoTCP, 47910, false) || !has(inoB, model.ProtoTCP, 47911, false) {
		t.Fatalf("first refresh lacks the listeners; note %s", c.Note())
	}
	if da, db := collect(); da || db {
		t.Errorf("nothing changed, yet dumped again: a %v, b %v (%s)", da, db, c.Note())
	}
	steps := []struct {
		name   string
		do     func()
		ino    uint64
		proto  model.Proto
		port   uint16
		remote bool
		gone   bool
		wantIn string // the namespace that must be dumped again
	}{
		{"a new listener in a", func() { listen(a, "tcp4", "127.0.0.1:47920") }, inoA, model.ProtoTCP, 47920, false, false, "a"},
		{"a UDP bind in b", func() { listen(b, "udp4", "127.0.0.1:47921") }, inoB, model.ProtoUDP, 47921, false, false, "b"},
		{"a connection in b", func() {
			b.Do(t, func() {
				conn, err := net.Dial("tcp4", "127.0.0.1:47911")
				if err != nil {
					t.Fatal(err)
				}
				closers = append(closers, conn)
			})
		}, inoB, model.ProtoTCP, 47911, true, false, "b"},
		{"a listener closed in a", func() { closers[0].Close() }, inoA, model.ProtoTCP, 47910, false, true, "a"},
	}
	for _, st := range steps {
		st.do()
		da, db := collect()
		if (st.wantIn == "a" && !da) || (st.wantIn == "b" && !db) {
			t.Errorf("%s: %s not dumped again (a %v, b %v; %s)", st.name, st.wantIn, da, db, c.Note())
		}
		if (st.wantIn == "a" && db) || (st.wantIn == "b" && da) {
			t.Errorf("%s: the other namespace dumped again too (a %v, b %v)", st.name, da, db)
		}
		if got := has(st.ino, st.proto, st.port, st.remote); got == st.gone {
			t.Errorf("%s: socket on port %d present %v, want %v", st.name, st.port, got, !st.gone)
		}
	}
	c.Sweep = time.Minute
	if da, db := collect(); !da || !db {
		t.Errorf("the sweep did not dump the unchanged namespaces: a %v, b %v (%s)", da, db, c.Note())
	}
}

// TestIntegrationAllSocketsOwners: a socket that appears in a namespace
// gets its owner at the next refresh (a new pass over /proc), however
// recent the last pass; the owners of known sockets are kept.
func TestIntegrationAllSocketsOwners(t *testing.T) {
	a := netnstest.New(t, "nl-own")
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	listen := func(port int) {
		a.Do(t, func() {
			l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, l)
		})
	}
	listen(47930)
	c := NewAllSockets(Options{}, nil, false)
	defer c.Close()
	c.OwnersEvery = time.Hour // only a new socket makes a new pass
	// Every changed namespace in each Collect: the host may hold many
	// (other tests'), and under load the default budget would leave this
	// one to the next round.
	c.Budget = time.Minute
	ino := inode(t, "/run/netns/"+a.Name)
	var pub lastSockets
	owner := func(port uint16) []model.Proc {
		t.Helper()
		if err := c.Collect(context.Background(), &pub); err != nil {
			t.Fatal(err)
		}
		for _, s := range pub.socks {
			if s.NetNS == ino && s.Local.Port() == port {
				return s.Procs
			}
		}
		t.Fatalf("no socket on port %d in %s", port, a.Name)
		return nil
	}
	for i := range 2 { // the second refresh reuses the first's owners
		if p := owner(47930); len(p) != 1 || p[0].PID != os.Getpid() {
			t.Errorf("refresh %d: owner of 47930 %+v, want this process (%d)", i, p, os.Getpid())
		}
	}
	listen(47931)
	if p := owner(47931); len(p) != 1 || p[0].PID != os.Getpid() {
		t.Errorf("new socket: owner %+v, want this process (%d)", p, os.Getpid())
	}
}
