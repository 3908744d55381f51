package augmentbench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/internal/repo"
)

// TestRunWithFakeReference runs the whole benchmark on the augment test
// JPEGs with a stand-in reference script printing the real script's format,
// and checks the figures and the last line.
func TestRunWithFakeReference(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"dec_color.jpg", "dec_gray.jpg", "dec_cmyk.jpg"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "augment", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(t.TempDir(), "ref.sh")
	ref := `echo "PIL 9.4.0 torch 1.13 torchvision 0.14.1a0 threads 1"
echo "(c) PIL decode only                 wall   840.0 img/s | per CPU-second   850.0 img/s (  1.18 CPU-ms/img)"
echo "(d) torchvision SwAV 2x224+6x96     wall    48.0 img/s | per CPU-second    50.0 img/s ( 20.00 CPU-ms/img)"
`
	if err := os.WriteFile(script, []byte(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	o := Default()
	o.Images, o.Python, o.Reference = dir, "/bin/sh", script
	o.Rounds, o.Repeats, o.BatchSize = 1, 1, 2
	var out bytes.Buffer
	res, err := Run(context.Background(), &out, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "RATIO augment ") || res.Ratio <= 0 {
		t.Fatalf("last line %q, ratio %v", last, res.Ratio)
	}
	if len(res.Reference) != 2 || res.Reference[1].CPUPerSec != 50 {
		t.Fatalf("reference figures %+v", res.Reference)
	}
	if res.BytesPerSample["float32"] != 1867776 || res.BytesPerSample["uint8"] != 466944 {
		t.Fatalf("bytes per sample %v", res.BytesPerSample)
	}
	if len(res.Ours) != 5 {
		t.Fatalf("%d figures of ours", len(res.Ours))
	}
}

func TestRunErrors(t *testing.T) {
	o := Default()
	o.Images, o.Python = t.TempDir(), "none"
	if _, err := Run(context.Background(), &bytes.Buffer{}, o); err == nil || !strings.Contains(err.Error(), "no .jpg") {
		t.Fatalf("empty folder: %v", err)
	}
	o.Images = filepath.Join(t.TempDir(), "missing")
	if _, err := Run(context.Background(), &bytes.Buffer{}, o); err == nil {
		t.Fatal("missing folder accepted")
	}
}

// BenchmarkPipelinePerCore is the bench's per-core measurement (source ->
// augment (1 worker) -> batch -> sink, float32 crops) as a Go benchmark, for
// profiling: go test -run X -bench PipelinePerCore -cpuprofile cpu.prof.
// Run it with GOMAXPROCS=1. One op is one image.
func BenchmarkPipelinePerCore(b *testing.B) {
	shared, err := repo.Shared()
	if err != nil {
		b.Skip(err)
	}
	blobs, names, err := loadImages(filepath.Join(shared, "bench", "images"))
	if err != nil {
		b.Skip(err)
	}
	o := Default()
	o.Rounds = max(1, b.N/len(blobs))
	b.ResetTimer()
	c0 := cpuTime()
	if _, err := runRecipe(context.Background(), blobs, names, o, 1, "float32"); err != nil {
		b.Fatal(err)
	}
	n := o.Rounds * len(blobs)
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(n), "cpu-ns/img")
	b.ReportMetric(float64(n)/(cpuTime()-c0).Seconds(), "img/cpu-s")
}
