package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/swavgo/swav/train/cpu"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/train/torchtest"
	"github.com/swavgo/swav/train/weights"
)

// torchWeights is the fixture script of package train/weights.
var torchWeights = filepath.Join("..", "..", "train", "weights", "testdata", "torch_weights.py")

// jpegFolder copies the first n shared benchmark JPEGs into an image folder
// (one class) and returns it; it skips the test when they are absent.
func jpegFolder(t *testing.T, n int) string {
	t.Helper()
	src := filepath.Join("..", "..", "..", "shared", "bench", "images")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Skipf("benchmark JPEGs not available: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "images")
	if err := os.MkdirAll(filepath.Join(dir, "c0"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries[:n] {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "c0", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// imagenetJob is the check of issue 12: extraction of a published-layout
// ResNet-50 over a JPEG folder with the ImageNet evaluation transform.
func imagenetJob(images, out, file, feature string) *configs.Job {
	job := testJob(images, out, file)
	job.Data.Format = "folder"
	job.Augment.Eval.Resize, job.Augment.Eval.Crop = 256, 224
	job.Augment.Mean = []float64{0.485, 0.456, 0.406}
	job.Augment.Std = []float64{0.229, 0.224, 0.225}
	cpu.Edit(&job.Train).Threads = 0
	Edit(job).Arch = "resnet50"
	Edit(job).Feature = feature
	Edit(job).BatchSize = 4
	return job
}

// TestExtractPyTorchResNet50 extracts a seeded ResNet-50 that PyTorch saved
// in facebookresearch/swav's layout (zip format) and as a torchvision trunk
// (legacy format) and compares the Parquet features with PyTorch's eval
// forward of the same JPEGs in float32 (cosine >= 0.9999 per image from
// our float32 engine, >= 0.999 from our bf16 one, issue 24's bar); then the
// torchvision export must load into torchvision.models.resnet50() with
// strict=True and give back PyTorch's tensors exactly.
func TestExtractPyTorchResNet50(t *testing.T) {
	if testing.Short() {
		t.Skip("ResNet-50 at 224 px: seconds of PyTorch and of our engine")
	}
	torchtest.Require(t)
	const n = 4
	images := jpegFolder(t, n)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, layout, format, feature, precision string
	}{
		{"swav zip, trunk", "swav", "zip", "trunk", "float32"},
		{"swav zip, trunk, bf16", "swav", "zip", "trunk", "bf16"},
		{"swav zip, projection", "swav", "zip", "projection", "float32"},
		{"torchvision legacy, trunk", "torchvision", "legacy", "trunk", "float32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.layout+"-"+tc.format+".pth")
			if _, err := os.Stat(file); err != nil {
				torchtest.Run(t, torchWeights, "make", "--arch", "resnet50", "--layout", tc.layout, "--format", tc.format,
					"--seed", "5", "--hidden-mlp", "256", "--feat-dim", "32", "--prototypes", "50", "--out", file)
			}
			refPath := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
			torchtest.Run(t, torchWeights, "features", "--weights", file, "--arch", "resnet50", "--images", filepath.Join(images, "c0"),
				"--n", fmt.Sprint(n), "--resize", "256", "--crop", "224", "--feature", tc.feature, "--out", refPath)
			ref := readTorchFeatures(t, refPath)
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "_"))
			job := imagenetJob(images, out, file, tc.feature)
			cpu.Edit(&job.Train).Precision = tc.precision
			res, err := run(t, job)
			if err != nil {
				t.Fatal(err)
			}
			_ = res
			feats, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{}, out)
			if err != nil {
				t.Fatal(err)
			}
			if feats.Rows() != n || feats.Dim != ref.Dim {
				t.Fatalf("%d rows of dim %d, PyTorch %d of dim %d", feats.Rows(), feats.Dim, len(ref.Names), ref.Dim)
			}
			for i, key := range feats.Keys {
				j := indexOfName(ref.Names, key)
				if j < 0 {
					t.Fatalf("key %q not among PyTorch's images %v", key, ref.Names)
				}
				want := 0.9999
				if tc.precision == "bf16" {
					want = 0.999
				}
				if c := cosine(feats.Data[i*feats.Dim:(i+1)*feats.Dim], ref.Features[j]); c < want {
					t.Errorf("%s: cosine %.6f with PyTorch's float32 features, want >= %v (%s)", key, c, want, tc.precision)
				} else {
					t.Logf("%s: cosine %.6f with PyTorch's float32 features (%s)", key, c, tc.precision)
				}
			}
			if tc.layout == "torchvision" {
				exported := filepath.Join(dir, "export.safetensors")
				if _, err := weights.ExportTo(context.Background(), file, exported, weights.LayoutTorchvision, store.Config{}); err != nil {
					t.Fatal(err)
				}
				torchtest.Run(t, torchWeights, "check-export", "--safetensors", exported, "--reference", file,
					"--layout", "torchvision", "--arch", "resnet50")
			}
		})
	}
}

