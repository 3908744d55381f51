package model_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/model"
)

type specCase struct {
	Config struct {
		Arch       string `json:"arch"`
		SmallStem  bool   `json:"small_stem"`
		HiddenMLP  int    `json:"hidden_mlp"`
		FeatDim    int    `json:"feat_dim"`
		Prototypes int    `json:"prototypes"`
	} `json:"config"`
	Params  [][2]json.RawMessage `json:"params"`
	Buffers [][2]json.RawMessage `json:"buffers"`
}

func decodeSpecs(t *testing.T, rows [][2]json.RawMessage) []model.TensorSpec {
	t.Helper()
	out := make([]model.TensorSpec, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r[0], &out[i].Name); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(r[1], &out[i].Shape); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestNamesAndShapesMatchPyTorch compares Build's tensors with the
// state_dict of the same network built by PyTorch/torchvision
// (testdata/gen_state_dict_specs.py).
func TestNamesAndShapesMatchPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/state_dict_specs.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Cases []specCase }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	for _, c := range file.Cases {
		cfg := train.ModelConfig{Arch: c.Config.Arch, SmallStem: c.Config.SmallStem, HiddenMLP: c.Config.HiddenMLP,
			FeatDim: c.Config.FeatDim, Prototypes: c.Config.Prototypes}
		t.Run(fmt.Sprintf("%s/stem%v/hidden%d", cfg.Arch, cfg.SmallStem, cfg.HiddenMLP), func(t *testing.T) {
			a, err := model.Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			compareSpecs(t, "params", a.Params(), decodeSpecs(t, c.Params))
			compareSpecs(t, "buffers", a.Buffers(), decodeSpecs(t, c.Buffers))
		})
	}
}

func compareSpecs(t *testing.T, what string, got, want []model.TensorSpec) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i].Name != want[i].Name || fmt.Sprint(got[i].Shape) != fmt.Sprint(want[i].Shape) {
			t.Fatalf("%s[%d]: %s %v, want %s %v", what, i, got[i].Name, got[i].Shape, want[i].Name, want[i].Shape)
		}
	}
}

func TestTrunkOutSize(t *testing.T) {
	tests := []struct {
		arch      string
		smallStem bool
		in, want  int
	}{
		{"small", false, 32, 16},
		{"resnet18", false, 224, 7},
		{"resnet18", false, 96, 3},
		{"resnet50", false, 224, 7},
		{"resnet18", true, 32, 4},
	}
	for _, tc := range tests {
		a, err := model.Build(train.ModelConfig{Arch: tc.arch, SmallStem: tc.smallStem, FeatDim: 8, Prototypes: 4})
		if err != nil {
			t.Fatal(err)
		}
		if got := a.TrunkOutSize(tc.in); got != tc.want {
			t.Errorf("%s stem %v: TrunkOutSize(%d) = %d, want %d", tc.arch, tc.smallStem, tc.in, got, tc.want)
		}
	}
}

func TestBuildRejectsBadConfig(t *testing.T) {
	tests := []struct {
		cfg  train.ModelConfig
		want string
	}{
		{train.ModelConfig{Arch: "vgg", FeatDim: 8, Prototypes: 4}, "unknown arch"},
		{train.ModelConfig{Arch: "small", FeatDim: 0, Prototypes: 4}, "feat_dim"},
		{train.ModelConfig{Arch: "small", FeatDim: 8, Prototypes: 0}, "prototypes"},
		{train.ModelConfig{Arch: "small", FeatDim: 8, Prototypes: 4, HiddenMLP: -1}, "hidden_mlp"},
	}
	for _, tc := range tests {
		if _, err := model.Build(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%+v) = %v, want error containing %q", tc.cfg, err, tc.want)
		}
		if _, err := model.Init(tc.cfg, 1); err == nil {
			t.Errorf("Init(%+v) succeeded", tc.cfg)
		}
	}
}

