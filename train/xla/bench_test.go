package xla

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swavgo/swav/train"
)

// benchBackends keeps one compiled backend per configuration for the whole
// benchmark run (the testing package calls a benchmark several times; the
// XLA compilation of ResNet-50 must happen once).
var (
	benchMu       sync.Mutex
	benchBackends = map[string]*Backend{}
)

// benchSettings reads the benchmark's configuration from the environment:
// SWAV_BENCH_MODEL (small|resnet18|resnet50, default small),
// SWAV_BENCH_BATCH (default 8), SWAV_BENCH_CROPS (SIZExCOUNT,..., default
// 16x2), SWAV_BENCH_BF16 (non-empty: bf16), SWAV_BENCH_DEVICES (default 1,
// like the single-GPU PyTorch anchor; 0: all, data-parallel) and
// PJRT_PLUGIN (default: the pure-Go engine). The model widths are
// ref_train_step.py's.
func benchSettings(b *testing.B) (train.Config, *train.StepInput) {
	cfg := train.DefaultConfig()
	cfg.Backend = "xla"
	Edit(&cfg).PJRTPlugin = conformanceEngine()
	cfg.SwAV.FreezePrototypesIters = 0
	arch := envOr("SWAV_BENCH_MODEL", "small")
	switch arch {
	case "small":
		cfg.Model = train.ModelConfig{Arch: arch, HiddenMLP: 128, FeatDim: 32, Prototypes: 100}
	default:
		cfg.Model = train.ModelConfig{Arch: arch, HiddenMLP: 2048, FeatDim: 128, Prototypes: 3000}
	}
	if os.Getenv("SWAV_BENCH_BF16") != "" {
		Edit(&cfg).Precision = "bf16"
	}
	batch, err := strconv.Atoi(envOr("SWAV_BENCH_BATCH", "8"))
	if err != nil || batch < 1 {
		b.Fatalf("SWAV_BENCH_BATCH: %q is not a positive integer", os.Getenv("SWAV_BENCH_BATCH"))
	}
	cfg.BatchSize = batch
	devices, err := strconv.Atoi(envOr("SWAV_BENCH_DEVICES", "1"))
	if err != nil || devices < 0 {
		b.Fatalf("SWAV_BENCH_DEVICES: %q is not a device count", os.Getenv("SWAV_BENCH_DEVICES"))
	}
	Edit(&cfg).Devices = devices
	var sizes [][2]int
	for _, spec := range strings.Split(envOr("SWAV_BENCH_CROPS", "16x2"), ",") {
		var size, count int
		if _, err := fmt.Sscanf(spec, "%dx%d", &size, &count); err != nil || size < 1 || count < 1 {
			b.Fatalf("SWAV_BENCH_CROPS: bad group %q (want SIZExCOUNT)", spec)
		}
		sizes = append(sizes, [2]int{size, count})
	}
	in := randomInput(1, batch, sizes...)
	in.Iter = 1000
	return cfg, in
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// BenchmarkStep measures one full SwAV step (forward of every crop, Sinkhorn,
// loss, backward, LARS) on the configured engine after two warm-up steps
// (the first compiles). It prints a line in ref_train_step.py's format so
// .ci/gpu-check.sh can put the two side by side.
func BenchmarkStep(b *testing.B) {
	cfg, in := benchSettings(b)
	key := fmt.Sprintf("%+v/%+v/%d", cfg.Model, SettingsOf(&cfg).Precision, SettingsOf(&cfg).Devices)
	benchMu.Lock()
	backend, ok := benchBackends[key]
	if !ok {
		var err error
		start := time.Now()
		if backend, err = New(cfg, 1); err != nil {
			benchMu.Unlock()
			b.Fatal(err)
		}
		for range 2 {
			if _, err := backend.Step(context.Background(), in); err != nil {
				benchMu.Unlock()
				b.Fatal(err)
			}
		}
		fmt.Printf("xla compile+2 warm-up steps: %.1fs on %s\n", time.Since(start).Seconds(), backend.Engine())
		benchBackends[key] = backend
	}
	benchMu.Unlock()
	ctx := context.Background()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := backend.Step(ctx, in); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(times)
	median := times[len(times)/2]
	b.ReportMetric(float64(in.Batch)/median.Seconds(), "images/s")
	b.ReportMetric(float64(median.Microseconds())/1000, "median-ms/step")
	crops := make([]string, len(in.Groups))
	for i, g := range in.Groups {
		crops[i] = fmt.Sprintf("%dx%d", g.Size, g.Count)
	}
	fmt.Printf("xla engine=%q precision=%s model=%s batch=%d crops=%s steps=%d median_step=%.1fms images/s=%.1f\n",
		backend.Engine(), Edit(&cfg).Precision, cfg.Model.Arch, in.Batch, strings.Join(crops, ","), b.N,
		float64(median.Microseconds())/1000, float64(in.Batch)/median.Seconds())
}
