package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/swavgo/swav/internal/dnnl"
	"github.com/swavgo/swav/train/model"
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
		h := make([]uint16, n)
		for i, v := range values(n) {
			h[i] = dnnl.ToBF16(v)
		}
		for _, relu := range []bool{false, true} {
			got, want := make([]float32, n), make([]float32, n)
			addBF16Kernel(got, h, c, relu)
			addBF16Go(want, h, c, relu)
			if !same(got, want) {
				t.Errorf("n=%d relu=%v: addBF16Kernel differs from addBF16Go", n, relu)
			}
		}
		h1, h2 := make([]uint16, n), make([]uint16, n)
		maskTwoBF16Kernel(h1, g2, dy, a)
		maskTwoBF16Go(h2, w2, dy, a)
		sameHalves := slices.EqualFunc(h1, h2, func(x, y uint16) bool {
			return x == y || x&0x7fff > 0x7f80 && y&0x7fff > 0x7f80 // NaNs
		})
		if !sameHalves || !same(g2, w2) {
			t.Errorf("n=%d: maskTwoBF16Kernel differs from maskTwoBF16Go", n)
		}
		got, want := slices.Clone(a), slices.Clone(a)
		addIntoKernel(got, c)
		addIntoGo(want, c)
		if !same(got, want) {
			t.Errorf("n=%d: addIntoKernel differs from addIntoGo", n)
		}
	}
}

// TestMaxPoolKernelMatchesGo pins the vectorised max pooling to maxPoolGo:
// values and argmax, NaNs and ties among the inputs, a window that lies in
// the padding only, and several geometries (the ResNet stem's 3x3/2 pad 1
// among them).
func TestMaxPoolKernelMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, g := range []struct{ n, h, w, c, k, stride, pad int }{
		{2, 9, 9, 64, 3, 2, 1}, {1, 8, 7, 3, 2, 2, 0}, {3, 5, 5, 17, 3, 1, 1}, {1, 2, 2, 8, 2, 3, 2}, // its first window lies in the padding only
	} {
		oh, ow := (g.h+2*g.pad-g.k)/g.stride+1, (g.w+2*g.pad-g.k)/g.stride+1
		l := &model.Layer{Op: model.OpMaxPool, Kernel: g.k, Stride: g.stride, Pad: g.pad}
		x := &value{n: g.n, h: g.h, w: g.w, c: g.c, data: make([]float32, g.n*g.h*g.w*g.c)}
		for i := range x.data {
			switch rng.IntN(10) {
			case 0:
				x.data[i] = float32(math.NaN())
			case 1:
				x.data[i] = 1 // ties
			default:
				x.data[i] = float32(rng.NormFloat64())
			}
		}
		outs := [2]*value{}
		args := [2][]int32{}
		for i := range outs {
			outs[i] = &value{n: g.n, h: oh, w: ow, c: g.c, data: make([]float32, g.n*oh*ow*g.c)}
			args[i] = make([]int32, len(outs[i].data))
		}
		maxPoolKernel(l, x, outs[0], args[0], 0, g.n)
		maxPoolGo(l, x, outs[1], args[1], 0, g.n)
		same := slices.EqualFunc(outs[0].data, outs[1].data, func(a, b float32) bool {
			return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
		})
		if !same || !slices.Equal(args[0], args[1]) {
			t.Errorf("%+v: maxPoolKernel differs from maxPoolGo", g)
		}
	}
}
