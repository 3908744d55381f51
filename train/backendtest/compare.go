package backendtest

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/model"
)

// StepTolerances bound how far one backend's steps may be from another's
// on the same inputs from the same state: Loss absolute, the others
// relative L2 distances (|a-b| / |b|) per tensor.
type StepTolerances struct {
	Loss     float64 // each step's loss
	Codes    float64 // each crop's Sinkhorn codes
	Momentum float64 // each momentum buffer after the steps (the gradients, with weight decay, LARS-scaled)
	Update   float64 // each parameter's change over the steps
	Stats    float64 // each BatchNorm running statistic
}

// BF16Tolerances is how far a bf16 step may be from the float32 step, and
// two bf16 steps from each other, derived as follows. One bf16 convolution
// is within 2^-8 of the sum of its products' sizes (internal/dnnl's
// bf16Bound), so features stay within about 1 % after a few layers
// (measured: 0.6-1.1 % on trunk features). SwAV's codes are exp(scores /
// epsilon) with epsilon = 0.05, which multiplies a score error by 20: the
// codes move 1-8 % (measured). The gradients flow from codes minus
// softmax, the difference of two near-uniform distributions at
// initialisation, so their relative error is far larger than the
// features': PyTorch's own bf16 autocast against its float32 on a
// torchvision ResNet-18 under the SwAV loss is off by 0.25-0.48 per tensor
// (train/cpu/testdata/bf16_deviation.py), and our bf16 by 0.13-0.52 on the
// same kind of step. The bounds are 1.5 times the worst measured. Tensors
// whose reference gradient is zero up to rounding (a linear bias before a
// BatchNorm, NoiseDetermined) carry only noise and are left out.
var BF16Tolerances = StepTolerances{Loss: 0.05, Codes: 0.15, Momentum: 0.75, Update: 0.75, Stats: 0.05}

// NoiseDetermined names the tensors of cfg's network whose values after a
// step are set by rounding noise, in PyTorch as in any backend: a bias
// followed directly by BatchNorm has an exactly-zero gradient analytically
// (BN removes the mean), LARS divides its float noise by its norm and turns
// it into a full-size update, and the next BatchNorm's running mean
// inherits that bias. No two engines agree on them; comparisons skip them.
func NoiseDetermined(t *testing.T, cfg train.Config) map[string]bool {
	t.Helper()
	arch, err := model.Build(cfg.Model)
	if err != nil {
		t.Fatal(err)
	}
	skip := map[string]bool{}
	for _, sec := range arch.Sections() {
		for _, l := range sec {
			if l.Op != model.OpBatchNorm || l.Inputs[0] == model.InputOfSection {
				continue
			}
			prev := sec[l.Inputs[0]]
			if prev.Op == model.OpLinear && prev.Bias {
				skip[prev.Name+".bias"] = true
				skip[l.Name+".running_mean"] = true
			}
		}
	}
	return skip
}

// CompareSteps loads the same state into got and want (backends of cfg),
// runs steps on both (got must keep its codes where want does) and fails
// where they differ beyond tol, leaving out the NoiseDetermined tensors. It
// logs the worst deviation of each kind.
func CompareSteps(t *testing.T, got, want train.Backend, cfg train.Config, initial *train.State, steps []*train.StepInput, tol StepTolerances) {
	t.Helper()
	skip := NoiseDetermined(t, cfg)
	ctx := context.Background()
	for _, b := range []train.Backend{got, want} {
		if err := b.Load(CloneState(initial)); err != nil {
			t.Fatal(err)
		}
	}
	for i, in := range steps {
		g, err := got.Step(ctx, in)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		w, err := want.Step(ctx, in)
		if err != nil {
			t.Fatalf("reference step %d: %v", i, err)
		}
		if d := math.Abs(g.Loss - w.Loss); d > tol.Loss {
			t.Errorf("step %d: loss %.5f, reference %.5f (diff %.3g > %.3g)", i, g.Loss, w.Loss, d, tol.Loss)
		}
		for c := range w.Codes {
			if c < len(g.Codes) {
				check(t, "codes", fmt.Sprintf("step %d crop %d", i, c), g.Codes[c], w.Codes[c], tol.Codes)
			}
		}
	}
	gs, ws := state(t, got), state(t, want)
	worst := map[string]float64{}
	byName := func(ts []train.Tensor) map[string][]float32 {
		m := map[string][]float32{}
		for _, x := range ts {
			m[x.Name] = x.Data
		}
		return m
	}
	gm, before := byName(gs.Momentum), byName(initial.Params)
	for _, wm := range ws.Momentum {
		if skip[wm.Name] {
			continue
		}
		worst["momentum"] = max(worst["momentum"], check(t, "momentum", wm.Name, gm[wm.Name], wm.Data, tol.Momentum))
	}
	gp := byName(gs.Params)
	for _, wp := range ws.Params {
		if skip[wp.Name] {
			continue
		}
		dw, dg := delta(wp.Data, before[wp.Name]), delta(gp[wp.Name], before[wp.Name])
		worst["update"] = max(worst["update"], check(t, "update", wp.Name, dg, dw, tol.Update))
	}
	gb := byName(gs.Buffers)
	for _, wb := range ws.Buffers {
		if skip[wb.Name] {
			continue
		}
		worst["running stat"] = max(worst["running stat"], check(t, "running stat", wb.Name, gb[wb.Name], wb.Data, tol.Stats))
	}
	t.Logf("worst relative deviations: %v", worst)
}

// check fails when got is further than tol (relative L2) from want, and
// returns the distance.
func check(t *testing.T, what, name string, got, want []float32, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s %s: %d values, reference %d", what, name, len(got), len(want))
		return math.Inf(1)
	}
	d := make([]float32, len(want))
	for i := range want {
		d[i] = got[i] - want[i]
	}
	r := norm(d) / max(norm(want), 1e-30)
	if !(r <= tol) {
		t.Errorf("%s %s: relative deviation %.3g > %.3g", what, name, r, tol)
	}
	return r
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func delta(after, before []float32) []float32 {
	d := make([]float32, len(after))
	for i := range after {
		d[i] = after[i] - before[i]
	}
	return d
}
