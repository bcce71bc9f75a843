package nft

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// Names of the table and its chains.
const (
	TableName     = "netlens"
	DisabledChain = "disabled"
)

// hookChains are the base chains, indexed by NF_INET_* hook number.
var hookChains = []string{model.HookPreRouting, model.HookInput, model.HookForward, model.HookOutput, model.HookPostRouting}

// ErrPending is wrapped by the error of a change refused because another
// commit-confirmed change is waiting for its confirm.
var ErrPending = errors.New("a change is waiting for confirmation")

// ErrUnknownTxn is wrapped by Confirm's error for a transaction that was
// already confirmed or reverted, or never made.
var ErrUnknownTxn = errors.New("unknown transaction: already confirmed, reverted or never made")

// foreignIDBase is added to the nftables handle of a foreign rule to make
// its id, outside the range netlens assigns.
const foreignIDBase = 1 << 31

// Options configure a Backend.
type Options struct {
	// NetNS is an open network namespace file; 0 is the caller's.
	NetNS int
	// StateDir holds the revert helper's state files; default
	// /run/netlens/nft.
	StateDir string
	// HelperCmd is the command (and leading arguments) that runs the
	// revert helper; the state file's path is appended. Default: this
	// executable with "rules revert-watch".
	HelperCmd []string
}

// Backend keeps netlens rules in the nftables table `inet netlens`. It is
// safe for concurrent use; changes are serialised within the process, and
// every change is one nftables transaction (batch).
type Backend struct {
	opt Options
	mu  sync.Mutex
	// reverted are the changes this process reverted without removing
	// their state file (its directory read-only): not reverted again.
	reverted map[uint32]bool
	mem      memLog // log entries the log file could not take
	// key names the namespace's state and log files (statePath), once
	// computed.
	keyMu sync.Mutex
	key   string
}

// New returns a Backend for the namespace of opt.NetNS. It fails with an
// error wrapping collectors.ErrPermission without CAP_NET_ADMIN and
// collectors.ErrNotSupported when the kernel has no nf_tables.
func New(opt Options) (*Backend, error) {
	if opt.StateDir == "" {
		opt.StateDir = "/run/netlens/nft"
	}
	b := &Backend{opt: opt, reverted: map[uint32]bool{}}
	if _, err := b.conn().ListTablesOfFamily(nftables.TableFamilyINet); err != nil {
		return nil, classify("nft: list tables", err)
	}
	return b, nil
}

// Name returns "nft".
func (b *Backend) Name() string { return "nft" }

// ReadOnly returns "": a Backend that New returned can change rules.
func (b *Backend) ReadOnly() string { return "" }

// Close releases nothing: every operation opens its own socket.
func (b *Backend) Close() error { return nil }

func classify(op string, err error) error {
	return collectors.NetlinkError(op, "no nf_tables in this kernel", err)
}

func (b *Backend) conn() *nftables.Conn {
	c, _ := nftables.New(nftables.WithNetNSFd(b.opt.NetNS))
	return c
}

var table = &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}

func baseChain(hook int) *nftables.Chain {
	h := nftables.ChainHook(hook)
	return &nftables.Chain{
		Name: hookChains[hook], Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: &h, Priority: nftables.ChainPriorityFilter, Policy: ptr(nftables.ChainPolicyAccept),
	}
}

func ptr[T any](v T) *T { return &v }

var disabledChain = &nftables.Chain{Name: DisabledChain, Table: table}

// ensure queues the table and its chains (a no-op when they exist).
func ensure(c *nftables.Conn) {
	c.AddTable(table)
	for h := range hookChains {
		c.AddChain(baseChain(h))
	}
	c.AddChain(disabledChain)
}

// copyRule is one nftables rule: one hook's copy of a netlens rule.
type copyRule struct {
	chain  string // a hook name or DisabledChain
	handle uint64
	meta   meta
	ok     bool // netlens user data present
	rule   model.Rule
	sets   setRefs // the sets the copy looks up
	err    error   // decode error: foreign
	// policy is the family of a default policy rule (policy.go), "" for
	// any other rule; such a copy is neither a netlens rule nor foreign.
	policy model.Family
	// log is set for a rule's log copy (log.go): its counters and rate.
	log *logCounts
}

