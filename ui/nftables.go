package ui

import (
	"cmp"
	"fmt"
	"strconv"

	"netlens/model"
)

// Columns of the ruleset table.
const (
	nrTable = iota
	nrChain
	nrHook
	nrHandle
	nrRule
	nrVerdict
	nrPackets
	nrBytes
	nrRate
)

// nftRow is one row of the ruleset table: a rule, a base chain's policy
// (rule policyRow), which decides what no rule of the chain did, or a
// chain whose rules netlens could not decode (rule unreadableRow).
type nftRow struct {
	chain, rule int // indexes into NFTables.Chains and the chain's Rules
}

const (
	policyRow     = -1
	unreadableRow = -2
)

type nftKey struct {
	family, table, chain string
	handle               uint64 // 0: the chain's policy
}

// nftView is the Filters tab's other view (v): the namespace's nftables
// ruleset outside netlens's own table, as nft list ruleset shows it, one
// row per rule with its counter and rate, and a row per base chain for
// its policy. Read only: netlens changes only its own table. Not safe
// for concurrent use.
type nftView struct {
	listBase[nftKey]
	rows   []nftRow
	rowsOf []model.NFTChain
}

func newNFTView(c Common, deps []string) *nftView {
	v := &nftView{}
	v.Common, v.deps = c, deps
	v.detailH = 4
	cols := []column{
		nrTable:   {title: "Table", width: 8, flex: 1, drop: 2},
		nrChain:   {title: "Chain", width: 10, flex: 2},
		nrHook:    {title: "Hook", width: 15, drop: 4},
		nrHandle:  {title: "#", width: 6, right: true, drop: 3},
		nrRule:    {title: "Rule", width: 20, flex: 5},
		nrVerdict: {title: "Verdict", width: 7, flex: 1},
		nrPackets: {title: "Packets", width: 7, right: true},
		nrBytes:   {title: "Bytes", width: 7, right: true, drop: 1},
		nrRate:    {title: "Pkt/s", width: 6, right: true},
	}
	rule := func(i int) *model.NFTRule { return v.rule(i) }
	packets := func(i int) int64 {
		if r := rule(i); r != nil && r.Counter {
			return int64(r.Packets)
		}
		return -1
	}
	sorts := []sortSpec{
		{name: "order", col: nrChain, cmp: func(a, b int) int { return cmp.Compare(a, b) }},
		{name: "packets", col: nrPackets, desc: true, cmp: func(a, b int) int { return cmp.Or(cmp.Compare(packets(a), packets(b)), cmp.Compare(b, a)) }},
		{name: "rate", col: nrRate, desc: true, cmp: func(a, b int) int {
			x, y := -1.0, -1.0
			if r := rule(a); r != nil && r.Counter {
				x = r.Rate
			}
			if r := rule(b); r != nil && r.Counter {
				y = r.Rate
			}
			return cmp.Or(cmp.Compare(x, y), cmp.Compare(b, a))
		}},
	}
	v.init(cols, sorts, 0)
	return v
}

func (v *nftView) SetSnapshot(s model.Snapshot) { v.setSnapshot(v, s) }

// Sync implements page: the rows are rebuilt when the ruleset changed.
func (v *nftView) Sync() {
	if v.fresh() || !sameSlice(v.rowsOf, v.snap.NFTables.Chains) {
		v.rowsOf = v.snap.NFTables.Chains
		v.rows = v.rows[:0]
		for ci := range v.rowsOf {
			ch := &v.rowsOf[ci]
			if ch.Unreadable != "" {
				v.rows = append(v.rows, nftRow{ci, unreadableRow})
			}
			for ri := range ch.Rules {
				v.rows = append(v.rows, nftRow{ci, ri})
			}
			if ch.Hook != "" {
				v.rows = append(v.rows, nftRow{ci, policyRow})
			}
		}
	}
	v.sync(v)
}

func (v *nftView) sameRows(a, b model.Snapshot) bool {
	return sameSlice(a.NFTables.Chains, b.NFTables.Chains)
}
func (v *nftView) count() int         { return len(v.rows) }
func (v *nftView) include(i int) bool { return true }
func (v *nftView) key(i int) nftKey {
	r := v.rows[i]
	ch := &v.rowsOf[r.chain]
	k := nftKey{family: ch.Family, table: ch.Table, chain: ch.Name}
	switch {
	case r.rule >= 0:
		k.handle = ch.Rules[r.rule].Handle
	case r.rule == unreadableRow:
		k.handle = ^uint64(0)
	}
	return k
}
func (v *nftView) appendHaystack(b []byte, i int) []byte {
	for c := nrTable; c <= nrVerdict; c++ { // the hook too: "prerouting" finds the chains at it
		b = append(b, v.cell(i, c)...)
		b = append(b, ' ')
	}
	return b
}

// chainOf and rule are row i's chain and rule (nil for a policy row).
func (v *nftView) chainOf(i int) *model.NFTChain { return &v.rowsOf[v.rows[i].chain] }
func (v *nftView) rule(i int) *model.NFTRule {
	r := v.rows[i]
	if r.rule < 0 {
		return nil
	}
	return &v.rowsOf[r.chain].Rules[r.rule]
}

