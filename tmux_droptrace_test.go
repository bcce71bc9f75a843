package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestIntegrationE2ETmuxDropTrace runs the TUI in a real terminal inside a
// namespace where a process holds a UDP socket it never reads: the Drops
// tab's reasons view names the source and the reason, enter lists the
// flow with its owner, enter again shows its connection, whose Drops
// column counts the traced drops; S switches the sampled stream on and
// off.
func TestIntegrationE2ETmuxDropTrace(t *testing.T) {
	requireTools(t, "socat", "/usr/bin/python3")
	bin := netlensBinary(t)
	ns := testNetns(t)
	holder := `/usr/bin/python3 -c "import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,1); s.bind(('127.0.0.1',7040)); time.sleep(120)" &`
	script := fmt.Sprintf("%s\n%s\necho \"EXIT=$?\"\nsleep 60", holder, bin)
	s := startTmux(t, 140, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s sh -c '%s'", ns, strings.ReplaceAll(script, "'", `'\''`)))
	s.waitText("Connections", 15*time.Second)
	s.waitFor("the holder's socket", 15*time.Second, func(scr string) bool { return strings.Contains(scr, "127.0.0.1:7040") })
	// Fill its receive buffer.
	send := exec.Command("ip", "netns", "exec", ns, "sh", "-c", "for i in $(seq 60); do head -c 1000 /dev/zero | socat -u - UDP-SENDTO:127.0.0.1:7040; done")
	if out, err := send.CombinedOutput(); err != nil {
		t.Fatalf("send: %v: %s", err, out)
	}
	s.keys("2", "v")
	s.waitText("[reasons] eBPF tp_btf/kfree_skb", 15*time.Second)
	scr := s.waitText("SOCKET_RCVBUFF", 15*time.Second)
	if !strings.Contains(scr, "source eBPF: root (auto)") || !strings.Contains(scr, "drops eBPF: root (auto)") {
		t.Errorf("reasons view does not say the source:\n%s", scr)
	}
	s.keys("Enter")
	scr = s.waitText("[reasons > flows] SOCKET_RCVBUFF", 10*time.Second)
	scr = s.waitFor("the owner", 10*time.Second, func(scr string) bool { return strings.Contains(scr, "python3") })
	if !strings.Contains(scr, "127.0.0.1:7040") {
		t.Errorf("flows view:\n%s", scr)
	}
	s.keys("Enter")
	scr = s.waitText("filter: 127.0.0.1:7040", 10*time.Second)
	if !strings.Contains(scr, "python3") {
		t.Errorf("connections filtered to the flow:\n%s", scr)
	}
	// S in the Drops tab (back on the flows view) switches the sampled
	// stream on, then off; on, from the next refresh, the flows view
	// offers the flow's sampled packets, and off again the connection.
	s.keys("2", "S")
	s.waitText("drop samples on: one drop in 100 per CPU", 10*time.Second)
	s.waitText("(enter: its sampled packets; left: back)", 10*time.Second)
	s.keys("S")
	s.waitText("drop samples off", 10*time.Second)
	s.waitText("(enter: the connection; left: back)", 10*time.Second)
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}

// TestIntegrationE2ETmuxDropSourceHeader runs the TUI with each
// --drop-source: the header says which source and why.
func TestIntegrationE2ETmuxDropSourceHeader(t *testing.T) {
	bin := netlensBinary(t)
	for _, tt := range []struct{ flag, want string }{
		{"auto", "drops eBPF: root (auto)"},
		{"ebpf", "drops eBPF: --drop-source ebpf"},
		{"netdm", "drops NET_DM: --drop-source netdm"},
		{"counters", "drops counters: --drop-source counters"},
	} {
		t.Run(tt.flag, func(t *testing.T) {
			ns := testNetns(t)
			s := startTmux(t, 160, 30, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s %s --drop-source %s; echo EXIT=$?; sleep 60", ns, bin, tt.flag))
			s.waitText(tt.want, 15*time.Second)
			s.keys("q")
			s.waitText("EXIT=0", 10*time.Second)
		})
	}
}
