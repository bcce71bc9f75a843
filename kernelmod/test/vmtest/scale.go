package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors/kmod"
)

func addrN(base netip.Addr, i int) netip.Addr {
	b := base.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// indexedRule is rule i of a set of non-matching rules that fit the
// indexes: destination /32s, exact destination ports, source /24s.
func indexedRule(i int) kmod.Rule {
	switch i % 3 {
	case 0:
		return kmod.Rule{Dst: netip.PrefixFrom(addrN(netip.MustParseAddr("10.0.0.0"), i), 32), Action: kmod.ActionDrop,
			Priority: uint32(i)}
	case 1:
		return kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: uint16(20000 + i), Max: uint16(20000 + i)},
			Action: kmod.ActionDrop, Priority: uint32(i)}
	}
	return kmod.Rule{Src: netip.PrefixFrom(addrN(netip.MustParseAddr("172.16.0.0"), i*256), 24), Action: kmod.ActionDrop,
		Priority: uint32(i)}
}

// linearRule is rule i of a set of non-matching rules that fit no index.
func linearRule(i int) kmod.Rule {
	p := uint16(30000 + i%1000)
	return kmod.Rule{Proto: 17, DstPorts: kmod.PortRange{Min: p, Max: p + 1}, Action: kmod.ActionDrop, Priority: uint32(i)}
}

func loadRules(c *kmod.Client, n int, mk func(int) kmod.Rule) ([]kmod.Rule, error) {
	return loadRulesAt(c, n, mk, kmod.HookAll)
}

// loadRulesAt creates rules mk(0..n-1) on the given hooks.
func loadRulesAt(c *kmod.Client, n int, mk func(int) kmod.Rule, hooks kmod.Hooks) ([]kmod.Rule, error) {
	out := make([]kmod.Rule, 0, n)
	for i := 0; i < n; i++ {
		r := mk(i)
		r.Hooks = hooks
		r.Label = fmt.Sprintf("rule-%d", i)
		got, err := c.Create(r, 0)
		if err != nil {
			return out, fmt.Errorf("rule %d: %w", i, err)
		}
		out = append(out, got)
	}
	return out, nil
}

func checkManyRules() error {
	return withClient(func(c *kmod.Client) error {
		const n = 10000
		t0 := time.Now()
		created, err := loadRules(c, n, indexedRule)
		if err != nil {
			return err
		}
		tLoad := time.Since(t0)
		t0 = time.Now()
		rules, err := c.Dump()
		if err != nil {
			return err
		}
		tDump := time.Since(t0)
		if len(rules) != n {
			return fmt.Errorf("dump: %d rules, want %d", len(rules), n)
		}
		for i := range rules {
			if !reflect.DeepEqual(rules[i], created[i]) {
				return fmt.Errorf("rule %d: dump %+v, created %+v", i, rules[i], created[i])
			}
		}
		cs, err := c.Counters()
		if err != nil {
			return err
		}
		if cs.Rules != n {
			return fmt.Errorf("counters: %d rules", cs.Rules)
		}
		b, err := os.ReadFile("/proc/net/netlens")
		if err != nil {
			return err
		}
		if k := strings.Count(string(b), "\n"); k != n+1 {
			return fmt.Errorf("/proc/net/netlens: %d lines, want %d", k, n+1)
		}
		// a dump racing with changes is flagged NLM_F_DUMP_INTR by the
		// kernel and restarted by the client: it must still come back whole
		stop := make(chan struct{})
		churn := make(chan error, 1)
		go func() {
			cc, err := kmod.Dial(nil)
			if err != nil {
				churn <- err
				return
			}
			defer cc.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					churn <- nil
					return
				default:
				}
				if _, err := cc.SetEnabled(created[i%n].ID, i%2 == 1, 0); err != nil {
					churn <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
		sawIntr := false
		for i := 0; i < 1; i++ {
			rules, err = c.Dump()
			sawIntr = sawIntr || err != nil
			if err != nil && !strings.Contains(err.Error(), "interrupted") {
				close(stop)
				return fmt.Errorf("dump during changes: %w", err)
			}
			if err == nil && len(rules) != n {
				close(stop)
				return fmt.Errorf("dump during changes: %d rules", len(rules))
			}
			logf("dump during changes %d: %d rules, err %v", i, len(rules), err)
		}
		close(stop)
		if err := <-churn; err != nil {
			return err
		}
		if !sawIntr {
			return errors.New("no dump was flagged NLM_F_DUMP_INTR while rules changed every millisecond")
		}
		t0 = time.Now()
		if err := c.Flush(); err != nil {
			return err
		}
		logf("%d rules: create %v (%.0f µs/rule), dump %v, flush %v", n, tLoad.Round(time.Millisecond),
			float64(tLoad.Microseconds())/n, tDump.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
		return nil
	})
}

// udpSender sends 32-byte datagrams over loopback to a listener that
// counts them: each passes four hooks (OUTPUT, POSTROUTING, PREROUTING,
// INPUT). A round ends when the listener has them all, so receive work
// deferred to softirq context is inside the measured time.
type udpSender struct {
	lc     *net.UDPConn
	sc     net.Conn
	msg    []byte
	got    atomic.Int64
	target atomic.Int64
	reach  chan struct{} // the listener got target datagrams
	done   chan struct{}
}

func newUDPSender() (*udpSender, error) {
	lc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4900})
	if err != nil {
		return nil, err
	}
	if raw, err := lc.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
		})
	}
	s := &udpSender{lc: lc, msg: make([]byte, payloadLen), reach: make(chan struct{}, 1), done: make(chan struct{})}
	s.target.Store(1 << 62)
	go func() {
		defer close(s.done)
		buf := make([]byte, 2048)
		for {
			if _, _, err := lc.ReadFrom(buf); err != nil {
				return
			}
			if s.got.Add(1) == s.target.Load() {
				s.reach <- struct{}{}
			}
		}
	}()
	if s.sc, err = net.Dial("udp4", "127.0.0.1:4900"); err != nil {
		lc.Close()
		return nil, err
	}
	_, err = s.round(100) // warm up
	return s, err
}

