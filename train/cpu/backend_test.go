package cpu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/backendtest"
	"github.com/swavgo/swav/train/model"
)

// tinyConfig is the small network with a narrow head, fast enough for many
// steps in a test.
func tinyConfig() train.Config {
	cfg := train.DefaultConfig()
	Edit(&cfg).Threads = 2
	cfg.BatchSize = 4
	cfg.Model = train.ModelConfig{Arch: "small", HiddenMLP: 16, FeatDim: 8, Prototypes: 10}
	cfg.SwAV.FreezePrototypesIters = 0
	return cfg
}

func tinyInput(batch int, sizes ...int) *train.StepInput {
	in := &train.StepInput{LR: 0.3, Batch: batch}
	for g, size := range sizes {
		u := testValues(fmt.Sprintf("tiny.g%d", g), 2*batch*3*size*size)
		data := make([]float32, len(u))
		for i, v := range u {
			data[i] = float32(2 * v)
		}
		in.Groups = append(in.Groups, train.CropGroup{Size: size, Count: 2, Data: data})
	}
	return in
}

func statesEqual(a, b *train.State) error {
	lists := [][2][]train.Tensor{{a.Params, b.Params}, {a.Buffers, b.Buffers}, {a.Momentum, b.Momentum}}
	for _, l := range lists {
		if len(l[0]) != len(l[1]) {
			return fmt.Errorf("%d tensors vs %d", len(l[0]), len(l[1]))
		}
		for i := range l[0] {
			if l[0][i].Name != l[1][i].Name || !slices.Equal(l[0][i].Data, l[1][i].Data) {
				return fmt.Errorf("tensor %s differs", l[0][i].Name)
			}
		}
	}
	if (a.Queue == nil) != (b.Queue == nil) || (a.Queue != nil && !slices.Equal(a.Queue.Data, b.Queue.Data)) {
		return errors.New("queue differs")
	}
	return nil
}

// useConvPath makes b's engine run its convolutions on path ("onednn" or
// "gemm"); bf16 needs oneDNN, so the GEMM path runs float32.
func useConvPath(b *Backend, path string) {
	b.eng.dnnl = path == "onednn"
	b.eng.bf16 = b.eng.bf16 && b.eng.dnnl
}

// TestBackendConformance runs the suite every backend runs
// (train/backendtest), on each convolution path this process has.
func TestBackendConformance(t *testing.T) {
	for _, path := range convPaths() {
		t.Run(path, func(t *testing.T) {
			backendtest.Run(t, func(cfg train.Config, seed int64) (train.Backend, error) {
				b, err := New(cfg, seed)
				if err != nil {
					return nil, err
				}
				useConvPath(b, path)
				return b, nil
			}, tinyConfig())
		})
	}
}

