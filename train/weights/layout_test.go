package weights_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/model"
	"github.com/swavgo/swav/train/weights"
)

// fileOf is a File holding the network of cfg under rename's names (nil
// drops a tensor), values i+1 of every tensor's index i, and a
// num_batches_tracked per BatchNorm layer.
func fileOf(t *testing.T, cfg train.ModelConfig, rename func(ours string) string) *weights.File {
	t.Helper()
	arch, err := model.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &weights.File{Source: "fixture.pth", Format: weights.FormatTorchZip}
	for _, sec := range arch.Sections() {
		for _, l := range sec {
			for i, spec := range append(l.Params(), l.Buffers()...) {
				name := rename(spec.Name)
				if name == "" {
					continue
				}
				tn := weights.Tensor{Name: name, Shape: spec.Shape, DType: weights.F32, Float: make([]float32, numel(spec.Shape))}
				for j := range tn.Float {
					tn.Float[j] = float32(len(f.Tensors)*7+i+j) / 16
				}
				f.Tensors = append(f.Tensors, tn)
			}
			if l.Op == model.OpBatchNorm {
				if name := rename(l.Name + ".num_batches_tracked"); name != "" {
					f.Tensors = append(f.Tensors, weights.Tensor{Name: name, Shape: []int{}, DType: weights.I64, Int: []int64{int64(len(f.Tensors))}})
				}
			}
		}
	}
	return f
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// swavName is facebookresearch/swav's checkpoint name for one of ours:
// {"state_dict": {"module.conv1.weight": ...}}.
func swavName(ours string) string {
	name := strings.TrimPrefix(ours, "trunk.")
	if rest, ok := strings.CutPrefix(ours, "head"); ok {
		name = "projection_head" + rest
	}
	return "state_dict.module." + name
}

// torchvisionName is torchvision's name of a trunk tensor; head and
// prototypes are dropped.
func torchvisionName(ours string) string {
	name, ok := strings.CutPrefix(ours, "trunk.")
	if !ok {
		return ""
	}
	return name
}

func TestImportInfersLayoutAndArchitecture(t *testing.T) {
	withFC := func(f *weights.File) *weights.File {
		f.Tensors = append(f.Tensors,
			weights.Tensor{Name: "fc.weight", Shape: []int{10, 512}, DType: weights.F32, Float: make([]float32, 5120)},
			weights.Tensor{Name: "fc.bias", Shape: []int{10}, DType: weights.F32, Float: make([]float32, 10)})
		return f
	}
	r18 := train.ModelConfig{Arch: "resnet18", HiddenMLP: 64, FeatDim: 16, Prototypes: 30}
	r18small := train.ModelConfig{Arch: "resnet18", SmallStem: true, FeatDim: 8, Prototypes: 10}
	r8 := train.ModelConfig{Arch: "resnet8", HiddenMLP: 32, FeatDim: 16, Prototypes: 20}
	small := train.ModelConfig{Arch: "small", HiddenMLP: 32, FeatDim: 16, Prototypes: 20}
	for _, tc := range []struct {
		name            string
		file            *weights.File
		layout          string
		want            train.ModelConfig
		head, protos    bool
		ignored         int
		initialisedWant []string
	}{
		{"swav resnet18", fileOf(t, r18, swavName), weights.LayoutSwAV, r18, true, true, 0, nil},
		{"swav one-linear head, small stem", fileOf(t, r18small, swavName), weights.LayoutSwAV, r18small, true, true, 0, nil},
		{"torchvision resnet18", withFC(fileOf(t, r18, torchvisionName)), weights.LayoutTorchvision,
			train.ModelConfig{Arch: "resnet18"}, false, false, 2, []string{"head", "prototypes"}},
		{"ours resnet8", fileOf(t, r8, func(s string) string { return s }), weights.LayoutOurs, r8, true, true, 0, nil},
		{"ours small, DDP prefix", fileOf(t, small, func(s string) string { return "module." + s }), weights.LayoutOurs, small, true, true, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := weights.Import(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if im.Layout != tc.layout || im.Model != tc.want || im.HasHead != tc.head || im.HasPrototypes != tc.protos || len(im.Ignored) != tc.ignored {
				t.Fatalf("layout %s model %+v head %v prototypes %v ignored %v; want %s %+v %v %v %d",
					im.Layout, im.Model, im.HasHead, im.HasPrototypes, im.Ignored, tc.layout, tc.want, tc.head, tc.protos, tc.ignored)
			}
			cfg := im.ModelFor(r18)
			st, rep, err := im.State(cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rep.Initialised, tc.initialisedWant) || len(rep.Unused) != 0 {
				t.Errorf("report %+v", rep)
			}
			arch, _ := model.Build(cfg)
			if err := arch.CheckState(st); err != nil {
				t.Fatal(err)
			}
			// Every tensor the file has arrives unchanged.
			for _, p := range append(st.Params, st.Buffers...) {
				if src := im.Tensors[p.Name]; src != nil && !testutil.BitEqual(src.Float, p.Data) {
					t.Fatalf("%s not loaded as stored", p.Name)
				}
			}
		})
	}
}

func TestImportNestingAndMultiPrototypes(t *testing.T) {
	cfg := train.ModelConfig{Arch: "resnet8", HiddenMLP: 32, FeatDim: 16, Prototypes: 20}
	f := fileOf(t, cfg, func(s string) string {
		if s == "prototypes.weight" {
			return "model.teacher.prototypes.prototypes0.weight"
		}
		return "model.teacher." + strings.TrimPrefix(swavName(s), "state_dict.")
	})
	f.Tensors = append(f.Tensors,
		weights.Tensor{Name: "model.teacher.module.prototypes.prototypes1.weight", Shape: []int{50, 16}, DType: weights.F32, Float: make([]float32, 800)},
		weights.Tensor{Name: "optimizer.state.0.momentum_buffer", Shape: []int{3}, DType: weights.F32, Float: make([]float32, 3)})
	im, err := weights.Import(f)
	if err != nil {
		t.Fatal(err)
	}
	if im.Model != cfg || len(im.Ignored) != 2 ||
		!strings.Contains(im.Ignored[0], "prototypes1") && !strings.Contains(im.Ignored[1], "prototypes1") {
		t.Fatalf("model %+v ignored %v", im.Model, im.Ignored)
	}
}

func TestStateNamesTheFirstMismatch(t *testing.T) {
	fileCfg := train.ModelConfig{Arch: "resnet18", HiddenMLP: 64, FeatDim: 16, Prototypes: 30}
	im, err := weights.Import(fileOf(t, fileCfg, swavName))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  train.ModelConfig
		msg  string
	}{
		{"other hidden width", train.ModelConfig{Arch: "resnet18", HiddenMLP: 128, FeatDim: 16, Prototypes: 30},
			"state_dict.module.projection_head.0.weight: the resnet18 network expects shape [128 512], the file has [64 512]"},
		{"other stem", train.ModelConfig{Arch: "resnet18", SmallStem: true, HiddenMLP: 64, FeatDim: 16, Prototypes: 30},
			"state_dict.module.conv1.weight: the resnet18 (small stem) network expects shape [64 3 3 3], the file has [64 3 7 7]"},
		{"deeper network", train.ModelConfig{Arch: "resnet34", HiddenMLP: 64, FeatDim: 16, Prototypes: 30},
			"trunk tensors of the resnet34 network are missing: trunk.layer1.2.conv1.weight"},
		{"other architecture", train.ModelConfig{Arch: "resnet50", HiddenMLP: 64, FeatDim: 16, Prototypes: 30},
			"state_dict.module.layer1.0.conv1.weight: the resnet50 network expects shape [64 64 1 1], the file has [64 64 3 3]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := im.State(tc.cfg, 1)
			if !errors.Is(err, weights.ErrArchitecture) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "fixture.pth") {
				t.Fatalf("error %v, want ErrArchitecture naming fixture.pth and %q", err, tc.msg)
			}
		})
	}
	// Tensors the network does not have are listed.
	f := fileOf(t, fileCfg, swavName)
	f.Tensors = append(f.Tensors, weights.Tensor{Name: "state_dict.module.extra.weight", Shape: []int{2}, DType: weights.F32, Float: []float32{1, 2}})
	im, err = weights.Import(f)
	if err != nil {
		t.Fatal(err)
	}
	_, rep, err := im.State(fileCfg, 1)
	if err != nil || !slices.Equal(rep.Unused, []string{"state_dict.module.extra.weight"}) {
		t.Fatalf("report %+v, error %v", rep, err)
	}
}

