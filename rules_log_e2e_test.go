package main

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/control/filter/nft"
	"netlens/internal/netnstest"
	"netlens/model"
)

// TestIntegrationRulesLogNftJSON runs `netlens rules log --json` of the
// real binary with the nftables backend in a namespace joined by a veth
// pair to a peer, which sends UDP datagrams crafted with gopacket on a raw
// socket (each its own source port and length). A COUNT+LOG rule added
// with `rules add --log`: the JSON lines are exactly the datagrams sent,
// tuple by tuple, in order. A DROP+LOG rule at --log-rate 10: a burst of
// 60 gives 10 lines, the first 10 datagrams, and `rules list --json`
// counts the other 50 in log_dropped.
func TestIntegrationRulesLogNftJSON(t *testing.T) {
	requireRoot(t)
	requireTools(t, "nft")
	bin := netlensBinary(t)
	a, peer := netnstest.New(t, "nllog"), netnstest.New(t, "nlpeer")
	netnstest.Veth(t, a, peer, "nla0", "10.78.0.1", "nlb0", "10.78.0.2")
	netlens := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("ip", append([]string{"netns", "exec", a.Name, "env", "-u", "SSH_CONNECTION", bin, "rules", "--filter-backend", "nft"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("netlens rules %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	send := func(dport uint16, sports []uint16) {
		var ds []netnstest.UDP
		for i, sp := range sports {
			ds = append(ds, netnstest.UDP{SrcPort: sp, DstPort: dport, Payload: i})
		}
		peer.SendUDP4(t, netip.MustParseAddr("10.78.0.2"), netip.MustParseAddr("10.78.0.1"), ds)
	}
	// logLines starts `rules log --json`, waits until it has bound the
	// group, runs fn, and returns the lines read within d after it.
	logLines := func(n int, d time.Duration, fn func()) []model.LoggedPacket {
		t.Helper()
		cmd := exec.Command("ip", "netns", "exec", a.Name, bin, "rules", "log", "--json", "--filter-backend", "nft")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() }()
		group := strconv.Itoa(nft.LogGroup)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if strings.Contains("\n"+a.Run(t, "cat", "/proc/net/netfilter/nfnetlink_log"), "\n"+strings.Repeat(" ", 5-len(group))+group+" ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("rules log never bound the nflog group")
			}
		}
		fn()
		lines := make(chan model.LoggedPacket)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				var p model.LoggedPacket
				if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
					t.Errorf("rules log --json line %q: %v", sc.Text(), err)
					continue
				}
				lines <- p
			}
			close(lines)
		}()
		var got []model.LoggedPacket
		timeout := time.After(d)
		for len(got) < n {
			select {
			case p, ok := <-lines:
				if !ok {
					return got
				}
				got = append(got, p)
			case <-timeout:
				return got
			}
		}
		// and nothing more for a moment
		select {
		case p := <-lines:
			got = append(got, p)
		case <-time.After(300 * time.Millisecond):
		}
		return got
	}
	type tuple struct {
		Rule         uint32
		Hook, Iif    string
		Verdict      model.RuleAction
		Proto        string
		Src, Dst     netip.Addr
		Sport, Dport uint16
		Len          uint32
	}
	tuples := func(ps []model.LoggedPacket) []tuple {
		var out []tuple
		for _, p := range ps {
			out = append(out, tuple{p.RuleID, p.Hook, p.InIface, p.Verdict, p.Proto, p.Src, p.Dst, p.SrcPort, p.DstPort, p.Len})
		}
		return out
	}
	addrCmp := cmp.Comparer(func(x, y netip.Addr) bool { return x == y })

	netlens("add", "--action", "count", "--proto", "udp", "--dport", "7000", "--log", "--log-rate", "1000")
	var sports []uint16
	var want []tuple
	for i := range 30 {
		sports = append(sports, uint16(42000+i))
		want = append(want, tuple{1, "input", "nla0", model.ActionCount, "udp", netip.MustParseAddr("10.78.0.2"), netip.MustParseAddr("10.78.0.1"), uint16(42000 + i), 7000, uint32(28 + i)})
	}
	got := logLines(len(want), 5*time.Second, func() { send(7000, sports) })
	if diff := cmp.Diff(want, tuples(got), addrCmp); diff != "" {
		t.Errorf("rules log --json, COUNT+LOG (-want +got):\n%s", diff)
	}

	netlens("add", "--action", "drop", "--proto", "udp", "--dport", "7001", "--log", "--log-rate", "10", "--no-revert")
	sports = sports[:0]
	for i := range 60 {
		sports = append(sports, uint16(43000+i))
	}
	got = logLines(10, 3*time.Second, func() { send(7001, sports) })
	var list struct {
		Rules []model.Rule `json:"rules"`
	}
	if err := json.Unmarshal([]byte(netlens("list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	var drop model.Rule
	for _, r := range list.Rules {
		if r.ID == 2 {
			drop = r
		}
	}
	if len(got) < 10 || len(got) > 12 || drop.Packets != 60 || uint64(len(got))+drop.LogDropped != 60 {
		t.Fatalf("DROP+LOG at 10/s, 60 sent: %d lines, rule %+v", len(got), drop)
	}
	for i, p := range tuples(got[:10]) {
		if p.Sport != uint16(43000+i) || p.Verdict != model.ActionDrop || p.Rule != 2 {
			t.Errorf("line %d: %+v", i, p)
		}
	}
	t.Logf("rules log --json: 30 of 30 COUNT+LOG datagrams, tuple by tuple; DROP+LOG at 10/s: %d of 60 logged, log_dropped %d", len(got), drop.LogDropped)
}
