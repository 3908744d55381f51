package xla

import (
	"context"
	"math"
	"testing"

	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/backendtest"
)

// tinyConfig is the small model at test size: 8 px crops, K 10, D 8.
func tinyConfig() train.Config {
	cfg := train.DefaultConfig()
	cfg.Backend = "xla"
	Edit(&cfg).PJRTPlugin = EngineGo
	cfg.BatchSize = 4
	cfg.Model = train.ModelConfig{Arch: "small", HiddenMLP: 16, FeatDim: 8, Prototypes: 10}
	cfg.SwAV.FreezePrototypesIters = 0
	cfg.SwAV.QueueLength = 0
	return cfg
}

// randomInput is backendtest's: B images, one crop group per (size, count).
var randomInput = backendtest.RandomInput

func TestStepRunsAndUpdates(t *testing.T) {
	cfg := tinyConfig()
	b, err := NewWithOptions(cfg, 1, Options{KeepCodes: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	before, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Step(context.Background(), randomInput(1, 4, [2]int{8, 2}, [2]int{6, 2}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Codes) != 2 || len(res.Codes[0]) != 4*10 {
		t.Fatalf("codes: %d x %d", len(res.Codes), len(res.Codes[0]))
	}
	after, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Momentum) != len(after.Params) {
		t.Fatalf("momentum for %d of %d params", len(after.Momentum), len(after.Params))
	}
	for i := range before.Params {
		if before.Params[i].Data[0] == after.Params[i].Data[0] {
			t.Errorf("%s did not change", before.Params[i].Name)
		}
	}
	for c, codes := range res.Codes {
		for row := range 4 {
			sum := 0.0
			for _, v := range codes[row*10 : (row+1)*10] {
				sum += float64(v)
			}
			if math.Abs(sum-1) > 1e-5 {
				t.Errorf("codes[%d] row %d sums to %v, want 1", c, row, sum)
			}
		}
	}
}
