package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/drydockscan/drydock/internal/server/store"
)

// Metrics are the server's Prometheus metrics, in a registry of their own
// (no global state).
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	scans     *prometheus.CounterVec
	scanTime  prometheus.Histogram
	rematched *prometheus.CounterVec
}

// NewMetrics registers the metrics; st, when set, is asked for the scans
// by status at each scrape.
func NewMetrics(st *store.Store) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drydock_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "drydock_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route"})
	m.scans = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drydock_scans_finished_total", Help: "Scans this process finished, by final status.",
	}, []string{"status"})
	m.scanTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "drydock_scan_duration_seconds", Help: "Duration of the scans this process ran.",
		Buckets: prometheus.ExponentialBuckets(0.1, 2, 12),
	})
	m.rematched = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drydock_rematch_total", Help: "Re-matching after database updates: images matched again and findings that appeared or went.",
	}, []string{"what"})
	m.reg.MustRegister(m.requests, m.latency, m.scans, m.scanTime, m.rematched,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if st != nil {
		m.reg.MustRegister(scansByStatus{st})
	}
	return m
}

// ScanFinished implements worker.Observer.
func (m *Metrics) ScanFinished(status string, d time.Duration) {
	m.scans.WithLabelValues(status).Inc()
	m.scanTime.Observe(d.Seconds())
}

// Rematched counts a re-match pass.
func (m *Metrics) Rematched(images, added, resolved int) {
	m.rematched.WithLabelValues("images").Add(float64(images))
	m.rematched.WithLabelValues("new").Add(float64(added))
	m.rematched.WithLabelValues("resolved").Add(float64(resolved))
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observe wraps a route's handler with the request metrics.
func (m *Metrics) observe(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		h.ServeHTTP(rec, r)
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// scansByStatus reports the store's scans by status at scrape time.
type scansByStatus struct{ st *store.Store }

var scansDesc = prometheus.NewDesc("drydock_scans", "Scans in the store by status (queued, running, done, failed).", []string{"status"}, nil)

func (c scansByStatus) Describe(ch chan<- *prometheus.Desc) { ch <- scansDesc }

func (c scansByStatus) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.st.CountScans(ctx)
	if err != nil {
		return
	}
	for _, s := range []string{store.StatusQueued, store.StatusRunning, store.StatusDone, store.StatusFailed} {
		ch <- prometheus.MustNewConstMetric(scansDesc, prometheus.GaugeValue, float64(counts[s]), s)
	}
}
