// Package demo is the `demo` job: a real run of the engine over a folder of
// local files, with no model. The chain is
//
//	walk (Source: file paths, Total known) -> read (file bytes, 2 workers)
//	-> decode (SHA-256 + image decode, N workers) -> summary (Sink)
//
// and the sink writes <out>/demo_summary.json. A file that is not an image
// (or cannot be read) is listed in the summary with its error; it does not
// stop the run.
package demo

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	_ "image/gif"  // decoders for image.Decode
	_ "image/jpeg" // decoders for image.Decode
	_ "image/png"  // decoders for image.Decode
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	_ "golang.org/x/image/webp" // decoder for image.Decode

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/stages"
)

// SummaryFile is the name of the summary the demo writes in job.Out.
const SummaryFile = "demo_summary.json"

// JobKind is the job kind this package registers.
const JobKind = "demo"

func init() {
	stages.Register(JobKind, stages.Kind{
		Build:    Build,
		Sections: []string{configs.SectionMetrics},
		Settings: DefaultConfig(),
	})
}

// Build lists the files of demo.dir and returns the demo chain. It fails
// when the folder cannot be walked or holds no file.
func Build(_ context.Context, job *configs.Job) ([]pipeline.Spec, error) {
	cfg := SettingsOf(job)
	files, err := listFiles(cfg.Dir)
	if err != nil {
		return nil, field.Errorf("demo.dir", "%v", err)
	}
	if len(files) == 0 {
		return nil, field.Errorf("demo.dir", "folder %q holds no file", cfg.Dir)
	}
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	total := int64(len(files) * cfg.Passes)
	return []pipeline.Spec{
		{Name: "walk", Source: &walker{files: files, passes: cfg.Passes}, Total: total, Buffer: 64},
		{Name: "read", Processor: reader{}, Workers: 2, Buffer: 2 * workers, Total: total},
		{Name: "decode", Processor: decoder{full: cfg.Decode}, Workers: workers, Buffer: 64, Total: total},
		{Name: "summary", Sink: &summarizer{path: filepath.Join(job.Out, SummaryFile), dir: cfg.Dir, passes: cfg.Passes}, Total: total},
	}, nil
}

// listFiles returns the regular files under dir, sorted.
func listFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", dir, err)
	}
	slices.Sort(files)
	return files, nil
}

// walker emits every file path, passes times.
type walker struct {
	files  []string
	passes int
}

