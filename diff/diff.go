package diff

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"netlens/model"
	"netlens/model/drops"
)

// ErrDifferentHosts is returned by Compare for snapshots of two hosts
// without Options.Force.
var ErrDifferentHosts = errors.New("snapshots of different hosts")

// Options tune Compare.
type Options struct {
	// Force compares snapshots of different hosts.
	Force bool
}

// Report is what changed from snapshot A to snapshot B. Every list is
// sorted; an empty Report (Equal) means nothing that diff looks at
// changed.
type Report struct {
	HostA  string    `json:"host_a"`
	HostB  string    `json:"host_b"`
	TakenA time.Time `json:"taken_a"`
	TakenB time.Time `json:"taken_b"`
	// IntervalNS is TakenB - TakenA, over which rates are computed.
	Interval time.Duration `json:"interval_ns"`

	SocketsAppeared []Socket        `json:"sockets_appeared"`
	SocketsGone     []Socket        `json:"sockets_gone"`
	Counters        []Counter       `json:"counters"`
	Sysctls         []Sysctl        `json:"sysctls"`
	RulesAdded      []Rule          `json:"rules_added"`
	RulesRemoved    []Rule          `json:"rules_removed"`
	RulesChanged    []RuleChange    `json:"rules_changed"`
	RuleCounters    []RuleCounter   `json:"rule_counters"`
	FlowsAppeared   []Flow          `json:"flows_appeared"`
	FlowsGone       []Flow          `json:"flows_gone"`
	Collectors      []CollectorDiff `json:"collectors"`
}

// Socket is a socket that appeared or went away.
type Socket struct {
	Proto  model.Proto     `json:"proto"`
	Local  netip.AddrPort  `json:"local"`
	Remote netip.AddrPort  `json:"remote"`
	State  model.SockState `json:"state"`
	Owners []model.Proc    `json:"owners,omitempty"`
}

// Counter is a drop-funnel counter that moved.
type Counter struct {
	Layer    model.Layer `json:"layer"`
	Source   string      `json:"source"`
	Group    string      `json:"group,omitempty"`
	Instance string      `json:"instance,omitempty"`
	Name     string      `json:"name"`
	A        uint64      `json:"a"`
	B        uint64      `json:"b"`
	// Delta is B - A; when B < A (a reset, a wrap) it is B and Reset is set.
	Delta uint64  `json:"delta"`
	Reset bool    `json:"reset,omitempty"`
	Rate  float64 `json:"rate"` // Delta per second of Report.Interval
}

// Sysctl is a sysctl whose value changed, appeared or went away (an
// empty A or B).
type Sysctl struct {
	Name string `json:"name"`
	A    string `json:"a"`
	B    string `json:"b"`
}

// Rule is a filter rule that was added or removed.
type Rule struct {
	ID      uint32 `json:"id"`
	Summary string `json:"summary"`
}

// RuleChange is a rule whose match, action or state changed.
type RuleChange struct {
	ID uint32 `json:"id"`
	A  string `json:"a"`
	B  string `json:"b"`
}

// RuleCounter is a rule (in both snapshots) whose counters moved.
type RuleCounter struct {
	ID           uint32  `json:"id"`
	Label        string  `json:"label,omitempty"`
	PacketsDelta uint64  `json:"packets_delta"`
	BytesDelta   uint64  `json:"bytes_delta"`
	PacketsRate  float64 `json:"packets_rate"`
}

// Flow is a conntrack flow that appeared or went away.
type Flow struct {
	Proto model.Proto     `json:"proto"`
	Orig  model.FlowTuple `json:"orig"`
	Zone  uint16          `json:"zone,omitempty"`
	State string          `json:"state,omitempty"`
}

// CollectorDiff is a collector whose state changed (or that one
// snapshot lacks: an empty state).
type CollectorDiff struct {
	Name    string               `json:"name"`
	A       model.CollectorState `json:"a"`
	B       model.CollectorState `json:"b"`
	ReasonB string               `json:"reason_b,omitempty"`
}

// Equal reports whether the report holds no change.
func (r Report) Equal() bool {
	return len(r.SocketsAppeared)+len(r.SocketsGone)+len(r.Counters)+len(r.Sysctls)+len(r.RulesAdded)+len(r.RulesRemoved)+
		len(r.RulesChanged)+len(r.RuleCounters)+len(r.FlowsAppeared)+len(r.FlowsGone)+len(r.Collectors) == 0
}

// Changes is the number of changes in the report.
func (r Report) Changes() int {
	return len(r.SocketsAppeared) + len(r.SocketsGone) + len(r.Counters) + len(r.Sysctls) + len(r.RulesAdded) + len(r.RulesRemoved) +
		len(r.RulesChanged) + len(r.RuleCounters) + len(r.FlowsAppeared) + len(r.FlowsGone) + len(r.Collectors)
}

