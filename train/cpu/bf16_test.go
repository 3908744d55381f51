package cpu

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/backendtest"
	"github.com/swavgo/swav/train/model"
)

// requireNativeBF16 skips where bf16 would run as float32.
func requireNativeBF16(t *testing.T) {
	t.Helper()
	if !NativeBF16() {
		t.Skipf("no native bf16 here (%s): bf16 runs as float32", Kernels())
	}
}

// bf16Pair is a bf16 and a float32 backend of cfg.
func bf16Pair(t *testing.T, cfg train.Config) (bf16, float32 *Backend) {
	t.Helper()
	build := func(precision string) *Backend {
		c := cfg
		Edit(&c).Precision = precision
		b, err := New(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		b.KeepCodes(true)
		if b.Precision() != precision {
			t.Fatalf("asked for %s, runs %s", precision, b.Precision())
		}
		return b
	}
	return build("bf16"), build("float32")
}

// TestBF16StepTracksFloat32: two bf16 steps against two float32 steps on
// the same inputs from the same initial weights, within
// backendtest.BF16Tolerances (derived there), on the bench's small network
// with the queue, the quickstart's resnet8 and a ResNet-18.
func TestBF16StepTracksFloat32(t *testing.T) {
	requireNativeBF16(t)
	cases := []struct {
		name  string
		setup func(*train.Config)
		steps func() []*train.StepInput
	}{
		{"small/queue", func(c *train.Config) {
			c.Model = train.ModelConfig{Arch: "small", HiddenMLP: 64, FeatDim: 32, Prototypes: 50}
			c.SwAV.QueueLength = 32
		}, func() []*train.StepInput {
			a, b := backendtest.RandomInput(1, 16, [2]int{32, 2}, [2]int{16, 2}), backendtest.RandomInput(2, 16, [2]int{32, 2}, [2]int{16, 2})
			a.Iter, b.Iter, a.UseQueue, b.UseQueue = 0, 1, true, true
			return []*train.StepInput{a, b}
		}},
		{"resnet8/quickstart", func(c *train.Config) {
			c.Model = train.ModelConfig{Arch: "resnet8", HiddenMLP: 256, FeatDim: 64, Prototypes: 30}
			c.SwAV.Temperature = 0.2
		}, func() []*train.StepInput {
			return []*train.StepInput{backendtest.RandomInput(3, 32, [2]int{20, 2}, [2]int{12, 4}), backendtest.RandomInput(4, 32, [2]int{20, 2}, [2]int{12, 4})}
		}},
		{"resnet18", func(c *train.Config) {
			c.Model = train.ModelConfig{Arch: "resnet18", HiddenMLP: 512, FeatDim: 128, Prototypes: 300}
		}, func() []*train.StepInput {
			return []*train.StepInput{backendtest.RandomInput(5, 8, [2]int{64, 2})}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.name == "resnet18" {
				t.Skip("resnet18 in -short")
			}
			cfg := train.DefaultConfig()
			Edit(&cfg).Threads = 2
			cfg.SwAV.FreezePrototypesIters = 0
			cfg.SwAV.EpochQueueStarts = 0
			tc.setup(&cfg)
			steps := tc.steps()
			cfg.BatchSize = steps[0].Batch
			h, f := bf16Pair(t, cfg)
			initial, err := f.State()
			if err != nil {
				t.Fatal(err)
			}
			backendtest.CompareSteps(t, h, f, cfg, initial, steps, backendtest.BF16Tolerances)
		})
	}
}

// TestBF16EmbedTracksFloat32: evaluation-mode features (BatchNorm folded
// into bf16 convolutions) against float32 on the same weights: every
// image's trunk feature at cosine >= 0.999 (a few layers of 2^-8 relative
// error each stay below 1 %, and cosine 0.999 allows 4.5 %).
func TestBF16EmbedTracksFloat32(t *testing.T) {
	requireNativeBF16(t)
	cfg := train.DefaultConfig()
	Edit(&cfg).Threads = 2
	cfg.Model = train.ModelConfig{Arch: "resnet18", HiddenMLP: 64, FeatDim: 32, Prototypes: 20}
	cfg.BatchSize = 8
	h, f := bf16Pair(t, cfg)
	// A step first, so that the running statistics are not the identity.
	in := backendtest.RandomInput(7, 8, [2]int{64, 2})
	for _, b := range []*Backend{h, f} {
		if _, err := b.Step(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := f.State()
	if err := h.Load(st); err != nil {
		t.Fatal(err)
	}
	const n, size = 6, 64
	images := backendtest.RandomInput(8, n, [2]int{size, 1}).Groups[0].Data
	got, dim, err := h.Embed(context.Background(), images, n, size, train.FeatureTrunk)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := f.Embed(context.Background(), images, n, size, train.FeatureTrunk)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if c := cosine(got[i*dim:(i+1)*dim], want[i*dim:(i+1)*dim]); c < 0.999 {
			t.Errorf("image %d: cosine %.5f between bf16 and float32 features", i, c)
		} else {
			t.Logf("image %d: cosine %.6f", i, c)
		}
	}
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// TestBF16FallsBackToFloat32: where bf16 would not run on bf16 units (here:
// convolutions forced onto im2col + GEMM), train.cpu.precision bf16 runs as
// float32 and says why, never as a slow emulation.
func TestBF16FallsBackToFloat32(t *testing.T) {
	t.Setenv("SWAV_CPU_CONV", "gemm")
	if p, why := resolvePrecision("bf16"); p != "float32" || !strings.Contains(why, "bf16 needs oneDNN") {
		t.Errorf("bf16 without oneDNN: %s (%q)", p, why)
	}
	cfg := tinyConfig()
	Edit(&cfg).Precision = "bf16"
	b, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Precision() != "float32" || !strings.Contains(b.Engine(), "float32") {
		t.Errorf("precision %s, engine %q", b.Precision(), b.Engine())
	}
	if p, why := resolvePrecision("float32"); p != "float32" || why != "" {
		t.Errorf("float32: %s (%q)", p, why)
	}
}

// bf16TrunkPlan is a bf16 backend's trunk plan of arch for two 32 x 32
// images, a training or an evaluation one, freed with the test.
func bf16TrunkPlan(t *testing.T, arch string, training bool) *plan {
	t.Helper()
	cfg := train.DefaultConfig()
	cfg.Model = train.ModelConfig{Arch: arch, HiddenMLP: 64, FeatDim: 32, Prototypes: 10}
	Edit(&cfg).Precision = "bf16"
	b, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	p, err := b.replacePlan(nil, b.trunk, 2, 32, 32, 3, training, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { releaseKernels(p) })
	return p
}

// TestBF16EvaluationChain: in a bf16 evaluation plan of a ResNet every
// convolution reads bf16 activations straight from the fused convolution
// before it (plan.chooseBF16), except those that read the image or the
// max pool's output, and so converts nothing. (The fused BatchNorm, which
// reads its convolution's value inside the fusion, once kept every
// value float32: extraction converted every convolution's source.)
func TestBF16EvaluationChain(t *testing.T) {
	requireNativeBF16(t)
	for _, arch := range []string{"resnet18", "resnet50"} {
		t.Run(arch, func(t *testing.T) {
			p := bf16TrunkPlan(t, arch, false)
			bf16Sources, convs := 0, 0
			for _, bd := range p.sec.bindings {
				l := bd.layer
				if l.Op != model.OpConv {
					continue
				}
				convs++
				src := p.valueOf(l.Inputs[0])
				if src.bf16 {
					bf16Sources++
					continue
				}
				if l.Inputs[0] != model.InputOfSection && p.sec.bindings[l.Inputs[0]].layer.Op != model.OpMaxPool {
					t.Errorf("conv %s reads a float32 value of %s", l.Name, p.sec.bindings[l.Inputs[0]].layer.Op)
				}
			}
			if bf16Sources < convs-3 { // the stem, and the first block's conv1 and downsample after the max pool
				t.Errorf("%d of %d convolutions read bf16 sources", bf16Sources, convs)
			}
			// Residual sums read the residual where it lies (convFusion.inPlace),
			// except where it is the max pool's float32 output.
			sums, inPlace := 0, 0
			for _, f := range p.fused {
				if f.sum {
					sums++
					if f.inPlace {
						inPlace++
					}
				}
			}
			if inPlace < sums-2 {
				t.Errorf("%d of %d residual sums in place", inPlace, sums)
			}
		})
	}
}

// TestBF16TrainingChain: a bf16 training plan of a ResNet-18 keeps each of
// its 8 blocks' convolutions and BatchNorms in bf16 (conv1, bn1 and conv2,
// which only oneDNN reads, and bn2, which only the residual add reads:
// plan.chooseTrainBF16), and nothing else: the downsample's BatchNorm
// meets an add that already has a bf16 addend, the stem's feeds the max
// pool.
func TestBF16TrainingChain(t *testing.T) {
	requireNativeBF16(t)
	p := bf16TrunkPlan(t, "resnet18", true)
	var names []string
	for i, v := range p.vals {
		if v.bf16 && !p.sec.bindings[i].foldedRelu {
			names = append(names, p.sec.bindings[i].layer.Name)
		}
	}
	if len(names) != 32 {
		t.Fatalf("bf16 values of %v, want 32 (conv1, bn1, conv2 and bn2 of each block)", names)
	}
	for _, n := range names {
		if !slices.ContainsFunc([]string{".conv1", ".bn1", ".conv2", ".bn2"}, func(s string) bool { return strings.HasSuffix(n, s) }) {
			t.Errorf("%s's value is bf16", n)
		}
	}
}
