package swav_test

import (
	"fmt"

	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/swav"
)

// Sinkhorn turns 2 samples' scores against 3 prototypes into codes whose
// rows sum to 1. The equipartition constraint shows: the second sample, whose
// scores are all equal, is pushed towards the prototypes the first leaves
// free (same numbers as the PyTorch reference).
func ExampleSinkhorn() {
	scores := []float64{
		0.9, 0.1, 0.0,
		0.1, 0.1, 0.1,
	}
	q := swav.Sinkhorn(scores, 2, 3, 0.05, 3)
	for i := 0; i < 2; i++ {
		fmt.Printf("%.4f\n", q[i*3:(i+1)*3])
	}
	// Output:
	// [0.6514 0.2861 0.0624]
	// [0.0000 0.3828 0.6172]
}

// LRAt gives the reference's per-iteration learning rate without building
// the table: linear warmup from start_warmup to base_lr, then cosine.
func ExampleLRAt() {
	cfg := train.OptimConfig{BaseLR: 4.8, FinalLR: 0.0048, StartWarmup: 0.3, WarmupEpochs: 10}
	const itersPerEpoch, epochs = 312, 800
	for _, it := range []int{0, 1, 3119, 3120, 3120 + 123240, 249599} {
		fmt.Printf("iter %6d: %.6f\n", it, swav.LRAt(cfg, itersPerEpoch, epochs, it))
	}
	// Output:
	// iter      0: 0.300000
	// iter      1: 0.301443
	// iter   3119: 4.800000
	// iter   3120: 4.800000
	// iter 126360: 2.402400
	// iter 249599: 0.004800
}

// One LARS step: the zero-norm bias takes a plain SGD step, the weight a
// LARC-scaled one, and the frozen prototypes are untouched.
func ExampleLARS() {
	opt := swav.NewLARS[float64](train.OptimConfig{WeightDecay: 1e-6, Momentum: 0.9, TrustCoefficient: 0.001})
	params := []swav.Param[float64]{
		{Name: "head.0.weight", Data: []float64{3, 4}, Grad: []float64{0.5, 0}},
		{Name: "head.0.bias", Data: []float64{0}, Grad: []float64{0.1}},
		{Name: "prototypes.weight", Data: []float64{1, 0}, Grad: []float64{1, 1}, Frozen: true},
	}
	opt.Step(params, 1)
	for _, p := range params {
		fmt.Printf("%s %.6f\n", p.Name, p.Data)
	}
	// Output:
	// head.0.weight [2.995000 4.000000]
	// head.0.bias [-0.100000]
	// prototypes.weight [1.000000 0.000000]
}

// Head runs scores, codes, the swapped loss and its gradients for 2 crops
// of 2 images against 3 prototypes.
func ExampleHead() {
	z := []float64{ // 4 rows: crop 0 images 0-1, crop 1 images 0-1
		1, 0,
		0, 1,
		1, 0,
		0, 1,
	}
	c := []float64{ // 3 prototypes
		1, 0,
		0, 1,
		-1, 0,
	}
	s := swav.Shape{Views: 2, Batch: 2, Dim: 2, Prototypes: 3, CropsForAssign: []int{0, 1},
		Temperature: 0.1, Epsilon: 0.05, SinkhornIterations: 3}
	r := swav.Head(s, z, c, nil)
	fmt.Printf("loss %.4f\n", r.Loss)
	fmt.Printf("codes of crop 0 image 0 %.3f\n", r.Codes[0][:3])
	// Output:
	// loss 2.5001
	// codes of crop 0 image 0 [1.000 0.000 0.000]
}
