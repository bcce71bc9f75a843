package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"netlens/model"
)

// Namespace is one network namespace `netlens serve --netns all`
// exports.
type Namespace struct {
	// Inode identifies the namespace: the sockets of the
	// NamespacesView whose NetNS is Inode are its sockets.
	Inode uint64
	// NetNS and Container are its netns and container labels.
	NetNS, Container string
	// Snap is what was read inside the namespace; its Sockets are
	// ignored (they come from NamespacesView.Sockets).
	Snap model.Snapshot
}

// NamespacesView is every exported namespace at one moment.
type NamespacesView struct {
	// Namespaces are the exported namespaces, at most the cap.
	Namespaces []Namespace
	// Sockets are the sockets of every namespace, each with its
	// NetNS (the all-namespaces sockets collector's).
	Sockets []model.Socket
	// Unexported counts the namespaces left out, by reason
	// (UnexportedOverCap, UnexportedNotEnterable).
	Unexported map[string]int
	// Kernel is the kernel release, for netlens_build_info.
	Kernel string
}

// Reasons a namespace is not exported (netlens_netns_unexported).
const (
	UnexportedOverCap      = "over_cap"
	UnexportedNotEnterable = "not_enterable"
)

// NamespaceSource is a Source with every namespace: what `serve
// --netns all` serves. Handler exports each of its namespaces with netns
// and container labels.
type NamespaceSource interface {
	Source
	Namespaces() NamespacesView
}

var descUnexported = newDesc("netns_unexported",
	"Network namespaces netlens serve --netns all found but does not export: over_cap (past --max-netns) or not_enterable (entering needs CAP_SYS_ADMIN).",
	"reason")

// nsGatherer gathers, on each scrape, base (the process's own metrics)
// and each namespace's metrics labelled with its netns and container.
// It is safe for concurrent use.
type nsGatherer struct {
	src  NamespaceSource
	o    Options
	base prometheus.Gatherer
}

// Gather implements prometheus.Gatherer.
func (g *nsGatherer) Gather() ([]*dto.MetricFamily, error) {
	v := g.src.Namespaces()
	counts := make(map[uint64]*sockCounts, len(v.Namespaces))
	for _, n := range v.Namespaces {
		counts[n.Inode] = new(sockCounts)
	}
	for i := range v.Sockets {
		if c := counts[v.Sockets[i].NetNS]; c != nil {
			c.add(&v.Sockets[i])
		}
	}
	host := prometheus.NewRegistry()
	if err := host.Register(hostCollector{v, g.o.Version}); err != nil {
		return nil, err
	}
	gs := make(prometheus.Gatherers, 0, len(v.Namespaces)+2)
	gs = append(gs, g.base, host)
	for _, n := range v.Namespaces {
		reg := prometheus.NewRegistry()
		c := New(static(n.Snap), g.o)
		c.socks, c.inNS = counts[n.Inode], true
		if err := prometheus.WrapRegistererWith(prometheus.Labels{"netns": n.NetNS, "container": n.Container}, reg).Register(c); err != nil {
			return nil, err
		}
		gs = append(gs, reg)
	}
	return gs.Gather()
}

// static is a Source of one snapshot.
type static model.Snapshot

func (s static) Snapshot() model.Snapshot { return model.Snapshot(s) }

// hostCollector exports, in --netns all, what belongs to no namespace.
type hostCollector struct {
	v       NamespacesView
	version string
}

func (h hostCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descBuild
	ch <- descUnexported
}

func (h hostCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, h.version, h.v.Kernel)
	for _, r := range []string{UnexportedOverCap, UnexportedNotEnterable} {
		ch <- prometheus.MustNewConstMetric(descUnexported, prometheus.GaugeValue, float64(h.v.Unexported[r]), r)
	}
}
