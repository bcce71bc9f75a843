package ruleset

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// Name is the name the collector reports under.
const Name = model.CollectorNFTables

// Source names where the data comes from.
const Source = "nf_tables netlink"

// OwnTable is the table netlens's nftables filter backend keeps its rules
// in (inet netlens, control/filter/nft.TableName): the filters collector
// reads it, this one leaves it out.
const OwnTable = "netlens"

// MaxRules bounds the rules read in one collection: a kube-proxy in
// iptables mode writes tens of thousands, and each is a few hundred bytes
// of netlink and of model. Past it the chains read are complete and the
// rest are left out, which the collector's note says.
const MaxRules = 100000

// Options configure a Collector.
type Options struct {
	// NetNS, when not 0, is an open file descriptor of the network
	// namespace to read; 0 reads the caller's.
	NetNS int
	// Now returns the time of a reading; nil means time.Now.
	Now func() time.Time
}

// Collector is the "nftables" collector: on each Collect it lists every
// table, chain and rule of the namespace's nftables ruleset but
// netlens's own table, over nf_tables netlink, with each rule's counter
// and its rate since the previous Collect, and publishes one
// model.NFTablesUpdate. It never changes the ruleset. Collect must not be
// called concurrently with itself (the Runner never does).
type Collector struct {
	opts Options

	// rmu serialises Reads: sets is theirs.
	rmu  sync.Mutex
	sets *setCache

	mu   sync.Mutex
	prev map[ruleID]uint64 // packets of each rule at the previous reading
	at   time.Time         // when that was
	note string
	// cost is how long the last Read took: Collect waits cost/maxDuty
	// between reads.
	cost time.Duration
}

// maxDuty is the share of one core the collector may take: a
// kube-proxy ruleset of 11,000 rules takes about 200 ms to read (nft
// list ruleset takes longer), which every second would be a fifth of a
// core for one tab; it is read every 4 s instead, and the note says so.
const maxDuty = 0.05

// ruleID identifies a rule across readings: a handle is unique within
// its table, and a chain deleted and made again gives its rules new
// handles.
type ruleID struct {
	family string // as nft writes it: ip, inet, ...
	table  string
	handle uint64
}

// New returns an nftables collector.
func New(opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Collector{opts: opts, sets: newSetCache()}
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Source implements collectors.Sourcer.
func (c *Collector) Source() string { return Source }

// Note implements collectors.Noter: why rules were left out, if any were.
func (c *Collector) Note() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.note
}

// Close releases nothing: each Collect opens its own socket.
func (c *Collector) Close() error { return nil }