func TestExportLayouts(t *testing.T) {
	cfg := train.ModelConfig{Arch: "resnet18", HiddenMLP: 64, FeatDim: 16, Prototypes: 30}
	src := fileOf(t, cfg, swavName)
	im, err := weights.Import(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, layout := range []string{weights.LayoutTorchvision, weights.LayoutSwAV} {
		out, err := im.Export(layout)
		if err != nil {
			t.Fatal(err)
		}
		// The export is the source, renamed: torchvision keeps the trunk.
		var want []string
		for _, tn := range src.Tensors {
			name := strings.TrimPrefix(tn.Name, "state_dict.module.")
			if layout == weights.LayoutTorchvision && (strings.HasPrefix(name, "projection_head") || strings.HasPrefix(name, "prototypes")) {
				continue
			}
			want = append(want, name)
			got := findTensor(out, name)
			if got == nil || !testutil.BitEqual(got.Float, tn.Float) || !slices.Equal(got.Int, tn.Int) || !slices.Equal(got.Shape, tn.Shape) {
				t.Fatalf("%s: %s exported as %+v", layout, name, got)
			}
		}
		if len(out) != len(want) {
			t.Fatalf("%s: %d tensors exported, want %d", layout, len(out), len(want))
		}
	}
	trunkOnly, err := weights.Import(fileOf(t, cfg, torchvisionName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trunkOnly.Export(weights.LayoutSwAV); err == nil || !strings.Contains(err.Error(), "only the trunk") {
		t.Fatalf("swav export of a trunk: %v", err)
	}
	r8, err := weights.Import(fileOf(t, train.ModelConfig{Arch: "resnet8", FeatDim: 8, Prototypes: 4}, swavName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r8.Export(weights.LayoutTorchvision); err == nil || !strings.Contains(err.Error(), "resnet8") {
		t.Fatalf("torchvision export of resnet8: %v", err)
	}
}

func findTensor(ts []weights.Tensor, name string) *weights.Tensor {
	for i := range ts {
		if ts[i].Name == name {
			return &ts[i]
		}
	}
	return nil
}

func ExampleImport() {
	f := &weights.File{Source: "swav_800ep_pretrain.pth.tar", Format: weights.FormatTorchZip}
	arch, _ := model.Build(train.ModelConfig{Arch: "resnet50", HiddenMLP: 2048, FeatDim: 128, Prototypes: 3000})
	for _, spec := range append(arch.Params(), arch.Buffers()...) {
		f.Tensors = append(f.Tensors, weights.Tensor{Name: swavName(spec.Name), Shape: spec.Shape, DType: weights.F32, Float: make([]float32, numel(spec.Shape))})
	}
	im, err := weights.Import(f)
	if err != nil {
		panic(err)
	}
	fmt.Println(im.Layout, im.Model.Arch, im.Model.HiddenMLP, im.Model.FeatDim, im.Model.Prototypes)
	// Output: swav resnet50 2048 128 3000
}

// TestImportInfersTheWidth: a bottleneck ResNet-50's width multiplier comes
// from its stem (facebookresearch/swav's resnet50w2/w4/w5 scale every width
// with it); a stem of no published width is ErrArchitecture naming it.
func TestImportInfersTheWidth(t *testing.T) {
	f := fileOf(t, train.ModelConfig{Arch: "resnet50", FeatDim: 8, Prototypes: 4}, swavName)
	stem := func(out int) *weights.File {
		g := *f
		g.Tensors = slices.Clone(f.Tensors)
		for i := range g.Tensors {
			if g.Tensors[i].Name == swavName("trunk.conv1.weight") {
				g.Tensors[i].Shape = []int{out, 3, 7, 7}
			}
		}
		return &g
	}
	for _, tc := range []struct {
		out  int
		arch string
	}{{64, "resnet50"}, {128, "resnet50w2"}, {256, "resnet50w4"}, {320, "resnet50w5"}, {96, ""}} {
		im, err := weights.Import(stem(tc.out))
		switch {
		case tc.arch == "":
			if !errors.Is(err, weights.ErrArchitecture) || !strings.Contains(err.Error(), "[96 3 7 7]") {
				t.Errorf("stem of %d channels: %v, want ErrArchitecture naming the shape", tc.out, err)
			}
		case err != nil:
			t.Errorf("stem of %d channels: %v", tc.out, err)
		case im.Model.Arch != tc.arch:
			t.Errorf("stem of %d channels: arch %s, want %s", tc.out, im.Model.Arch, tc.arch)
		}
	}
}