// round returns the average time per datagram of sending n of them and
// seeing them all arrive.
func (s *udpSender) round(n int) (time.Duration, error) {
	want := s.got.Load() + int64(n)
	s.target.Store(want)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := s.sc.Write(s.msg); err != nil {
			return 0, err
		}
	}
	// Block (do not spin): with one CPU the runtime then polls the
	// listener's socket at once.
	select {
	case <-s.reach:
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("%d of %d datagrams arrived", n-int(want-s.got.Load()), n)
	}
	return time.Since(t0) / time.Duration(n), nil
}

func (s *udpSender) Close() {
	s.sc.Close()
	s.lc.Close()
	<-s.done
}

// packetCost returns the best of rounds of the per-packet cost.
func packetCost(n, rounds int) (time.Duration, error) {
	s, err := newUDPSender()
	if err != nil {
		return 0, err
	}
	defer s.Close()
	best := time.Duration(1 << 62)
	for r := 0; r < rounds; r++ {
		d, err := s.round(n)
		if err != nil {
			return 0, err
		}
		best = min(best, d)
	}
	return best, nil
}

// pairedCost measures, in alternating rounds on the same sockets, the
// per-packet cost with the namespace's rules on and bypassed
// (net.netlens.enabled=0 takes the same path as no rules at all), so both
// see the same background load of the shared, emulated machine. It returns
// the best round of each and the median of the per-pair ratios on/off,
// which is what to quote: it is robust to the load changing between rounds.
func pairedCost(n, rounds int) (on, off time.Duration, ratio float64, err error) {
	s, err := newUDPSender()
	if err != nil {
		return 0, 0, 0, err
	}
	defer s.Close()
	defer writeFile(sysctlDir+"enabled", "1")
	on, off = time.Duration(1<<62), time.Duration(1<<62)
	ratios := make([]float64, 0, rounds)
	for r := 0; r < rounds; r++ {
		var pair [2]time.Duration
		for i, enabled := range []string{"1", "0"} {
			if err := writeFile(sysctlDir+"enabled", enabled); err != nil {
				return 0, 0, 0, err
			}
			d, err := s.round(n)
			if err != nil {
				return 0, 0, 0, err
			}
			pair[i] = d
		}
		on, off = min(on, pair[0]), min(off, pair[1])
		ratios = append(ratios, float64(pair[0])/float64(pair[1]))
	}
	sort.Float64s(ratios)
	return on, off, ratios[len(ratios)/2], nil
}

func costWith(c *kmod.Client, rules int, mk func(int) kmod.Rule, n, rounds int) (time.Duration, error) {
	if err := c.Flush(); err != nil {
		return 0, err
	}
	if rules > 0 {
		if _, err := loadRules(c, rules, mk); err != nil {
			return 0, err
		}
	}
	return packetCost(n, rounds)
}

