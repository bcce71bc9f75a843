package xfrm

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"

	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
	"netlens/model"
)

// requireESP is set in the VM (vmtest/run.sh), whose kernel has ESP: there
// a kernel that refuses an ESP SA fails the test instead of ending it
// after the checks this machine's kernel allows.
var requireESP = os.Getenv("NETLENS_XFRM_REQUIRE_ESP") != ""

// ipx runs ip(8) in namespace ns ("ip -n NS ..."), which needs no mount
// namespace of its own (the VM's initramfs has none to spare).
func ipx(t *testing.T, ns *netnstest.NS, args ...string) string {
	t.Helper()
	return netnstest.Run(t, "ip", append([]string{"-n", ns.Name}, args...)...)
}

func readNS(t *testing.T, ns *netnstest.NS) model.IPsec {
	t.Helper()
	c := New(Options{NetNS: ns.FD(t)})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("Read in %s: %v", ns.Name, err)
	}
	return got
}

// comparePolicies checks the collector's policies against ip -s xfrm
// policy, policy by policy (matched by index and direction).
func comparePolicies(t *testing.T, ns *netnstest.NS, got []model.XfrmPolicy) {
	t.Helper()
	want, err := parseIPPolicies(ipx(t, ns, "-s", "xfrm", "policy"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d policies, ip shows %d", ns.Name, len(got), len(want))
	}
	for _, w := range want {
		i := slices.IndexFunc(got, func(p model.XfrmPolicy) bool { return uint64(p.Index) == w.index && p.Dir == w.dir })
		if i < 0 {
			t.Errorf("%s: no policy index %d dir %s", ns.Name, w.index, w.dir)
			continue
		}
		g := got[i]
		var reqids []uint64
		for _, tm := range g.Templates {
			reqids = append(reqids, uint64(tm.ReqID))
		}
		gotP := ipPolicy{src: g.Selector.Src.String(), dst: g.Selector.Dst.String(), dir: g.Dir, action: g.Action,
			index: uint64(g.Index), priority: uint64(g.Priority), bytes: g.Current.Bytes, packets: g.Current.Packets,
			used: !g.Current.Used.IsZero(), tmplReqIDs: reqids}
		if fmt.Sprint(gotP) != fmt.Sprint(w) {
			t.Errorf("%s: policy\n got %+v\nwant %+v (ip -s xfrm policy)", ns.Name, gotP, w)
		}
	}
}

// compareSAs checks the collector's SAs against ip -s xfrm state.
func compareSAs(t *testing.T, ns *netnstest.NS, got []model.XfrmSA) {
	t.Helper()
	want, err := parseIPStates(ipx(t, ns, "-s", "xfrm", "state"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d SAs, ip shows %d", ns.Name, len(got), len(want))
	}
	for _, w := range want {
		i := slices.IndexFunc(got, func(s model.XfrmSA) bool { return uint64(s.SPI) == w.spi && s.Dst.String() == w.dst })
		if i < 0 {
			t.Errorf("%s: no SA spi 0x%x", ns.Name, w.spi)
			continue
		}
		g := got[i]
		var algs []string
		for _, a := range g.Algorithms {
			k := a.Kind
			if k == "auth" && a.ICVBits != 0 {
				k = "auth-trunc"
			}
			algs = append(algs, k+" "+a.Name)
		}
		slices.Sort(algs)
		slices.Sort(w.algs)
		gotS := ipSA{src: g.Src.String(), dst: g.Dst.String(), proto: g.Proto, mode: g.Mode, spi: uint64(g.SPI),
			reqid: uint64(g.ReqID), window: uint64(g.ReplayWindow), bytes: g.Current.Bytes, packets: g.Current.Packets,
			outOfWindow: uint64(g.OutOfWindow), replay: uint64(g.Replay), failed: uint64(g.IntegrityFailed),
			hardAdd: uint64(g.Limits.HardAdd / time.Second), softAdd: uint64(g.Limits.SoftAdd / time.Second), algs: algs}
		w.text = ""
		if fmt.Sprint(gotS) != fmt.Sprint(w) {
			t.Errorf("%s: SA spi 0x%x\n got %+v\nwant %+v (ip -s xfrm state)", ns.Name, w.spi, gotS, w)
		}
	}
}

// TestIntegrationPoliciesMatchIP reads policies (which every kernel with
// XFRM accepts, ESP or not) and the SA table and compares them with
// ip -s xfrm.
func TestIntegrationPoliciesMatchIP(t *testing.T) {
	ns := netnstest.New(t, "xfrmpol")
	ipx(t, ns, "xfrm", "policy", "add", "src", "10.1.0.0/24", "dst", "10.2.0.0/24", "proto", "udp", "dport", "53",
		"dir", "out", "priority", "100", "tmpl", "src", "10.0.0.1", "dst", "10.0.0.2", "proto", "esp", "reqid", "5", "mode", "tunnel")
	ipx(t, ns, "xfrm", "policy", "add", "src", "10.2.0.0/24", "dst", "10.1.0.0/24", "dir", "in", "priority", "100",
		"tmpl", "src", "10.0.0.2", "dst", "10.0.0.1", "proto", "esp", "reqid", "6", "mode", "tunnel", "level", "use")
	ipx(t, ns, "xfrm", "policy", "add", "src", "fd00:1::/64", "dst", "fd00:2::/64", "dir", "fwd", "priority", "7", "action", "block")
	got := readNS(t, ns)
	comparePolicies(t, ns, got.Policies)
	compareSAs(t, ns, got.SAs)
	if i := slices.IndexFunc(got.Policies, func(p model.XfrmPolicy) bool { return p.Dir == "in" }); i < 0 ||
		len(got.Policies[i].Templates) != 1 || !got.Policies[i].Templates[0].Optional {
		t.Errorf("the in policy's template is not optional (level use): %+v", got.Policies)
	}
}

// TestIntegrationPermission: without CAP_NET_ADMIN the kernel refuses
// the dump and the collector says what it needs.
func TestIntegrationPermission(t *testing.T) {
	netnstest.RequireRoot(t)
	if os.Getenv("NETLENS_XFRM_CHILD") == "1" {
		if err := unix.Setresuid(65534, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		_, err := New(Options{}).Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), "needs CAP_NET_ADMIN") {
			t.Fatalf("err = %v, want needs CAP_NET_ADMIN", err)
		}
		return
	}
	// setresuid applies to one thread in Go; a child process drops
	// privileges as a whole.
	cmd := exec.Command(os.Args[0], "-test.run", "^TestIntegrationPermission$", "-test.count=1")
	cmd.Env = append(os.Environ(), "NETLENS_XFRM_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("unprivileged child: %v\n%s", err, out)
	}
}

// Keys of the tunnel's SAs: none may appear in a reading, a JSON
// snapshot or the tab.
var tunnelKeys = [][]byte{
	[]byte("\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xf0\x0d"),
	[]byte("\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf\xc0"),
	[]byte("\x5a\x5b\x5c\x5d\x5e\x5f\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69"),
	[]byte("\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef\xf0"),
}

type tunnel struct {
	a, b         *netnstest.NS
	addrA, addrB [4]byte
}

// newTunnel makes two namespaces joined by a veth (va in a, vb in b) and
// an ESP tunnel-mode SA pair with policies in each. It reports false when
// the kernel refuses ESP (and the test is not in the VM).
func newTunnel(t *testing.T) (*tunnel, bool) {
	tn := &tunnel{a: netnstest.New(t, "xfrma"), b: netnstest.New(t, "xfrmb"), addrA: [4]byte{192, 168, 77, 1}, addrB: [4]byte{192, 168, 77, 2}}
	ipx(t, tn.a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", tn.b.Name)
	ipx(t, tn.a, "addr", "add", "192.168.77.1/24", "dev", "va")
	ipx(t, tn.b, "addr", "add", "192.168.77.2/24", "dev", "vb")
	ipx(t, tn.a, "link", "set", "va", "up")
	ipx(t, tn.b, "link", "set", "vb", "up")
	sa := func(ns *netnstest.NS, src, dst, spi, reqid string, enc, auth []byte) error {
		out, err := exec.Command("ip", "-n", ns.Name, "xfrm", "state", "add", "src", src, "dst", dst, "proto", "esp",
			"spi", spi, "reqid", reqid, "mode", "tunnel", "replay-window", "32",
			"enc", "cbc(aes)", "0x"+hex.EncodeToString(enc), "auth-trunc", "hmac(sha256)", "0x"+hex.EncodeToString(auth), "128").CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip xfrm state add spi %s: %v: %s", spi, err, out)
		}
		return nil
	}
	for _, ns := range []*netnstest.NS{tn.a, tn.b} {
		if err := sa(ns, "192.168.77.1", "192.168.77.2", "0x1001", "1", tunnelKeys[0], tunnelKeys[1]); err != nil {
			if requireESP {
				t.Fatalf("NETLENS_XFRM_REQUIRE_ESP is set (vmtest/run.sh) and the kernel refuses an ESP SA: %v", err)
			}
			t.Logf("this kernel has no ESP (CONFIG_INET_ESP): %v", err)
			return tn, false
		}
		if err := sa(ns, "192.168.77.2", "192.168.77.1", "0x1002", "2", tunnelKeys[2], tunnelKeys[3]); err != nil {
			t.Fatal(err)
		}
	}
	pol := func(ns *netnstest.NS, dir, src, dst, reqid string) {
		ipx(t, ns, "xfrm", "policy", "add", "src", src+"/32", "dst", dst+"/32", "dir", dir,
			"tmpl", "src", src, "dst", dst, "proto", "esp", "reqid", reqid, "mode", "tunnel")
	}
	pol(tn.a, "out", "192.168.77.1", "192.168.77.2", "1")
	pol(tn.a, "in", "192.168.77.2", "192.168.77.1", "2")
	pol(tn.b, "out", "192.168.77.2", "192.168.77.1", "2")
	pol(tn.b, "in", "192.168.77.1", "192.168.77.2", "1")
	pol(tn.b, "fwd", "192.168.77.1", "192.168.77.2", "1")
	return tn, true
}

// sendUDP sends n datagrams of size bytes from a to b:port and returns
// how many b received (within a bound of 5 s).
func (tn *tunnel) sendUDP(t *testing.T, n, size, port int) int {
	t.Helper()
	var rfd int
	tn.b.Do(t, func() {
		var err error
		if rfd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(rfd, &unix.SockaddrInet4{Addr: tn.addrB, Port: port}); err != nil {
			t.Fatal(err)
		}
	})
	defer unix.Close(rfd)
	_ = unix.SetsockoptTimeval(rfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
	tn.a.Do(t, func() {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		for range n {
			if err := unix.Sendto(fd, make([]byte, size), 0, &unix.SockaddrInet4{Addr: tn.addrB, Port: port}); err != nil {
				t.Fatalf("send through the tunnel: %v", err)
			}
		}
	})
	got := 0
	buf := make([]byte, 65536)
	for got < n {
		if _, _, err := unix.Recvfrom(rfd, buf, 0); err != nil {
			break
		}
		got++
	}
	return got
}

// packetSocket opens an AF_PACKET socket on dev in ns.
func packetSocket(t *testing.T, ns *netnstest.NS, dev string) (fd, ifindex int) {
	t.Helper()
	ns.Do(t, func() {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			t.Fatal(err)
		}
		ifindex = ifi.Index
		proto := int(htons(unix.ETH_P_ALL))
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto); err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifindex}); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { unix.Close(fd) })
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
	return fd, ifindex
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// espFrame reads frames from fd until an ESP frame with SPI spi, within
// 200 frames.
func espFrame(t *testing.T, fd int, spi uint32) []byte {
	t.Helper()
	buf := make([]byte, 65536)
	for range 200 {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("capture an ESP frame: %v", err)
		}
		f := buf[:n]
		if n < 14+20+8 || binary.BigEndian.Uint16(f[12:]) != unix.ETH_P_IP || f[14+9] != 50 {
			continue
		}
		ihl := int(f[14]&0xf) * 4
		if binary.BigEndian.Uint32(f[14+ihl:]) == spi {
			return bytes.Clone(f)
		}
	}
	t.Fatal("no ESP frame in 200 frames")
	return nil
}

