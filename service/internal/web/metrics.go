package web

import (
	"database/sql"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the service's Prometheus series, in their own registry so
// several App values (tests) don't collide.
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	purchases prometheus.Counter
	units     prometheus.Counter
}

func newMetrics(db *sql.DB) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookstore_http_requests_total",
			Help: "HTTP requests by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bookstore_http_request_duration_seconds",
			Help:    "HTTP request latency in seconds by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
		purchases: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookstore_purchases_total",
			Help: "Purchases created (units taken from stock, pending payment).",
		}),
		units: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookstore_purchased_units_total",
			Help: "Units of books taken from stock by purchases.",
		}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.purchases, m.units,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(db, "bookstore"))
	return m
}
