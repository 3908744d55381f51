// Package backendtest is the conformance suite of a training backend: what
// every implementation of train.Backend must do whatever its engine, run by
// the backend's own tests with its factory and its smallest configuration:
//
//	func TestBackendConformance(t *testing.T) {
//		backendtest.Run(t, func(cfg train.Config, seed int64) (train.Backend, error) { return New(cfg, seed) }, tinyConfig())
//	}
//
// The numerical agreement with PyTorch and between backends is each
// backend's own test (it needs fixtures and tolerances of its own).
package backendtest

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/swavgo/swav/train"
)

// Factory builds the backend under test.
type Factory func(cfg train.Config, seed int64) (train.Backend, error)

// Run runs the suite on backends built by newBackend from base: a
// configuration of the "small" network with batch 4 (the crops are 8 and 6
// px) and whatever the backend itself needs.
func Run(t *testing.T, newBackend Factory, base train.Config) {
	build := func(t *testing.T, cfg train.Config, seed int64) train.Backend {
		t.Helper()
		b, err := newBackend(cfg, seed)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	t.Run("BadStepInputIsRejectedAndLosesNothing", func(t *testing.T) { badStepInput(t, build(t, base, 1)) })
	t.Run("NonFiniteLossLeavesStateUnchanged", func(t *testing.T) {
		cfg := base
		cfg.SwAV.QueueLength = 8
		nonFiniteLoss(t, build(t, cfg, 1))
	})
	t.Run("LoadRejectsMismatchNamingIt", func(t *testing.T) { loadRejectsMismatch(t, build(t, base, 1)) })
	t.Run("StateRoundTripsThroughLoad", func(t *testing.T) {
		cfg := base
		cfg.SwAV.QueueLength = 8
		cfg.SwAV.FreezePrototypesIters = 100
		stateRoundTrip(t, build(t, cfg, 1), build(t, cfg, 2))
	})
	t.Run("EmbedIsEvalMode", func(t *testing.T) { embedIsEvalMode(t, build(t, base, 1)) })
}

// RandomInput is a step input of batch images with a crop group per
// (size, count) pair, standard-normal pixels from seed.
func RandomInput(seed uint64, batch int, sizes ...[2]int) *train.StepInput {
	r := rand.New(rand.NewPCG(seed, 7))
	in := &train.StepInput{Iter: 5, LR: 0.5, Batch: batch}
	for _, sc := range sizes {
		g := train.CropGroup{Size: sc[0], Count: sc[1]}
		g.Data = make([]float32, sc[1]*batch*3*sc[0]*sc[0])
		for i := range g.Data {
			g.Data[i] = float32(r.NormFloat64())
		}
		in.Groups = append(in.Groups, g)
	}
	return in
}

// CloneState returns a deep copy of st.
func CloneState(st *train.State) *train.State {
	cp := func(ts []train.Tensor) []train.Tensor {
		out := make([]train.Tensor, len(ts))
		for i, t := range ts {
			out[i] = train.Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
		}
		return out
	}
	out := &train.State{Params: cp(st.Params), Buffers: cp(st.Buffers), Momentum: cp(st.Momentum)}
	if st.Queue != nil {
		q := cp([]train.Tensor{*st.Queue})
		out.Queue = &q[0]
	}
	return out
}

// AssertSameState fails t unless a and b hold the same tensors, bit for bit.
func AssertSameState(t *testing.T, a, b *train.State) {
	t.Helper()
	same := func(kind string, x, y []train.Tensor) {
		if len(x) != len(y) {
			t.Fatalf("%s: %d tensors vs %d", kind, len(x), len(y))
		}
		for i := range x {
			if x[i].Name != y[i].Name || len(x[i].Data) != len(y[i].Data) {
				t.Fatalf("%s[%d]: %s vs %s", kind, i, x[i].Name, y[i].Name)
			}
			for j := range x[i].Data {
				if math.Float32bits(x[i].Data[j]) != math.Float32bits(y[i].Data[j]) {
					t.Fatalf("%s %s[%d]: %v vs %v", kind, x[i].Name, j, x[i].Data[j], y[i].Data[j])
				}
			}
		}
	}
	same("params", a.Params, b.Params)
	same("buffers", a.Buffers, b.Buffers)
	same("momentum", a.Momentum, b.Momentum)
	if (a.Queue == nil) != (b.Queue == nil) {
		t.Fatalf("queue present %v vs %v", a.Queue != nil, b.Queue != nil)
	}
	if a.Queue != nil {
		same("queue", []train.Tensor{*a.Queue}, []train.Tensor{*b.Queue})
	}
}

func state(t *testing.T, b train.Backend) *train.State {
	t.Helper()
	st, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func badStepInput(t *testing.T, b train.Backend) {
	good := func() *train.StepInput { return RandomInput(1, 4, [2]int{8, 2}) }
	cases := []struct {
		name    string
		mutate  func(*train.StepInput)
		mention string
	}{
		{"zero batch", func(in *train.StepInput) { in.Batch = 0 }, "batch 0"},
		{"no groups", func(in *train.StepInput) { in.Groups = nil }, "no crop groups"},
		{"short data", func(in *train.StepInput) { in.Groups[0].Data = in.Groups[0].Data[:10] }, "group 0"},
		{"one crop", func(in *train.StepInput) {
			in.Groups[0].Count = 1
			in.Groups[0].Data = in.Groups[0].Data[:4*3*8*8]
		}, "at least 2"},
	}
	before := state(t, b)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := good()
			tc.mutate(in)
			_, err := b.Step(context.Background(), in)
			if err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.mention)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Step(ctx, good()); !errors.Is(err, context.Canceled) {
		t.Errorf("Step with a cancelled context = %v, want context.Canceled", err)
	}
	AssertSameState(t, before, state(t, b))
	if _, err := b.Step(context.Background(), good()); err != nil {
		t.Fatalf("good step after bad ones: %v", err)
	}
}

func nonFiniteLoss(t *testing.T, b train.Backend) {
	ok := RandomInput(1, 4, [2]int{8, 2})
	ok.UseQueue = true
	if _, err := b.Step(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	before := state(t, b)
	bad := RandomInput(2, 4, [2]int{8, 2})
	bad.UseQueue = true
	bad.Groups[0].Data[5] = float32(math.NaN())
	if _, err := b.Step(context.Background(), bad); !errors.Is(err, train.ErrNonFinite) {
		t.Fatalf("Step with a NaN pixel = %v, want ErrNonFinite", err)
	}
	AssertSameState(t, before, state(t, b))
	if _, err := b.Step(context.Background(), ok); err != nil {
		t.Fatalf("step after the failed one: %v", err)
	}
}

func loadRejectsMismatch(t *testing.T, b train.Backend) {
	st := state(t, b)
	cases := []struct {
		name    string
		mutate  func(*train.State)
		mention string
	}{
		{"renamed param", func(s *train.State) { s.Params[2].Name = "trunk.9.weight" }, "trunk.9.weight"},
		{"wrong shape", func(s *train.State) { s.Params[0].Shape = []int{32, 3, 3, 2} }, "shape"},
		{"missing buffer", func(s *train.State) { s.Buffers = s.Buffers[:3] }, "buffers"},
		{"bad queue", func(s *train.State) {
			s.Queue = &train.Tensor{Name: "queue", Shape: []int{2, 4, 7}, Data: make([]float32, 56)}
		}, "queue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cp := CloneState(st)
			for i := range cp.Params {
				cp.Params[i].Data[0] += 1 // would show if Load half-applied
			}
			tc.mutate(cp)
			if err := b.Load(cp); err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.mention)
			}
		})
	}
	AssertSameState(t, st, state(t, b))
}

