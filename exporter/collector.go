package exporter

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"netlens/model"
	"netlens/model/drops"
)

// Source gives the latest snapshot; *model.Store is one.
type Source interface {
	Snapshot() model.Snapshot
}

// DefaultMaxInstances is Options.MaxInstances when zero.
const DefaultMaxInstances = 32

// OtherInstance is the instance label of the sum of the instances past
// the cap.
const OtherInstance = "other"

// Options tune a Collector.
type Options struct {
	// MaxInstances is how many instance values (interfaces, CPUs,
	// qdiscs) one counter keeps; the rest are summed into
	// instance="other". Zero means DefaultMaxInstances.
	MaxInstances int
	// Version is the netlens version for netlens_build_info.
	Version string
	// Knowledge decides which counters are drop-like (the funnel); nil
	// means drops.Default().
	Knowledge *drops.Knowledge
}

// Collector is a prometheus.Collector over a Source's snapshots. It is
// safe for concurrent use.
type Collector struct {
	src Source
	o   Options
	// In --netns all (netns.go): socks are the namespace's sockets,
	// counted from the all-namespaces snapshot.
	socks *sockCounts
	// counted is the last socket list's counts, by its SocketsSeq: a
	// scrape between two collections counts nothing again (at 100,000
	// sockets, a quarter of a scrape's CPU).
	counted *countCache
}

// countCache is a socket list's counts and its SocketsSeq.
type countCache struct {
	sync.Mutex
	seq    uint64
	counts sockCounts
}

// New returns a Collector over src.
func New(src Source, o Options) *Collector {
	initDescs()
	if o.MaxInstances <= 0 {
		o.MaxInstances = DefaultMaxInstances
	}
	if o.Knowledge == nil {
		o.Knowledge = drops.Default()
	}
	return &Collector{src: src, o: o, counted: new(countCache)}
}

var funnelLabels = []string{"layer", "source", "group", "name", "instance"}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	d := prometheus.NewDesc("netlens_"+name, help, labels, nil)
	nsDescs[d] = prometheus.NewDesc("netlens_"+name, help, append(labels[:len(labels):len(labels)], nsLabels...), nil)
	return d
}

// nsLabels are the labels every per-namespace series has in --netns all
// (netns.go), after its own.
var nsLabels = []string{"netns", "container"}

// nsDescs are the descriptions of the metrics with nsLabels, by the
// description without.
var nsDescs = map[*prometheus.Desc]*prometheus.Desc{}

// emitter sends metrics to ch; with lv (--netns all: the values of
// nsLabels) it sends them with nsLabels.
type emitter struct {
	ch chan<- prometheus.Metric
	lv []string
}

func (e emitter) emit(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	if e.lv != nil {
		d, labels = nsDescs[d], append(labels, e.lv...)
	}
	e.ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
}

// The metrics. docs/metrics.md lists them with their labels and bounds.
// They are made by initDescs on first use, not at start: the help texts
// read the knowledge file, which commands other than the exporter never
// need (it cost every command about 2 ms and 3,600 allocations).
var (
	descDrops, descDropsCurrent, descReason, descDropMonLost, descTraceSeen, descTraceUnattr, descTraceNotAggr, descTraceOtherNS, descCTEntries, descCTMax, descCTDrop, descCTEarly, descCTInsFail, descCTInvalid, descCTLost, descCTOverrun, descSockets, descRulePkts, descRuleBytes, descCapPkts, descCapBytes, descCapDrops, descUp, descDuration, descErrors, descSuccess, descTaken, descBuild,
	descUnexported *prometheus.Desc
)

