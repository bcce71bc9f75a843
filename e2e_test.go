package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testNetns creates a network namespace with loopback up and removes it
// (and kills what runs in it) when the test ends.
func testNetns(t testing.TB) string {
	t.Helper()
	requireRoot(t)
	name := fmt.Sprintf("nl-e2e-%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	for _, args := range [][]string{{"netns", "add", name}, {"-n", name, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() {
		out, _ := exec.Command("ip", "netns", "pids", name).Output()
		for _, pid := range strings.Fields(string(out)) {
			exec.Command("kill", "-9", pid).Run()
		}
		exec.Command("ip", "netns", "del", name).Run()
	})
	return name
}

// TestIntegrationE2ETmux drives the real binary in a real terminal: it
// switches tabs, filters, takes a snapshot and quits, and checks that the
// terminal is restored.
func TestIntegrationE2ETmux(t *testing.T) {
	requireTmux(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	dir := t.TempDir()
	script := fmt.Sprintf(`before=$(stty -g)
socat TCP6-LISTEN:47777,ipv6only=0,reuseaddr,fork /dev/null &
%s --snapshot-dir %s
echo "EXIT=$?"
[ "$(stty -g)" = "$before" ] && echo TTY-RESTORED || echo TTY-CHANGED
kill %%1
sleep 60`, bin, dir)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s sh -c '%s'", ns, strings.ReplaceAll(script, "'", `'\''`)))

	// Connections: the listener in the namespace, with its process.
	scr := s.waitFor("the socat listener", 10*time.Second, func(scr string) bool {
		return regexp.MustCompile(`tcp\s+\[::\]:47777.*LISTEN.*socat`).MatchString(scr)
	})
	// The first socket table is shown as soon as it arrives, before the
	// other collectors' first runs end: wait for their health line.
	scr = s.waitFor("the collectors' health line", 10*time.Second, func(scr string) bool {
		return regexp.MustCompile(`ok: .*counters.*sockets.*sysctl`).MatchString(scr)
	})
	if !strings.Contains(scr, "Connections") {
		t.Fatalf("header/tabs missing:\n%s", scr)
	}

	// Drops, then Sysctl by number; the tab bar marks the one shown.
	s.keys("2")
	s.waitText("counters moved since start", 5*time.Second)
	s.keys("3")
	s.waitText("net.core.somaxconn", 5*time.Second)

	// A live filter narrows the table to what matches.
	s.keys("/")
	s.literal("somaxconn")
	s.keys("Enter")
	scr = s.waitText("filter: somaxconn", 5*time.Second)
	if strings.Contains(scr, "tcp_rmem") {
		t.Fatalf("filter let tcp_rmem through:\n%s", scr)
	}
	s.keys("Escape")
	s.waitFor("the filter cleared", 5*time.Second, func(scr string) bool {
		return !strings.Contains(scr, "filter: somaxconn") && strings.Contains(scr, "net.core.rmem_max")
	})

	s.keys("5")
	s.waitText("Capture is off", 5*time.Second)
	s.keys("6")
	s.waitText("interfaces, ", 5*time.Second)
	// From the last tab (IPsec: none in this namespace) tab wraps around
	// to Connections; shift+tab goes back.
	s.keys("7")
	s.waitText("no SAs: this namespace has no IPsec", 5*time.Second)
	s.keys("Tab")
	s.waitText(":47777", 5*time.Second)
	s.keys("BTab")
	s.waitText("[SAs 0]", 5*time.Second)

	// A snapshot: the path is shown, the file is valid and complete.
	s.keys("s")
	scr = s.waitText("snapshot saved: ", 10*time.Second)
	m := regexp.MustCompile(`snapshot saved: (\S+\.json)`).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no path on screen:\n%s", scr)
	}
	path := m[1]
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, filepath.Base(path))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	snap := validateSnapshot(t, b)
	if !strings.Contains(string(b), `"local": "[::]:47777"`) {
		t.Errorf("snapshot lacks the listener")
	}
	if len(snap["sysctls"].([]any)) == 0 || len(snap["counters"].([]any)) == 0 {
		t.Errorf("snapshot sections empty")
	}

	// q quits cleanly and gives the terminal back as it was.
	s.keys("q")
	// The script prints EXIT= and then, after a stty, TTY-...: wait for
	// the last line so both are on the screen.
	scr = s.waitText("TTY-", 5*time.Second)
	if !strings.Contains(scr, "EXIT=0") || !strings.Contains(scr, "TTY-RESTORED") {
		t.Fatalf("unclean exit:\n%s", scr)
	}
}

// TestIntegrationE2ETmuxAsNobody runs the TUI with no privileges at all:
// it starts, lists the sockets /proc allows (without the owners it may not
// see), and every collector that cannot run says why.
func TestIntegrationE2ETmuxAsNobody(t *testing.T) {
	requireTmux(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	dir, err := os.MkdirTemp("", "netlens-nobody-tui")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	script := fmt.Sprintf(`socat TCP-LISTEN:47778,reuseaddr,fork /dev/null &
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all %s --snapshot-dir %s
echo "EXIT=$?"
kill %%1
sleep 60`, bin, dir)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s sh -c '%s'", ns, strings.ReplaceAll(script, "'", `'\''`)))
	scr := s.waitFor("root's listener, seen by nobody", 10*time.Second, func(scr string) bool {
		return regexp.MustCompile(`tcp\s+0\.0\.0\.0:47778.*LISTEN`).MatchString(scr)
	})
	if strings.Contains(scr, "socat/") {
		t.Errorf("nobody sees root's process:\n%s", scr)
	}
	for _, tab := range []string{"2", "3"} {
		s.keys(tab)
		scr = s.waitFor("tab "+tab, 5*time.Second, func(scr string) bool {
			return strings.Contains(scr, "counters moved") || strings.Contains(scr, "sysctls,")
		})
	}
	// Every collector either works or says why not, in the header (once
	// their first runs have ended: the first socket table is shown as soon
	// as it arrives, and the header says "starting: ..." until then).
	s.waitFor("the collectors' health line", 10*time.Second, func(scr string) bool {
		return regexp.MustCompile(`ok: .*`).MatchString(scr)
	})
	s.keys("s")
	scr = s.waitText("snapshot saved: ", 10*time.Second)
	s.keys("q")
	s.waitText("EXIT=0", 5*time.Second)
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("snapshot dir holds %v", ents)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ents[0].Name()))
	for name, st := range collectorStates(validateSnapshot(t, b)) {
		if state, reason, _ := strings.Cut(st, " "); state != "ok" && reason == "" {
			t.Errorf("collector %s is %s without a reason", name, state)
		}
	}
}

// TestIntegrationE2ETerminals starts the real binary under each kind of
// terminal netlens supports, at the smallest usable size, and below it:
// it lays out, switches tabs, says "terminal too small" when it is, and
// quits cleanly everywhere.
func TestIntegrationE2ETerminals(t *testing.T) {
	requireTmux(t)
	bin := netlensBinary(t)
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"linux", []string{"TERM=linux"}},
		{"xterm-256color", []string{"TERM=xterm-256color"}},
		{"truecolor", []string{"TERM=xterm-256color", "COLORTERM=truecolor"}},
		{"screen", []string{"TERM=screen"}},
		{"tmux-256color", []string{"TERM=tmux-256color"}},
		{"no-color", []string{"TERM=xterm-256color", "NO_COLOR=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startTmux(t, 80, 24, tc.env, bin+`; echo "EXIT=$?"; sleep 60`)
			scr := s.waitText("Connections", 10*time.Second)
			if !strings.Contains(scr, "q quit") {
				t.Errorf("no footer at 80x24:\n%s", scr)
			}
			// Every tab's number fits the bar at 80 columns.
			if !strings.Contains(scr, "7 IPsec") {
				t.Errorf("the tab bar does not hold every tab at 80x24:\n%s", scr)
			}
			// The Sysctl tab's header, then its rows (which rows fit
			// depends on the host's sysctls: the first is net.*).
			s.keys("3")
			s.waitText("sysctls, ", 5*time.Second)
			s.waitText("net.", 5*time.Second)
			s.tmux("resize-window", "-t", s.name, "-x", "70", "-y", "20")
			s.waitText("terminal too small", 5*time.Second)
			s.tmux("resize-window", "-t", s.name, "-x", "80", "-y", "24")
			s.waitText("sysctls, ", 5*time.Second)
			s.keys("q")
			s.waitText("EXIT=0", 5*time.Second)
		})
	}
}

// TestIntegrationE2EFilterToggle drives the Filters tab of the real binary
// with the nftables backend, in a namespace of its own: a drop rule for a
// TCP port added through the form stops connects to a listener on that
// port (measured), space disables it and they go through again, space
// enables it again (commit-confirmed: the countdown shows) and c keeps
// it; the rule's packets in the tab equal the counters nft(8) lists.
func TestIntegrationE2EFilterToggle(t *testing.T) {
	requireTmux(t)
	requireTools(t, "nft", "socat")
	const port = "47790"
	s, ns := startFilterTUI(t, port)

	connects := func(n int) int { return tcpConnects(ns, port, n) }
	s.waitText("4 Filters", 10*time.Second)
	s.dropPortViaForm(ns, port, "e2e drop")
	s.waitText("REVERT IN", 5*time.Second)
	s.waitFor("the rule in the table", 10*time.Second, func(scr string) bool {
		return regexp.MustCompile(`1 on\*?\s+in\s+any\s+tcp \* -> \*:` + port + `\s+drop`).MatchString(scr)
	})
	s.keys("c")
	s.waitText("confirmed: add rule 1 is kept", 10*time.Second)
	s.waitFor("the countdown to end", 10*time.Second, func(scr string) bool { return !strings.Contains(scr, "REVERT IN") })

	// space disables it (not drop-capable: applied at once).
	s.keys("Space")
	s.waitText("disable rule 1: done", 10*time.Second)
	s.waitFor("the rule off", 10*time.Second, func(scr string) bool {
		return regexp.MustCompile(`1 off\s+in\s+any\s+tcp`).MatchString(scr)
	})
	if got := connects(3); got != 3 {
		t.Fatalf("rule disabled: %d of 3 connects succeeded", got)
	}
	// space enables it again: drop-capable, so it counts down until c.
	s.keys("Space")
	s.waitText("enable rule 1: applied; press c to keep it", 10*time.Second)
	s.waitText("REVERT IN", 5*time.Second)
	if got := connects(2); got != 0 {
		t.Fatalf("rule enabled again: %d of 2 connects succeeded", got)
	}
	s.keys("c")
	s.waitText("confirmed: enable rule 1 is kept", 10*time.Second)

	// The packets in the tab equal nft's counters of the rule (the sum of
	// its copies), once the screen has caught up.
	nftPackets := func() uint64 {
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "-j", "list", "table", "inet", "netlens").Output()
		if err != nil {
			t.Fatalf("nft -j list: %v", err)
		}
		var doc struct {
			Nftables []struct {
				Rule *struct {
					Comment string           `json:"comment"`
					Expr    []map[string]any `json:"expr"`
				} `json:"rule"`
			} `json:"nftables"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("nft -j: %v", err)
		}
		var sum uint64
		for _, o := range doc.Nftables {
			if o.Rule == nil || o.Rule.Comment != "e2e drop" {
				continue
			}
			for _, e := range o.Rule.Expr {
				if c, ok := e["counter"].(map[string]any); ok {
					sum += uint64(c["packets"].(float64))
				}
			}
		}
		return sum
	}
	row := regexp.MustCompile(`1 on\s+in\s+any\s+tcp \* -> \*:` + port + `\s+drop\s+(\d+)`)
	var tab, want uint64
	deadline := time.Now().Add(10 * time.Second)
	for {
		want = nftPackets()
		m := row.FindStringSubmatch(s.screen())
		if m != nil {
			tab, _ = strconv.ParseUint(m[1], 10, 64)
			if tab == want && want > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("tab shows %d packets (row %v), nft counts %d; screen:\n%s", tab, m, want, s.screen())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("rule 1: %d packets in the tab and in nft -j list", tab)
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}

// TestIntegrationE2EFilterGuard runs the real binary as if over SSH
// (SSH_CONNECTION names an established loopback connection in the test's
// namespace) with the nftables backend: a drop rule for the session's
// port brings up the lockout guard, which names the session and asks a
// second time; n leaves the ruleset alone; Y applies it commit-confirmed
// with the countdown; c keeps it.
func TestIntegrationE2EFilterGuard(t *testing.T) {
	requireTmux(t)
	requireTools(t, "nft", "socat")
	bin := netlensBinary(t)
	ns := testNetns(t)
	const port, clientPort = "47791", "40123"
	script := fmt.Sprintf(`socat TCP-LISTEN:%s,reuseaddr,fork EXEC:"sleep 60" &
sleep 0.3
sleep 60 | socat - TCP:127.0.0.1:%s,sourceport=%s &
SSH_CONNECTION="127.0.0.1 %s 127.0.0.1 %s" %s --filter-backend nft
echo "EXIT=$?"
kill %%1 %%2
sleep 60`, port, port, clientPort, clientPort, port, bin)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s sh -c '%s'", ns, strings.ReplaceAll(script, "'", `'\''`)))
	deleteNetlensTable(t, ns)
	nftRules := func() int {
		out, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "netlens").Output()
		return strings.Count(string(out), "dport "+port)
	}
	s.waitFor("the session's connection", 10*time.Second, func(scr string) bool {
		return regexp.MustCompile(`127\.0\.0\.1:` + clientPort + `.*ESTAB`).MatchString(scr)
	})
	s.keys("4")
	s.waitText("backend nft:", 10*time.Second)
	s.addTCPDropRule(port, "")
	scr := s.waitText("LOCKOUT GUARD", 10*time.Second)
	for _, want := range []string{"YOUR OWN SSH SESSION would be cut", "127.0.0.1:" + clientPort, "press Y (or y twice)"} {
		if !strings.Contains(scr, want) {
			t.Fatalf("guard prompt lacks %q:\n%s", want, scr)
		}
	}
	s.keys("y")
	s.waitText("y once more to apply", 5*time.Second)
	s.keys("n")
	s.waitText("cancelled: nothing was changed", 5*time.Second)
	if n := nftRules(); n != 0 {
		t.Fatalf("cancelled change reached nft: %d rules", n)
	}

	s.addTCPDropRule(port, "")
	s.waitText("LOCKOUT GUARD", 10*time.Second)
	s.keys("Y")
	s.waitText("add rule 1: applied; press c to keep it", 10*time.Second)
	scr = s.waitText("REVERT IN", 5*time.Second)
	if !strings.Contains(strings.SplitN(scr, "\n", 2)[0], "REVERT IN") {
		t.Errorf("no countdown in the header:\n%s", scr)
	}
	if n := nftRules(); n != 1 {
		t.Fatalf("applied change: %d rules in nft", n)
	}
	s.keys("c")
	s.waitText("confirmed: add rule 1 is kept", 10*time.Second)
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}

// TestIntegrationE2EFilterRevert applies a drop rule through the Filters
// tab with the nftables backend and does not confirm it: at the deadline
// (30 s) the revert helper undoes it, the tab says so, and traffic to the
// port flows again. It takes about 35 s.
func TestIntegrationE2EFilterRevert(t *testing.T) {
	requireTmux(t)
	requireTools(t, "nft", "socat")
	const port = "47792"
	s, ns := startFilterTUI(t, port)
	connect := func() bool { return tcpConnects(ns, port, 1) == 1 }
	s.waitText("4 Filters", 10*time.Second)
	s.keys("4")
	s.waitText("backend nft:", 10*time.Second)
	s.addTCPDropRule(port, "")
	applied := time.Now()
	s.waitText("add rule 1: applied; press c to keep it", 10*time.Second)
	s.waitText("REVERT IN", 5*time.Second)
	if connect() {
		t.Fatal("a connect went through the unconfirmed drop rule")
	}
	scr := s.waitText("REVERTED: add rule 1 was undone at its deadline", 45*time.Second)
	took := time.Since(applied)
	if strings.Contains(scr, "REVERT IN") || regexp.MustCompile(`1 on\*?\s+in\s+any\s+tcp`).MatchString(scr) {
		t.Fatalf("the rule or its countdown is still shown after the revert:\n%s", scr)
	}
	out, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "netlens").Output()
	if strings.Contains(string(out), "dport "+port) {
		t.Fatalf("nft still has the rule after the revert:\n%s", out)
	}
	if !connect() {
		t.Fatal("connects still fail after the revert")
	}
	t.Logf("reverted and shown %.1f s after the change was applied (deadline 30 s)", took.Seconds())
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}

// TestIntegrationE2ECapturePcap replays a pcapng file into the Capture
// tab of the real binary: the totals, the decode errors and the top flows
// show; enter decodes a flow's packets; w writes its packets to a pcapng
// file that tcpdump reads back with the same count.
func TestIntegrationE2ECapturePcap(t *testing.T) {
	requireTmux(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	dir := t.TempDir()
	pcap, err := filepath.Abs("collectors/capture/testdata/mixed.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`%s --pcap %s --snapshot-dir %s --filter-backend none
echo "EXIT=$?"
sleep 60`, bin, pcap, dir)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s sh -c '%s'", ns, strings.ReplaceAll(script, "'", `'\''`)))
	s.waitText("5 Capture", 10*time.Second)
	s.keys("5")
	scr := s.waitText("file read to its end", 10*time.Second)
	for _, want := range []string{"decode errors", "ring drops", "top 50 flows by bytes", "cpu "} {
		if !strings.Contains(scr, want) {
			t.Errorf("Capture tab lacks %q:\n%s", want, scr)
		}
	}
	s.keys("Enter")
	s.waitText("last packets, oldest first", 10*time.Second)
	// The pane says "decoding..." until its packets are decoded (a
	// command of its own): wait for them, not only for the pane.
	scr = s.waitText("Ethernet", 10*time.Second)
	if !strings.Contains(scr, "last packets, oldest first") || !regexp.MustCompile(`packet \d+ of \d+`).MatchString(scr) {
		t.Fatalf("no packet decoded layer by layer:\n%s", scr)
	}
	s.keys("w")
	scr = s.waitText("wrote ", 10*time.Second)
	m := regexp.MustCompile(`wrote (\S+\.pcapng): (\d+) packets, the packets of `).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no pcapng path on screen:\n%s", scr)
	}
	path, n := m[1], m[2]
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, filepath.Base(path))
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("tcpdump"); err == nil {
		out, err := exec.Command("tcpdump", "-nn", "-r", path).Output()
		if err != nil {
			t.Fatalf("tcpdump -r %s: %v", path, err)
		}
		if got := strconv.Itoa(strings.Count(string(out), "\n")); got != n {
			t.Errorf("tcpdump reads %s packets from %s, the tab wrote %s", got, path, n)
		}
		t.Logf("tcpdump reads %s packets from %s, as the tab says", n, path)
	}
	// Escape alone (followed at once by q it would read as alt+q).
	s.keys("Escape")
	s.waitFor("the packets view closed", 5*time.Second, func(scr string) bool { return !strings.Contains(scr, "last packets, oldest first") })
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}

// TestIntegrationE2EFilterKilled applies a drop rule through the Filters
// tab (nft) and kills the TUI with SIGKILL before confirming: the revert
// helper, which outlives it, still undoes the rule at the deadline
// (30 s). It takes about 35 s.
func TestIntegrationE2EFilterKilled(t *testing.T) {
	requireTmux(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed")
	}
	bin := netlensBinary(t)
	ns := testNetns(t)
	const port = "47793"
	script := fmt.Sprintf(`env -u SSH_CONNECTION %s --filter-backend nft
echo "EXIT=$?"
sleep 60`, bin)
	s := startTmux(t, 120, 40, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s sh -c '%s'", ns, strings.ReplaceAll(script, "'", `'\''`)))
	deleteNetlensTable(t, ns)
	hasRule := func() bool {
		out, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "netlens").Output()
		return strings.Contains(string(out), "dport "+port)
	}
	s.waitText("4 Filters", 10*time.Second)
	s.keys("4")
	s.waitText("backend nft:", 10*time.Second)
	s.addTCPDropRule(port, "")
	applied := time.Now()
	s.waitText("REVERT IN", 10*time.Second)
	if !hasRule() {
		t.Fatal("the rule is not in nft")
	}
	// SIGKILL the TUI (not the helper, `netlens rules revert-watch`).
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	killed := 0
	for _, pid := range strings.Fields(string(out)) {
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) > 0 && args[0] == bin && !strings.Contains(string(cmdline), "revert-watch") {
			if err := exec.Command("kill", "-9", pid).Run(); err != nil {
				t.Fatalf("kill -9 %s: %v", pid, err)
			}
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("killed %d netlens TUI processes, want 1 (pids %q)", killed, out)
	}
	s.waitText("EXIT=137", 5*time.Second)
	if !hasRule() {
		t.Fatal("the rule went with the TUI, before its deadline")
	}
	deadline := applied.Add(40 * time.Second)
	for hasRule() {
		if time.Now().After(deadline) {
			t.Fatalf("the rule is still in nft %.0f s after it was applied (deadline 30 s)", time.Since(applied).Seconds())
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(applied)
	if took < 29*time.Second {
		t.Fatalf("the rule was undone after %.1f s, before its 30 s deadline", took.Seconds())
	}
	t.Logf("TUI killed; the helper undid the rule %.1f s after it was applied (deadline 30 s)", took.Seconds())
}

// TestIntegrationE2ESnapshotDirMissing: a --snapshot-dir that does not
// exist is reported at start, whole, on an 80x24 terminal (s and R would
// fail); s says why in a few words and writes nothing; once the
// directory exists s saves a complete snapshot that --open reads back.
func TestIntegrationE2ESnapshotDirMissing(t *testing.T) {
	requireTmux(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	// A short path, as one typed: the warning fits in three lines of 80.
	tmp, err := os.MkdirTemp("", "nl-sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	dir := filepath.Join(tmp, "incident")
	s := startTmux(t, 80, 24, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s %s --snapshot-dir %s; echo EXIT=$?; sleep 60", ns, bin, dir))
	flatten := func(scr string) string { return strings.Join(strings.Fields(scr), " ") }
	scr := s.waitFor("the warning", 15*time.Second, func(scr string) bool { return strings.Contains(flatten(scr), "s and R cannot save") })
	if !strings.Contains(flatten(scr), "--snapshot-dir "+dir+": no such directory: s and R cannot save there (create it or make it writable, or restart with another --snapshot-dir)") {
		t.Errorf("the warning is not whole:\n%s", scr)
	}
	s.keys("s")
	failed := "snapshot failed: --snapshot-dir " + dir + ": no such directory"
	s.waitFor(failed, 10*time.Second, func(scr string) bool { return strings.Contains(flatten(scr), failed) })
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s.keys("s")
	// The path is whole, on a second status line if need be.
	saved := regexp.MustCompile(`snapshot saved:([^?]*\.json)\s*\n \? help`)
	scr = s.waitFor("the saved snapshot's path", 10*time.Second, func(scr string) bool { return saved.MatchString(scr) })
	path := strings.Join(strings.Fields(saved.FindStringSubmatch(scr)[1]), "")
	if !strings.HasPrefix(path, dir+"/netlens-") {
		t.Fatalf("snapshot path %q, want in %s:\n%s", path, dir, scr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	validateSnapshot(t, b)
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
	o := startTmux(t, 80, 24, []string{"TERM=xterm-256color"}, fmt.Sprintf("%s --open %s; echo EXIT=$?; sleep 60", bin, path))
	o.waitText("OFFLINE", 10*time.Second)
	o.keys("q")
	o.waitText("EXIT=0", 10*time.Second)
}

// TestIntegrationE2ESnapshotDirKernelFS: `--snapshot-dir /proc`, where
// no file can be created even by root, is reported at start as a missing
// directory is (it started with no warning, and s failed only when
// pressed); s says why and writes nothing.
func TestIntegrationE2ESnapshotDirKernelFS(t *testing.T) {
	requireTmux(t)
	bin := netlensBinary(t)
	ns := testNetns(t)
	s := startTmux(t, 80, 24, []string{"TERM=xterm-256color"}, fmt.Sprintf("ip netns exec %s %s --snapshot-dir /proc; echo EXIT=$?; sleep 60", ns, bin))
	flatten := func(scr string) string { return strings.Join(strings.Fields(scr), " ") }
	why := "--snapshot-dir /proc: cannot create a file there: a proc file system, not storage (no such file or directory)"
	scr := s.waitFor("the warning", 15*time.Second, func(scr string) bool { return strings.Contains(flatten(scr), "s and R cannot save") })
	if !strings.Contains(flatten(scr), why+": s and R cannot save there (create it or make it writable, or restart with another --snapshot-dir)") {
		t.Errorf("the warning is not whole:\n%s", scr)
	}
	s.keys("s")
	failed := "snapshot failed: " + why
	s.waitFor(failed, 10*time.Second, func(scr string) bool { return strings.Contains(flatten(scr), failed) })
	s.keys("q")
	s.waitText("EXIT=0", 10*time.Second)
}