// Collect implements collectors.Collector. While the time since the
// last read is under its cost over maxDuty it publishes nothing: the
// ruleset shown is the last read, its rates over the time between reads.
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	c.mu.Lock()
	wait := time.Duration(float64(c.cost) / maxDuty)
	skip := !c.at.IsZero() && c.opts.Now().Sub(c.at) < wait
	c.mu.Unlock()
	if skip {
		return nil
	}
	start := time.Now()
	t, err := c.Read(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cost = time.Since(start)
	if every := time.Duration(float64(c.cost) / maxDuty); every >= 2*time.Second {
		c.note = joinNote(c.note, fmt.Sprintf("read every %s or more: a read takes %s (kept under %.0f%% of a core)",
			every.Round(time.Second), c.cost.Round(time.Millisecond), 100*maxDuty))
	}
	c.mu.Unlock()
	pub.Publish(model.NFTablesUpdate{NFTables: t})
	return nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// Read lists the ruleset and sets each rule's Delta and Rate from the
// previous Read. The elements of anonymous sets are kept from one Read
// to the next (setCache); interface indexes are named as the
// namespace read has them. Read is safe for concurrent use (Reads take
// turns).
func (c *Collector) Read(ctx context.Context) (model.NFTables, error) {
	c.rmu.Lock()
	t, st, err := read(ctx, c.opts.NetNS, MaxRules, c.sets)
	c.rmu.Unlock()
	if err != nil {
		return model.NFTables{}, err
	}
	t.At = c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.note = noteOf(st)
	dt := t.At.Sub(c.at).Seconds()
	next := make(map[ruleID]uint64, len(c.prev))
	for i := range t.Chains {
		ch := &t.Chains[i]
		for j := range ch.Rules {
			r := &ch.Rules[j]
			if !r.Counter {
				continue
			}
			k := ruleID{ch.Family, ch.Table, r.Handle}
			next[k] = r.Packets
			if p, ok := c.prev[k]; ok && r.Packets >= p {
				r.Delta = r.Packets - p
				if dt > 0 {
					r.Rate = float64(r.Delta) / dt
				}
			}
		}
	}
	c.prev, c.at = next, t.At
	return t, nil
}

// noteOf is the collector's note on what a read left out or could not
// decode, "" when it read everything.
func noteOf(st readStats) string {
	note := ""
	if st.left > 0 {
		note = fmt.Sprintf("%d rules past the first %d not read", st.left, MaxRules)
	}
	if st.unreadable > 0 {
		chains := "1 chain"
		if st.unreadable > 1 {
			chains = fmt.Sprintf("%d chains", st.unreadable)
		}
		note = joinNote(note, "rules of "+chains+" could not be decoded (the chain says why)")
	}
	if st.undecoded > 0 {
		rules := "1 rule has an expression"
		if st.undecoded > 1 {
			rules = fmt.Sprintf("%d rules have expressions", st.undecoded)
		}
		note = joinNote(note, fmt.Sprintf("%s netlens cannot decode, shown as [unknown expression ...] or [undecoded expression ...] (first: %v)",
			rules, st.firstBad))
	}
	return note
}

// readStats is what a read left out or could not decode.
type readStats struct {
	left       int   // rules of the chains left out past maxRules
	unreadable int   // chains whose rules, or some of them, did not decode
	undecoded  int   // rules with an expression that did not decode
	firstBad   error // why the first of those did not
}

// read lists the ruleset of namespace netns (0: the caller's), at most
// maxRules rules; st.left counts the rules of the chains left out past it.
// The elements of anonymous sets come from cache, which is brought up to
// date (nil: a cache for this read alone); interface indexes are named
// from the namespace's links, dumped once if a rule has one, and ct
// label bits from /etc/connlabel.conf, read once if a rule has one.
func read(ctx context.Context, netns, maxRules int, cache *setCache) (t model.NFTables, st readStats, err error) {
	conn, err := nftables.New(nftables.WithNetNSFd(netns), nftables.AsLasting())
	if err != nil {
		return t, readStats{}, classify("open nf_tables netlink", err)
	}
	defer conn.CloseLasting()
	if cache == nil {
		cache = newSetCache()
	}
	sets := cache.begin(netns, conn)
	links := &lazyNames{read: func() (map[uint32]string, error) { return readLinks(netns) }}
	labels := &lazyNames{read: ConnLabels}
	// The rules are dumped over a socket of this package's (getRules):
	// google/nftables's GetRules drops the expressions it cannot decode.
	var nl *netlink.Conn
	defer func() {
		if nl != nil {
			nl.Close()
		}
	}()
	tables, err := conn.ListTables()
	if err != nil {
		return t, readStats{}, classify("list tables", err)
	}
	chains, err := conn.ListChains()
	if err != nil {
		return t, readStats{}, classify("list chains", err)
	}
	t.Chains = []model.NFTChain{}
	n := 0
	for _, tb := range tables {
		if tb.Family == nftables.TableFamilyINet && tb.Name == OwnTable {
			continue
		}
		t.Tables++
		var mine []*nftables.Chain
		for _, ch := range chains {
			if ch.Table != nil && ch.Table.Name == tb.Name && ch.Table.Family == tb.Family {
				mine = append(mine, ch)
			}
		}
		sortChains(mine)
		env := Env{Sets: sets.sets(tb), Ifname: links.name, CtLabel: labels.name}
		for _, ch := range mine {
			if err := ctx.Err(); err != nil {
				return t, readStats{}, err
			}
			if nl == nil {
				if nl, err = dialNFT(netns); err != nil {
					return t, readStats{}, classify("open nf_tables netlink", err)
				}
			}
			rules, bad, err := getRules(nl, tb, ch)
			if err != nil {
				// A dump that failed may leave replies queued: the
				// next chain's is dumped over a new socket.
				nl.Close()
				nl = nil
				switch {
				case errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist):
					continue // deleted between the two listings
				case errors.Is(err, unix.EPERM) || errors.Is(err, os.ErrPermission):
					return t, readStats{}, classify("list the rules of "+familyName(tb.Family)+" "+tb.Name+" "+ch.Name, err)
				}
				// The dump failed part way: the chain is listed
				// without its rules, and the note says why.
				m := chain(tb, ch, nil, Env{})
				m.Unreadable = err.Error()
				t.Chains = append(t.Chains, m)
				st.unreadable++
				continue
			}
			if n+len(rules) > maxRules {
				st.left += len(rules)
				continue
			}
			n += len(rules)
			m := chain(tb, ch, rules, env)
			if bad != nil {
				// Rules whose own attributes did not decode are
				// left out; the chain says so, its other rules
				// are listed.
				m.Unreadable = bad.Error()
				st.unreadable++
			}
			for _, r := range rules {
				if r.bad != nil {
					st.undecoded++
					if st.firstBad == nil {
						st.firstBad = r.bad
					}
				}
			}
			t.Chains = append(t.Chains, m)
		}
	}
	return t, st, nil
}