// readCopies lists every rule of the table, chain by chain, in chain
// order. A missing table is an empty list.
func (b *Backend) readCopies() ([]copyRule, error) {
	c := b.conn()
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, classify("nft: list chains", err)
	}
	var out []copyRule
	for _, ch := range chains {
		if ch.Table.Name != TableName {
			continue
		}
		rs, err := c.GetRules(table, ch)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, classify("nft: list rules of chain "+ch.Name, err)
		}
		for _, r := range rs {
			m, ok := decodeUserData(r.UserData)
			var lc *logCounts
			exprs := r.Exprs
			if ok && m.Flags&metaLogCopy != 0 {
				// the matches, then counter, limit, counter, log
				if c, err := decodeLogCopy(exprs); err == nil {
					lc, exprs = &c, exprs[:len(exprs)-3]
				}
			}
			mr, refs, derr := decodeRule(exprs)
			if ok && m.Flags&metaLogCopy != 0 && lc == nil && derr == nil {
				derr = fmt.Errorf("log copy without its log: %w", errForeign)
			}
			if derr == nil && refs != (setRefs{}) {
				derr = resolveSets(c, &mr, refs)
			}
			cp := copyRule{chain: ch.Name, handle: r.Handle, meta: m, ok: ok, rule: mr, sets: refs, err: derr, log: lc}
			if !ok && derr == nil && slices.Contains(hookChains, ch.Name) {
				cp.policy = decodePolicyUserData(r.UserData)
			}
			out = append(out, cp)
		}
	}
	return out, nil
}