// Compare returns what changed from a to b. Snapshots of different hosts
// are refused (ErrDifferentHosts) unless o.Force.
func Compare(a, b model.Snapshot, o Options) (Report, error) {
	if a.Host != b.Host && !o.Force {
		return Report{}, fmt.Errorf("%w: %q and %q (--force compares them anyway)", ErrDifferentHosts, a.Host, b.Host)
	}
	r := Report{HostA: a.Host, HostB: b.Host, TakenA: a.TakenAt, TakenB: b.TakenAt, Interval: b.TakenAt.Sub(a.TakenAt)}
	r.SocketsAppeared, r.SocketsGone = sockets(a.Sockets, b.Sockets)
	r.Counters = counters(a.Counters, b.Counters, r.Interval)
	r.Sysctls = sysctls(a.Sysctls, b.Sysctls)
	r.RulesAdded, r.RulesRemoved, r.RulesChanged, r.RuleCounters = rules(a.Rules, b.Rules, r.Interval)
	r.FlowsAppeared, r.FlowsGone = flows(a.Flows, b.Flows)
	r.Collectors = collectorDiffs(a.Collectors, b.Collectors)
	return r, nil
}

// added returns the keys of b not in a, sorted.
func added[K comparable, V any](a, b map[K]V, less func(x, y V) int) []V {
	var out []V
	for k, v := range b {
		if _, ok := a[k]; !ok {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, less)
	return out
}

type sockKey struct {
	proto         model.Proto
	local, remote netip.AddrPort
}

func sockets(a, b []model.Socket) (appeared, gone []Socket) {
	index := func(ss []model.Socket) map[sockKey]Socket {
		m := make(map[sockKey]Socket, len(ss))
		for _, s := range ss {
			m[sockKey{s.Proto, s.Local, s.Remote}] = Socket{Proto: s.Proto, Local: s.Local, Remote: s.Remote, State: s.State, Owners: s.Procs}
		}
		return m
	}
	ma, mb := index(a), index(b)
	less := func(x, y Socket) int {
		return cmp.Or(cmp.Compare(x.Proto, y.Proto), x.Local.Compare(y.Local), x.Remote.Compare(y.Remote))
	}
	return added(ma, mb, less), added(mb, ma, less)
}

// counters returns the drop-funnel counters (of kind counter) that
// moved, in funnel order.
func counters(a, b []model.Counter, interval time.Duration) []Counter {
	prev := make(map[model.CounterKey]uint64, len(a))
	for _, c := range a {
		prev[c.Key()] = c.Value
	}
	var out []Counter
	for _, f := range drops.Funnel(b) {
		if f.Kind != model.KindCounter {
			continue
		}
		va, ok := prev[f.Key()]
		if !ok || va == f.Value {
			continue
		}
		c := Counter{Layer: f.Layer, Source: f.Source, Group: f.Group, Instance: f.Instance, Name: f.Name, A: va, B: f.Value}
		if f.Value > va {
			c.Delta = f.Value - va
		} else {
			c.Delta, c.Reset = f.Value, true
		}
		if interval > 0 {
			c.Rate = float64(c.Delta) / interval.Seconds()
		}
		out = append(out, c)
	}
	return out
}

// sysctlGauges are sysctls that count live objects rather than set
// anything: their value differs between any two snapshots of a busy
// host, so the sysctl section leaves them out (the flows that make
// nf_conntrack_count are the flows section).
var sysctlGauges = map[string]bool{
	"net.netfilter.nf_conntrack_count": true,
}

func sysctls(a, b []model.Sysctl) []Sysctl {
	ma := make(map[string]string, len(a))
	for _, s := range a {
		if !sysctlGauges[s.Name] {
			ma[s.Name] = s.Value
		}
	}
	mb := make(map[string]string, len(b))
	for _, s := range b {
		if !sysctlGauges[s.Name] {
			mb[s.Name] = s.Value
		}
	}
	var out []Sysctl
	for name, vb := range mb {
		if va, ok := ma[name]; !ok || va != vb {
			out = append(out, Sysctl{Name: name, A: va, B: vb})
		}
	}
	for name, va := range ma {
		if _, ok := mb[name]; !ok {
			out = append(out, Sysctl{Name: name, A: va})
		}
	}
	slices.SortFunc(out, func(x, y Sysctl) int { return cmp.Compare(x.Name, y.Name) })
	return out
}

func rules(a, b *model.RulesState, interval time.Duration) (add, removed []Rule, changed []RuleChange, moved []RuleCounter) {
	index := func(rs *model.RulesState) map[uint32]model.Rule {
		m := map[uint32]model.Rule{}
		if rs != nil {
			for _, r := range rs.Rules {
				m[r.ID] = r
			}
		}
		return m
	}
	ma, mb := index(a), index(b)
	for id, rb := range mb {
		ra, ok := ma[id]
		if !ok {
			add = append(add, Rule{ID: id, Summary: ruleSummary(rb)})
			continue
		}
		if sa, sb := ruleSummary(ra), ruleSummary(rb); !reflect.DeepEqual(definition(ra), definition(rb)) {
			changed = append(changed, RuleChange{ID: id, A: sa, B: sb})
		}
		if rb.Packets != ra.Packets || rb.Bytes != ra.Bytes {
			rc := RuleCounter{ID: id, Label: rb.Label, PacketsDelta: sub(rb.Packets, ra.Packets), BytesDelta: sub(rb.Bytes, ra.Bytes)}
			if interval > 0 {
				rc.PacketsRate = float64(rc.PacketsDelta) / interval.Seconds()
			}
			moved = append(moved, rc)
		}
	}
	for id, ra := range ma {
		if _, ok := mb[id]; !ok {
			removed = append(removed, Rule{ID: id, Summary: ruleSummary(ra)})
		}
	}
	byID := func(x, y Rule) int { return cmp.Compare(x.ID, y.ID) }
	slices.SortFunc(add, byID)
	slices.SortFunc(removed, byID)
	slices.SortFunc(changed, func(x, y RuleChange) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(moved, func(x, y RuleCounter) int { return cmp.Compare(x.ID, y.ID) })
	return add, removed, changed, moved
}

// sub is b - a, or b after a reset.
func sub(b, a uint64) uint64 {
	if b >= a {
		return b - a
	}
	return b
}

// definition is the rule without its counters and timestamps.
func definition(r model.Rule) model.Rule {
	r.Packets, r.Bytes, r.Rate, r.LastHit = 0, 0, 0, time.Time{}
	return r
}

// ruleSummary is a rule in one line, as `netlens rules` would say it.
func ruleSummary(r model.Rule) string {
	var b strings.Builder
	b.WriteString(string(r.Action))
	if !r.Enabled {
		b.WriteString(" (disabled)")
	}
	fmt.Fprintf(&b, " %s %s", strings.Join(r.Hooks, ","), r.Family)
	if r.Proto != "" {
		b.WriteString(" " + r.Proto)
	}
	if r.Src.IsValid() {
		b.WriteString(" src " + r.Src.String())
	}
	if r.Dst.IsValid() {
		b.WriteString(" dst " + r.Dst.String())
	}
	ports := func(name string, p model.PortRange) {
		switch {
		case p.Any():
		case p.Min == p.Max:
			b.WriteString(" " + name + " " + strconv.Itoa(int(p.Min)))
		default:
			fmt.Fprintf(&b, " %s %d-%d", name, p.Min, p.Max)
		}
	}
	ports("sport", r.SrcPorts)
	ports("dport", r.DstPorts)
	if r.InIface != "" {
		b.WriteString(" iif " + r.InIface)
	}
	if r.OutIface != "" {
		b.WriteString(" oif " + r.OutIface)
	}
	if r.Priority != 0 {
		fmt.Fprintf(&b, " priority %d", r.Priority)
	}
	if r.Label != "" {
		b.WriteString(" " + strconv.Quote(r.Label))
	}
	return b.String()
}

type flowKey struct {
	protoNum uint8
	src, dst netip.AddrPort
	icmp     model.ICMPKey
	zone     uint16
}

func flows(a, b []model.Flow) (appeared, gone []Flow) {
	index := func(fs []model.Flow) map[flowKey]Flow {
		m := make(map[flowKey]Flow, len(fs))
		for _, f := range fs {
			k := flowKey{protoNum: f.ProtoNum, src: f.Orig.Src, dst: f.Orig.Dst, zone: f.Zone}
			if f.Orig.ICMP != nil {
				k.icmp = *f.Orig.ICMP
			}
			m[k] = Flow{Proto: f.Proto, Orig: f.Orig, Zone: f.Zone, State: f.State()}
		}
		return m
	}
	ma, mb := index(a), index(b)
	less := func(x, y Flow) int {
		return cmp.Or(cmp.Compare(x.Proto, y.Proto), x.Orig.Src.Compare(y.Orig.Src), x.Orig.Dst.Compare(y.Orig.Dst), cmp.Compare(x.Zone, y.Zone))
	}
	return added(ma, mb, less), added(mb, ma, less)
}

func collectorDiffs(a, b []model.CollectorStatus) []CollectorDiff {
	ma := map[string]model.CollectorStatus{}
	for _, c := range a {
		ma[c.Name] = c
	}
	mb := map[string]model.CollectorStatus{}
	for _, c := range b {
		mb[c.Name] = c
	}
	var out []CollectorDiff
	for name, cb := range mb {
		if ca := ma[name]; ca.State != cb.State {
			out = append(out, CollectorDiff{Name: name, A: ca.State, B: cb.State, ReasonB: cb.Reason})
		}
	}
	for name, ca := range ma {
		if _, ok := mb[name]; !ok {
			out = append(out, CollectorDiff{Name: name, A: ca.State})
		}
	}
	slices.SortFunc(out, func(x, y CollectorDiff) int { return cmp.Compare(x.Name, y.Name) })
	return out
}
