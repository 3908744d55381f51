package xla

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/backendtest"
	"github.com/swavgo/swav/train/torchtest"
)

// torchTensor is one tensor in torch_step.py's input.
type torchTensor struct {
	Name  string    `json:"name"`
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

type torchGroup struct {
	Size  int       `json:"size"`
	Count int       `json:"count"`
	Data  []float32 `json:"data"`
}

type torchStep struct {
	Iter     int          `json:"iter"`
	LR       float64      `json:"lr"`
	UseQueue bool         `json:"use_queue"`
	Batch    int          `json:"batch"`
	Groups   []torchGroup `json:"groups"`
}

type torchInput struct {
	Arch           string        `json:"arch"`
	Hidden         int           `json:"hidden"`
	Feat           int           `json:"feat"`
	K              int           `json:"k"`
	SmallStem      bool          `json:"small_stem"`
	Temperature    float64       `json:"temperature"`
	Epsilon        float64       `json:"epsilon"`
	SinkhornIters  int           `json:"sinkhorn_iterations"`
	CropsForAssign []int         `json:"crops_for_assign"`
	QueueLength    int           `json:"queue_length"`
	FreezeIters    int           `json:"freeze_prototypes_iters"`
	WeightDecay    float64       `json:"weight_decay"`
	Momentum       float64       `json:"momentum"`
	Trust          float64       `json:"trust"`
	Params         []torchTensor `json:"params"`
	Buffers        []torchTensor `json:"buffers"`
	Steps          []torchStep   `json:"steps"`
}

// torchStepResult is one step's loss and codes.
type torchStepResult struct {
	Loss  float64     `json:"loss"`
	Codes [][]float64 `json:"codes"`
}

// torchOutput is torch_step.py's result; runs of other backends are put in
// the same form (refOf) to be compared the same way.
type torchOutput struct {
	Steps    []torchStepResult    `json:"steps"`
	Params   map[string][]float64 `json:"params"`
	Buffers  map[string][]float64 `json:"buffers"`
	Momentum map[string][]float64 `json:"momentum"`
	Queue    []float64            `json:"queue"`
}

// torchCase is one backend run to re-state in PyTorch.
type torchCase struct {
	cfg   train.Config
	state *train.State // initial
	steps []*train.StepInput
}

// runTorch runs testdata/torch_step.py once for all cases (PyTorch's import
// costs seconds); it skips the test when PyTorch is not installed.
func runTorch(t *testing.T, cases []torchCase) []*torchOutput {
	t.Helper()
	torchtest.Require(t)
	dir := t.TempDir()
	var args []string
	for i, c := range cases {
		raw, err := json.Marshal(torchInputOf(c))
		if err != nil {
			t.Fatal(err)
		}
		inPath := filepath.Join(dir, fmt.Sprintf("in%d.json", i))
		if err := os.WriteFile(inPath, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, inPath, filepath.Join(dir, fmt.Sprintf("out%d.json", i)))
	}
	torchtest.Run(t, filepath.Join("testdata", "torch_step.py"), args...)
	outs := make([]*torchOutput, len(cases))
	for i := range cases {
		raw, err := os.ReadFile(args[2*i+1])
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = &torchOutput{}
		if err := json.Unmarshal(raw, outs[i]); err != nil {
			t.Fatalf("torch_step.py output %d: %v", i, err)
		}
	}
	return outs
}

func torchInputOf(c torchCase) torchInput {
	cfg := c.cfg
	in := torchInput{
		Arch: cfg.Model.Arch, Hidden: cfg.Model.HiddenMLP, Feat: cfg.Model.FeatDim, K: cfg.Model.Prototypes,
		SmallStem: cfg.Model.SmallStem, Temperature: cfg.SwAV.Temperature, Epsilon: cfg.SwAV.Epsilon,
		SinkhornIters: cfg.SwAV.SinkhornIterations, CropsForAssign: cfg.SwAV.CropsForAssign,
		QueueLength: cfg.SwAV.QueueLength, FreezeIters: cfg.SwAV.FreezePrototypesIters,
		WeightDecay: cfg.Optim.WeightDecay, Momentum: cfg.Optim.Momentum, Trust: cfg.Optim.TrustCoefficient,
	}
	for _, p := range c.state.Params {
		in.Params = append(in.Params, torchTensor(p))
	}
	for _, p := range c.state.Buffers {
		in.Buffers = append(in.Buffers, torchTensor(p))
	}
	for _, s := range c.steps {
		ts := torchStep{Iter: s.Iter, LR: s.LR, UseQueue: s.UseQueue, Batch: s.Batch}
		for _, g := range s.Groups {
			ts.Groups = append(ts.Groups, torchGroup(g))
		}
		in.Steps = append(in.Steps, ts)
	}
	return in
}

// relErr is max|got-want| / max(max|want|, floor).
func relErr(got []float32, want []float64, floor float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var diff, scale float64
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-want[i]))
		scale = math.Max(scale, math.Abs(want[i]))
	}
	return diff / math.Max(scale, floor)
}

