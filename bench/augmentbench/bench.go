// Package augmentbench is `pipeline bench augment`: the SwAV multi-crop
// recipe (2x224 + 6x96) through the real augment stages, Arrow batch
// assembly included, on the shared benchmark JPEGs, against the PyTorch
// reference ../shared/bench/ref_multicrop.py measured in the same run.
package augmentbench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sourcegraph/conc/pool"
	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/bench"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/internal/repo"
	"github.com/swavgo/swav/pipeline"
	stagesaugment "github.com/swavgo/swav/stages/augment"
)

// Options of one benchmark run.
type Options struct {
	// Images is the folder of JPEGs ("": ../shared/bench/images from the
	// repository root).
	Images string
	// Rounds is how many times each measurement goes over the images.
	Rounds int
	// RefRounds is the reference script's rounds argument.
	RefRounds int
	// Python runs the reference ("" or "none": skip it; no RATIO line).
	Python string
	// Reference is the reference script ("": beside Images' parent).
	Reference string
	// Repeats alternates the reference and our per-core run this many times;
	// the machine is shared, so each side's best run is compared.
	Repeats int
	// BatchSize is B of the Arrow batches.
	BatchSize int
	// Seed of the crops.
	Seed int64
}

// Default returns the options of `make bench-augment`.
func Default() Options {
	return Options{Rounds: 2, RefRounds: 1, Repeats: 3, Python: "/usr/bin/python3", BatchSize: 32, Seed: 31}
}

// Figure is one measurement: images per wall second and per CPU second.
type Figure struct {
	Name       string
	Images     int
	WallPerSec float64
	CPUPerSec  float64
}

// Result holds every figure of a run.
type Result struct {
	Ours      []Figure
	Reference []Figure
	// Ratio is our full recipe per CPU-second at GOMAXPROCS=1 over the
	// reference's per CPU-second, best run of each (0 when the reference did
	// not run).
	Ratio          float64
	BytesPerSample map[string]int
}

func loadImages(dir string) ([][]byte, []string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("augmentbench: images: %w", err)
	}
	var blobs [][]byte
	var names []string
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(strings.ToLower(e.Name()), ".jpg") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, fmt.Errorf("augmentbench: %w", err)
		}
		blobs = append(blobs, b)
		names = append(names, e.Name())
	}
	if len(blobs) == 0 {
		return nil, nil, fmt.Errorf("augmentbench: no .jpg files in %s", dir)
	}
	return blobs, names, nil
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs f with GOMAXPROCS procs and returns its figure for n images.
func measure(name string, procs, n int, f func() error) (Figure, error) {
	prev := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(prev)
	runtime.GC()
	t0, c0 := time.Now(), cpuTime()
	if err := f(); err != nil {
		return Figure{}, fmt.Errorf("%s: %w", name, err)
	}
	wall, cpu := time.Since(t0).Seconds(), (cpuTime() - c0).Seconds()
	return Figure{Name: name, Images: n, WallPerSec: float64(n) / wall, CPUPerSec: float64(n) / cpu}, nil
}

// decodeAll decodes every blob rounds times with `workers` goroutines.
func decodeAll(ctx context.Context, blobs [][]byte, rounds, workers int) error {
	p := pool.New().WithContext(ctx).WithMaxGoroutines(workers).WithCancelOnError()
	for w := range workers {
		p.Go(func(ctx context.Context) error {
			img := new(augment.Image)
			for r := range rounds {
				for i := w; i < len(blobs); i += workers {
					if _, err := augment.Decode(img, blobs[i], augment.DefaultMaxPixels); err != nil {
						return fmt.Errorf("round %d image %d: %w", r, i, err)
					}
				}
			}
			return nil
		})
	}
	return p.Wait()
}

// sliceSource emits the samples of rounds epochs over the blobs.
type sliceSource struct {
	blobs  [][]byte
	names  []string
	rounds int
}

func (s *sliceSource) Run(ctx context.Context, emit pipeline.Emit) error {
	var seq int64
	for r := range s.rounds {
		for i, b := range s.blobs {
			smp := &ingest.Sample{Key: s.names[i], Shard: "bench", Ext: "jpg", Data: b, Label: int64(i % 10), Pos: ingest.Position{Epoch: r, Seq: seq}}
			seq++
			if err := emit(ctx, smp); err != nil {
				return err
			}
		}
	}
	return nil
}