// initDescs makes the metric descriptions; New and every Describe and
// Collect call it.
var initDescs = sync.OnceFunc(func() {
	descDrops = newDesc("drops_total",
		"Drop-like kernel counters of the drop funnel, by layer in the order a received packet meets them (nic, softnet, qdisc, ip, netfilter, transport, socket, ipsec): "+
			"name is the kernel's own counter name, source and group where it was read; what each one means, its causes and settings are in docs/drops.md (model/drops/knowledge.json).",
		funnelLabels...)
	descDropsCurrent = newDesc("drops_current",
		"Drop-funnel values that go up and down (a qdisc backlog), as the kernel reports them; labels as netlens_drops_total.",
		funnelLabels...)
	descReason = newDesc("drop_reason_total",
		"Packets the kernel freed as dropped, by drop reason (include/net/dropreason-core.h; \"none\" in NET_DM summary mode) and the layer it belongs to, since netlens started; "+
			"source says which reported them: netdm (the kernel's drop monitor) or ebpf (netlens's tracer on skb:kfree_skb). Only one source runs at a time.",
		"reason", "layer", "source")
	descDropMonLost = newDesc("drop_monitor_lost_total",
		"Drop-monitor alerts lost before netlens read them (socket buffer overruns, queue limits): the drop reasons undercount by at least this much.")
	descTraceSeen = newDesc("drop_trace_seen_total",
		"Drops the eBPF drop tracer saw in its scope since it started (netlens_drop_reason_total{source=\"ebpf\"} sums to this minus netlens_drop_trace_unattributed_total).")
	descTraceUnattr = newDesc("drop_trace_unattributed_total",
		"Drops the eBPF tracer saw but could not count under a reason: its kernel map had no room for their flow, or evicted it before netlens read it. The reasons undercount by exactly this much.")
	descTraceNotAggr = newDesc("drop_trace_not_aggregated_total",
		"Drops the eBPF tracer's kernel map refused outright (full); part of netlens_drop_trace_unattributed_total.")
	descTraceOtherNS = newDesc("drop_trace_other_netns_total",
		"Drops the eBPF tracer saw in network namespaces out of its scope (not counted in netlens_drop_trace_seen_total).")
	descCTEntries = newDesc("conntrack_entries", "Connections in the conntrack table (nf_conntrack_count).")
	descCTMax = newDesc("conntrack_entries_limit", "Size limit of the conntrack table (nf_conntrack_max): new connections are dropped when it is full.")
	descCTDrop = newDesc("conntrack_drop_total", conntrackHelp("drop"))
	descCTEarly = newDesc("conntrack_early_drop_total", conntrackHelp("early_drop"))
	descCTInsFail = newDesc("conntrack_insert_failed_total", conntrackHelp("insert_failed"))
	descCTInvalid = newDesc("conntrack_invalid_total", conntrackHelp("invalid"))
	descCTLost = newDesc("conntrack_events_lost_total", "Conntrack events netlens lost (ENOBUFS on its event socket): flows it may have missed until the next resync.")
	descCTOverrun = newDesc("conntrack_event_overruns_total", "Times netlens's conntrack event socket overran and a full dump resynced the flow table.")
	descSockets = newDesc("sockets", "Sockets by transport protocol and state as ss prints it (ESTAB, LISTEN, UNCONN, TIME-WAIT, ...).", "proto", "state")
	descRulePkts = newDesc("rule_packets_total", "Packets that matched a netlens filter rule, by rule id and label.", "backend", "id", "label")
	descRuleBytes = newDesc("rule_bytes_total", "Bytes that matched a netlens filter rule, by rule id and label.", "backend", "id", "label")
	descCapPkts = newDesc("capture_packets_total", "Packets netlens's capture saw since it started.", "interface")
	descCapBytes = newDesc("capture_bytes_total", "Bytes netlens's capture saw since it started.", "interface")
	descCapDrops = newDesc("capture_ring_drops_total", "Packets the kernel dropped because netlens's capture ring was full (PACKET_STATISTICS tp_drops).", "interface")
	descUp = newDesc("collector_up", "Whether the collector's last run succeeded (1) or not (0: no permission, not supported, error, or not run yet).", "collector")
	descDuration = newDesc("collector_last_duration_seconds", "How long the collector's last run took.", "collector")
	descErrors = newDesc("collector_errors_total", "Runs of the collector that failed since netlens started (errors, timeouts, missing capabilities).", "collector")
	descSuccess = newDesc("collector_last_success_timestamp_seconds", "When the collector last ran successfully, in seconds since the Unix epoch (absent if never).", "collector")
	descTaken = newDesc("snapshot_timestamp_seconds", "When the newest data behind these metrics was read, in seconds since the Unix epoch.")
	descBuild = newDesc("build_info", "Always 1; labels say the netlens version and the kernel release.", "version", "kernel")
	descUnexported = newDesc("netns_unexported",
		"Network namespaces netlens serve --netns all found but does not export: over_cap (past --max-netns) or not_enterable (entering needs CAP_SYS_ADMIN).",
		"reason")
	allDescs = []*prometheus.Desc{descDrops, descDropsCurrent, descReason, descDropMonLost,
		descTraceSeen, descTraceUnattr, descTraceNotAggr, descTraceOtherNS, descCTEntries, descCTMax, descCTDrop, descCTEarly,
		descCTInsFail, descCTInvalid, descCTLost, descCTOverrun, descSockets, descRulePkts, descRuleBytes, descCapPkts, descCapBytes, descCapDrops,
		descUp, descDuration, descErrors, descSuccess, descTaken, descBuild}
})