func (w *walker) Run(ctx context.Context, emit pipeline.Emit) error {
	for pass := range w.passes {
		pipeline.SetStatus(ctx, fmt.Sprintf("pass %d/%d", pass+1, w.passes))
		for _, f := range w.files {
			if err := emit(ctx, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// file is a file's content on its way to the decoder.
type file struct {
	path string
	data []byte
	err  error // read error, reported in the summary
}

func (f file) SizeBytes() int64 { return int64(len(f.data)) }

// reader reads whole files.
type reader struct{}

func (reader) Process(ctx context.Context, item any, emit pipeline.Emit) error {
	path := item.(string)
	data, err := os.ReadFile(path)
	return emit(ctx, file{path: path, data: data, err: err})
}

// result is what the decoder learnt about one file.
type result struct {
	Path   string  `json:"path"`
	Bytes  int64   `json:"bytes"`
	SHA256 string  `json:"sha256,omitempty"`
	Format string  `json:"format,omitempty"`
	Width  int     `json:"width,omitempty"`
	Height int     `json:"height,omitempty"`
	Luma   float64 `json:"mean_luma,omitempty"` // 0..255, full decode only
	Err    string  `json:"error,omitempty"`
}

func (r result) SizeBytes() int64 { return r.Bytes }

// decoder hashes each file and decodes it (fully or its header only).
type decoder struct{ full bool }

func (d decoder) Process(ctx context.Context, item any, emit pipeline.Emit) error {
	f := item.(file)
	res := result{Path: f.path, Bytes: int64(len(f.data))}
	if f.err != nil {
		res.Err = f.err.Error()
		return emit(ctx, res)
	}
	sum := sha256.Sum256(f.data)
	res.SHA256 = hex.EncodeToString(sum[:])
	var err error
	if d.full {
		var img image.Image
		if img, res.Format, err = image.Decode(bytes.NewReader(f.data)); err == nil {
			b := img.Bounds()
			res.Width, res.Height, res.Luma = b.Dx(), b.Dy(), meanLuma(img)
		}
	} else {
		var c image.Config
		if c, res.Format, err = image.DecodeConfig(bytes.NewReader(f.data)); err == nil {
			res.Width, res.Height = c.Width, c.Height
		}
	}
	if err != nil {
		res.Err = fmt.Sprintf("%s: not a decodable image: %v", f.path, err)
	}
	return emit(ctx, res)
}

// meanLuma is the mean ITU-R 601 luma of img, in 0..255.
func meanLuma(img image.Image) float64 {
	b := img.Bounds()
	if yc, ok := img.(*image.YCbCr); ok { // JPEG: the Y plane is the luma
		var sum uint64
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := yc.Y[yc.YOffset(b.Min.X, y) : yc.YOffset(b.Max.X-1, y)+1]
			for _, v := range row {
				sum += uint64(v)
			}
		}
		return float64(sum) / float64(max(b.Dx()*b.Dy(), 1))
	}
	var sum float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			sum += (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
		}
	}
	return sum / float64(max(b.Dx()*b.Dy(), 1))
}

// Summary is the content of demo_summary.json.
type Summary struct {
	Dir      string         `json:"dir"`
	Passes   int            `json:"passes"`
	Files    int            `json:"files"`
	Bytes    int64          `json:"bytes"`
	Decoded  int            `json:"decoded"`
	Formats  map[string]int `json:"formats"`
	MinSize  [2]int         `json:"min_size"` // width, height
	MaxSize  [2]int         `json:"max_size"`
	MeanLuma float64        `json:"mean_luma,omitempty"`
	// Digest is the SHA-256 of the sorted per-file digests: equal folders
	// give equal digests whatever the order the workers finished in.
	Digest string   `json:"digest"`
	Failed []result `json:"failed"`
}

// summarizer aggregates results and writes the summary when its input ends.
type summarizer struct {
	path, dir string
	passes    int
	results   []result
}

func (s *summarizer) Consume(ctx context.Context, item any) error {
	s.results = append(s.results, item.(result))
	if len(s.results)%50 == 0 {
		pipeline.SetStatus(ctx, fmt.Sprintf("%d files", len(s.results)))
	}
	return nil
}

// Flush writes the summary atomically (temporary file, then rename).
func (s *summarizer) Flush(ctx context.Context, _ pipeline.Emit) error {
	sum := summarize(s.dir, s.passes, s.results)
	pipeline.SetStatus(ctx, fmt.Sprintf("%d files, %d decoded, %d failed", sum.Files, sum.Decoded, len(sum.Failed)))
	data, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("summary folder: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return os.Rename(tmp, s.path)
}

// summarize folds the per-file results.
func summarize(dir string, passes int, results []result) Summary {
	slices.SortFunc(results, func(a, b result) int { return cmp.Compare(a.Path, b.Path) })
	sum := Summary{Dir: dir, Passes: passes, Files: len(results), Formats: map[string]int{}, Failed: []result{}}
	digests := sha256.New()
	var luma float64
	for _, r := range results {
		sum.Bytes += r.Bytes
		digests.Write([]byte(r.SHA256))
		if r.Err != "" {
			sum.Failed = append(sum.Failed, r)
			continue
		}
		sum.Decoded++
		sum.Formats[r.Format]++
		luma += r.Luma
		if sum.Decoded == 1 {
			sum.MinSize, sum.MaxSize = [2]int{r.Width, r.Height}, [2]int{r.Width, r.Height}
		}
		sum.MinSize = [2]int{min(sum.MinSize[0], r.Width), min(sum.MinSize[1], r.Height)}
		sum.MaxSize = [2]int{max(sum.MaxSize[0], r.Width), max(sum.MaxSize[1], r.Height)}
	}
	if sum.Decoded > 0 {
		sum.MeanLuma = luma / float64(sum.Decoded)
	}
	sum.Digest = hex.EncodeToString(digests.Sum(nil))
	return sum
}