func findSA(t *testing.T, x model.IPsec, spi uint32) model.XfrmSA {
	t.Helper()
	for _, sa := range x.SAs {
		if sa.SPI == spi {
			return sa
		}
	}
	t.Fatalf("no SA spi 0x%x in %+v", spi, x.SAs)
	return model.XfrmSA{}
}

// xfrmStat reads one counter of /proc/net/xfrm_stat in ns.
func xfrmStat(t *testing.T, ns *netnstest.NS, name string) uint64 {
	t.Helper()
	var v uint64
	ns.Do(t, func() {
		b, err := os.ReadFile("/proc/thread-self/net/xfrm_stat")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == name {
				v = mustNum(f[1])
			}
		}
	})
	return v
}

// TestIntegrationESPTunnel: an ESP tunnel between two namespaces carries
// traffic; the collector's SAs and policies equal ip -s xfrm state and
// policy on both sides; a replayed ESP packet moves the receiving SA's
// replay counter, a forged one its integrity failures; an SA with a short
// hard lifetime goes away; no key is in a reading or its JSON. On a
// kernel without ESP (this machine's) only the refusal and the empty SA
// table are checked: the VM (vmtest/run.sh) runs the rest.
func TestIntegrationESPTunnel(t *testing.T) {
	tn, ok := newTunnel(t)
	if !ok {
		x := readNS(t, tn.a)
		if len(x.SAs) != 0 {
			t.Fatalf("the kernel refused the SA but the collector reads %d", len(x.SAs))
		}
		compareSAs(t, tn.a, x.SAs)
		return
	}
	capFD, _ := packetSocket(t, tn.b, "vb")
	const n, size = 20, 100
	if got := tn.sendUDP(t, n, size, 4500); got != n {
		t.Fatalf("%d of %d datagrams through the tunnel", got, n)
	}
	for _, ns := range []*netnstest.NS{tn.a, tn.b} {
		x := readNS(t, ns)
		compareSAs(t, ns, x.SAs)
		comparePolicies(t, ns, x.Policies)
		sa := findSA(t, x, 0x1001)
		if sa.Current.Packets != n {
			t.Errorf("%s: SA 0x1001 carried %d packets, want %d", ns.Name, sa.Current.Packets, n)
		}
		t.Logf("%s: SA 0x1001 %d bytes %d packets, equal to ip -s xfrm state; %d SAs and %d policies equal to ip -s xfrm",
			ns.Name, sa.Current.Bytes, sa.Current.Packets, len(x.SAs), len(x.Policies))
	}
	printFixtures(t, tn.b)
	inA := readNS(t, tn.a)
	if i := slices.IndexFunc(inA.Policies, func(p model.XfrmPolicy) bool { return p.Dir == "out" }); i < 0 || inA.Policies[i].Current.Used.IsZero() {
		t.Errorf("the out policy has no last use after traffic: %+v", inA.Policies)
	}

	// Replay: the same ESP frame again, from a's side of the veth.
	frame := espFrame(t, capFD, 0x1001)
	sendFD, vaIdx := packetSocket(t, tn.a, "va")
	send := func(f []byte) {
		t.Helper()
		if err := unix.Sendto(sendFD, f, 0, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: vaIdx, Halen: 6}); err != nil {
			t.Fatalf("resend ESP frame: %v", err)
		}
	}
	seqErr := xfrmStat(t, tn.b, "XfrmInStateSeqError")
	send(frame)
	waitSA(t, tn.b, 0x1001, "replay", func(sa model.XfrmSA) bool { return sa.Replay == 1 })
	if d := xfrmStat(t, tn.b, "XfrmInStateSeqError") - seqErr; d != 1 {
		t.Errorf("XfrmInStateSeqError moved by %d, want 1", d)
	}
	// Integrity: a sequence number past the highest received passes the
	// replay check and fails the ICV.
	forged := bytes.Clone(frame)
	ihl := int(forged[14]&0xf) * 4
	highest := findSA(t, readNS(t, tn.b), 0x1001).Seq
	binary.BigEndian.PutUint32(forged[14+ihl+4:], uint32(highest)+5)
	protoErr := xfrmStat(t, tn.b, "XfrmInStateProtoError")
	send(forged)
	waitSA(t, tn.b, 0x1001, "integrity failure", func(sa model.XfrmSA) bool { return sa.IntegrityFailed == 1 })
	if d := xfrmStat(t, tn.b, "XfrmInStateProtoError") - protoErr; d != 1 {
		t.Errorf("XfrmInStateProtoError moved by %d, want 1", d)
	}
	after := readNS(t, tn.b)
	compareSAs(t, tn.b, after.SAs)
	sa := findSA(t, after, 0x1001)
	t.Logf("after one replayed and one forged ESP packet: replay %d, integrity failures %d (ip -s xfrm state agrees)", sa.Replay, sa.IntegrityFailed)

	// Keys: not in a reading's JSON.
	for _, ns := range []*netnstest.NS{tn.a, tn.b} {
		x := readNS(t, ns)
		assertNoKeys(t, ns.Name+" snapshot JSON", snapshotJSON(t, x), tunnelKeys)
		for _, size := range [][2]int{{80, 24}, {120, 40}} {
			assertNoKeys(t, ns.Name+" IPsec tab", renderIPsecTab(t, x, size[0], size[1]), tunnelKeys)
		}
	}

	// Expiry: a hard lifetime of 3 s.
	ipx(t, tn.a, "xfrm", "state", "add", "src", "192.168.77.1", "dst", "192.168.77.2", "proto", "esp", "spi", "0x1003",
		"reqid", "3", "mode", "tunnel", "enc", "cbc(aes)", "0x"+hex.EncodeToString(tunnelKeys[0]),
		"auth-trunc", "hmac(sha256)", "0x"+hex.EncodeToString(tunnelKeys[1]), "128", "limit", "time-soft", "1", "limit", "time-hard", "3")
	x := readNS(t, tn.a)
	sa = findSA(t, x, 0x1003)
	compareSAs(t, tn.a, x.SAs)
	if _, hard := sa.Limits.Expiry(sa.Current); hard.IsZero() || hard.Sub(x.At) > 4*time.Second {
		t.Errorf("SA 0x1003 expires at %v, read at %v: want within 3 s", hard, x.At)
	}
	added := time.Now()
	deadline := added.Add(20 * time.Second)
	for {
		x = readNS(t, tn.a)
		if !slices.ContainsFunc(x.SAs, func(sa model.XfrmSA) bool { return sa.SPI == 0x1003 }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("SA 0x1003 still there 20 s after its 3 s hard lifetime")
		}
		time.Sleep(200 * time.Millisecond)
	}
	compareSAs(t, tn.a, x.SAs)
	t.Logf("SA 0x1003 (hard lifetime 3 s) gone from the collector and ip after %v", time.Since(added).Round(100*time.Millisecond))
}

