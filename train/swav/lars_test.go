package swav

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/train"
)

func larsParams(seed uint64) []Param[float32] {
	rng := rand.New(rand.NewPCG(seed, 5))
	mk := func(n int, scale float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * scale)
		}
		return x
	}
	return []Param[float32]{
		{Name: "trunk.conv1.weight", Shape: []int{2, 3}, Data: mk(6, 1), Grad: mk(6, 0.01)},
		{Name: "head.0.bias", Data: make([]float32, 4), Grad: mk(4, 0.1)}, // zero norm: unscaled step
		{Name: "prototypes.weight", Shape: []int{3, 2}, Data: mk(6, 1), Grad: mk(6, 0.01), Frozen: true},
		{Name: "bn.weight", Data: mk(3, 1), Grad: nil}, // no gradient
	}
}

// TestLARSSkipsFrozenAndGradientless: no update, no weight decay and no
// momentum buffer for a frozen tensor or one without gradient; a zero-norm
// tensor takes the plain SGD step lr*g.
func TestLARSSkipsFrozenAndGradientless(t *testing.T) {
	ps := larsParams(1)
	before := make([][]float32, len(ps))
	for i, p := range ps {
		before[i] = slices.Clone(p.Data)
	}
	opt := NewLARS[float32](testOptim)
	opt.Step(ps, 2)
	for _, i := range []int{2, 3} {
		if !slices.Equal(ps[i].Data, before[i]) || opt.Buffer(ps[i].Name) != nil {
			t.Errorf("%s changed or got a momentum buffer", ps[i].Name)
		}
	}
	for j, g := range ps[1].Grad {
		if ps[1].Data[j] != -2*g {
			t.Fatalf("zero-norm tensor: %v, want -lr*g", ps[1].Data)
		}
	}
	if names := bufferNames(opt); !slices.Equal(names, []string{"trunk.conv1.weight", "head.0.bias"}) {
		t.Fatalf("buffers %v", names)
	}
	// Unfrozen, the prototypes get a first-step buffer equal to the scaled g.
	ps[2].Frozen = false
	opt.Step(ps, 2)
	if opt.Buffer("prototypes.weight") == nil {
		t.Fatal("unfrozen prototypes got no buffer")
	}
}

func bufferNames(o *LARS[float32]) []string {
	var n []string
	for _, b := range o.Buffers() {
		n = append(n, b.Name)
	}
	return n
}

// TestLARSBuffersRoundTrip: a run continued from Buffers/SetBuffers (a
// checkpoint) computes exactly what the uninterrupted run does.
func TestLARSBuffersRoundTrip(t *testing.T) {
	a, b := larsParams(2), larsParams(2)
	optA := NewLARS[float32](testOptim)
	optA.Step(a, 1)
	optA.Step(a, 0.5)
	saved := optA.Buffers()
	if saved[0].Shape[0] != 2 || saved[0].Shape[1] != 3 || saved[1].Shape[0] != 4 {
		t.Fatalf("buffer shapes %v %v", saved[0].Shape, saved[1].Shape)
	}
	for i := range b {
		b[i].Data = slices.Clone(a[i].Data)
	}
	optB := NewLARS[float32](testOptim)
	if err := optB.SetBuffers(saved); err != nil {
		t.Fatal(err)
	}
	if err := optB.Validate(b); err != nil {
		t.Fatal(err)
	}
	optA.Step(a, 0.25)
	optB.Step(b, 0.25)
	for i := range a {
		if !slices.Equal(a[i].Data, b[i].Data) {
			t.Fatalf("%s differs after resuming", a[i].Name)
		}
	}
}

func TestLARSBadBuffers(t *testing.T) {
	cases := []struct {
		name    string
		bufs    []train.Tensor
		params  []Param[float32]
		wantSet string
		wantVal string
	}{
		{"repeated", []train.Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}, {Name: "w", Shape: []int{1}, Data: []float32{1}}}, nil,
			`momentum buffer 1: name "w" repeated`, ""},
		{"shape", []train.Tensor{{Name: "w", Shape: []int{2, 2}, Data: []float32{1}}}, nil,
			`momentum buffer "w": shape [2 2] needs 4 values, has 1`, ""},
		{"unknown parameter", []train.Tensor{{Name: "x", Shape: []int{1}, Data: []float32{1}}}, []Param[float32]{{Name: "w", Data: []float32{1}}},
			"", `momentum buffer "x" has no parameter`},
		{"length", []train.Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, []Param[float32]{{Name: "w", Data: []float32{1}}},
			"", `momentum buffer "w" has 2 values, parameter has 1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opt := NewLARS[float32](testOptim)
			err := opt.SetBuffers(tc.bufs)
			if tc.wantSet != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantSet) {
					t.Fatalf("SetBuffers error %v, want %q", err, tc.wantSet)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := opt.Validate(tc.params); err == nil || !strings.Contains(err.Error(), tc.wantVal) {
				t.Fatalf("Validate error %v, want %q", err, tc.wantVal)
			}
		})
	}
}

// TestFloat32KernelsMatchGo pins lars_cgo.go's vectorised kernels to the Go
// loops bit for bit, on lengths around the eight-wide blocks.
func TestFloat32KernelsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 7, 8, 9, 63, 1000, 4099} {
		v := func() []float32 {
			s := make([]float32, n)
			for i := range s {
				s[i] = float32(rng.NormFloat64())
			}
			return s
		}
		data, grad, buf := v(), v(), v()
		if got, want := sumSquares32(grad), sumSquares(grad); got != want {
			t.Errorf("n=%d: sumSquares32 %v, Go %v", n, got, want)
		}
		d2, b2 := slices.Clone(data), slices.Clone(buf)
		larsUpdate32(data, grad, buf, 1e-6, 0.37, 0.9, 4.8)
		larsUpdate(d2, grad, b2, 1e-6, 0.37, 0.9, 4.8)
		if !slices.Equal(data, d2) || !slices.Equal(buf, b2) {
			t.Errorf("n=%d: larsUpdate32 differs from the Go loop", n)
		}
	}
}