func TestRegisteredAndDeterministic(t *testing.T) {
	cfg := tinyConfig()
	a, err := train.NewBackend(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, err := train.NewBackend(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() != "cpu" {
		t.Errorf("Name() = %q", a.Name())
	}
	in := tinyInput(4, 16, 8)
	for i := 0; i < 3; i++ {
		in.Iter = i
		ra, err := a.Step(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := b.Step(context.Background(), in)
		if ra.Loss != rb.Loss {
			t.Fatalf("step %d: losses %v and %v from the same seed", i, ra.Loss, rb.Loss)
		}
	}
	sa, _ := a.State()
	sb, _ := b.State()
	if err := statesEqual(sa, sb); err != nil {
		t.Fatal(err)
	}
	if len(sa.Momentum) != len(sa.Params) {
		t.Errorf("%d momentum buffers for %d params", len(sa.Momentum), len(sa.Params))
	}
}

func TestNonFiniteLossLeavesStateUntouched(t *testing.T) {
	cfg := tinyConfig()
	cfg.SwAV.QueueLength = 4
	b, _ := New(cfg, 1)
	in := tinyInput(4, 16)
	in.UseQueue = true
	if _, err := b.Step(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	before, _ := b.State()
	bad := tinyInput(4, 16)
	bad.UseQueue = true
	bad.Groups[0].Data[7] = float32(math.NaN())
	_, err := b.Step(context.Background(), bad)
	if !errors.Is(err, train.ErrNonFinite) {
		t.Fatalf("Step with a NaN pixel = %v, want ErrNonFinite", err)
	}
	after, _ := b.State()
	if err := statesEqual(before, after); err != nil {
		t.Fatalf("state changed by the failed step: %v", err)
	}
	if _, err := b.Step(context.Background(), in); err != nil {
		t.Fatalf("step after the failed one: %v", err)
	}
	if _, _, err := b.Embed(context.Background(), bad.Groups[0].Data, 8, 16, train.FeatureTrunk); !errors.Is(err, train.ErrNonFinite) || !strings.Contains(err.Error(), "image 0") {
		t.Fatalf("Embed of a NaN pixel = %v, want ErrNonFinite naming image 0", err)
	}
	st, _ := b.State()
	i := slices.IndexFunc(st.Buffers, func(t train.Tensor) bool { return strings.HasSuffix(t.Name, "running_mean") })
	st.Buffers[i].Data[0] = float32(math.NaN())
	if err := b.Load(st); err != nil {
		t.Fatal(err)
	}
	for _, path := range convPaths() {
		useConvPath(b, path)
		b.evalTrunk = nil
		if rows, _, err := b.Embed(context.Background(), in.Groups[0].Data, 8, 16, train.FeatureTrunk); !errors.Is(err, train.ErrNonFinite) && allFinite(rows) {
			t.Errorf("%s: Embed with a NaN running mean = finite rows, err %v", path, err)
		}
	}
}

func TestBadInputsAreErrors(t *testing.T) {
	b, _ := New(tinyConfig(), 1)
	good := func() *train.StepInput { return tinyInput(4, 16) }
	tests := []struct {
		name   string
		mutate func(in *train.StepInput)
		want   string
	}{
		{"no groups", func(in *train.StepInput) { in.Groups = nil }, "no crop groups"},
		{"zero batch", func(in *train.StepInput) { in.Batch = 0 }, "batch 0"},
		{"short data", func(in *train.StepInput) { in.Groups[0].Data = in.Groups[0].Data[:10] }, "group 0 (16x16 px, 2 crops): 10 values"},
		{"one crop", func(in *train.StepInput) {
			in.Groups[0].Count = 1
			in.Groups[0].Data = in.Groups[0].Data[:4*3*16*16]
		}, "at least 2"},
		{"zero count", func(in *train.StepInput) { in.Groups[0].Count = 0 }, "count 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := good()
			tc.mutate(in)
			_, err := b.Step(context.Background(), in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Step = %v, want error containing %q", err, tc.want)
			}
		})
	}
	cfg := tinyConfig()
	cfg.SwAV.CropsForAssign = []int{0, 5}
	b2, _ := New(cfg, 1)
	if _, err := b2.Step(context.Background(), good()); err == nil || !strings.Contains(err.Error(), "crops_for_assign[1] = 5") {
		t.Errorf("assign beyond the crops: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Step(ctx, good()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	embedTests := []struct {
		images  []float32
		n, size int
		f       train.Feature
		want    string
	}{
		{make([]float32, 5), 1, 16, train.FeatureTrunk, "5 values for 1 images"},
		{make([]float32, 3*16*16), 1, 16, "logits", "unknown feature"},
		{make([]float32, 0), 0, 0, train.FeatureTrunk, "0 values for 0 images of 0x0"},
	}
	for _, tc := range embedTests {
		if _, _, err := b.Embed(context.Background(), tc.images, tc.n, tc.size, tc.f); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Embed(%d values, n %d, size %d, %q) = %v, want %q", len(tc.images), tc.n, tc.size, tc.f, err, tc.want)
		}
	}
	if _, err := New(train.Config{Model: train.ModelConfig{Arch: "vgg", FeatDim: 2, Prototypes: 2}, SwAV: tinyConfig().SwAV}, 1); err == nil {
		t.Error("New accepted an unknown arch")
	}
	if _, err := train.NewBackend(negativeThreads(), 1); err == nil {
		t.Error("NewBackend accepted negative threads")
	}
}

func TestLoadNamesFirstMismatchAndChangesNothing(t *testing.T) {
	b, _ := New(tinyConfig(), 1)
	good, _ := b.State()
	tests := []struct {
		name   string
		mutate func(st *train.State)
		want   string
	}{
		{"param name", func(st *train.State) { st.Params[3].Name = "trunk.3.conv.weight" }, "params[3]: name trunk.3.conv.weight, want trunk.3.c1.weight"},
		{"buffer shape", func(st *train.State) { st.Buffers[0].Shape = []int{31} }, "trunk.1.running_mean: shape [31], want [32]"},
		{"momentum", func(st *train.State) {
			st.Momentum = []train.Tensor{{Name: "head.0.weight", Shape: []int{2}, Data: []float32{1, 2}}}
		}, "momentum[0] head.0.weight: shape [2]"},
		{"queue", func(st *train.State) {
			st.Queue = &train.Tensor{Name: "queue", Shape: []int{2, 4, 3}, Data: make([]float32, 24)}
		}, "queue shape [2 4 3], want [2 L 8]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := b.State()
			for i := range st.Params {
				st.Params[i].Data[0] += 1 // would show if Load half-applied
			}
			tc.mutate(st)
			err := b.Load(st)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want error containing %q", err, tc.want)
			}
			now, _ := b.State()
			if err := statesEqual(good, now); err != nil {
				t.Fatalf("failed Load changed the state: %v", err)
			}
		})
	}
}

// TestConvFastPathsMatchIm2col checks the 1x1 fast path and the flipped-
// kernel input gradient of stride-1 convolutions against the general
// im2col/col2im path on the same layer, forward and backward, also when the
// input gradient accumulates.
func TestConvFastPathsMatchIm2col(t *testing.T) {
	tests := []struct {
		name                string
		kernel, stride, pad int
	}{
		{"1x1", 1, 1, 0},
		{"3x3 stride 1", 3, 1, 1},
		{"3x3 stride 1 unpadded", 3, 1, 0},
		{"3x3 stride 2", 3, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := model.Layer{Op: model.OpConv, Name: "c", Inputs: []int{model.InputOfSection}, In: 5, Out: 7, Kernel: tc.kernel, Stride: tc.stride, Pad: tc.pad}
			// Two consumers of the input, so the second backward adds.
			layers := []model.Layer{l, l}
			layers[1].Name = "d"
			n := 7 * 5 * tc.kernel * tc.kernel
			params := map[string]*param{}
			for _, name := range []string{"c", "d"} {
				w := &param{name: name + ".weight", shape: []int{7, 5, tc.kernel, tc.kernel}}
				w.data, w.work, w.workGrad, w.flip = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
				for i, v := range testValues(w.name, n) {
					w.data[i] = float32(v)
				}
				params[w.name] = w
			}
			sec, err := bindSection("test", layers, params, nil)
			if err != nil {
				t.Fatal(err)
			}
			run := func(force bool) [][]float32 {
				e := newEngine(2, "float32")
				e.forceIm2col = force
				p, err := newPlan(sec, 3, 6, 5, 5, planMode{train: true, inputGrad: true})
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range testValues("x", len(p.input.data)) {
					p.input.data[i] = float32(v)
				}
				var out [][]float32
				for _, w := range params {
					toWorkLayout(w.work, w.data, 7, 5, tc.kernel)
					toFlippedLayout(w.flip, w.data, 7, 5, tc.kernel)
					clear(w.workGrad)
				}
				e.forward(p)
				for i := range p.vals {
					if p.vals[i].grad == nil { // pooled by engine.backward, which this test does by hand
						p.vals[i].grad = make([]float32, len(p.vals[i].data))
					}
					for j, v := range testValues(fmt.Sprint("dy", i), len(p.vals[i].grad)) {
						p.vals[i].grad[j] = float32(v)
					}
				}
				// backward of both layers by hand: each output has its own dy.
				p.input.gradSet = false
				for i := len(p.vals) - 1; i >= 0; i-- {
					e.convBackward(sec.bindings[i].layer, sec.bindings[i].weight, p.input, p.vals[i], true)
					out = append(out, append([]float32(nil), p.vals[i].data...))
				}
				out = append(out, append([]float32(nil), p.input.grad...))
				for _, name := range []string{"c.weight", "d.weight"} {
					out = append(out, append([]float32(nil), params[name].workGrad...))
				}
				return out
			}
			fast, slow := run(false), run(true)
			for k := range fast {
				for i := range fast[k] {
					if math.Abs(float64(fast[k][i]-slow[k][i])) > 1e-5 {
						t.Fatalf("result %d value %d: fast path %v, im2col %v", k, i, fast[k][i], slow[k][i])
					}
				}
			}
		})
	}
}

