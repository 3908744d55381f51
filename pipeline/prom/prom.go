// Package prom exports a run's live metrics in Prometheus' format: served on
// /metrics (`pipeline run --metrics-addr`) and pushed to a Pushgateway
// (`metrics.push_url`), the convention for batch jobs. It reads what the
// engine already measures (pipeline.Report: per-stage items, bytes, busy and
// wait time, gauges such as the training loss and learning rate, skipped
// samples by class), so exporting costs a snapshot per scrape or push.
package prom

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/sourcegraph/conc"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/pipeline"
)

// Metric descriptions. Names start with pipeline_ (the engine) or swav_
// (the training maths).
var (
	descItems   = prometheus.NewDesc("pipeline_stage_items_total", "Items a stage received (direction in) or emitted (out).", []string{"stage", "direction"}, nil)
	descBytes   = prometheus.NewDesc("pipeline_stage_bytes_total", "Bytes of the items a stage received (in) or emitted (out).", []string{"stage", "direction"}, nil)
	descBusy    = prometheus.NewDesc("pipeline_stage_busy_seconds_total", "Worker time a stage spent in its own code.", []string{"stage"}, nil)
	descWait    = prometheus.NewDesc("pipeline_stage_wait_seconds_total", "Worker time a stage waited for input (in) or for room downstream (out).", []string{"stage", "direction"}, nil)
	descWorkers = prometheus.NewDesc("pipeline_stage_workers", "Workers of a stage.", []string{"stage"}, nil)
	descGauge   = prometheus.NewDesc("pipeline_stage_gauge", "The latest value of a number a stage reports (loss, lr, skipped, ...).", []string{"stage", "name"}, nil)
	descSkipped = prometheus.NewDesc("pipeline_skipped_samples_total", "Samples skipped, by class (corrupt, truncated, unreadable, ...).", []string{"class"}, nil)
	descWall    = prometheus.NewDesc("pipeline_run_seconds", "Wall time of the current chain so far.", nil, nil)
	descLoss    = prometheus.NewDesc("swav_train_loss", "SwAV loss of the latest training step.", nil, nil)
	descLR      = prometheus.NewDesc("swav_train_learning_rate", "Learning rate of the latest training step.", nil, nil)
	// The process's S3 traffic, from the gauges ingest publishes on the
	// stages that reach S3 (ingest.GaugeS3Requests, ...).
	descS3 = map[string]*prometheus.Desc{
		"s3_requests": prometheus.NewDesc("pipeline_s3_requests_total", "HTTP requests sent to S3 (every retry attempt counts).", nil, nil),
		"s3_failed":   prometheus.NewDesc("pipeline_s3_request_failures_total", "S3 requests that failed (connection error, 5xx, 429, 503 SlowDown) and were retried or ended the operation.", nil, nil),
		"s3_resumed":  prometheus.NewDesc("pipeline_s3_resumed_reads_total", "Object reads resumed by byte range after a reset or a cut body.", nil, nil),
	}
)

// Exporter is a pipeline.Progress that keeps the latest Report for
// Prometheus (it is a prometheus.Collector) and forwards every call to the
// Progress it wraps (nil: none). Safe for concurrent use.
type Exporter struct {
	next pipeline.Progress

	mu   sync.Mutex
	last *pipeline.Report
}

// NewExporter wraps next (nil allowed).
func NewExporter(next pipeline.Progress) *Exporter { return &Exporter{next: next} }

// Start implements pipeline.Progress.
func (e *Exporter) Start(stages []pipeline.StageInfo) {
	if e.next != nil {
		e.next.Start(stages)
	}
}

// Update implements pipeline.Progress.
func (e *Exporter) Update(r *pipeline.Report) {
	e.set(r)
	if e.next != nil {
		e.next.Update(r)
	}
}

// Finish implements pipeline.Progress.
func (e *Exporter) Finish(r *pipeline.Report) {
	e.set(r)
	if e.next != nil {
		e.next.Finish(r)
	}
}

func (e *Exporter) set(r *pipeline.Report) {
	e.mu.Lock()
	e.last = r
	e.mu.Unlock()
}