// conntrackHelp is the HELP of a conntrack statistic, from the knowledge
// file (model/drops/knowledge.json): its title and what increments
// it, summed over CPUs.
func conntrackHelp(name string) string {
	e, ok := drops.Lookup(model.CounterKey{Source: "ctnetlink", Group: "conntrack", Name: name})
	if !ok {
		return "The conntrack statistic " + name + ", all CPUs."
	}
	return e.Title + " (conntrack statistic " + name + ", all CPUs): " + strings.Join(strings.Fields(e.Increments), " ")
}

// allDescs are the descriptions Describe sends (initDescs).
var allDescs []*prometheus.Desc

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	initDescs()
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the Source's latest
// snapshot once.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	initDescs()
	c.collect(emitter{ch: ch}, c.src.Snapshot())
}

// collect sends the metrics of snap.
func (c *Collector) collect(e emitter, snap model.Snapshot) {
	c.funnel(e, snap.Counters)
	dropMonitor(e, snap.DropMonitor)
	dropTrace(e, snap.DropTrace)
	conntrack(e, snap.Conntrack)
	if c.socks != nil {
		c.socks.emit(e)
	} else {
		counts := c.countSockets(snap)
		counts.emit(e)
	}
	rules(e, snap.Rules)
	capture(e, snap.Capture)
	health(e, snap.Collectors)
	if !snap.TakenAt.IsZero() {
		e.emit(descTaken, prometheus.GaugeValue, seconds(snap.TakenAt))
	}
	if e.lv == nil {
		e.emit(descBuild, prometheus.GaugeValue, 1, c.o.Version, snap.Kernel)
	}
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// funnelKey is one series of the funnel families.
type funnelKey struct {
	layer                         model.Layer
	source, group, name, instance string
	gauge                         bool
}

// funnel exports the drop funnel's counters (the drop monitor's per
// reason counters are left to dropMonitor), capping instances.
func (c *Collector) funnel(e emitter, cs []model.Counter) {
	fc := c.o.Knowledge.Funnel(cs)
	// Instances of each counter, to cap them.
	type counterID struct {
		layer               model.Layer
		source, group, name string
	}
	instances := map[counterID][]string{}
	for i := range fc {
		f := &fc[i]
		if isReasonSource(f.Source) || f.Instance == "" {
			continue
		}
		id := counterID{f.Layer, f.Source, f.Group, f.Name}
		instances[id] = append(instances[id], f.Instance)
	}
	kept := map[counterID]map[string]bool{}
	for id, in := range instances {
		if len(in) <= c.o.MaxInstances {
			continue
		}
		slices.SortFunc(in, compareInstance)
		k := make(map[string]bool, c.o.MaxInstances)
		for _, name := range in[:c.o.MaxInstances] {
			k[name] = true
		}
		kept[id] = k
	}
	sums := map[funnelKey]uint64{}
	var order []funnelKey
	for i := range fc {
		f := &fc[i]
		if isReasonSource(f.Source) {
			continue
		}
		key := funnelKey{f.Layer, f.Source, f.Group, f.Name, f.Instance, f.Kind == model.KindGauge}
		if k := kept[counterID{f.Layer, f.Source, f.Group, f.Name}]; k != nil && !k[f.Instance] {
			key.instance = OtherInstance
		}
		if _, ok := sums[key]; !ok {
			order = append(order, key)
		}
		sums[key] += f.Value
	}
	for _, k := range order {
		d, t := descDrops, prometheus.CounterValue
		if k.gauge {
			d, t = descDropsCurrent, prometheus.GaugeValue
		}
		e.emit(d, t, float64(sums[k]), string(k.layer), k.source, k.group, k.name, k.instance)
	}
}

// dropMonitorSource is the Source of the drop monitor's counters.
const dropMonitorSource = "drop_monitor"

// isReasonSource says whether counters of source are drop reasons (the
// drop monitor's and the eBPF tracer's, one series per code location):
// netlens_drop_reason_total exports them summed over locations, not the
// funnel.
func isReasonSource(source string) bool {
	return source == dropMonitorSource || source == drops.DropTraceSource
}

// Values of netlens_drop_reason_total's source label.
const (
	reasonSourceNetDM = "netdm"
	reasonSourceEBPF  = "ebpf"
)

// reasonKey is one series of netlens_drop_reason_total.
type reasonKey struct {
	reason string
	layer  model.Layer
}

// reasonSums sums packets by (reason, layer) over code locations, in
// first-seen order.
type reasonSums struct {
	sums  map[reasonKey]uint64
	order []reasonKey
}

func (r *reasonSums) add(reason string, layer model.Layer, n uint64) {
	if reason == "" {
		reason = "none"
	}
	k := reasonKey{reason, layer}
	if r.sums == nil {
		r.sums = map[reasonKey]uint64{}
	}
	if _, ok := r.sums[k]; !ok {
		r.order = append(r.order, k)
	}
	r.sums[k] += n
}

func (r *reasonSums) emit(e emitter, source string) {
	for _, k := range r.order {
		e.emit(descReason, prometheus.CounterValue, float64(r.sums[k]), k.reason, string(k.layer), source)
	}
}

// dropTrace exports the eBPF tracer's reasons, summed over locations
// (never per flow), and its accounting.
func dropTrace(e emitter, t model.DropTrace) {
	if t.At.IsZero() || !t.Supported {
		return
	}
	var rs reasonSums
	for _, r := range t.Reasons {
		rs.add(r.Reason, r.Layer, r.Packets)
	}
	rs.emit(e, reasonSourceEBPF)
	e.emit(descTraceSeen, prometheus.CounterValue, float64(t.Seen))
	e.emit(descTraceUnattr, prometheus.CounterValue, float64(t.Unattributed))
	e.emit(descTraceNotAggr, prometheus.CounterValue, float64(t.NotAggregated))
	e.emit(descTraceOtherNS, prometheus.CounterValue, float64(t.OtherNetns))
}

// compareInstance orders instance names with their numbers compared as
// numbers (cpu2 before cpu10), so the kept set is the natural first N.
func compareInstance(a, b string) int {
	pa, na := splitNum(a)
	pb, nb := splitNum(b)
	return cmp.Or(cmp.Compare(pa, pb), cmp.Compare(na, nb), cmp.Compare(a, b))
}

func splitNum(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil {
		return s, -1
	}
	return s[:i], n
}

func dropMonitor(e emitter, dm model.DropMonitor) {
	if dm.At.IsZero() || !dm.Supported {
		return
	}
	var rs reasonSums
	for _, d := range dm.Drops {
		rs.add(d.Reason, d.Layer, d.Total)
	}
	rs.emit(e, reasonSourceNetDM)
	e.emit(descDropMonLost, prometheus.CounterValue, float64(dm.Lost))
}

func conntrack(e emitter, st model.ConntrackStats) {
	if st.At.IsZero() {
		return
	}
	for _, m := range []struct {
		d *prometheus.Desc
		t prometheus.ValueType
		v uint64
	}{
		{descCTEntries, prometheus.GaugeValue, st.Count},
		{descCTMax, prometheus.GaugeValue, st.Max},
		{descCTDrop, prometheus.CounterValue, st.Total.Drop},
		{descCTEarly, prometheus.CounterValue, st.Total.EarlyDrop},
		{descCTInsFail, prometheus.CounterValue, st.Total.InsertFailed},
		{descCTInvalid, prometheus.CounterValue, st.Total.Invalid},
		{descCTLost, prometheus.CounterValue, st.EventsLost},
		{descCTOverrun, prometheus.CounterValue, st.Overruns},
	} {
		e.emit(m.d, m.t, float64(m.v))
	}
}

// socketProtos are the protocols netlens_sockets counts, in label
// order; a socket of any other is counted under its own name.
var socketProtos = [...]model.Proto{model.ProtoRAW, model.ProtoTCP, model.ProtoUDP, model.ProtoUDPLite}

// nStates are the socket states counted; states past the last the
// kernel has are counted as UNKNOWN (0).
const nStates = int(model.StateNewSynRecv) + 1

// sockCounts are sockets counted by (proto, state): one pass into a small
// array (at 100k sockets a map keyed by (proto, state) cost 8 ms a scrape,
// this well under 1 ms).
type sockCounts struct {
	n     [len(socketProtos)][nStates]int
	other map[model.Proto]*[nStates]int
}

func (c *sockCounts) add(s *model.Socket) {
	st := s.State
	if int(st) >= nStates {
		st = model.StateUnknown
	}
	switch s.Proto {
	case model.ProtoRAW:
		c.n[0][st]++
	case model.ProtoTCP:
		c.n[1][st]++
	case model.ProtoUDP:
		c.n[2][st]++
	case model.ProtoUDPLite:
		c.n[3][st]++
	default:
		if c.other == nil {
			c.other = map[model.Proto]*[nStates]int{}
		}
		if c.other[s.Proto] == nil {
			c.other[s.Proto] = new([nStates]int)
		}
		c.other[s.Proto][st]++
	}
}

func (c *sockCounts) emit(e emitter) {
	emit := func(p model.Proto, counts *[nStates]int) {
		for st, n := range counts {
			if n > 0 {
				e.emit(descSockets, prometheus.GaugeValue, float64(n), p.String(), model.SockState(st).String())
			}
		}
	}
	for i, p := range socketProtos {
		emit(p, &c.n[i])
	}
	for _, p := range slices.Sorted(maps.Keys(c.other)) {
		emit(p, c.other[p])
	}
}

// countSockets returns the counts of snap's sockets by protocol and
// state, counted again only when its list is not the one counted last
// (a SocketsSeq of 0, a snapshot not from a Store, is always counted).
func (c *Collector) countSockets(snap model.Snapshot) sockCounts {
	c.counted.Lock()
	defer c.counted.Unlock()
	if snap.SocketsSeq != 0 && snap.SocketsSeq == c.counted.seq {
		return c.counted.counts // its map is never written once counted
	}
	var counts sockCounts
	for i := range snap.Sockets {
		counts.add(&snap.Sockets[i])
	}
	c.counted.seq, c.counted.counts = snap.SocketsSeq, counts
	return counts
}

func rules(e emitter, rs *model.RulesState) {
	if rs == nil {
		return
	}
	for _, r := range rs.Rules {
		id := strconv.FormatUint(uint64(r.ID), 10)
		e.emit(descRulePkts, prometheus.CounterValue, float64(r.Packets), rs.Backend, id, r.Label)
		e.emit(descRuleBytes, prometheus.CounterValue, float64(r.Bytes), rs.Backend, id, r.Label)
	}
}

func capture(e emitter, cs model.CaptureStats) {
	if cs.At.IsZero() {
		return
	}
	iface := cs.Interface
	e.emit(descCapPkts, prometheus.CounterValue, float64(cs.Packets), iface)
	e.emit(descCapBytes, prometheus.CounterValue, float64(cs.Bytes), iface)
	e.emit(descCapDrops, prometheus.CounterValue, float64(cs.RingDrops), iface)
}

func health(e emitter, cs []model.CollectorStatus) {
	for _, c := range cs {
		up := 0.0
		if c.State == model.StateOK {
			up = 1
		}
		e.emit(descUp, prometheus.GaugeValue, up, c.Name)
		e.emit(descDuration, prometheus.GaugeValue, c.LastDuration.Seconds(), c.Name)
		e.emit(descErrors, prometheus.CounterValue, float64(c.Errors), c.Name)
		if !c.LastSuccess.IsZero() {
			e.emit(descSuccess, prometheus.GaugeValue, seconds(c.LastSuccess), c.Name)
		}
	}
}
