package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"netlens/export"
	"netlens/model"
)

// DefaultListen is where `netlens serve` listens unless told otherwise:
// loopback only, so nothing is exposed without an explicit choice.
const DefaultListen = "127.0.0.1:9347"

// Handler returns the HTTP handler of `netlens serve`: /metrics
// (Prometheus text or OpenMetrics, as the scraper asks), /snapshot (the
// JSON snapshot, docs/snapshot.md) and a short index at /. Besides the
// netlens metrics, /metrics has the Go runtime's and the process's own
// (process_cpu_seconds_total: what serving costs). When src is a
// NamespaceSource (--netns all), every metric but those is per
// namespace, with netns and container labels.
func Handler(src Source, o Options) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if ns, ok := src.(NamespaceSource); ok {
		reg.MustRegister(nsCollector{src: ns, c: New(src, o)})
	} else {
		reg.MustRegister(New(src, o))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorHandling:     promhttp.ContinueOnError,
		Timeout:           10 * time.Second,
	}))
	mux.HandleFunc("GET /snapshot", func(w http.ResponseWriter, r *http.Request) {
		b, err := export.Marshal(src.Snapshot())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "netlens exporter\n\n/metrics   Prometheus metrics (docs/metrics.md)\n/snapshot  the JSON snapshot (docs/snapshot.md)")
	})
	return mux
}

// CheckWebConfig reads and checks the exporter-toolkit web configuration
// file webConfig (empty: none, nil), its certificate and key files
// included: what Serve refuses, said before anything starts.
func CheckWebConfig(webConfig string) error {
	if webConfig == "" {
		return nil
	}
	if err := web.Validate(webConfig); err != nil {
		return fmt.Errorf("--web.config.file %s: %w", webConfig, err)
	}
	return nil
}

// Serve serves h on l until ctx is done, with TLS and basic auth as the
// exporter-toolkit web configuration file webConfig says (empty: plain
// HTTP, no auth); logger may be nil. A bad web configuration is an error before anything
// is served.
func Serve(ctx context.Context, l net.Listener, h http.Handler, webConfig string, logger *slog.Logger) error {
	if err := CheckWebConfig(webConfig); err != nil {
		l.Close()
		return err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() {
		done <- web.Serve(l, srv, &web.FlagConfig{WebConfigFile: &webConfig}, logger)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			return serr
		}
		return err
	}
}

// Unavailable returns, for each collector of snap that cannot run, a
// line saying which and why ("conntrack: no-permission: needs
// CAP_NET_ADMIN"): what `netlens serve` tells its operator at start.
func Unavailable(snap model.Snapshot) []string {
	var out []string
	for _, c := range snap.Collectors {
		if c.State == model.StateOK || c.State == model.StatePending {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s: %s", c.Name, c.State, c.Reason))
	}
	return out
}
