package ingest

import (
	"context"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/pipeline"
)

// The engine gauges the store's S3 counters (store.S3Counters) are published
// under, on the stage whose context made the request (pipeline/prom exports
// them as pipeline_s3_requests_total, pipeline_s3_request_failures_total and
// pipeline_s3_resumed_reads_total).
const (
	GaugeS3Requests = "s3_requests"
	GaugeS3Failed   = "s3_failed"
	GaugeS3Resumed  = "s3_resumed"
)

// The store only counts; ingest, linked into every binary that runs stages,
// turns each count into the engine's gauges.
func init() { store.ObserveS3(publishS3) }

func publishS3(ctx context.Context, st store.S3Stats) {
	pipeline.SetGauge(ctx, GaugeS3Requests, float64(st.Requests))
	pipeline.SetGauge(ctx, GaugeS3Failed, float64(st.Failed))
	pipeline.SetGauge(ctx, GaugeS3Resumed, float64(st.Resumed))
}
