package droptrace

import (
	"net"
	"net/netip"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
)

// The program reads the IP header and the L4 header after it in one read
// when the L4 header follows directly (an IPv4 header of 20 bytes, an IPv6
// header without extension headers), and reads the L4 header apart when
// IPv4 options or IPv6 extension headers sit between them
// (TestIntegrationIncidentUDP6HopByHop). These tests cover the other two
// cases: the ports are read right, and the bytes are the IP length; each
// with every program of the object (loads from the packet, copies with
// bpf_probe_read_kernel, the raw tracepoint), which all load on this
// kernel.

// eachProgram runs fn in a subtest for each program of the object, with
// a namespace named name and the program's number.
func eachProgram(t *testing.T, name string, fn func(t *testing.T, ns *netnstest.NS, opts Options)) {
	for i, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			ns := netnstest.New(t, name+strconv.Itoa(i))
			fn(t, ns, Options{program: p.name})
		})
	}
}

// TestIntegrationIncidentUDP6ClosedPort: IPv6 UDP without extension
// headers to a closed port, tuple from the single read.
func TestIntegrationIncidentUDP6ClosedPort(t *testing.T) {
	eachProgram(t, "dt-udp6p", testUDP6ClosedPort)
}

func testUDP6ClosedPort(t *testing.T, ns *netnstest.NS, opts Options) {
	c := newNSCollector(t, ns, opts)
	base := readNstat(t, ns)
	dst := netip.MustParseAddrPort("[::1]:7015")
	const size = 32
	var sport uint16
	ns.Do(t, func() {
		conn, err := net.ListenPacket("udp6", "[::1]:0")
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		sport = uint16(conn.LocalAddr().(*net.UDPAddr).Port)
		for range incidentPackets {
			if _, err := conn.WriteTo(make([]byte, size), net.UDPAddrFromAddrPort(dst)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	m := match{reason: "NO_SOCKET", proto: "udp", dst: dst.Addr(), dport: dst.Port()}
	_, fs := incident(t, c, ns, base, m, "Udp6NoPorts", "__udp6_lib_rcv", incidentPackets)
	for _, f := range fs {
		if f.L3 != "ipv6" || f.SrcPort != sport || f.Src != netip.IPv6Loopback() || f.Bytes != incidentPackets*(40+8+size) {
			t.Errorf("flow %+v: want ipv6 from [::1]:%d, %d bytes", f, sport, incidentPackets*(40+8+size))
		}
	}
}

// TestIntegrationIncidentUDPWithIPOptions: IPv4 UDP with 4 bytes of IP
// options (an IHL of 6) to a closed port: the ports are read after the
// options.
func TestIntegrationIncidentUDPWithIPOptions(t *testing.T) {
	eachProgram(t, "dt-ipopt", testUDPWithIPOptions)
}

func testUDPWithIPOptions(t *testing.T, ns *netnstest.NS, opts Options) {
	c := newNSCollector(t, ns, opts)
	base := readNstat(t, ns)
	const port, sport, size = 7016, 40016, 24
	ns.Do(t, func() {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		// NOP, NOP, NOP, end of options: 4 bytes the receiver accepts.
		if err := unix.SetsockoptString(fd, unix.IPPROTO_IP, unix.IP_OPTIONS, string([]byte{1, 1, 1, 0})); err != nil {
			t.Error(err)
			return
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: sport, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Error(err)
			return
		}
		to := &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
		for range incidentPackets {
			if err := unix.Sendto(fd, make([]byte, size), 0, to); err != nil {
				t.Error(err)
				return
			}
		}
	})
	m := match{reason: "NO_SOCKET", proto: "udp", dst: mustAddr("127.0.0.1"), dport: port}
	_, fs := incident(t, c, ns, base, m, "UdpNoPorts", "__udp4_lib_rcv", incidentPackets)
	for _, f := range fs {
		if f.L3 != "ipv4" || f.SrcPort != sport || f.Bytes != incidentPackets*(24+8+size) {
			t.Errorf("flow %+v: want ipv4 from port %d, %d bytes (IHL 6)", f, sport, incidentPackets*(24+8+size))
		}
	}
}

// TestIntegrationProgramOrder: on this kernel (6.18) the loader takes
// the program that loads from the packet; forcing the raw tracepoint
// takes kfree_skb_raw.
func TestIntegrationProgramOrder(t *testing.T) {
	ns := netnstest.New(t, "dt-order")
	ino, err := NetnsInode("/run/netns/" + ns.Name)
	must(t, err)
	for _, tt := range []struct {
		attach, want string
	}{
		{"", progBTFDirect},
		{AttachBTF, progBTFDirect},
		{AttachRaw, progRaw},
	} {
		tr, err := OpenTracer(TracerOptions{Attach: tt.attach, Netns: ino})
		if err != nil {
			t.Fatal(err)
		}
		got := tr.Program()
		tr.Close()
		if got != tt.want {
			t.Errorf("attach %q: program %s, want %s", tt.attach, got, tt.want)
		}
	}
}