// Describe implements prometheus.Collector (an unchecked collector: the
// stages and gauges are known only once a run starts).
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector from the latest Report.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	r := e.last
	e.mu.Unlock()
	if r == nil {
		return
	}
	c := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	c(descWall, prometheus.GaugeValue, r.Wall.Seconds())
	s3 := map[string]float64{} // process-wide: the largest value any stage saw
	for _, s := range r.Stages {
		c(descItems, prometheus.CounterValue, float64(s.ItemsIn), s.Name, "in")
		c(descItems, prometheus.CounterValue, float64(s.ItemsOut), s.Name, "out")
		c(descBytes, prometheus.CounterValue, float64(s.BytesIn), s.Name, "in")
		c(descBytes, prometheus.CounterValue, float64(s.BytesOut), s.Name, "out")
		c(descBusy, prometheus.CounterValue, s.Busy.Seconds(), s.Name)
		c(descWait, prometheus.CounterValue, s.WaitIn.Seconds(), s.Name, "in")
		c(descWait, prometheus.CounterValue, s.WaitOut.Seconds(), s.Name, "out")
		c(descWorkers, prometheus.GaugeValue, float64(s.Workers), s.Name)
		for name, v := range s.Gauges {
			c(descGauge, prometheus.GaugeValue, v, s.Name, name)
			switch name {
			case "loss":
				c(descLoss, prometheus.GaugeValue, v)
			case "lr":
				c(descLR, prometheus.GaugeValue, v)
			}
			if _, ok := descS3[name]; ok {
				s3[name] = max(s3[name], v)
			}
		}
	}
	for name, v := range s3 {
		c(descS3[name], prometheus.CounterValue, v)
	}
	for class, n := range r.Skipped {
		c(descSkipped, prometheus.CounterValue, float64(n), class)
	}
}

// Registry returns a registry holding e and the process and Go collectors.
func (e *Exporter) Registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(e, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return reg
}

// Serve serves reg on addr ("127.0.0.1:9102", ":9102") at /metrics until ctx
// ends; it returns the address it listens on once listening. The server's
// goroutine is owned by the returned WaitGroup-like stop function, which
// shuts it down and waits.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry) (bound string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	var wg conc.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("metrics server stopped", "addr", ln.Addr().String(), "err", err)
		}
	})
	done := make(chan struct{})
	wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-done:
		}
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	})
	var once sync.Once
	return ln.Addr().String(), func() { once.Do(func() { close(done) }); wg.Wait() }, nil
}

// Pusher pushes a registry to a Pushgateway under job name and grouping
// labels (rank), every interval while a run goes on and once at the end.
type Pusher struct {
	p *push.Pusher
}

// NewPusher prepares pushes of reg to url ("http://host:9091") as job.
func NewPusher(url, job string, grouping map[string]string, reg prometheus.Gatherer) *Pusher {
	p := push.New(strings.TrimSuffix(url, "/"), job).Gatherer(reg)
	for k, v := range grouping {
		p = p.Grouping(k, v)
	}
	return &Pusher{p: p}
}

// Push replaces the group's metrics on the gateway with reg's (PUT).
func (p *Pusher) Push(ctx context.Context) error {
	if err := p.p.PushContext(ctx); err != nil {
		return fmt.Errorf("metrics: push: %w", err)
	}
	return nil
}

// Every pushes every interval until stop is called (errors are reported to
// onErr and do not stop the pushes); stop waits for the goroutine.
func (p *Pusher) Every(ctx context.Context, interval time.Duration, onErr func(error)) (stop func()) {
	done := make(chan struct{})
	var wg conc.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-t.C:
				if err := p.Push(ctx); err != nil && onErr != nil {
					onErr(err)
				}
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done) }); wg.Wait() }
}

// LastSuccess is the gauge pipeline_job_last_success_timestamp_seconds, the
// Prometheus convention for batch jobs: set it on success before the last push.
func LastSuccess(reg *prometheus.Registry) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "pipeline_job_last_success_timestamp_seconds",
		Help: "When the job last finished successfully (Unix seconds)."})
	reg.MustRegister(g)
	return g
}

// Config is the job's metrics section.
type Config struct {
	// PushURL is a Pushgateway ("http://host:9091") the run pushes its
	// metrics to every PushInterval and at the end ("": no push).
	PushURL string `yaml:"push_url"`
	// PushInterval is the period of the pushes during the run.
	PushInterval time.Duration `yaml:"push_interval"`
	// JobName is the Pushgateway's job label ("": "pipeline_" + the job kind).
	JobName string `yaml:"job_name"`
}

// DefaultConfig returns the typed defaults.
func DefaultConfig() Config { return Config{PushInterval: 30 * time.Second} }

// Validate checks the section (fields relative to "metrics").
func (c *Config) Validate() error {
	if c.PushURL != "" && !strings.HasPrefix(c.PushURL, "http://") && !strings.HasPrefix(c.PushURL, "https://") {
		return field.Errorf("push_url", "must be an http:// or https:// URL, got %q", c.PushURL)
	}
	if c.PushInterval <= 0 {
		return field.Errorf("push_interval", "must be positive, got %s", c.PushInterval)
	}
	return nil
}
