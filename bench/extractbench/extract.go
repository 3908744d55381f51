// Package extractbench is `pipeline bench extract`: the trunk's forward
// alone against ../shared/bench/ref_embed.py (RATIO embed), a whole
// extraction of Fashion-MNIST shards with the engine's stall breakdown, and
// the feature sink's Parquet writes against a plain pqarrow loop (RATIO
// parquet).
package extractbench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/bench"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/sinks/parquet"
	"github.com/swavgo/swav/stages/extract"
	"github.com/swavgo/swav/stages/quickstart" // also registers the "quickstart" job kind
	"github.com/swavgo/swav/train"
)

// Options are the settings of `pipeline bench extract` (its flags).
type Options struct {
	// Images are the Fashion-MNIST test images extracted, ShardSize per shard.
	Images, ShardSize int
	// Arch is the network: small, resnet18, resnet34 or resnet50.
	Arch string
	// Rows and Dim shape the Parquet write benchmark; Rounds its
	// alternating rounds (best reported).
	Rows, Dim, Rounds int
	// Dir is the scratch folder ("": a temp folder, removed afterwards).
	Dir string
	// Embed is the forward-only benchmark (Size 0 skips it).
	Embed EmbedOptions
}

// Default returns the command's defaults.
func Default() Options {
	return Options{Images: 2000, ShardSize: 500, Arch: "small", Rows: 1_000_000, Dim: 128, Rounds: 4,
		Embed: EmbedOptions{Batch: 16, Steps: 5, Python: "/usr/bin/python3", Precision: "best"}}
}

// Run runs the three parts (the embed forward when o.Embed.Size is set,
// the extraction, the Parquet writes) and writes their reports to w, each
// ending with its RATIO line. It blocks for about a minute per part.
func Run(ctx context.Context, w io.Writer, o Options) error {
	dir, done, err := bench.ScratchDir(o.Dir, "bench-extract-*")
	if err != nil {
		return err
	}
	defer done()
	if err := benchEmbed(ctx, w, o.Arch, o.Embed); err != nil {
		return err
	}
	if err := benchExtraction(ctx, w, dir, o); err != nil {
		return err
	}
	return benchParquet(ctx, w, dir, o)
}

// benchExtraction times shards → transform → embed → Parquet.
func benchExtraction(ctx context.Context, w io.Writer, dir string, o Options) error {
	shards, err := quickstart.MakeShards(ctx, filepath.Join(dir, "cache"), "test", o.Images, o.ShardSize)
	if err != nil {
		return err
	}
	job := configs.Default()
	job.Job = extract.JobKind
	job.Data.Shards = []string{shards.Local()}
	job.Augment.Eval = augment.EvalConfig{Resize: 28, Crop: 28}
	job.Augment.Mean = []float64{0.286, 0.286, 0.286}
	job.Augment.Std = []float64{0.353, 0.353, 0.353}
	job.Train.Model = train.ModelConfig{Arch: o.Arch, SmallStem: o.Arch != "small", HiddenMLP: 256, FeatDim: 64, Prototypes: 100}
	extract.Edit(&job).Checkpoint = extract.CheckpointInit
	extract.Edit(&job).Output = filepath.Join(dir, "features")
	extract.Edit(&job).BatchSize = 256
	m, err := extract.OpenModel(ctx, &job)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "extraction: %d Fashion-MNIST images (28 px) in %d shards, %s trunk (dim %d), cpu backend, GOMAXPROCS %d\n",
		shards.Images, shards.Count, o.Arch, m.Layout.Dim, runtime.GOMAXPROCS(0))
	start := time.Now()
	res, err := extract.Run(ctx, &job, m, pipeline.Options{})
	if err != nil {
		return err
	}
	wall := time.Since(start)
	fmt.Fprintf(w, "extraction: %d images in %s = %.1f images/s (%d files)\n", res.Rows, wall.Round(time.Millisecond),
		float64(res.Rows)/wall.Seconds(), len(res.Files))
	res.Report.WriteTable(w)
	fmt.Fprintln(w)
	return nil
}

