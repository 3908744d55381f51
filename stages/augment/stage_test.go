package augment

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/pipeline"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sampleSource emits fixed samples.
type sampleSource struct{ samples []*ingest.Sample }

func (s *sampleSource) Run(ctx context.Context, emit pipeline.Emit) error {
	for _, smp := range s.samples {
		c := *smp
		if err := emit(ctx, &c); err != nil {
			return err
		}
	}
	return nil
}

// batchSink records what the batches hold and releases them.
type batchSink struct {
	rows    []string // "epoch/key/label/hash"
	sizes   []int
	last    []any
	skipped []string
}

func (s *batchSink) Consume(_ context.Context, item any) error {
	b := item.(*augment.Batch)
	defer b.Release()
	keys, labels := b.Keys(), b.Labels()
	hashes := make([]uint64, b.Rows())
	for c := range b.NumCrops() {
		shape, err := b.CropShape(c)
		if err != nil {
			return err
		}
		n := shape[0] * shape[1] * shape[2]
		var vals []float32
		if b.DType() == augment.DTypeFloat32 {
			if vals, err = b.CropFloat32(c); err != nil {
				return err
			}
		} else {
			u, err := b.CropUint8(c)
			if err != nil {
				return err
			}
			for _, v := range u {
				vals = append(vals, float32(v))
			}
		}
		for r := range b.Rows() {
			h := fnv.New64a()
			for _, v := range vals[r*n : (r+1)*n] {
				bits := math.Float32bits(v)
				h.Write([]byte{byte(bits), byte(bits >> 8), byte(bits >> 16), byte(bits >> 24)})
			}
			hashes[r] ^= h.Sum64() * uint64(c+1)
		}
	}
	for r := range b.Rows() {
		s.rows = append(s.rows, fmt.Sprintf("%d/%s/%d/%x", b.Epoch, keys[r], labels[r], hashes[r]))
	}
	s.sizes = append(s.sizes, b.Rows())
	s.last = append(s.last, b.Last)
	s.skipped = append(s.skipped, b.Skipped...)
	return nil
}

func testdataSample(t *testing.T, name string, epoch int, seq int64) *ingest.Sample {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "augment", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return &ingest.Sample{Key: fmt.Sprintf("%s#%d", name, seq), Shard: "shard-0", Ext: strings.TrimPrefix(filepath.Ext(name), "."),
		Data: data, Label: seq % 3, Pos: ingest.Position{Epoch: epoch, Seq: seq}}
}

var goodImages = []string{"dec_color.jpg", "dec_gray.png", "dec_lossless.webp", "dec_cmyk.jpg", "src.png", "dec_pal.png", "dec_gray.jpg", "dec_rgba.png"}

func smallConfig() augment.Config {
	cfg := augment.DefaultConfig()
	cfg.Crops = []augment.CropGroupConfig{{Size: 24, Count: 2, MinScale: 0.14, MaxScale: 1}, {Size: 12, Count: 3, MinScale: 0.05, MaxScale: 0.14}}
	return cfg
}

type runResult struct {
	sink *batchSink
	bp   *BatchProcessor
	err  error
}

