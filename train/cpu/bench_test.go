package cpu

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/swavgo/swav/train"
)

// benchStep times Step on the bench's configurations (see
// `pipeline bench train` for the ratio against PyTorch).
func benchStep(b *testing.B, arch string, batch, size, count int) {
	cfg := train.DefaultConfig()
	cfg.Threads = 2
	cfg.Model = train.ModelConfig{Arch: arch, HiddenMLP: 2048, FeatDim: 128, Prototypes: 3000}
	if arch == "small" {
		cfg.Model = train.ModelConfig{Arch: "small", HiddenMLP: 128, FeatDim: 32, Prototypes: 100}
	}
	cfg.SwAV.FreezePrototypesIters = 0
	be, err := New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, count*batch*3*size*size)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	in := &train.StepInput{LR: 0.1, Batch: batch, Groups: []train.CropGroup{{Size: size, Count: count, Data: data}}}
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

func BenchmarkStepSmall32x2B32(b *testing.B)     { benchStep(b, "small", 32, 32, 2) }
func BenchmarkStepResNet18x96x2B16(b *testing.B) { benchStep(b, "resnet18", 16, 96, 2) }