// benchParquet alternates our sink and the plain loop on the same rows.
func benchParquet(ctx context.Context, w io.Writer, dir string, o Options) error {
	keys := make([]string, o.Rows)
	labels := make([]int64, o.Rows)
	feats := make([]float32, o.Rows*o.Dim)
	for i := range keys {
		keys[i] = fmt.Sprintf("sample-%08d", i)
		labels[i] = int64(i % 1000)
	}
	for i := range feats {
		feats[i] = float32(i%9973) * 0.001
	}
	mb := float64(len(feats)*4+len(labels)*8) / 1e6
	fmt.Fprintf(w, "parquet: %d rows x %d float32 (%.0f MB of values), snappy, row groups of 8192\n", o.Rows, o.Dim, mb)
	var bestOurs, bestPlain time.Duration
	for r := range o.Rounds {
		// Alternate which goes first, so neither always meets a cold cache.
		var ours, plain time.Duration
		var err error
		runOurs := func() { ours, err = timeOurs(ctx, dir, keys, labels, feats, o.Dim) }
		runPlain := func() { plain, err = timePlain(dir, keys, labels, feats, o.Dim) }
		order := []func(){runOurs, runPlain}
		if r%2 == 1 {
			order = []func(){runPlain, runOurs}
		}
		for _, f := range order {
			if f(); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "  round %d: ours %s, plain loop %s\n", r+1, ours.Round(time.Millisecond), plain.Round(time.Millisecond))
		if bestOurs == 0 || ours < bestOurs {
			bestOurs = ours
		}
		if bestPlain == 0 || plain < bestPlain {
			bestPlain = plain
		}
	}
	for _, x := range []struct {
		name string
		d    time.Duration
	}{{"ours (sinks/parquet)", bestOurs}, {"plain pqarrow loop", bestPlain}} {
		fmt.Fprintf(w, "  %-22s %8.0f rows/s %8.1f MB/s\n", x.name, float64(o.Rows)/x.d.Seconds(), mb/x.d.Seconds())
	}
	bench.Ratio(w, "parquet", bestPlain.Seconds()/bestOurs.Seconds())
	return nil
}

// timeOurs writes the rows through the feature sink, 256 rows per Append
// (an extraction batch).
func timeOurs(ctx context.Context, dir string, keys []string, labels []int64, feats []float32, dim int) (time.Duration, error) {
	outDir := filepath.Join(dir, "ours")
	os.RemoveAll(outDir)
	start := time.Now()
	out, err := parquet.OpenOutput(ctx, outDir, store.Config{})
	if err != nil {
		return 0, err
	}
	defer out.Close()
	fw, err := parquet.Create(ctx, out, "bench.parquet", parquet.Metadata{Layout: parquet.Layout{Kind: "bench", Dim: dim}}, parquet.WriterOptions{})
	if err != nil {
		return 0, err
	}
	for lo := 0; lo < len(keys); lo += 256 {
		hi := min(len(keys), lo+256)
		if err := fw.Append(keys[lo:hi], labels[lo:hi], feats[lo*dim:hi*dim]); err != nil {
			fw.Abort()
			return 0, err
		}
	}
	if err := fw.Commit(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// timePlain is the anchor: the textbook pqarrow loop with array builders.
func timePlain(dir string, keys []string, labels []int64, feats []float32, dim int) (time.Duration, error) {
	path := filepath.Join(dir, "plain.parquet")
	defer os.Remove(path)
	start := time.Now()
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	props, err := parquet.WriterOptions{}.Props()
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	mem := memory.DefaultAllocator
	schema := parquet.Schema(dim)
	fw, err := pqarrow.NewFileWriter(schema, bw, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return 0, err
	}
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	kb := rb.Field(0).(*array.StringBuilder)
	lb := rb.Field(1).(*array.Int64Builder)
	fb := rb.Field(2).(*array.FixedSizeListBuilder)
	vb := fb.ValueBuilder().(*array.Float32Builder)
	const group = 8192
	flush := func() error {
		rec := rb.NewRecordBatch()
		defer rec.Release()
		return fw.Write(rec)
	}
	for i := range keys {
		kb.Append(keys[i])
		lb.Append(labels[i])
		fb.Append(true)
		vb.AppendValues(feats[i*dim:(i+1)*dim], nil)
		if (i+1)%group == 0 {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if len(keys)%group != 0 {
		if err := flush(); err != nil {
			return 0, err
		}
	}
	if err := fw.Close(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
