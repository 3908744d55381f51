package main

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
	"github.com/spf13/cobra"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/bench"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/parquet"
	"github.com/swavgo/swav/stages/extract"
	"github.com/swavgo/swav/stages/quickstart" // also registers the "quickstart" job kind
	"github.com/swavgo/swav/train"
)

// benchExtractOptions are the knobs of `pipeline bench extract`.
type benchExtractOptions struct {
	images, shardSize int
	arch              string
	rows, dim         int
	rounds            int
	dir               string
	embed             embedOptions
}

func newBenchExtractCmd() *cobra.Command {
	o := benchExtractOptions{images: 2000, shardSize: 500, arch: "small", rows: 1_000_000, dim: 128, rounds: 4,
		embed: embedOptions{batch: 16, steps: 5, python: "/usr/bin/python3"}}
	cmd := &cobra.Command{
		Use:   "extract",
		Short: "Extraction throughput (images/s, stall breakdown) and Parquet write throughput vs a plain pqarrow loop",
		Long: `extract writes Fashion-MNIST test images as local shards, extracts
trunk features with the untrained network of --arch on the CPU backend and
prints images/s with the engine's per-stage busy/wait breakdown. It then writes
--rows rows of --dim floats (key, label, feature) through the feature sink and
through a plain arrow-go pqarrow write loop (builders, one record per row
group, the same writer properties), alternating --rounds times, and reports
rows/s and MB/s of both (best round). The last line is
"RATIO parquet <ours/plain>" (throughput ratio; 1 means as fast).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchExtract(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.images, "images", o.images, "images extracted (Fashion-MNIST test split)")
	f.IntVar(&o.shardSize, "shard-size", o.shardSize, "images per shard")
	f.StringVar(&o.arch, "arch", o.arch, "network: small, resnet18, resnet34 or resnet50 (small stem)")
	f.IntVar(&o.rows, "rows", o.rows, "rows of the Parquet write benchmark")
	f.IntVar(&o.dim, "dim", o.dim, "floats per row of the Parquet write benchmark")
	f.IntVar(&o.rounds, "rounds", o.rounds, "alternating rounds of the Parquet write benchmark (best reported)")
	f.StringVar(&o.dir, "dir", "", "scratch folder (default: a temp folder, removed afterwards)")
	f.IntVar(&o.embed.size, "size", 0, "also time the trunk's forward alone at this size against ../shared/bench/ref_embed.py (RATIO embed; needs --arch resnet18|34|50)")
	f.IntVar(&o.embed.batch, "batch", o.embed.batch, "images per forward of the embed benchmark")
	f.IntVar(&o.embed.steps, "steps", o.embed.steps, "timed forwards of the embed benchmark (median)")
	f.IntVar(&o.embed.threads, "threads", 0, "threads of both sides of the embed benchmark (0: all cores)")
	f.StringVar(&o.embed.python, "python", o.embed.python, "the interpreter with PyTorch (embed anchor)")
	f.StringVar(&o.embed.shared, "shared", "", "the shared reference folder (default ../shared from the repository root)")
	return cmd
}

func init() { addCommand(benchCmd, newBenchExtractCmd()) }

func runBenchExtract(ctx context.Context, w io.Writer, o benchExtractOptions) error {
	dir := o.dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "bench-extract-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if err := benchEmbed(ctx, w, o.arch, o.embed); err != nil {
		return err
	}
	if err := benchExtraction(ctx, w, dir, o); err != nil {
		return err
	}
	return benchParquet(ctx, w, dir, o)
}

// benchExtraction times shards → transform → embed → Parquet.
func benchExtraction(ctx context.Context, w io.Writer, dir string, o benchExtractOptions) error {
	shards, err := quickstart.MakeShards(ctx, filepath.Join(dir, "cache"), "test", o.images, o.shardSize)
	if err != nil {
		return err
	}
	job := configs.Default()
	job.Job = extract.JobKind
	job.Data.Shards = []string{shards.Local()}
	job.Augment.Eval = augment.EvalConfig{Resize: 28, Crop: 28}
	job.Augment.Mean = []float64{0.286, 0.286, 0.286}
	job.Augment.Std = []float64{0.353, 0.353, 0.353}
	job.Train.Model = train.ModelConfig{Arch: o.arch, SmallStem: o.arch != "small", HiddenMLP: 256, FeatDim: 64, Prototypes: 100}
	job.Extract.Checkpoint = sinks.CheckpointInit
	job.Extract.Output = filepath.Join(dir, "features")
	job.Extract.BatchSize = 256
	m, err := extract.OpenModel(ctx, &job)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "extraction: %d Fashion-MNIST images (28 px) in %d shards, %s trunk (dim %d), cpu backend, GOMAXPROCS %d\n",
		shards.Images, shards.Count, o.arch, m.Layout.Dim, runtime.GOMAXPROCS(0))
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
func benchParquet(ctx context.Context, w io.Writer, dir string, o benchExtractOptions) error {
	keys := make([]string, o.rows)
	labels := make([]int64, o.rows)
	feats := make([]float32, o.rows*o.dim)
	for i := range keys {
		keys[i] = fmt.Sprintf("sample-%08d", i)
		labels[i] = int64(i % 1000)
	}
	for i := range feats {
		feats[i] = float32(i%9973) * 0.001
	}
	mb := float64(len(feats)*4+len(labels)*8) / 1e6
	fmt.Fprintf(w, "parquet: %d rows x %d float32 (%.0f MB of values), snappy, row groups of 8192\n", o.rows, o.dim, mb)
	var bestOurs, bestPlain time.Duration
	for r := range o.rounds {
		// Alternate which goes first, so neither always meets a cold cache.
		var ours, plain time.Duration
		var err error
		runOurs := func() { ours, err = timeOurs(ctx, dir, keys, labels, feats, o.dim) }
		runPlain := func() { plain, err = timePlain(dir, keys, labels, feats, o.dim) }
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
		fmt.Fprintf(w, "  %-22s %8.0f rows/s %8.1f MB/s\n", x.name, float64(o.rows)/x.d.Seconds(), mb/x.d.Seconds())
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
