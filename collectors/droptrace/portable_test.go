package droptrace

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/model"
)

// TestIntegrationPortableIncident is the incident test that needs nothing
// but the kernel: a network namespace of its own made with unshare(2) on
// a locked thread, loopback brought up with an ioctl, UDP to a closed
// port, and Udp NoPorts read from /proc/thread-self/net/snmp. It runs
// here and in the qemu VM of vmtest/run.sh (Debian's 6.1 kernel: another
// enum skb_drop_reason, no rx_sk), where there is no ip(8) or nstat.
func TestIntegrationPortableIncident(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN for a namespace, CAP_BPF and CAP_PERFMON for the tracer)")
	}
	for _, attach := range []string{AttachBTF, AttachRaw} {
		t.Run(attach, func(t *testing.T) { portableIncident(t, attach) })
	}
}

func portableIncident(t *testing.T, attach string) {
	const sent = 25
	type result struct {
		tr      model.DropTrace
		noPorts uint64
		port    uint16
		program string // the program loaded (Collector.Program)
		err     error
	}
	done := make(chan result, 1)
	go func() {
		// The thread stays in its namespace and ends with the goroutine.
		runtime.LockOSThread()
		var r result
		defer func() { done <- r }()
		if r.err = unix.Unshare(unix.CLONE_NEWNET); r.err != nil {
			return
		}
		if r.err = loopbackUp(); r.err != nil {
			return
		}
		ino, err := NetnsInode("/proc/thread-self/ns/net")
		if err != nil {
			r.err = err
			return
		}
		// Sampling every drop: the ring buffer is proven here too.
		c := New(Options{Netns: ino, Attach: attach, SampleEvery: 1})
		defer c.Close()
		if _, r.err = collect(c); r.err != nil {
			return
		}
		before, err := snmpField("/proc/thread-self/net/snmp", "Udp", "NoPorts")
		if err != nil {
			r.err = err
			return
		}
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			r.err = err
			return
		}
		defer conn.Close()
		r.port = 7030
		for range sent {
			if _, r.err = conn.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(r.port)}); r.err != nil {
				return
			}
		}
		// Loopback queues each datagram to the CPU's backlog; on the
		// emulated CPU ksoftirqd may deliver them after the last send
		// returns: wait (at most 5 s) until the kernel has counted them.
		var after uint64
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if after, err = snmpField("/proc/thread-self/net/snmp", "Udp", "NoPorts"); err != nil {
				r.err = err
				return
			}
			if after-before >= uint64(sent) || time.Now().After(deadline) {
				break
			}
		}
		r.noPorts = after - before
		r.tr, r.err = collect(c)
		r.program = c.Program()
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	m := match{reason: "NO_SOCKET", proto: "udp", dst: mustAddr("127.0.0.1"), dport: r.port}
	fs := checkFlows(t, r.tr, m, "__udp4_lib_rcv", sent)
	if r.tr.Attach != attach {
		t.Errorf("attached as %s, want %s", r.tr.Attach, attach)
	}
	if r.noPorts != sent {
		t.Errorf("Udp NoPorts moved by %d, want %d", r.noPorts, sent)
	}
	var sampled int
	for _, s := range r.tr.Sampling.Samples {
		if m.ok(s.Flow) && len(s.Packet.Layers) >= 2 && s.Packet.Layers[1].Name == "UDP" {
			sampled++
		}
	}
	if sp := r.tr.Sampling; sp.Emitted+sp.Lost != sp.Sampled || sampled != sent {
		t.Errorf("sampling %d of %d sent with UDP headers; sampled %d, emitted %d, lost %d", sampled, sent, sp.Sampled, sp.Emitted, sp.Lost)
	}
	var un unix.Utsname
	if len(fs) > 0 && unix.Uname(&un) == nil {
		t.Logf("kernel %s, attach %s (program %s), NO_SOCKET is reason %d here", unix.ByteSliceToString(un.Release[:]), r.tr.Attach, r.program, fs[0].Code)
	}
}

// loopbackUp sets lo up in the calling thread's namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// snmpField reads one field of a group of /proc/net/snmp (path): the
// group's header line names the fields, the next line has the values.
func snmpField(path, group, field string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	var names []string
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != group+":" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		for i, n := range names {
			if n == field && i+1 < len(f) {
				return strconv.ParseUint(f[i+1], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("%s: no %s %s", path, group, field)
}