// hookLabel is "input 10" (hook and priority) for a base chain, "" for
// a regular one.
func hookLabel(ch *model.NFTChain) string {
	if ch.Hook == "" {
		return ""
	}
	return ch.Hook + " " + strconv.Itoa(int(ch.Priority))
}

func (v *nftView) cell(i, c int) string {
	ch, r := v.chainOf(i), v.rule(i)
	switch c {
	case nrTable:
		return sanitize(ch.Family + " " + ch.Table)
	case nrChain:
		return sanitize(ch.Name)
	case nrHook:
		return sanitize(hookLabel(ch))
	}
	if r == nil && v.rows[i].rule == unreadableRow {
		switch c {
		case nrRule:
			return sanitize("[rules not decoded: " + ch.Unreadable + "]")
		case nrPackets, nrBytes, nrRate:
			return "-"
		}
		return ""
	}
	if r == nil { // the chain's policy
		switch c {
		case nrRule:
			return "policy (what no rule decided)"
		case nrVerdict:
			return ch.Policy
		case nrPackets, nrBytes, nrRate:
			return "-"
		}
		return ""
	}
	switch c {
	case nrHandle:
		return strconv.FormatUint(r.Handle, 10)
	case nrRule:
		return sanitize(r.Text)
	case nrVerdict:
		return sanitize(r.Verdict)
	}
	if !r.Counter {
		return "-" // no counter expression: the kernel does not count it
	}
	switch c {
	case nrPackets:
		return fmtCount(r.Packets, 7)
	case nrBytes:
		return fmtBytes(r.Bytes)
	case nrRate:
		return fmtRate(r.Rate)
	}
	return ""
}

// rowKind marks the rules that drop and counted packets this refresh
// (hot), and the other dropping rules and drop policies (marked).
func (v *nftView) rowKind(i int) rowKind {
	si := v.idx[i]
	r := v.rule(si)
	switch {
	case r != nil && r.Delta > 0 && r.Drops():
		return rowHot
	case r != nil && r.Drops(), r == nil && v.rows[si].rule == policyRow && v.chainOf(si).Policy == "drop":
		return rowMarked
	case r != nil && r.Delta > 0:
		return rowHot
	}
	return rowPlain
}

// View renders the ruleset.
func (v *nftView) View() string {
	n := len(v.rows)
	t := &v.snap.NFTables
	left := fmt.Sprintf(" nftables outside netlens's table: %s, %s, %s (read only)",
		nouns(t.Tables, "table", "tables"), nouns(len(t.Chains), "chain", "chains"), nouns(v.ruleCount(), "rule", "rules"))
	head := summaryLine(v.Styles, left, v.rightLabel(n), v.Width)
	none := "no nftables rules outside netlens's own table"
	if t.At.IsZero() {
		none = "the ruleset has not been read"
	}
	rows := v.idx
	return v.render(head, n, v.emptyText("rules", none), func(i, c int) string { return v.cell(rows[i], c) }, v.rowKind, v.detail)
}

func (v *nftView) ruleCount() int {
	n := 0
	for i := range v.rowsOf {
		n += len(v.rowsOf[i].Rules)
	}
	return n
}

// detail is the selected row in full.
func (v *nftView) detail(i int) []string {
	si := v.idx[i]
	ch, r := v.chainOf(si), v.rule(si)
	where := "table " + ch.Family + " " + ch.Table + ", chain " + ch.Name
	if ch.Hook != "" {
		where += " (type " + ch.Type + " hook " + ch.Hook + " priority " + strconv.Itoa(int(ch.Priority)) + ", policy " + ch.Policy + ")"
	} else {
		where += " (regular: runs when a rule jumps to it)"
	}
	paras := []string{sanitize(where)}
	switch {
	case r == nil && v.rows[si].rule == unreadableRow:
		paras = append(paras, sanitize("its rules could not be decoded: "+ch.Unreadable+" (nft list chain "+ch.Family+" "+ch.Table+" "+ch.Name+" shows them)"))
	case r == nil:
		paras = append(paras, "policy "+ch.Policy+": the verdict for a packet no rule of the chain accepted or dropped (nftables keeps no counter of it; the Drops tab's NETFILTER_DROP counts its drops)")
	case r.Counter:
		paras = append(paras, sanitize(r.Text)+"  # handle "+strconv.FormatUint(r.Handle, 10),
			fmt.Sprintf("counter: %d packets, %d bytes; %d packets since the last refresh (%s/s)", r.Packets, r.Bytes, r.Delta, fmtRate(r.Rate)))
	default:
		paras = append(paras, sanitize(r.Text)+"  # handle "+strconv.FormatUint(r.Handle, 10),
			"no counter expression: the kernel does not count this rule's matches (nft add rule ... counter ... would)")
	}
	return paneLines(paras, v.Width, v.detailH)
}