func runChain(t *testing.T, cfg augment.Config, batch int, samples []*ingest.Sample) runResult {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	crop, bspec, err := NewStages(Options{Config: cfg, Seed: 31, BatchSize: batch, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	sink := &batchSink{}
	specs := []pipeline.Spec{{Name: "source", Source: &sampleSource{samples: samples}}, crop, bspec, {Name: "sink", Sink: sink}}
	_, err = pipeline.Run(context.Background(), specs, pipeline.Options{})
	return runResult{sink: sink, bp: bspec.Processor.(*BatchProcessor), err: err}
}

func TestBatchesDoNotDependOnWorkers(t *testing.T) {
	var samples []*ingest.Sample
	for i := range 20 {
		samples = append(samples, testdataSample(t, goodImages[i%len(goodImages)], i/10, int64(i)))
	}
	var first []string
	for _, dtype := range []string{augment.DTypeFloat32, augment.DTypeUint8} {
		for _, workers := range []int{1, 3} {
			cfg := smallConfig()
			cfg.Workers, cfg.DType = workers, dtype
			res := runChain(t, cfg, 4, samples)
			if res.err != nil {
				t.Fatal(res.err)
			}
			// 10 samples per epoch, batch 4, drop_last: 2 batches per epoch.
			if got := fmt.Sprint(res.sink.sizes); got != "[4 4 4 4]" {
				t.Fatalf("%s workers %d: batch sizes %s", dtype, workers, got)
			}
			if p := res.sink.last[1].(ingest.Position); p != (ingest.Position{Epoch: 0, Seq: 7}) {
				t.Fatalf("batch 1 Last = %+v", p)
			}
			if res.bp.Dropped() != 4 {
				t.Fatalf("dropped %d, want 4 (2 per epoch)", res.bp.Dropped())
			}
			if workers == 1 {
				first = res.sink.rows
				continue
			}
			if fmt.Sprint(res.sink.rows) != fmt.Sprint(first) {
				t.Fatalf("%s: workers 1 and %d differ:\n%v\n%v", dtype, workers, first, res.sink.rows)
			}
		}
	}
}

func TestPartialBatchesWithoutDropLast(t *testing.T) {
	var samples []*ingest.Sample
	for i := range 10 {
		samples = append(samples, testdataSample(t, goodImages[i%len(goodImages)], 0, int64(i)))
	}
	cfg := smallConfig()
	cfg.DropLast = false
	res := runChain(t, cfg, 4, samples)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if got := fmt.Sprint(res.sink.sizes); got != "[4 4 2]" {
		t.Fatalf("batch sizes %s", got)
	}
}

// badSamples are one of each bad input the stage must survive.
func badSamples(t *testing.T) []*ingest.Sample {
	jpg := testdataSample(t, "dec_color.jpg", 0, 0).Data
	return []*ingest.Sample{
		{Key: "zero-byte", Shard: "s", Data: nil},
		{Key: "text", Shard: "s", Data: []byte("not an image at all")},
		{Key: "truncated", Shard: "s", Data: jpg[:len(jpg)/2]},
		{Key: "corrupt", Shard: "s", Data: append(append([]byte(nil), jpg[:300]...), make([]byte, 500)...)},
		{Key: "oversized", Shard: "s", Data: jpg},
	}
}

func TestSkippedSamplesWithinBudget(t *testing.T) {
	var samples []*ingest.Sample
	for i := range 6 {
		samples = append(samples, testdataSample(t, goodImages[i], 0, int64(i)))
	}
	bad := badSamples(t)
	for i, b := range bad {
		b.Pos = ingest.Position{Seq: int64(10 + i)}
	}
	samples = append(samples, bad...)
	cfg := smallConfig()
	cfg.MaxPixels = 80*60 - 1 // the 80x60 JPEG "oversized" (and dec_color.jpg) go over it
	cfg.SkipBudget = 20
	cfg.DropLast = false
	res := runChain(t, cfg, 3, samples)
	if res.err != nil {
		t.Fatal(res.err)
	}
	skipped := strings.Join(res.bp.Skipped(), "\n")
	for _, want := range []string{"zero-byte (s): zero-byte", "text (s): not-an-image", "truncated (s): ", "corrupt (s): corrupt", "oversized (s): oversized"} {
		if !strings.Contains(skipped, want) {
			t.Errorf("skipped list lacks %q:\n%s", want, skipped)
		}
	}
	// 5 bad samples and the three 80x60 images over the pixel limit; the
	// batches carry those skipped before their last row.
	if n := len(res.bp.Skipped()); n != 8 {
		t.Errorf("skipped %d samples, want 8:\n%s", n, skipped)
	}
	if len(res.sink.skipped) == 0 || len(res.sink.skipped) > len(res.bp.Skipped()) {
		t.Errorf("batches carry %d skipped entries, processor %d", len(res.sink.skipped), len(res.bp.Skipped()))
	}
}

func TestSkipBudgetExceededNamesTheSample(t *testing.T) {
	samples := []*ingest.Sample{testdataSample(t, "src.png", 0, 0)}
	samples = append(samples, badSamples(t)[:3]...)
	cfg := smallConfig()
	cfg.SkipBudget = 2
	res := runChain(t, cfg, 2, samples)
	if !errors.Is(res.err, ingest.ErrSkipBudget) {
		t.Fatalf("error %v, want ingest.ErrSkipBudget", res.err)
	}
	if !strings.Contains(res.err.Error(), `"truncated"`) {
		t.Fatalf("error %q does not name the sample", res.err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := smallConfig()
	cfg.DType = "float64"
	if _, _, err := NewStages(Options{Config: cfg, BatchSize: 4}); err == nil {
		t.Fatal("bad dtype accepted")
	}
	if _, _, err := NewStages(Options{Config: smallConfig(), BatchSize: 0}); err == nil {
		t.Fatal("batch size 0 accepted")
	}
}