// countSink releases the batches and counts their rows and bytes.
type countSink struct {
	rows, batches int
	bytes         int64
}

func (c *countSink) Consume(_ context.Context, item any) error {
	b, ok := item.(*augment.Batch)
	if !ok {
		return fmt.Errorf("sink: got %T", item)
	}
	c.rows += b.Rows()
	c.batches++
	c.bytes += b.SizeBytes()
	b.Release()
	return nil
}

// runRecipe runs source -> augment (workers) -> batch -> sink.
func runRecipe(ctx context.Context, blobs [][]byte, names []string, o Options, workers int, dtype string) (*countSink, error) {
	cfg := augment.DefaultConfig()
	cfg.Workers = workers
	cfg.DType = dtype
	cfg.DropLast = false
	crop, batch, err := stagesaugment.NewStages(stagesaugment.Options{Config: cfg, Seed: o.Seed, BatchSize: o.BatchSize})
	if err != nil {
		return nil, err
	}
	sink := &countSink{}
	specs := []pipeline.Spec{{Name: "source", Source: &sliceSource{blobs: blobs, names: names, rounds: o.Rounds}, Buffer: 4}, crop, batch, {Name: "sink", Sink: sink}}
	if _, err := pipeline.Run(ctx, specs, pipeline.Options{}); err != nil {
		return nil, err
	}
	if want := o.Rounds * len(blobs); sink.rows != want {
		return nil, fmt.Errorf("batches hold %d rows, want %d", sink.rows, want)
	}
	return sink, nil
}

var refLine = regexp.MustCompile(`^\(([a-z']+)\)\s+(.*?)\s+wall\s+([0-9.]+) img/s \| per CPU-second\s+([0-9.]+) img/s`)

// runReference runs the PyTorch anchor and parses its figures.
func runReference(ctx context.Context, o Options, images string, log io.Writer) ([]Figure, error) {
	cmd := exec.CommandContext(ctx, o.Python, o.Reference, images, strconv.Itoa(o.RefRounds))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("reference %s: %w: %s", o.Reference, err, strings.TrimSpace(stderr.String()))
	}
	var figs []Figure
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(log, "  ref>", line)
		m := refLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		wall, _ := strconv.ParseFloat(m[3], 64)
		cpu, _ := strconv.ParseFloat(m[4], 64)
		figs = append(figs, Figure{Name: "(" + m[1] + ") " + m[2], WallPerSec: wall, CPUPerSec: cpu})
	}
	if len(figs) == 0 {
		return nil, fmt.Errorf("reference %s: no figures in its output:\n%s", o.Reference, out)
	}
	return figs, nil
}

