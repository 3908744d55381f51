package cpu

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/swavgo/swav/train"
)

// benchStep times Step on the bench's configurations (see
// `pipeline bench train` for the ratio against PyTorch).
// groups are (size, count) pairs.
func benchStep(b *testing.B, arch string, batch int, groups ...[2]int) {
	cfg := train.DefaultConfig()
	Edit(&cfg).Threads = 2
	cfg.Model = train.ModelConfig{Arch: arch, HiddenMLP: 2048, FeatDim: 128, Prototypes: 3000}
	switch arch {
	case "small":
		cfg.Model = train.ModelConfig{Arch: "small", HiddenMLP: 128, FeatDim: 32, Prototypes: 100}
	case "resnet8": // the quickstart's head
		cfg.Model = train.ModelConfig{Arch: "resnet8", HiddenMLP: 256, FeatDim: 64, Prototypes: 30}
	}
	cfg.SwAV.FreezePrototypesIters = 0
	be, err := New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	in := &train.StepInput{LR: 0.1, Batch: batch}
	for _, g := range groups {
		data := make([]float32, g[1]*batch*3*g[0]*g[0])
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		in.Groups = append(in.Groups, train.CropGroup{Size: g[0], Count: g[1], Data: data})
	}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := be.Step(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in.Iter = i
		if _, err := be.Step(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkStepSmall32x2B32(b *testing.B)     { benchStep(b, "small", 32, [2]int{32, 2}) }
func BenchmarkStepResNet18x96x2B16(b *testing.B) { benchStep(b, "resnet18", 16, [2]int{96, 2}) }

// The quickstart's step: resnet8, batch 64, 2x20 + 4x12 crops.
func BenchmarkStepQuickstart(b *testing.B)      { benchStep(b, "resnet8", 64, [2]int{20, 2}, [2]int{12, 4}) }
func BenchmarkStepResNet50x96x2B8(b *testing.B) { benchStep(b, "resnet50", 8, [2]int{96, 2}) }