func TestInitIsDeterministicAndFollowsSpec(t *testing.T) {
	cfg := train.ModelConfig{Arch: "resnet18", HiddenMLP: 256, FeatDim: 64, Prototypes: 300}
	a, _ := model.Build(cfg)
	st1, err := model.Init(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := model.Init(cfg, 7)
	st3, _ := model.Init(cfg, 8)
	if err := a.CheckState(st1); err != nil {
		t.Fatal(err)
	}
	byName := map[string]train.Tensor{}
	for i, p := range st1.Params {
		byName[p.Name] = p
		if !slices.Equal(p.Data, st2.Params[i].Data) {
			t.Fatalf("%s differs between two Init with the same seed", p.Name)
		}
	}
	if slices.Equal(st1.Params[0].Data[:8], st3.Params[0].Data[:8]) {
		t.Error("seeds 7 and 8 give the same conv1 weights")
	}
	stats := func(x []float32) (mean, std, maxAbs float64) {
		for _, v := range x {
			mean += float64(v)
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		}
		mean /= float64(len(x))
		for _, v := range x {
			std += (float64(v) - mean) * (float64(v) - mean)
		}
		return mean, math.Sqrt(std / float64(len(x))), maxAbs
	}
	tests := []struct {
		name              string
		wantMean, wantStd float64
		wantMaxAbs        float64 // 0: unchecked
	}{
		{"trunk.layer3.0.conv2.weight", 0, math.Sqrt(2.0 / (256 * 9)), 0},           // Kaiming fan_out
		{"trunk.layer2.0.downsample.0.weight", 0, math.Sqrt(2.0 / 128), 0},          // 1x1 conv
		{"trunk.bn1.weight", 1, 0, 1},                                               // gamma 1
		{"trunk.layer4.1.bn2.bias", 0, 0, 0},                                        // beta 0
		{"head.0.weight", 0, 1 / math.Sqrt(512) / math.Sqrt(3), 1 / math.Sqrt(512)}, // U(±1/sqrt(fan_in))
		{"head.3.bias", 0, 1 / math.Sqrt(256) / math.Sqrt(3), 1 / math.Sqrt(256)},
		{"prototypes.weight", 0, 1 / math.Sqrt(64) / math.Sqrt(3), 1 / math.Sqrt(64)},
	}
	for _, tc := range tests {
		p, ok := byName[tc.name]
		if !ok {
			t.Fatalf("no tensor %s", tc.name)
		}
		mean, std, maxAbs := stats(p.Data)
		tol := 4*tc.wantStd/math.Sqrt(float64(len(p.Data))) + 1e-7
		if math.Abs(mean-tc.wantMean) > tol || math.Abs(std-tc.wantStd) > 0.1*tc.wantStd+1e-7 {
			t.Errorf("%s: mean %.4g std %.4g, want %.4g %.4g", tc.name, mean, std, tc.wantMean, tc.wantStd)
		}
		if tc.wantMaxAbs > 0 && maxAbs > tc.wantMaxAbs {
			t.Errorf("%s: |max| %.4g beyond bound %.4g", tc.name, maxAbs, tc.wantMaxAbs)
		}
	}
	for _, b := range st1.Buffers {
		want := float32(0)
		if strings.HasSuffix(b.Name, "running_var") {
			want = 1
		}
		for _, v := range b.Data {
			if v != want {
				t.Fatalf("%s holds %v, want %v", b.Name, v, want)
			}
		}
	}
}

func TestCheckStateNamesFirstMismatch(t *testing.T) {
	cfg := train.ModelConfig{Arch: "small", HiddenMLP: 128, FeatDim: 32, Prototypes: 100}
	a, _ := model.Build(cfg)
	tests := []struct {
		name   string
		mutate func(st *train.State)
		want   string
	}{
		{"renamed", func(st *train.State) { st.Params[2].Name = "trunk.1.beta" }, "params[2]: name trunk.1.beta, want trunk.1.bias"},
		{"reshaped", func(st *train.State) { st.Params[0].Shape = []int{32, 3, 9} }, "trunk.0.weight: shape [32 3 9]"},
		{"short data", func(st *train.State) { st.Buffers[1].Data = st.Buffers[1].Data[:3] }, "trunk.1.running_var: 3 values"},
		{"missing", func(st *train.State) { st.Buffers = st.Buffers[:4] }, "first missing: trunk.3.b2.running_mean"},
		{"extra", func(st *train.State) { st.Params = append(st.Params, train.Tensor{Name: "x"}) }, "first extra: x"},
		{"momentum unknown", func(st *train.State) { st.Momentum = []train.Tensor{{Name: "y"}} }, `"y" is not a parameter`},
		{"momentum shape", func(st *train.State) {
			st.Momentum = []train.Tensor{{Name: "trunk.0.weight", Shape: []int{1}, Data: []float32{0}}}
		}, "momentum[0] trunk.0.weight: shape [1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := model.Init(cfg, 1)
			tc.mutate(st)
			err := a.CheckState(st)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckState = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

// Example shows the small benchmark network as engines see it: three
// sections of layers whose Inputs index earlier layers of the same section.
func Example() {
	a, err := model.Build(train.ModelConfig{Arch: "small", HiddenMLP: 128, FeatDim: 32, Prototypes: 100})
	if err != nil {
		panic(err)
	}
	for i, l := range a.Trunk[:10] {
		fmt.Printf("%d %-9s %-12s in=%v %d->%d k%d/s%d/p%d\n", i, l.Op, l.Name, l.Inputs, l.In, l.Out, l.Kernel, l.Stride, l.Pad)
	}
	fmt.Println(len(a.Params()), "params,", len(a.Buffers()), "buffers; trunk", a.TrunkDim, "-> feat", a.FeatDim, "-> K", a.K)
	// Output:
	// 0 conv      trunk.0      in=[-1] 3->32 k3/s1/p1
	// 1 batchnorm trunk.1      in=[0] 32->32 k0/s0/p0
	// 2 relu                   in=[1] 0->0 k0/s0/p0
	// 3 conv      trunk.3.c1   in=[2] 32->32 k3/s1/p1
	// 4 batchnorm trunk.3.b1   in=[3] 32->32 k0/s0/p0
	// 5 relu                   in=[4] 0->0 k0/s0/p0
	// 6 conv      trunk.3.c2   in=[5] 32->32 k3/s1/p1
	// 7 batchnorm trunk.3.b2   in=[6] 32->32 k0/s0/p0
	// 8 add                    in=[2 7] 0->0 k0/s0/p0
	// 9 relu                   in=[8] 0->0 k0/s0/p0
	// 25 params, 14 buffers; trunk 64 -> feat 32 -> K 100
}

// TestWideResNet50 pins facebookresearch/swav's wide ResNet-50s: every
// width, the stem's included, times the multiplier.
func TestWideResNet50(t *testing.T) {
	for _, tc := range []struct {
		arch         string
		widen, trunk int
	}{{"resnet50", 1, 2048}, {"resnet50w2", 2, 4096}, {"resnet50w4", 4, 8192}, {"resnet50w5", 5, 10240}} {
		a, err := model.Build(train.ModelConfig{Arch: tc.arch, FeatDim: 8, Prototypes: 4})
		if err != nil {
			t.Fatal(err)
		}
		if a.TrunkDim != tc.trunk || a.Trunk[0].Out != 64*tc.widen || model.WideResNet50(tc.arch) != tc.widen || model.ResNet50Name(tc.widen) != tc.arch {
			t.Errorf("%s: trunk %d, stem %d, want %d and %d", tc.arch, a.TrunkDim, a.Trunk[0].Out, tc.trunk, 64*tc.widen)
		}
		if !model.Known(tc.arch) {
			t.Errorf("%s not in Names %v", tc.arch, model.Names())
		}
		if ok, _ := train.ArchKnown(tc.arch); !ok {
			t.Errorf("%s not registered with package train", tc.arch)
		}
	}
}
