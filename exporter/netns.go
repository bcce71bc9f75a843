package exporter

import (
	"github.com/prometheus/client_golang/prometheus"

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

// nsCollector is the prometheus.Collector of --netns all: each
// namespace's metrics with nsLabels, and the host's own (build info, the
// namespaces left out) without. It is safe for concurrent use.
type nsCollector struct {
	src NamespaceSource
	c   *Collector // options and knowledge; its Source is unused
}

// Describe implements prometheus.Collector.
func (n nsCollector) Describe(ch chan<- *prometheus.Desc) {
	initDescs()
	for _, d := range allDescs {
		if d != descBuild {
			d = nsDescs[d]
		}
		ch <- d
	}
	ch <- descUnexported
}

// Collect implements prometheus.Collector: one view of the namespaces,
// the sockets counted per namespace in one pass.
func (n nsCollector) Collect(ch chan<- prometheus.Metric) {
	initDescs()
	v := n.src.Namespaces()
	counts := make(map[uint64]*sockCounts, len(v.Namespaces))
	for _, ns := range v.Namespaces {
		counts[ns.Inode] = new(sockCounts)
	}
	for i := range v.Sockets {
		if c := counts[v.Sockets[i].NetNS]; c != nil {
			c.add(&v.Sockets[i])
		}
	}
	e := emitter{ch: ch}
	e.emit(descBuild, prometheus.GaugeValue, 1, n.c.o.Version, v.Kernel)
	for _, r := range []string{UnexportedOverCap, UnexportedNotEnterable} {
		e.emit(descUnexported, prometheus.GaugeValue, float64(v.Unexported[r]), r)
	}
	for _, ns := range v.Namespaces {
		c := *n.c
		c.socks = counts[ns.Inode]
		c.collect(emitter{ch: ch, lv: []string{ns.NetNS, ns.Container}}, ns.Snap)
	}
}
