package sockets

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/model"
)

// benchDatagram is a dump datagram as the kernel fills one (about 32 KiB)
// of established IPv4 TCP sockets with INET_DIAG_SKMEMINFO and
// INET_DIAG_SHUTDOWN.
func benchDatagram(seq uint32) ([]byte, int) {
	var b []byte
	n := 0
	for len(b) < 32<<10-200 {
		m := diagMsg{family: afInet, state: 1, sport: 17000, dport: uint16(1024 + n), src: netip.MustParseAddr("127.0.0.1"), dst: netip.MustParseAddr("127.0.1.1"),
			cookie: uint64(n), rq: 0, wq: 0, inode: uint32(100000 + n),
			attrs: [][]byte{memInfo(0), attr(uint16(attrShutdown), []byte{0})}}
		b = append(b, nlmsg(msgSockDiagByFamily, flagMulti, seq, m.bytes())...)
		n++
	}
	return b, n
}

// BenchmarkDecodeDatagram measures decoding sock_diag replies into
// model.Socket values, per socket; the output slice is reused, as the
// collector sizes it from the previous collection.
func BenchmarkDecodeDatagram(b *testing.B) {
	dg, n := benchDatagram(1)
	out := make([]model.Socket, 0, n)
	b.SetBytes(int64(len(dg)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, _, err = decodeDatagram(dg, 1, model.ProtoTCP, nil, nil, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/socket")
}

// BenchmarkParseNetTCP measures the /proc/net fallback parser, per line.
func BenchmarkParseNetTCP(b *testing.B) {
	fixture, err := os.ReadFile("testdata/proc_net_tcp")
	if err != nil {
		b.Fatal(err)
	}
	header, rest, _ := bytes.Cut(fixture, []byte("\n"))
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	in := append(append([]byte{}, header...), '\n')
	const lines = 1000
	for range lines {
		in = append(append(in, line...), '\n')
	}
	out := make([]model.Socket, 0, lines)
	b.ReportAllocs()
	for b.Loop() {
		out, err = parseNetTCP(bytes.NewReader(in), model.ProtoTCP, out[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}

// BenchmarkOwnersSteadyRefresh measures an owner refresh when nothing
// changed, over a fake proc tree of 10 processes with 1000 socket fds each.
func BenchmarkOwnersSteadyRefresh(b *testing.B) {
	root := b.TempDir()
	var socks []model.Socket
	for p := range 10 {
		pid := 1000 + p
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
			b.Fatal(err)
		}
		stat := fmt.Sprintf("%d (srv) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0\n", pid, pid)
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
			b.Fatal(err)
		}
		for fd := range 1000 {
			ino := uint64(pid*10000 + fd)
			if err := os.Symlink(fmt.Sprintf("socket:[%d]", ino), filepath.Join(dir, "fd", strconv.Itoa(fd))); err != nil {
				b.Fatal(err)
			}
			socks = append(socks, model.Socket{Inode: ino})
		}
	}
	o := newOwners(root)
	if err := o.refresh(context.Background(), socks); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := o.refresh(context.Background(), socks); err != nil {
			b.Fatal(err)
		}
		if o.stats.Readlinks != 0 {
			b.Fatalf("%d readlinks in a steady refresh", o.stats.Readlinks)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(socks)), "ns/socket")
}

// BenchmarkOwnersRealProc measures a steady owner refresh over this
// machine's /proc (no socket of interest: every process is visited and
// none listed), per process.
func BenchmarkOwnersRealProc(b *testing.B) {
	o := newOwners("/proc")
	if err := o.refresh(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	procs := 0
	for b.Loop() {
		if err := o.refresh(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		procs += o.stats.Procs
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(procs, 1)), "ns/process")
}

// BenchmarkOwnersBPF compares the two ways of finding socket owners
// (the BPF task_file iterator and the /proc walk) at 10,000 and 100,000
// sockets held in a namespace by processes of 5,001 sockets each: the
// first refresh (an empty cache) and a steady one (nothing changed),
// whole refreshes including the join of every socket. It reports CPU
// time (the process's user+system, getrusage), which a loaded machine
// does not inflate as it does the wall time of ns/op.
func BenchmarkOwnersBPF(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for _, n := range []int{10000, 100000} {
		ns := fmt.Sprintf("nlsk-obpf-%d-%d", os.Getpid(), n)
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			b.Fatalf("ip netns add: %v %s", err, out)
		}
		b.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		_ = exec.Command("ip", "-n", ns, "link", "set", "lo", "up").Run()
		for range n / 5000 {
			sockHolder(b, ns, 2500)
		}
		nsf, err := os.Open("/run/netns/" + ns)
		if err != nil {
			b.Fatal(err)
		}
		c := New(Options{NetNS: int(nsf.Fd()), NoOwners: true, NoTCPInfo: true})
		socks, _, err := c.Sockets(context.Background())
		c.Close()
		nsf.Close()
		if err != nil {
			b.Fatal(err)
		}
		for _, procOnly := range []bool{false, true} {
			via := map[bool]string{false: "bpf", true: "proc"}[procOnly]
			b.Run(fmt.Sprintf("sockets=%d/via=%s", len(socks), via), func(b *testing.B) {
				o := newOwners("/proc")
				o.procOnly = procOnly
				c0 := cpuTime()
				if err := o.refresh(context.Background(), socks); err != nil {
					b.Fatal(err)
				}
				first := cpuTime() - c0
				if want := map[bool]string{false: OwnersViaBPF, true: OwnersViaProc}[procOnly]; o.stats.Via != want {
					b.Fatalf("via %q (%s)", o.stats.Via, o.noBPF)
				}
				c0 = cpuTime()
				for b.Loop() {
					if err := o.refresh(context.Background(), socks); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuTime()-c0)/float64(time.Millisecond)/float64(b.N), "ms-cpu/refresh")
				b.ReportMetric(first.Seconds()*1000, "ms-cpu-first")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
