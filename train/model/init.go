package model

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/swavgo/swav/train"
)

// Init builds cfg's network and its initial state (SPEC §6): conv weights
// Kaiming-normal (fan_out, ReLU gain: std sqrt(2/(Out*Kernel*Kernel))),
// BatchNorm gamma 1 and beta 0, Linear weight and bias U(±1/sqrt(In)),
// running mean 0 and running var 1. Params and Buffers come in canonical
// order (Arch.Params, Arch.Buffers); Momentum and Queue are empty.
//
// Each tensor draws from its own generator seeded by (seed, tensor name), so
// the values are deterministic from seed and independent of layer order and
// of the other tensors. Cost: one pass over the parameters (about 25M
// normal draws, well under a second, for resnet50 with the recipe head).
func Init(cfg train.ModelConfig, seed int64) (*train.State, error) {
	a, err := Build(cfg)
	if err != nil {
		return nil, err
	}
	return a.Init(seed), nil
}

// Init builds the Arch's initial state from seed; see the package-level Init.
func (a *Arch) Init(seed int64) *train.State {
	st := &train.State{}
	for _, sec := range a.Sections() {
		for i := range sec {
			l := &sec[i]
			for _, p := range l.Params() {
				st.Params = append(st.Params, initParam(l, p, seed))
			}
			for _, b := range l.Buffers() {
				st.Buffers = append(st.Buffers, initBuffer(b))
			}
		}
	}
	return st
}

// TensorRand is the generator Init uses for the tensor called name: a PCG
// seeded with seed and the FNV-1a hash of name.
func TensorRand(seed int64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

func newTensor(spec TensorSpec) train.Tensor {
	t := train.Tensor{Name: spec.Name, Shape: append([]int(nil), spec.Shape...)}
	t.Data = make([]float32, t.Numel())
	return t
}

func initParam(l *Layer, spec TensorSpec, seed int64) train.Tensor {
	t := newTensor(spec)
	rng := TensorRand(seed, spec.Name)
	switch l.Op {
	case OpConv:
		std := math.Sqrt(2 / float64(l.Out*l.Kernel*l.Kernel))
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * std)
		}
	case OpBatchNorm:
		if spec.Name == l.Name+".weight" {
			fill(t.Data, 1)
		}
	case OpLinear:
		bound := 1 / math.Sqrt(float64(l.In))
		for i := range t.Data {
			t.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	default:
		panic(fmt.Sprintf("model: layer %q (%s) has no parameters", l.Name, l.Op))
	}
	return t
}

func initBuffer(spec TensorSpec) train.Tensor {
	t := newTensor(spec)
	if strings.HasSuffix(spec.Name, ".running_var") {
		fill(t.Data, 1)
	}
	return t
}

func fill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}

// CheckState verifies that st holds exactly the Arch's params and buffers
// (names, order and shapes) with data of the right length, and that any
// momentum tensor names a param of the same shape. The error names the first
// mismatch ("params[3]: name trunk.bn1.bias, want trunk.bn1.weight").
func (a *Arch) CheckState(st *train.State) error {
	if st == nil {
		return fmt.Errorf("model: nil state")
	}
	if err := checkList("params", st.Params, a.Params()); err != nil {
		return err
	}
	if err := checkList("buffers", st.Buffers, a.Buffers()); err != nil {
		return err
	}
	shapes := map[string][]int{}
	for _, p := range a.Params() {
		shapes[p.Name] = p.Shape
	}
	for i := range st.Momentum {
		m := &st.Momentum[i]
		want, ok := shapes[m.Name]
		if !ok {
			return fmt.Errorf("model: momentum[%d]: %q is not a parameter of %s", i, m.Name, a.Config.Arch)
		}
		if err := checkTensor(fmt.Sprintf("momentum[%d]", i), m, TensorSpec{m.Name, want}); err != nil {
			return err
		}
	}
	return nil
}

func checkList(what string, got []train.Tensor, want []TensorSpec) error {
	for i := range want {
		if i >= len(got) {
			return fmt.Errorf("model: %s: %d tensors, want %d (first missing: %s %v)", what, len(got), len(want), want[i].Name, want[i].Shape)
		}
		if err := checkTensor(fmt.Sprintf("%s[%d]", what, i), &got[i], want[i]); err != nil {
			return err
		}
	}
	if len(got) > len(want) {
		return fmt.Errorf("model: %s: %d tensors, want %d (first extra: %s)", what, len(got), len(want), got[len(want)].Name)
	}
	return nil
}

func checkTensor(where string, t *train.Tensor, want TensorSpec) error {
	if t.Name != want.Name {
		return fmt.Errorf("model: %s: name %s, want %s", where, t.Name, want.Name)
	}
	if !slices.Equal(t.Shape, want.Shape) {
		return fmt.Errorf("model: %s %s: shape %v, want %v", where, t.Name, t.Shape, want.Shape)
	}
	if len(t.Data) != t.Numel() {
		return fmt.Errorf("model: %s %s: %d values for shape %v (want %d)", where, t.Name, len(t.Data), t.Shape, t.Numel())
	}
	return nil
}