// tolerances of a float32 backend against the float64 PyTorch truth.
type tolerances struct {
	loss, codes, params, buffers, momentum, queue float64
}

// refOf puts a backend's run in torch_step.py's output form.
func refOf(results []train.StepResult, st *train.State) *torchOutput {
	widen := func(x []float32) []float64 {
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = float64(v)
		}
		return out
	}
	asMap := func(ts []train.Tensor) map[string][]float64 {
		m := map[string][]float64{}
		for _, t := range ts {
			m[t.Name] = widen(t.Data)
		}
		return m
	}
	ref := &torchOutput{Params: asMap(st.Params), Buffers: asMap(st.Buffers), Momentum: asMap(st.Momentum)}
	for _, r := range results {
		sr := torchStepResult{Loss: r.Loss}
		for _, c := range r.Codes {
			sr.Codes = append(sr.Codes, widen(c))
		}
		ref.Steps = append(ref.Steps, sr)
	}
	if st.Queue != nil {
		ref.Queue = widen(st.Queue.Data)
	}
	return ref
}

// compareWithTorch checks the backend's results and final state against
// torch_step.py's (or another backend's, see refOf).
func compareWithTorch(t *testing.T, cfg train.Config, results []train.StepResult, st *train.State, want *torchOutput, tol tolerances) {
	t.Helper()
	skip := backendtest.NoiseDetermined(t, cfg)
	for i, r := range results {
		w := want.Steps[i]
		if d := math.Abs(r.Loss-w.Loss) / math.Max(1, math.Abs(w.Loss)); d > tol.loss {
			t.Errorf("step %d: loss %.7f, torch %.7f (rel %.2g)", i, r.Loss, w.Loss, d)
		}
		if len(r.Codes) != len(w.Codes) {
			t.Errorf("step %d: %d codes, reference %d", i, len(r.Codes), len(w.Codes))
			continue
		}
		for c := range w.Codes {
			if d := relErr(r.Codes[c], w.Codes[c], 1); d > tol.codes {
				t.Errorf("step %d: codes[%d] off by %.2g", i, c, d)
			}
		}
	}
	check := func(kind string, ts []train.Tensor, want map[string][]float64, limit float64) {
		worst, worstName := 0.0, ""
		for _, p := range ts {
			if skip[p.Name] {
				continue
			}
			w, ok := want[p.Name]
			if !ok {
				t.Errorf("%s %s: torch has none", kind, p.Name)
				continue
			}
			if d := relErr(p.Data, w, 1e-6); d > worst {
				worst, worstName = d, p.Name
			}
		}
		t.Logf("%s: worst relative error %.2g (%s)", kind, worst, worstName)
		if worst > limit {
			t.Errorf("%s %s: relative error %.2g > %.2g", kind, worstName, worst, limit)
		}
	}
	check("params", st.Params, want.Params, tol.params)
	check("buffers", st.Buffers, want.Buffers, tol.buffers)
	check("momentum", st.Momentum, want.Momentum, tol.momentum)
	if len(st.Momentum) != len(want.Momentum) {
		t.Errorf("%d momentum buffers, torch %d", len(st.Momentum), len(want.Momentum))
	}
	switch {
	case want.Queue == nil && st.Queue != nil:
		t.Errorf("queue %v, torch has none", st.Queue.Shape)
	case want.Queue != nil && st.Queue == nil:
		t.Errorf("no queue, torch has %d values", len(want.Queue))
	case want.Queue != nil:
		if d := relErr(st.Queue.Data, want.Queue, 1); d > tol.queue {
			t.Errorf("queue off by %.2g", d)
		}
	}
}

