// Package netnstest gives integration tests a network namespace of their
// own: created with `ip netns add`, deleted (and emptied of processes)
// when the test ends, with helpers to run commands in it and to run Go
// code on a thread that has joined it.
//
// Tests that use it skip only when the capability is truly absent: not
// root (no CAP_SYS_ADMIN), or no ip(8).
package netnstest

import (
	"bytes"
	"fmt"
	"netlens/collectors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// NS is a named network namespace made for one test. It is safe for
// concurrent use.
type NS struct {
	Name string
}

var seq atomic.Int32

// New creates a network namespace named "<prefix>-<pid>-<n>" with loopback
// up, which is removed when the test ends, together with every process
// still running in it.
func New(tb testing.TB, prefix string) *NS {
	tb.Helper()
	RequireRoot(tb)
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("needs ip(8) from iproute2 (apt-get install -y iproute2)")
	}
	ns := &NS{Name: fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1))}
	Run(tb, "ip", "netns", "add", ns.Name)
	tb.Cleanup(func() {
		out, _ := exec.Command("ip", "netns", "pids", ns.Name).Output()
		for _, pid := range strings.Fields(string(out)) {
			_ = exec.Command("kill", "-9", pid).Run()
		}
		_ = exec.Command("ip", "netns", "del", ns.Name).Run()
	})
	ns.Run(tb, "ip", "link", "set", "lo", "up")
	return ns
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) for network namespaces; run as root as CI does")
	}
}

// Run runs a command and fails the test, showing its standard error, if
// it fails; it returns the standard output.
func Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

// Run runs a command inside the namespace (ip netns exec).
func (ns *NS) Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	return Run(tb, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// VethPairs adds n veth pairs to the namespace, "v<i>a" and "v<i>b",
// both up (the benchmarks' many interfaces).
func (ns *NS) VethPairs(tb testing.TB, n int) {
	tb.Helper()
	for i := range n {
		a, b := fmt.Sprintf("v%da", i), fmt.Sprintf("v%db", i)
		ns.Run(tb, "ip", "link", "add", a, "type", "veth", "peer", "name", b)
		ns.Run(tb, "ip", "link", "set", a, "up")
		ns.Run(tb, "ip", "link", "set", b, "up")
	}
}

// Command returns an exec.Cmd that runs inside the namespace.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// FD opens the namespace and returns its file descriptor (what
// collectors take as their NetNS), closed when the test ends.
func (ns *NS) FD(tb testing.TB) int {
	tb.Helper()
	fd, err := unix.Open("/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		tb.Fatalf("open netns %s: %v", ns.Name, err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	return fd
}

// Do runs fn on an OS thread that has joined the namespace: inside fn,
// /proc/thread-self/net is the namespace's /proc/net, and sockets (and
// netlink sockets) are made in it and stay there.
func (ns *NS) Do(tb testing.TB, fn func()) {
	tb.Helper()
	if err := ns.do(fn); err != nil {
		tb.Fatal(err)
	}
}

func (ns *NS) do(fn func()) error {
	fd, err := unix.Open("/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", ns.Name, err)
	}
	defer unix.Close(fd)
	return collectors.InNetNS(fd, fn)
}

// Nstat runs `nstat -asz` in the namespace: the absolute value of every
// counter of /proc/net/snmp, netstat and snmp6, named as nstat names
// them (Group+Name: "UdpNoPorts"), with a private history file so that
// nstat neither reads nor writes the user's.
func (ns *NS) Nstat(tb testing.TB) map[string]uint64 {
	tb.Helper()
	cmd := ns.Command("nstat", "-a", "-s", "-z")
	cmd.Env = append(os.Environ(), "NSTAT_HISTORY="+tb.TempDir()+"/nstat.hist")
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("nstat in %s: %v", ns.Name, err)
	}
	m := map[string]uint64{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			tb.Fatalf("nstat line %q: %v", line, err)
		}
		m[f[0]] = v
	}
	return m
}
