// Package exporter serves what netlens collects to Prometheus: a
// prometheus.Collector that turns the Store's latest model.Snapshot into
// metrics at each scrape (no collection of its own: a scrape costs a walk
// of the snapshot, never a read of the kernel), and the HTTP handler of
// `netlens serve` with /metrics (text and OpenMetrics) and /snapshot (the
// JSON snapshot), behind the exporter-toolkit web configuration (TLS,
// basic auth) as node_exporter does.
//
// Metric names follow the Prometheus conventions: a netlens_ prefix,
// _total on counters, base units (seconds, bytes). Cardinality is
// bounded by construction and documented in docs/metrics.md: no label
// per socket or flow; per-object counters keep at most
// Options.MaxInstances instance values per counter and sum the rest into
// instance="other".
//
// A Collector is safe for concurrent use (scrapes may overlap).
package exporter