// examinedPerPacket is the lookup cost counter of LOCAL_IN (IPv4) per
// packet seen while f runs.
func examinedPerPacket(c *kmod.Client, f func() error) (float64, error) {
	before, err := hookStats(c, kmod.FamilyIPv4, 1)
	if err != nil {
		return 0, err
	}
	if err := f(); err != nil {
		return 0, err
	}
	after, err := hookStats(c, kmod.FamilyIPv4, 1)
	if err != nil {
		return 0, err
	}
	seen := after.Seen - before.Seen
	if seen == 0 {
		return 0, errors.New("no packets seen at LOCAL_IN")
	}
	return float64(after.Examined-before.Examined) / float64(seen), nil
}

// checkNoLinearScan checks that a packet matching none of 10,000 indexed
// rules looks at a handful of them (the kernel's own "examined" counter, a
// deterministic measure), while 10,000 rules that fit no index are looked at
// one by one. It also reports the time per packet with 0 and 10,000 rules;
// times are not asserted (the VM is emulated and shared) — run-qemu.sh
// -bench has the table.
func checkNoLinearScan() error {
	return withClient(func(c *kmod.Client) error {
		if _, err := loadRules(c, 10000, indexedRule); err != nil {
			return err
		}
		var (
			idx, base time.Duration
			ratio     float64
		)
		exIdx, err := examinedPerPacket(c, func() (err error) { idx, base, ratio, err = pairedCost(200, 15); return err })
		if err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return err
		}
		if _, err := loadRules(c, 10000, linearRule); err != nil {
			return err
		}
		var lin time.Duration
		exLin, err := examinedPerPacket(c, func() (err error) { lin, err = packetCost(100, 1); return err })
		if err != nil {
			return err
		}
		logf("rules examined per packet at LOCAL_IN: 10k indexed %.2f, 10k unindexed %.0f", exIdx, exLin)
		logf("time per packet (best rounds): rules bypassed %v, 10k indexed %v (median paired ratio x%.2f), 10k unindexed %v (x%.0f)",
			base, idx, ratio, lin, float64(lin)/float64(base))
		if exIdx > 16 {
			return fmt.Errorf("10k indexed non-matching rules: %.2f rules examined per packet, want a handful", exIdx)
		}
		if exLin < 10000 {
			return fmt.Errorf("10k unindexed rules: %.0f examined per packet, want all 10000 (is the counter right?)", exLin)
		}
		return nil
	})
}

// slabObjects sums the active objects of the kmalloc caches.
func slabObjects() (int, error) {
	f, err := os.Open("/proc/slabinfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	total := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 2 && strings.HasPrefix(fs[0], "kmalloc-") {
			n, _ := strconv.Atoi(fs[1])
			total += n
		}
	}
	return total, sc.Err()
}

func percpuKB() int {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Percpu:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	return -1
}

// benchScale creates -scale-rules rules on the catch-all list (the shape
// whose insertion was a sorted O(n) walk) and as many indexed ones, timing
// each tenth, then flushes: the time per rule of the last tenth against
// the first tells whether create is linear, and the flush runs with
// cond_resched (no soft lockup on the console).
func benchScale() error {
	if err := ensureLoaded(); err != nil {
		return err
	}
	if err := writeFile(sysctlDir+"max_rules", fmt.Sprint(2**scaleRules)); err != nil {
		return err
	}
	return withClient(func(c *kmod.Client) error {
		n := *scaleRules
		for _, shape := range []struct {
			name string
			mk   func(i int) kmod.Rule
		}{
			{"catch-all", func(i int) kmod.Rule { return kmod.Rule{Action: kmod.ActionCount, Priority: 5} }},
			{"indexed", func(i int) kmod.Rule {
				return kmod.Rule{Dst: netip.PrefixFrom(addrN(netip.MustParseAddr("10.0.0.0"), i), 32), Action: kmod.ActionDrop}
			}},
		} {
			tenth := n / 10
			var per []string
			t0 := time.Now()
			for k := 0; k < 10; k++ {
				tk := time.Now()
				for i := k * tenth; i < (k+1)*tenth; i++ {
					if _, err := c.Create(shape.mk(i), 0); err != nil {
						return fmt.Errorf("%s rule %d: %w", shape.name, i, err)
					}
				}
				per = append(per, fmt.Sprintf("%.0f", float64(time.Since(tk).Microseconds())/float64(tenth)))
			}
			total := time.Since(t0)
			t1 := time.Now()
			if err := c.Flush(); err != nil {
				return err
			}
			fmt.Printf("BENCH scale %s: %d creates in %v, µs per create by tenth [%s]; flush %v\n",
				shape.name, n, total.Round(time.Millisecond), strings.Join(per, " "), time.Since(t1).Round(time.Millisecond))
		}
		return nil
	})
}
