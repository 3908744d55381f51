package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestElementwiseKernelsMatchGo pins the vectorised kernels (kernels_cgo.go
// when cgo is on) to their Go twins bit for bit, with NaNs, infinities,
// signed zeros and subnormals among the values, on lengths around the
// vector widths. NaNs count as equal whatever their payload (Go's max
// returns its own quiet NaN, x86 the default one).
func TestElementwiseKernelsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1e-40, -1e-40}
	values := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			if rng.IntN(4) == 0 {
				v[i] = specials[rng.IntN(len(specials))]
			} else {
				v[i] = float32(rng.NormFloat64())
			}
		}
		return v
	}
	same := func(a, b []float32) bool {
		return slices.EqualFunc(a, b, func(x, y float32) bool {
			return math.Float32bits(x) == math.Float32bits(y) || x != x && y != y
		})
	}
	for _, n := range []int{0, 1, 7, 16, 17, 33, 1000} {
		a, c, dy := values(n), values(n), values(n)
		for _, relu := range []bool{false, true} {
			got, want := make([]float32, n), make([]float32, n)
			addKernel(got, a, c, relu)
			addGo(want, a, c, relu)
			if !same(got, want) {
				t.Errorf("n=%d relu=%v: addKernel differs from addGo", n, relu)
			}
		}
		g1, g2, w1, w2 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		maskTwoKernel(g1, g2, dy, a)
		maskTwoGo(w1, w2, dy, a)
		if !same(g1, w1) || !same(g2, w2) {
			t.Errorf("n=%d: maskTwoKernel differs from maskTwoGo", n)
		}
		got, want := slices.Clone(a), slices.Clone(a)
		addIntoKernel(got, c)
		addIntoGo(want, c)
		if !same(got, want) {
			t.Errorf("n=%d: addIntoKernel differs from addIntoGo", n)
		}
	}
}
