package droptrace

import (
	"bufio"
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"netlens/collectors/sockets"
	"netlens/internal/netnstest"
	"netlens/model"
)

// TestIntegrationIncidentRcvbufOwner fills the receive buffer of a UDP
// socket held by a process that never reads it: the drops are traced as
// SOCKET_RCVBUFF, equal to Udp RcvbufErrors, and carry the socket's
// cookie, which joins them to the socket and its process.
func TestIntegrationIncidentRcvbufOwner(t *testing.T) {
	ns := netnstest.New(t, "dt-rcvbuf")
	const port = 7008
	holder := ns.Command("/usr/bin/python3", "-c", `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
s.bind(("127.0.0.1", 7008))
print("ready", flush=True)
time.sleep(60)
`)
	out, err := holder.StdoutPipe()
	must(t, err)
	must(t, holder.Start())
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); strings.TrimSpace(line) != "ready" {
		t.Fatalf("holder: %q", line)
	}

	store := model.NewStore("test", "test", time.Now())
	// The sockets collector's sock_diag dump is what makes the kernel
	// give the socket its cookie.
	sc := sockets.New(sockets.Options{NetNS: ns.FD(t)})
	t.Cleanup(func() { sc.Close() })
	must(t, sc.Collect(context.Background(), store))

	c := newNSCollector(t, ns, Options{})
	base := readNstat(t, ns)
	const sent = 200
	dst := netip.AddrPortFrom(mustAddr("127.0.0.1"), port)
	sendUDP(t, ns, "127.0.0.1", dst, sent, 1000)
	m := match{reason: "SOCKET_RCVBUFF", proto: "udp", dst: dst.Addr(), dport: port}
	tr, delta := waitTrace(t, c, ns, m, "UdpRcvbufErrors", base, 1)
	if delta == 0 || delta >= sent {
		t.Fatalf("UdpRcvbufErrors moved by %d of %d sent: the buffer did not fill", delta, sent)
	}
	fs := checkFlows(t, tr, m, "__udp_queue_rcv_skb udp_queue_rcv_one_skb __udp_enqueue_schedule_skb", delta)
	store.Publish(model.DropTraceUpdate{Trace: tr})
	must(t, sc.Collect(context.Background(), store))
	snap := store.Snapshot()
	for _, f := range fs {
		so, ok := snap.SocketByCookie(f.Cookie)
		if !ok {
			t.Errorf("flow %+v: no socket with cookie %d", f, f.Cookie)
			continue
		}
		if so.Local.Port() != port || !slices.ContainsFunc(so.Procs, func(p model.Proc) bool { return p.PID == holder.Process.Pid }) {
			t.Errorf("flow's socket %+v: want port %d held by pid %d", so, port, holder.Process.Pid)
		}
	}
}