// Example trains the small network for two steps and reads its features.
func Example() {
	cfg := train.DefaultConfig()
	Edit(&cfg).Threads = 2
	cfg.Model = train.ModelConfig{Arch: "small", HiddenMLP: 16, FeatDim: 8, Prototypes: 10}
	b, err := train.NewBackend(cfg, 31) // "cpu" registered by this package
	if err != nil {
		panic(err)
	}
	defer b.Close()
	in := tinyInput(4, 16) // 4 images, two 16 px crops each
	for it := 0; it < 2; it++ {
		in.Iter = it
		if _, err := b.Step(context.Background(), in); err != nil {
			panic(err)
		}
	}
	rows, width, _ := b.Embed(context.Background(), in.Groups[0].Data, 8, 16, train.FeatureTrunk)
	fmt.Println(len(rows)/width, "rows of", width)
	// Output: 8 rows of 64
}

// TestEmbedChunks checks that more images than one chunk give the same rows
// as embedding each image alone.
func TestEmbedChunks(t *testing.T) {
	b, _ := New(tinyConfig(), 1)
	const n, size = embedChunk + 3, 8
	u := testValues("chunks", n*3*size*size)
	imgs := make([]float32, len(u))
	for i, v := range u {
		imgs[i] = float32(v)
	}
	all, width, err := b.Embed(context.Background(), imgs, n, size, train.FeatureScores)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, embedChunk - 1, embedChunk, n - 1} {
		one, _, _ := b.Embed(context.Background(), imgs[i*3*size*size:(i+1)*3*size*size], 1, size, train.FeatureScores)
		for j := range one {
			if math.Abs(float64(one[j]-all[i*width+j])) > 1e-5 {
				t.Fatalf("image %d: alone %v, in the chunked batch %v", i, one, all[i*width:(i+1)*width])
			}
		}
	}
}

// negativeThreads is a train section whose cpu.threads is negative.
func negativeThreads() train.Config {
	c := train.Config{Backend: "cpu"}
	Edit(&c).Threads = -1
	return c
}