// group turns copies into netlens rules, in evaluation order.
func group(copies []copyRule) []model.Rule {
	byID := map[uint32]*model.Rule{}
	var order []uint32
	var out []model.Rule
	for _, cp := range copies {
		if cp.policy != "" || cp.log != nil && cp.err == nil {
			continue
		}
		if !cp.ok || cp.err != nil {
			r := cp.rule
			if cp.err != nil {
				r = model.Rule{Action: model.ActionCount, Family: model.RuleFamilyBoth}
			}
			r.ID = foreignIDBase + uint32(cp.handle)
			r.Foreign = true
			r.Label = cp.meta.Label
			if cp.err != nil && r.Label == "" {
				r.Label = "(not netlens: " + cp.err.Error() + ")"
			}
			r.Hooks = []string{}
			if slices.Contains(hookChains, cp.chain) {
				r.Hooks = []string{cp.chain}
			}
			r.Enabled = cp.chain != DisabledChain
			out = append(out, r)
			continue
		}
		r, seen := byID[cp.meta.ID]
		if !seen {
			nr := cp.rule
			nr.ID, nr.Priority, nr.Label = cp.meta.ID, cp.meta.Priority, cp.meta.Label
			nr.Packets, nr.Bytes = 0, 0
			nr.Enabled = true
			for h, name := range hookChains {
				if cp.meta.Hooks&(1<<h) != 0 {
					nr.Hooks = append(nr.Hooks, name)
				}
			}
			byID[cp.meta.ID] = &nr
			order = append(order, cp.meta.ID)
			r = &nr
		}
		r.Packets += cp.rule.Packets
		r.Bytes += cp.rule.Bytes
		if cp.chain == DisabledChain {
			r.Enabled = false
		}
	}
	for _, cp := range copies {
		if r := byID[cp.meta.ID]; cp.log != nil && cp.err == nil && r != nil {
			r.Log, r.LogRate = true, cp.log.rate
			if cp.log.matched > cp.log.sent {
				r.LogDropped += cp.log.matched - cp.log.sent
			}
		}
	}
	for _, id := range order {
		out = append(out, *byID[id])
	}
	slices.SortStableFunc(out, func(a, b model.Rule) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// List returns the rules in evaluation order, with their counters and the
// pending revert deadline of a change not yet confirmed.
func (b *Backend) List() ([]model.Rule, error) {
	// The pending change is read before the rules: one reverted between
	// the two reads is then seen pending on the rules it left, or gone
	// with the rules put back, never gone beside the rules it left.
	st, perr := b.pendingView()
	copies, err := b.readCopies()
	if err != nil {
		return nil, err
	}
	rules := group(copies)
	if perr == nil && st != nil {
		for i := range rules {
			if slices.Contains(st.Changed, rules[i].ID) {
				rules[i].PendingTxn, rules[i].RevertAt = st.Txn, st.Deadline
			}
		}
	}
	return rules, nil
}

func hookMask(hooks []string) uint8 {
	var m uint8
	for _, h := range hooks {
		if i := slices.Index(hookChains, h); i >= 0 {
			m |= 1 << i
		}
	}
	return m
}

// queueRule queues the copies of r (one per hook, or in the disabled
// chain), each placed before the first rule of its chain that comes after
// it in (priority, id) order among existing. carry gives each chain's
// starting counter values.
func queueRule(c *nftables.Conn, r model.Rule, existing []copyRule, carry map[string][2]uint64) error {
	if len(r.Hooks) == 0 {
		r.Hooks = []string{model.HookInput} // the module's default
	}
	m := meta{ID: r.ID, Priority: r.Priority, Hooks: hookMask(r.Hooks), Label: r.Label}
	ud := encodeUserData(m)
	if err := queueSets(c, r); err != nil {
		return err
	}
	for _, h := range r.Hooks {
		if !slices.Contains(hookChains, h) {
			return fmt.Errorf("unknown hook %q", h)
		}
	}
	// In kernel order, whatever the order of r.Hooks: the copies in the
	// disabled chain are matched to their hooks by that order.
	for hi, h := range hookChains {
		if !slices.Contains(r.Hooks, h) {
			continue
		}
		chainName := h
		ch := baseChain(hi)
		if !r.Enabled {
			chainName, ch = DisabledChain, disabledChain
		}
		cnt := carry[h]
		ex, err := encodeRule(r, cnt[0], cnt[1])
		if err != nil {
			return err
		}
		nr := &nftables.Rule{Table: table, Chain: ch, Exprs: ex, UserData: ud}
		queued := []*nftables.Rule{nr}
		if r.Log {
			// its log copy goes right before it
			lex, err := logCopyExprs(r)
			if err != nil {
				return err
			}
			lm := m
			lm.Flags |= metaLogCopy
			queued = []*nftables.Rule{{Table: table, Chain: ch, Exprs: lex, UserData: encodeUserData(lm)}, nr}
		}
		var before *copyRule
		for i := range existing {
			e := &existing[i]
			if e.chain != chainName || !e.ok && e.policy == "" {
				continue
			}
			// a default policy rule stays last
			if e.policy != "" || cmp.Or(cmp.Compare(e.meta.Priority, r.Priority), cmp.Compare(e.meta.ID, r.ID)) > 0 {
				before = e
				break
			}
		}
		for _, q := range queued {
			if before != nil && chainName != DisabledChain {
				q.Position = before.handle
				c.InsertRule(q)
			} else {
				c.AddRule(q)
			}
		}
	}
	return nil
}

// idAlloc hands out ids for new rules: one more than the highest of the
// rules it was made from, then on; when that reaches foreignIDBase (a
// loaded file held an id just under it), the lowest ids none of them
// has. Ids at or above foreignIDBase are foreign rules'.
type idAlloc struct {
	used    map[uint32]bool
	next    uint32
	wrapped bool
}

func newIDAlloc(copies []copyRule, extra []model.Rule) *idAlloc {
	a := &idAlloc{used: map[uint32]bool{}}
	var max uint32
	note := func(id uint32) {
		if id < foreignIDBase {
			a.used[id] = true
			if id > max {
				max = id
			}
		}
	}
	for _, cp := range copies {
		if cp.ok {
			note(cp.meta.ID)
		}
	}
	for _, r := range extra {
		note(r.ID)
	}
	a.next = max + 1
	return a
}

// take returns a free id and marks it used.
func (a *idAlloc) take() uint32 {
	for a.next < foreignIDBase && (a.next == 0 || a.used[a.next]) {
		a.next++
	}
	if a.next >= foreignIDBase && !a.wrapped {
		a.next, a.wrapped = 1, true
		for a.used[a.next] {
			a.next++
		}
	}
	id := a.next
	a.used[id] = true
	a.next++
	return id
}

// gc removes the sets no rule looks up any more; a failure leaves an
// unused set behind, which the next change removes.
func (b *Backend) gc() {
	if copies, err := b.readCopies(); err == nil {
		_ = gcSets(b.conn(), copies)
	}
}

func flush(c *nftables.Conn, op string) error {
	if err := c.Flush(); err != nil {
		return classify(op, err)
	}
	return nil
}

func (b *Backend) get(id uint32) (model.Rule, error) {
	rules, err := b.List()
	if err != nil {
		return model.Rule{}, err
	}
	for _, r := range rules {
		if r.ID == id {
			return r, nil
		}
	}
	return model.Rule{}, fmt.Errorf("nft: rule %d: %w", id, syscall.ENOENT)
}

// Add adds r and returns it with its id. A non-zero revert makes it
// commit-confirmed (see Confirm).
func (b *Backend) Add(r model.Rule, revert time.Duration) (model.Rule, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	copies, err := b.readCopies()
	if err != nil {
		return model.Rule{}, err
	}
	r.ID = newIDAlloc(copies, nil).take()
	if err := b.change("add", copies, revert, []uint32{r.ID}, func(c *nftables.Conn) error {
		return queueRule(c, r, copies, nil)
	}); err != nil {
		return model.Rule{}, err
	}
	return b.get(r.ID)
}

// Change replaces rule id's fields by those of r (its counters carry
// over per hook).
func (b *Backend) Change(id uint32, r model.Rule, revert time.Duration) (model.Rule, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	copies, err := b.readCopies()
	if err != nil {
		return model.Rule{}, err
	}
	r.ID = id
	var mine []copyRule
	nth := 0 // rule copies (not log copies) seen
	carry := map[string][2]uint64{}
	for _, cp := range copies {
		if cp.ok && cp.meta.ID == id {
			mine = append(mine, cp)
			if cp.log != nil {
				continue // its log counters start again
			}
			// a disabled copy's hook is the next base chain in its mask
			// order; counters go to the same hook when enabled again.
			hook := cp.chain
			if hook == DisabledChain {
				hook = nthHook(cp.meta.Hooks, nth)
			}
			nth++
			carry[hook] = [2]uint64{cp.rule.Packets, cp.rule.Bytes}
		}
	}
	if len(mine) == 0 {
		return model.Rule{}, fmt.Errorf("nft: rule %d: %w", id, syscall.ENOENT)
	}
	if id >= foreignIDBase {
		return model.Rule{}, fmt.Errorf("nft: rule %d was not made by netlens: change it with nft(8)", id)
	}
	if err := b.change("change", copies, revert, []uint32{id}, func(c *nftables.Conn) error {
		for _, cp := range mine {
			if err := c.DelRule(cpRule(cp)); err != nil {
				return err
			}
		}
		rest := slices.DeleteFunc(slices.Clone(copies), func(cp copyRule) bool { return cp.ok && cp.meta.ID == id })
		return queueRule(c, r, rest, carry)
	}); err != nil {
		return model.Rule{}, err
	}
	return b.get(id)
}

// nthHook returns the n-th hook (0-based) set in mask, or "".
func nthHook(mask uint8, n int) string {
	for i, h := range hookChains {
		if mask&(1<<i) != 0 {
			if n == 0 {
				return h
			}
			n--
		}
	}
	return ""
}

func cpRule(cp copyRule) *nftables.Rule {
	ch := disabledChain
	if i := slices.Index(hookChains, cp.chain); i >= 0 {
		ch = baseChain(i)
	}
	return &nftables.Rule{Table: table, Chain: ch, Handle: cp.handle}
}

// SetEnabled enables or disables rule id: its copies move between the base
// chains and the disabled chain with their counters.
func (b *Backend) SetEnabled(id uint32, enabled bool, revert time.Duration) (model.Rule, error) {
	r, err := b.get(id)
	if err != nil {
		return model.Rule{}, err
	}
	r.Enabled = enabled
	return b.Change(id, r, revert)
}

// Delete removes rule id (every copy of it); a non-zero revert makes it
// commit-confirmed. A foreign rule can be deleted too.
func (b *Backend) Delete(id uint32, revert time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	copies, err := b.readCopies()
	if err != nil {
		return err
	}
	return b.change("delete", copies, revert, []uint32{id}, func(c *nftables.Conn) error {
		n := 0
		for _, cp := range copies {
			if (cp.ok && cp.meta.ID == id) || (!cp.ok || cp.err != nil) && cp.policy == "" && foreignIDBase+uint32(cp.handle) == id {
				if err := c.DelRule(cpRule(cp)); err != nil {
					return err
				}
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("rule %d: %w", id, syscall.ENOENT)
		}
		return nil
	})
}

// Replace makes rules the whole rule set of the table, in one nftables
// transaction: all of them or, on any error, none. Rules with ID 0 get
// new ids; rules keep their counters. Foreign rules are left alone.
func (b *Backend) Replace(rules []model.Rule, revert time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	copies, err := b.readCopies()
	if err != nil {
		return err
	}
	rules = slices.Clone(rules)
	ids := newIDAlloc(copies, rules)
	var changed []uint32
	for i := range rules {
		if rules[i].ID == 0 || rules[i].ID >= foreignIDBase {
			rules[i].ID = ids.take()
		}
		changed = append(changed, rules[i].ID)
	}
	slices.SortStableFunc(rules, func(a, b model.Rule) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	return b.change("replace", copies, revert, changed, func(c *nftables.Conn) error {
		return queueAll(c, copies, rules)
	})
}

// queueAll queues the deletion of every netlens copy (foreign rules stay)
// and the copies of rules, which must be in (priority, id) order.
func queueAll(c *nftables.Conn, copies []copyRule, rules []model.Rule) error {
	for _, cp := range copies {
		if cp.ok && cp.err == nil {
			if err := c.DelRule(cpRule(cp)); err != nil {
				return err
			}
		}
	}
	var foreign []copyRule
	for _, cp := range copies {
		if !cp.ok || cp.err != nil {
			foreign = append(foreign, cp)
		}
	}
	for _, r := range rules {
		if r.Foreign {
			continue
		}
		// Spread the counters over the hooks: the first copy carries them.
		carry := map[string][2]uint64{}
		if len(r.Hooks) > 0 {
			carry[r.Hooks[0]] = [2]uint64{r.Packets, r.Bytes}
		}
		if err := queueRule(c, r, foreign, carry); err != nil {
			return fmt.Errorf("rule %d: %w", r.ID, err)
		}
	}
	return nil
}

// change runs one batch: the table and chains, then what queue adds. With
// a revert deadline it first arms the revert helper with the rules as
// they are; if the batch fails the helper is disarmed.
func (b *Backend) change(op string, copies []copyRule, revert time.Duration, changed []uint32, queue func(*nftables.Conn) error) error {
	if st, err := b.pending(); err != nil {
		return err
	} else if st != nil {
		return fmt.Errorf("nft %s: %w: transaction %d reverts at %s unless confirmed (netlens rules confirm %d)",
			op, ErrPending, st.Txn, st.Deadline.Format(time.TimeOnly), st.Txn)
	}
	var st *revertState
	if revert > 0 {
		var err error
		if st, err = b.arm(group(copies), dropPolicies(copies), changed, revert); err != nil {
			return fmt.Errorf("nft %s: arm the revert: %w", op, err)
		}
	}
	c := b.conn()
	ensure(c)
	if err := queue(c); err != nil {
		b.disarm(st)
		return fmt.Errorf("nft %s: %w", op, err)
	}
	if err := flush(c, "nft "+op); err != nil {
		b.disarm(st)
		return err
	}
	b.gc()
	if st != nil {
		// The deadline counts from the change, not from the helper's
		// start: the helper follows the state file.
		st.Deadline = time.Now().Add(revert)
		if err := b.writeState(st); err != nil {
			return fmt.Errorf("nft %s: applied, but the revert deadline stays %s: %w", op, st.Deadline.Format(time.TimeOnly), err)
		}
	}
	return nil
}

// ReplaceKeepsIDs marks Replace as keeping the ids of the rules it is
// given, below foreignIDBase (which it returns): a load of what `rules
// save` wrote keeps the rules' ids.
func (b *Backend) ReplaceKeepsIDs() uint32 { return foreignIDBase }