// ruleText is a rule as nft lists it: its expressions (TextIn), then
// the comment in its user data, if it has one.
func ruleText(fam nftables.TableFamily, exprs []expr.Any, userData []byte, env Env) string {
	t := TextIn(fam, exprs, env)
	if c, ok := ruleComment(userData); ok {
		t += ` comment "` + c + `"`
	}
	return t
}

// chain returns ch of table tb with its rules as the model has them,
// their anonymous sets and interface indexes as far as env knows them.
func chain(tb *nftables.Table, ch *nftables.Chain, rules []rule, env Env) model.NFTChain {
	m := model.NFTChain{Family: familyName(tb.Family), Table: tb.Name, Name: ch.Name, Rules: make([]model.NFTRule, 0, len(rules))}
	if ch.Hooknum != nil {
		m.Type = string(ch.Type)
		m.Hook = hookName(tb.Family, *ch.Hooknum)
		if ch.Priority != nil {
			m.Priority = int32(*ch.Priority)
		}
		m.Policy = "accept"
		if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
			m.Policy = "drop"
		}
	}
	for _, r := range rules {
		mr := model.NFTRule{Handle: r.Handle, Text: ruleText(tb.Family, r.Exprs, r.UserData, env), Verdict: Verdict(r.Exprs)}
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				mr.Counter, mr.Packets, mr.Bytes = true, ctr.Packets, ctr.Bytes
				break
			}
		}
		m.Rules = append(m.Rules, mr)
	}
	return m
}

// sortChains puts base chains first, by hook and priority (the order a
// packet meets them), then regular chains in the kernel's order.
func sortChains(chs []*nftables.Chain) {
	slices.SortStableFunc(chs, func(a, b *nftables.Chain) int {
		switch {
		case a.Hooknum == nil && b.Hooknum == nil:
			return 0
		case a.Hooknum == nil:
			return 1
		case b.Hooknum == nil:
			return -1
		}
		return cmp.Or(cmp.Compare(*a.Hooknum, *b.Hooknum), cmp.Compare(prio(a), prio(b)))
	})
}

func prio(c *nftables.Chain) int32 {
	if c.Priority == nil {
		return 0
	}
	return int32(*c.Priority)
}

// familyName is the family as nft(8) writes it.
func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family-%d", f)
}

// hookName is a base chain's hook as nft(8) writes it: the netfilter
// hooks of each family (include/uapi/linux/netfilter.h).
func hookName(f nftables.TableFamily, h nftables.ChainHook) string {
	switch f {
	case nftables.TableFamilyNetdev:
		switch h {
		case 0:
			return "ingress"
		case 1:
			return "egress"
		}
	case nftables.TableFamilyARP:
		switch h {
		case 0:
			return "input"
		case 1:
			return "output"
		}
	default:
		if int(h) < len(inetHooks) {
			return inetHooks[h]
		}
	}
	return fmt.Sprintf("hook-%d", h)
}

var inetHooks = []string{"prerouting", "input", "forward", "output", "postrouting", "ingress"}

func classify(op string, err error) error {
	return collectors.NetlinkError("nftables: "+op, "no nf_tables in this kernel", err)
}
