package weights_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/torchtest"
	"github.com/swavgo/swav/train/weights"
)

const torchWeights = "testdata/torch_weights.py"

// TestPyTorchFiles reads files that PyTorch wrote (both torch.save formats,
// safetensors in float32, float16 and bfloat16; facebookresearch/swav's and
// torchvision's layouts, one with several prototype heads, one with the
// 3x3 stem), checks the inferred architecture, exports each as safetensors
// and has PyTorch check the export: loadable into torchvision with
// strict=True (torchvision layout) and equal, bit for bit, to what
// torch.load reads from the original (floats widened to float32).
func TestPyTorchFiles(t *testing.T) {
	torchtest.Require(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, layout, format, dtype string
		extra                       []string
		want                        train.ModelConfig
		export                      string
	}{
		{"swav zip", "swav", "zip", "f32", nil, train.ModelConfig{Arch: "resnet18", HiddenMLP: 64, FeatDim: 16, Prototypes: 30}, weights.LayoutSwAV},
		{"swav legacy, 3 prototype heads", "swav", "legacy", "f32", []string{"--nmb-prototypes", "3"}, train.ModelConfig{Arch: "resnet18", HiddenMLP: 64, FeatDim: 16, Prototypes: 30}, weights.LayoutTorchvision},
		{"swav safetensors bf16", "swav", "safetensors", "bf16", nil, train.ModelConfig{Arch: "resnet18", HiddenMLP: 64, FeatDim: 16, Prototypes: 30}, weights.LayoutSwAV},
		{"torchvision legacy", "torchvision", "legacy", "f32", nil, train.ModelConfig{Arch: "resnet18"}, weights.LayoutTorchvision},
		{"torchvision zip f16, small stem", "torchvision", "zip", "f16", []string{"--small-stem"}, train.ModelConfig{Arch: "resnet18", SmallStem: true}, weights.LayoutTorchvision},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.layout+"-"+tc.format+"-"+tc.dtype+".pth")
			if tc.format == "safetensors" {
				file = filepath.Join(dir, tc.layout+"-"+tc.dtype+".safetensors")
			}
			args := append([]string{"make", "--arch", "resnet18", "--layout", tc.layout, "--format", tc.format, "--dtype", tc.dtype,
				"--seed", "3", "--hidden-mlp", "64", "--feat-dim", "16", "--prototypes", "30", "--out", file}, tc.extra...)
			torchtest.Run(t, torchWeights, args...)
			f, err := weights.Read(context.Background(), file, store.Config{})
			if err != nil {
				t.Fatal(err)
			}
			im, err := weights.Import(f)
			if err != nil {
				t.Fatal(err)
			}
			if im.Model != tc.want {
				t.Fatalf("inferred %+v, want %+v", im.Model, tc.want)
			}
			if _, _, err := im.State(im.ModelFor(train.DefaultConfig().Model), 1); err != nil {
				t.Fatal(err)
			}
			exported := file + ".export.safetensors"
			if _, err := weights.ExportTo(context.Background(), file, exported, tc.export, store.Config{}); err != nil {
				t.Fatal(err)
			}
			check := []string{"check-export", "--safetensors", exported, "--reference", file, "--layout", tc.export, "--arch", "resnet18"}
			if tc.want.SmallStem {
				check = append(check, "--small-stem")
			}
			torchtest.Run(t, torchWeights, check...)
		})
	}
}