// runSteps runs steps on b and returns the results and the final state.
func runSteps(t *testing.T, b train.Backend, steps []*train.StepInput) ([]train.StepResult, *train.State) {
	t.Helper()
	var results []train.StepResult
	for i, in := range steps {
		r, err := b.Step(context.Background(), in)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		results = append(results, r)
	}
	st, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	return results, st
}

// float32Tolerances: the issue's 1e-4 relative for loss, codes, weights and
// statistics (measured: about 2e-5 at worst), tighter for the queue (copied
// embeddings).
var float32Tolerances = tolerances{loss: 1e-4, codes: 1e-4, params: 1e-4, buffers: 1e-4, momentum: 1e-4, queue: 1e-5}

func TestStepMatchesPyTorch(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*train.Config)
		steps func() []*train.StepInput
	}{
		{"small/2x8+2x6/frozen-prototypes", func(c *train.Config) { c.SwAV.FreezePrototypesIters = 10 }, func() []*train.StepInput {
			return []*train.StepInput{randomInput(1, 4, [2]int{8, 2}, [2]int{6, 2})}
		}},
		{"small/queue/3-steps", func(c *train.Config) {
			c.SwAV.QueueLength = 8
			c.SwAV.CropsForAssign = []int{0, 1}
		}, func() []*train.StepInput {
			var s []*train.StepInput
			for i := range 3 {
				in := randomInput(uint64(10+i), 4, [2]int{8, 2}, [2]int{6, 1})
				in.Iter, in.UseQueue, in.LR = i, true, 0.3+0.1*float64(i)
				s = append(s, in)
			}
			return s
		}},
		{"small/no-hidden/single-assign", func(c *train.Config) {
			c.Model.HiddenMLP = 0
			c.SwAV.CropsForAssign = []int{1}
			c.Optim.WeightDecay = 0.1
		}, func() []*train.StepInput {
			a := randomInput(3, 3, [2]int{8, 3})
			b := randomInput(4, 3, [2]int{8, 3})
			b.Iter = 6
			return []*train.StepInput{a, b}
		}},
	}
	var runs []torchCase
	var backends []*Backend
	for _, tc := range cases {
		cfg := tinyConfig()
		Edit(&cfg).PJRTPlugin = conformanceEngine()
		tc.setup(&cfg)
		b, err := NewWithOptions(cfg, 7, Options{KeepCodes: true})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		initial, err := b.State()
		if err != nil {
			t.Fatal(err)
		}
		backends = append(backends, b)
		runs = append(runs, torchCase{cfg: cfg, state: initial, steps: tc.steps()})
	}
	want := runTorch(t, runs)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			results, st := runSteps(t, backends[i], runs[i].steps)
			compareWithTorch(t, runs[i].cfg, results, st, want[i], float32Tolerances)
		})
	}
}

func ExampleNew() {
	cfg := train.DefaultConfig()
	cfg.Backend = "xla"
	Edit(&cfg).PJRTPlugin = EngineGo // or the path of xla_cuda_plugin.so
	cfg.BatchSize = 2
	cfg.Model = train.ModelConfig{Arch: "small", HiddenMLP: 8, FeatDim: 4, Prototypes: 6}
	b, err := train.NewBackend(cfg, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	in := randomInput(1, 2, [2]int{8, 2})
	res, err := b.Step(context.Background(), in)
	fmt.Println(b.Name(), err == nil, res.Loss > 0)
	// Output: xla true true
}