// waitSA reads ns until the SA spi satisfies ok, for at most 5 s.
func waitSA(t *testing.T, ns *netnstest.NS, spi uint32, what string, ok func(model.XfrmSA) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sa := findSA(t, readNS(t, ns), spi)
		if ok(sa) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: SA 0x%x did not count the %s: %+v", ns.Name, spi, what, sa)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// printFixtures prints the SA and policy messages of ns, keys zeroed by
// the decoder, as "FIXTURE name hex" lines when NETLENS_XFRM_FIXTURES is
// set (vmtest/run.sh saves them: real kernel replies for the unit tests
// and fuzz seeds).
func printFixtures(t *testing.T, ns *netnstest.NS) {
	t.Helper()
	if os.Getenv("NETLENS_XFRM_FIXTURES") == "" {
		return
	}
	conn, err := netlink.Dial(unix.NETLINK_XFRM, &netlink.Config{NetNS: ns.FD(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []struct {
		typ  netlink.HeaderType
		name string
	}{{msgGetSA, "vm-sa"}, {msgGetPolicy, "vm-policy"}} {
		msgs, err := conn.Execute(netlink.Message{Header: netlink.Header{Type: q.typ, Flags: netlink.Request | netlink.Dump}})
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range msgs {
			if q.typ == msgGetSA {
				if _, err := parseSA(m.Data); err != nil {
					t.Fatal(err)
				}
				assertNoKeys(t, "a printed fixture", m.Data, tunnelKeys)
			}
			fmt.Printf("FIXTURE %s-%d %s\n", q.name, i, hex.EncodeToString(m.Data))
		}
	}
}