// Run runs the benchmark and writes its report to w; the last line is
// "RATIO augment <ours per core / reference per core>" when the reference ran.
func Run(ctx context.Context, w io.Writer, o Options) (*Result, error) {
	if o.Images == "" {
		shared, err := repo.Shared()
		if err != nil {
			return nil, fmt.Errorf("augmentbench: %w", err)
		}
		o.Images = filepath.Join(shared, "bench", "images")
	}
	if o.Reference == "" {
		o.Reference = filepath.Join(filepath.Dir(filepath.Clean(o.Images)), "ref_multicrop.py")
	}
	if o.Rounds < 1 || o.BatchSize < 1 {
		return nil, fmt.Errorf("augmentbench: rounds and batch size must be at least 1")
	}
	blobs, names, err := loadImages(o.Images)
	if err != nil {
		return nil, err
	}
	res := &Result{BytesPerSample: map[string]int{}}
	cores := runtime.NumCPU()
	n := o.Rounds * len(blobs)
	fmt.Fprintf(w, "augment benchmark: %d JPEGs from %s x %d rounds, recipe 2x224+6x96, batch %d, JPEG decoder %s, %d cores\n",
		len(blobs), o.Images, o.Rounds, o.BatchSize, augment.DecoderName(), cores)

	runRef := o.Python != "" && o.Python != "none"
	perCore := func() error {
		_, err := runRecipe(ctx, blobs, names, o, 1, augment.DTypeFloat32)
		return err
	}
	// Alternate the reference and our per-core figure; keep each side's best.
	var refBest []Figure
	var oursBest Figure
	for rep := range max(1, o.Repeats) {
		if runRef {
			fmt.Fprintf(w, "reference run %d: %s %s %s %d\n", rep+1, o.Python, o.Reference, o.Images, o.RefRounds)
			figs, err := runReference(ctx, o, o.Images, w)
			if err != nil {
				return nil, err
			}
			for i, f := range figs {
				if i >= len(refBest) {
					refBest = append(refBest, f)
				} else if f.CPUPerSec > refBest[i].CPUPerSec {
					refBest[i] = f
				}
			}
		}
		f, err := measure("full recipe + Arrow batches, GOMAXPROCS=1", 1, n, perCore)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "ours run %d: %s: %.1f img/s wall, %.1f img/s per CPU-s\n", rep+1, f.Name, f.WallPerSec, f.CPUPerSec)
		if f.CPUPerSec > oursBest.CPUPerSec {
			oursBest = f
		}
	}
	res.Reference = refBest
	steps := []struct {
		name  string
		procs int
		run   func() error
	}{
		{"decode only, GOMAXPROCS=1", 1, func() error { return decodeAll(ctx, blobs, o.Rounds, 1) }},
		{fmt.Sprintf("decode only, GOMAXPROCS=%d", cores), cores, func() error { return decodeAll(ctx, blobs, o.Rounds, cores) }},
		{fmt.Sprintf("full recipe + Arrow batches, GOMAXPROCS=%d", cores), cores, func() error {
			_, err := runRecipe(ctx, blobs, names, o, cores, augment.DTypeFloat32)
			return err
		}},
		{fmt.Sprintf("full recipe, uint8 batches, GOMAXPROCS=%d", cores), cores, func() error {
			_, err := runRecipe(ctx, blobs, names, o, cores, augment.DTypeUint8)
			return err
		}},
	}
	res.Ours = append(res.Ours, oursBest)
	for _, s := range steps {
		f, err := measure(s.name, s.procs, n, s.run)
		if err != nil {
			return nil, err
		}
		res.Ours = append(res.Ours, f)
	}
	cfg := augment.DefaultConfig()
	for _, dt := range []string{augment.DTypeFloat32, augment.DTypeUint8} {
		elem := 4
		if dt == augment.DTypeUint8 {
			elem = 1
		}
		total := 0
		for _, g := range cfg.Crops {
			total += g.Count * 3 * g.Size * g.Size * elem
		}
		res.BytesPerSample[dt] = total
	}

	fmt.Fprintf(w, "\n%-48s %12s %16s   (reference and ours at GOMAXPROCS=1: best of %d alternating runs)\n", "measurement", "img/s wall", "img/s per CPU-s", max(1, o.Repeats))
	for _, f := range res.Reference {
		fmt.Fprintf(w, "%-48s %12.1f %16.1f\n", "reference "+f.Name, f.WallPerSec, f.CPUPerSec)
	}
	for _, f := range res.Ours {
		fmt.Fprintf(w, "%-48s %12.1f %16.1f\n", "ours "+f.Name, f.WallPerSec, f.CPUPerSec)
	}
	keys := make([]string, 0, len(res.BytesPerSample))
	for k := range res.BytesPerSample {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "bytes per sample in a batch (%s crops): %d\n", k, res.BytesPerSample[k])
	}
	var ref *Figure
	for i := range res.Reference {
		if strings.HasPrefix(res.Reference[i].Name, "(d)") {
			ref = &res.Reference[i]
		}
	}
	if ref == nil {
		fmt.Fprintln(w, "reference not run: no RATIO")
		return res, nil
	}
	ours := res.Ours[0]
	res.Ratio = ours.CPUPerSec / ref.CPUPerSec
	fmt.Fprintf(w, "per core (per CPU-second, GOMAXPROCS=1 vs the 1-thread reference): ours %.1f img/s, reference %.1f img/s\n", ours.CPUPerSec, ref.CPUPerSec)
	bench.Ratio(w, "augment", res.Ratio)
	return res, nil
}