// torchFeatures is what torch_weights.py features writes: the images' file
// names and their feature rows.
type torchFeatures struct {
	Names    []string    `json:"names"`
	Dim      int         `json:"dim"`
	Features [][]float64 `json:"features"`
}

// readTorchFeatures reads torch_weights.py features' JSON file.
func readTorchFeatures(t *testing.T, path string) torchFeatures {
	t.Helper()
	var ref torchFeatures
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// indexOfName finds the image whose file name the Parquet key ends with.
func indexOfName(names []string, key string) int {
	for i, n := range names {
		if key == n || strings.HasSuffix(key, "/"+n) || strings.TrimSuffix(n, filepath.Ext(n)) == filepath.Base(key) {
			return i
		}
	}
	return -1
}

func cosine(a []float32, b []float64) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * b[i]
		na += float64(a[i]) * float64(a[i])
		nb += b[i] * b[i]
	}
	return dot / math.Sqrt(na*nb)
}

// TestExtractPyTorchWideResNet50 is issue 26's check of the wide networks:
// a ResNet-50 w2 that PyTorch built as facebookresearch/swav's
// src/resnet50.py does and saved in its layout is read as resnet50w2 (the
// width inferred from the shapes), extracts the features PyTorch computes
// (cosine >= 0.9999; two 64-px images keep the 94M-parameter network
// cheap), and exports back in the swav layout bit for bit.
func TestExtractPyTorchWideResNet50(t *testing.T) {
	if testing.Short() {
		t.Skip("a 377 MB ResNet-50 w2 fixture")
	}
	torchtest.Require(t)
	const n = 2
	images := jpegFolder(t, n)
	dir := t.TempDir()
	file := filepath.Join(dir, "w2.pth")
	torchtest.Run(t, torchWeights, "make", "--arch", "resnet50w2", "--layout", "swav", "--format", "zip",
		"--seed", "7", "--hidden-mlp", "64", "--feat-dim", "16", "--prototypes", "10", "--out", file)
	refPath := filepath.Join(dir, "ref.json")
	torchtest.Run(t, torchWeights, "features", "--weights", file, "--arch", "resnet50w2", "--images", filepath.Join(images, "c0"),
		"--n", fmt.Sprint(n), "--resize", "64", "--crop", "64", "--out", refPath)
	ref := readTorchFeatures(t, refPath)
	out := filepath.Join(dir, "out")
	job := imagenetJob(images, out, file, "trunk")
	Edit(job).Arch = "resnet50w2"
	job.Augment.Eval.Resize, job.Augment.Eval.Crop = 64, 64
	if _, err := run(t, job); err != nil {
		t.Fatal(err)
	}
	feats, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{}, out)
	if err != nil {
		t.Fatal(err)
	}
	if feats.Rows() != n || feats.Dim != 4096 || ref.Dim != 4096 {
		t.Fatalf("%d rows of dim %d, PyTorch %d of dim %d, want 4096", feats.Rows(), feats.Dim, len(ref.Names), ref.Dim)
	}
	for i, key := range feats.Keys {
		j := indexOfName(ref.Names, key)
		if j < 0 {
			t.Fatalf("key %q not among PyTorch's images %v", key, ref.Names)
		}
		if c := cosine(feats.Data[i*feats.Dim:(i+1)*feats.Dim], ref.Features[j]); c < 0.9999 {
			t.Errorf("%s: cosine %.6f with PyTorch's features, want >= 0.9999", key, c)
		}
	}
	exported := filepath.Join(dir, "export.safetensors")
	if _, err := weights.ExportTo(context.Background(), file, exported, weights.LayoutSwAV, store.Config{}); err != nil {
		t.Fatal(err)
	}
	torchtest.Run(t, torchWeights, "check-export", "--safetensors", exported, "--reference", file,
		"--layout", "swav", "--arch", "resnet50w2")
}