// stateRoundTrip: b's state loaded into c (built from another seed) makes c
// continue exactly as b does.
func stateRoundTrip(t *testing.T, b, c train.Backend) {
	in := RandomInput(1, 4, [2]int{8, 2})
	in.UseQueue = true
	if _, err := b.Step(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	st := state(t, b)
	if st.Queue == nil || len(st.Momentum) != len(st.Params)-1 {
		t.Fatalf("queue %v, %d momentum buffers for %d params (prototypes frozen)", st.Queue != nil, len(st.Momentum), len(st.Params))
	}
	if err := c.Load(st); err != nil {
		t.Fatal(err)
	}
	next := RandomInput(5, 4, [2]int{8, 2})
	next.UseQueue = true
	r1, err := b.Step(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.Step(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Loss != r2.Loss {
		t.Fatalf("loss after reload %v, original %v", r2.Loss, r1.Loss)
	}
	AssertSameState(t, state(t, b), state(t, c))
}

// embedIsEvalMode: Embed uses the running statistics (an image's row does
// not depend on the others), changes nothing, gives unit-norm projections
// and rejects bad arguments.
func embedIsEvalMode(t *testing.T, b train.Backend) {
	ctx := context.Background()
	if _, err := b.Step(ctx, RandomInput(1, 4, [2]int{8, 2})); err != nil {
		t.Fatal(err)
	}
	before := state(t, b)
	images := RandomInput(3, 5, [2]int{8, 1}).Groups[0].Data
	all, w, err := b.Embed(ctx, images, 5, 8, train.FeatureProjection)
	if err != nil {
		t.Fatal(err)
	}
	if w < 1 || len(all) != 5*w {
		t.Fatalf("projection: %d values of width %d for 5 images", len(all), w)
	}
	one, _, err := b.Embed(ctx, images[:3*8*8], 1, 8, train.FeatureProjection)
	if err != nil {
		t.Fatal(err)
	}
	norm := 0.0
	for i := range one {
		if math.Abs(float64(one[i]-all[i])) > 1e-5 {
			t.Fatalf("image 0 alone differs at %d: %v vs %v in the batch (batch statistics?)", i, one[i], all[i])
		}
		norm += float64(one[i]) * float64(one[i])
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Errorf("projection row norm² %v, want 1", norm)
	}
	AssertSameState(t, before, state(t, b))
	if _, _, err := b.Embed(ctx, images, 5, 8, "logits"); err == nil {
		t.Error("unknown feature accepted")
	}
	if _, _, err := b.Embed(ctx, images[:7], 5, 8, train.FeatureTrunk); err == nil {
		t.Error("short images accepted")
	}
}
