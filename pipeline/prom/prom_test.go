package prom_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/pipeline/prom"
)

// TestServeReport serves the latest report of a run and reads it back in
// Prometheus' text format.
func TestServeReport(t *testing.T) {
	e := prom.NewExporter(nil)
	e.Update(&pipeline.Report{Wall: 3 * time.Second, Skipped: map[string]int{"corrupt": 2},
		Stages: []pipeline.StageReport{{Name: "train", Workers: 1, ItemsIn: 7, Busy: 2 * time.Second,
			Gauges: map[string]float64{"loss": 4.25, "lr": 0.3}},
			{Name: "read", Workers: 1, Gauges: map[string]float64{"s3_requests": 40, "s3_failed": 3, "s3_resumed": 2}},
			{Name: "write", Workers: 1, Gauges: map[string]float64{"s3_requests": 41, "s3_failed": 3, "s3_resumed": 2}}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, stop, err := prom.Serve(ctx, "127.0.0.1:0", e.Registry())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`pipeline_stage_items_total{direction="in",stage="train"} 7`, `pipeline_stage_busy_seconds_total{stage="train"} 2`,
		`pipeline_skipped_samples_total{class="corrupt"} 2`, "swav_train_loss 4.25", "swav_train_learning_rate 0.3", "go_goroutines",
		"pipeline_s3_requests_total 41", "pipeline_s3_request_failures_total 3", "pipeline_s3_resumed_reads_total 2"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := prom.DefaultConfig()
	c.PushURL = "pushgateway:9091"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "push_url") {
		t.Fatalf("a URL without scheme: %v", err)
	}
}
