package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/swavgo/swav/pipeline"
)

// runWith runs a short chain whose sink reports a status and a gauge.
func runWith(t *testing.T, p pipeline.Progress) *pipeline.Report {
	t.Helper()
	src := &counter{n: 30, onEmit: func(int) { time.Sleep(200 * time.Microsecond) }}
	rep, err := pipeline.Run(t.Context(), []pipeline.Spec{
		{Name: "count", Source: src, Total: 30},
		{Name: "double", Processor: procFunc(double), Workers: 2},
		{Name: "train", Sink: &gaugeSink{}},
	}, pipeline.Options{Progress: p, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestLogProgressWritesStructuredLines(t *testing.T) {
	var buf bytes.Buffer
	runWith(t, pipeline.NewLogProgress(slog.New(slog.NewJSONHandler(&buf, nil))))
	out := buf.String()
	for _, want := range []string{`"msg":"run started"`, `"msg":"progress"`, `"stage":"double"`, `"rate":`,
		`"busy":`, `"wait_in":`, `"wait_out":`, `"total":30`, `"msg":"run finished"`, `"bottleneck":`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if !strings.Contains(out, `loss=`) {
		t.Errorf("log lacks the gauges:\n%s", out)
	}
}

// TestLogProgressServesRunsInTurn: a second run through the same
// LogProgress (the quickstart's extractions) starts its rates afresh, not
// from the first run's counters and clock.
func TestLogProgressServesRunsInTurn(t *testing.T) {
	var buf bytes.Buffer
	p := pipeline.NewLogProgress(slog.New(slog.NewTextHandler(&buf, nil)))
	runWith(t, p)
	runWith(t, p)
	for line := range strings.Lines(buf.String()) {
		if strings.Contains(line, "rate=-") || strings.Contains(line, "e+") {
			t.Errorf("an impossible rate: %s", line)
		}
	}
}

func TestBarProgressDrawsEveryStage(t *testing.T) {
	var buf bytes.Buffer
	runWith(t, pipeline.NewBarProgress(&buf))
	out := buf.String()
	for _, want := range []string{"count", "double", "train", "30/30"} {
		if !strings.Contains(out, want) {
			t.Errorf("bars lack %q:\n%s", want, out)
		}
	}
}

func TestBarProgressAbortsOnError(t *testing.T) {
	var buf bytes.Buffer
	_, err := pipeline.Run(t.Context(), []pipeline.Spec{
		{Name: "count", Source: &counter{n: 10}},
		{Name: "sink", Sink: &collector{fail: func(any) error { return errBoom }}},
	}, pipeline.Options{Progress: pipeline.NewBarProgress(&buf)})
	if !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
}

func TestNewProgressModes(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		mode    string
		want    string
		wantErr bool
	}{
		{"auto", "*pipeline.LogProgress", false}, // a file is not a terminal
		{"log", "*pipeline.LogProgress", false},
		{"bar", "*pipeline.BarProgress", false},
		{"off", "<nil>", false},
		{"loud", "", true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			p, err := pipeline.NewProgress(tc.mode, f, nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if got := typeName(p); !tc.wantErr && got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	if pipeline.IsTerminal(f) || pipeline.IsTerminal(nil) {
		t.Error("a temp file is not a terminal")
	}
}

func typeName(p pipeline.Progress) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T", p)
}

func TestHardStopWhileDraining(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	stop := make(chan struct{})
	sink := &collector{fail: func(item any) error {
		if item.(int) == 5 {
			close(stop)                     // graceful stop requested...
			cancel(pipeline.ErrInterrupted) // ...then the second signal
		}
		return nil
	}}
	_, err := pipeline.Run(ctx, []pipeline.Spec{
		{Name: "count", Source: &counter{n: -1}},
		{Name: "sink", Sink: sink},
	}, pipeline.Options{Stop: stop})
	if !errors.Is(err, pipeline.ErrInterrupted) || !strings.Contains(err.Error(), "hard stop") {
		t.Fatalf("err = %v", err)
	}
}

func TestStoppedSourceErrorDoesNotFailTheDrain(t *testing.T) {
	stop := make(chan struct{})
	src := sourceFunc(func(ctx context.Context, emit pipeline.Emit) error {
		for i := 0; ; i++ {
			if i == 20 {
				close(stop)
			}
			if err := emit(ctx, i); err != nil {
				return fmt.Errorf("read shard 3 at byte 1234: %v", err) // %v: the context error is lost
			}
		}
	})
	sink := &collector{}
	_, err := pipeline.Run(t.Context(), []pipeline.Spec{
		{Name: "src", Source: src},
		{Name: "sink", Sink: sink},
	}, pipeline.Options{Stop: stop})
	if !errors.Is(err, pipeline.ErrInterrupted) || !strings.Contains(err.Error(), "shard 3") {
		t.Fatalf("err = %v", err)
	}
	if len(sink.items) < 20 {
		t.Fatalf("drained %d items", len(sink.items))
	}
}

func TestStageErrorDuringHardStopIsAnInterruption(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	sink := &collector{fail: func(item any) error {
		if item.(int) == 5 {
			cancel(pipeline.ErrInterrupted)
			return errors.New("write: connection reset") // not a context error
		}
		return nil
	}}
	_, err := pipeline.Run(ctx, []pipeline.Spec{
		{Name: "count", Source: &counter{n: -1}},
		{Name: "sink", Sink: sink},
	}, pipeline.Options{})
	if !errors.Is(err, pipeline.ErrInterrupted) || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v", err)
	}
}
