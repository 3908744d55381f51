package dnnl

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// eachTap calls f for every (input value, weight, output value) product of
// the convolution s: NHWC input index si, OIHW weight index wi, NHWC output
// index di.
func eachTap(s ConvShape, f func(si, wi, di int)) {
	for n := 0; n < s.N; n++ {
		for oy := 0; oy < s.OH; oy++ {
			for ox := 0; ox < s.OW; ox++ {
				for o := 0; o < s.OutC; o++ {
					di := ((n*s.OH+oy)*s.OW+ox)*s.OutC + o
					for ky := 0; ky < s.Kernel; ky++ {
						iy := oy*s.Stride - s.Pad + ky
						if iy < 0 || iy >= s.H {
							continue
						}
						for kx := 0; kx < s.Kernel; kx++ {
							ix := ox*s.Stride - s.Pad + kx
							if ix < 0 || ix >= s.W {
								continue
							}
							for c := 0; c < s.C; c++ {
								f(((n*s.H+iy)*s.W+ix)*s.C+c, ((o*s.C+c)*s.Kernel+ky)*s.Kernel+kx, di)
							}
						}
					}
				}
			}
		}
	}
}

// naiveConv is the float64 reference forward.
func naiveConv(s ConvShape, src, w []float32) []float64 {
	out := make([]float64, s.dstLen())
	eachTap(s, func(si, wi, di int) { out[di] += float64(src[si]) * float64(w[wi]) })
	return out
}

// naiveBackward returns dL/dsrc and dL/dw for L = sum(dst * g).
func naiveBackward(s ConvShape, src, w, g []float32) (dsrc, dw []float64) {
	dsrc, dw = make([]float64, s.srcLen()), make([]float64, s.weightsLen())
	eachTap(s, func(si, wi, di int) {
		dsrc[si] += float64(g[di]) * float64(w[wi])
		dw[wi] += float64(g[di]) * float64(src[si])
	})
	return dsrc, dw
}

func randoms(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func assertClose(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	var maxErr, scale float64
	for i, w := range want {
		maxErr = max(maxErr, math.Abs(float64(got[i])-w))
		scale = max(scale, math.Abs(w))
	}
	if maxErr > 1e-4*max(scale, 1) {
		t.Errorf("%s: max error %.3g (largest value %.3g)", what, maxErr, scale)
	}
}

func outSize(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

var shapes = []struct {
	name                        string
	n, h, c, oc, k, stride, pad int
}{
	{"stem 7x7 s2", 2, 17, 3, 8, 7, 2, 3},
	{"3x3 s1", 3, 9, 16, 24, 3, 1, 1},
	{"3x3 s2 even", 2, 10, 16, 32, 3, 2, 1},
	{"3x3 s2 odd", 2, 9, 8, 16, 3, 2, 1},
	{"1x1", 2, 7, 32, 64, 1, 1, 0},
	{"1x1 s2 downsample", 2, 8, 32, 64, 1, 2, 0},
	{"3x3 no pad", 1, 6, 4, 4, 3, 1, 0},
}

func shapeOf(tc struct {
	name                        string
	n, h, c, oc, k, stride, pad int
}) ConvShape {
	o := outSize(tc.h, tc.k, tc.stride, tc.pad)
	return ConvShape{N: tc.n, H: tc.h, W: tc.h, C: tc.c, OutC: tc.oc, OH: o, OW: o, Kernel: tc.k, Stride: tc.stride, Pad: tc.pad}
}

func requireDNNL(t *testing.T) {
	t.Helper()
	if !Available() {
		t.Skipf("oneDNN not available: %s", Name())
	}
}

// bf16Bound is the most a bf16 convolution may differ from the exact
// result, per output: each operand is rounded to bf16's 8-bit mantissa
// (relative error at most 2^-9), so each product is off by at most
// (1+2^-9)^2-1 < 2^-8 of its size, and float32 accumulation adds about
// taps x 2^-24 of the sum of sizes more; 2^-8 x 1.01 of the sum of the
// products' sizes covers both. A result that is itself rounded to bf16
// before it comes back as float32 (the weights gradient, as PyTorch's
// autocast gives it too) is off by up to 2^-9 of its size more, at most
// 2^-9 of the sum of sizes: 1.5 x 2^-8 x 1.01 then.
func bf16Bound(sumAbs []float64, rounded bool) []float64 {
	k := math.Ldexp(1.01, -8)
	if rounded {
		k *= 1.5
	}
	b := make([]float64, len(sumAbs))
	for i, v := range sumAbs {
		b[i] = v*k + 1e-6
	}
	return b
}

// assertWithin checks every value against its own bound.
func assertWithin(t *testing.T, what string, got []float32, want, bound []float64) {
	t.Helper()
	bad, worst := 0, 0.0
	for i, w := range want {
		d := math.Abs(float64(got[i]) - w)
		if !(d <= bound[i]) {
			bad++
		}
		worst = max(worst, d/bound[i])
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values outside the bf16 bound (worst %.2f x the bound)", what, bad, len(want), worst)
	}
}

func TestConvMatchesReference(t *testing.T) {
	requireDNNL(t)
	for _, bf16 := range []bool{false, true} {
		precision := map[bool]string{false: "float32", true: "bf16"}[bf16]
		if bf16 && !NativeBF16() {
			t.Logf("bf16 on %s is emulated by oneDNN: checked for correctness only", ISA())
		}
		rng := rand.New(rand.NewPCG(3, 4))
		for _, tc := range shapes {
			t.Run(precision+"/"+tc.name, func(t *testing.T) {
				s := shapeOf(tc)
				src, w, g := randoms(rng, s.srcLen()), randoms(rng, s.weightsLen()), randoms(rng, s.dstLen())
				want := naiveConv(s, src, w)
				wantDsrc, wantDw := naiveBackward(s, src, w, g)
				// The sums of the products' sizes bound bf16's error.
				abs := func(v []float32) []float32 {
					a := make([]float32, len(v))
					for i, x := range v {
						a[i] = float32(math.Abs(float64(x)))
					}
					return a
				}
				absFwd := naiveConv(s, abs(src), abs(w))
				absDsrc, absDw := naiveBackward(s, abs(src), abs(w), abs(g))
				check := func(what string, got []float32, want, sumAbs []float64) {
					t.Helper()
					if bf16 {
						assertWithin(t, what, got, want, bf16Bound(sumAbs, strings.HasPrefix(what, "backward weights")))
					} else {
						assertClose(t, what, got, want)
					}
				}

				c, err := NewConv(s, ConvOptions{Training: true, BF16: bf16})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				dst := make([]float32, s.dstLen())
				if err := c.Forward(src, w, nil, dst); err != nil {
					t.Fatal(err)
				}
				check("forward", dst, want, absFwd)

				dsrc, dw := make([]float32, s.srcLen()), make([]float32, s.weightsLen())
				for i := range dsrc {
					dsrc[i] = float32(math.NaN()) // overwritten, not added to
				}
				if err := c.Backward(src, g, w, dw, dsrc); err != nil {
					t.Fatal(err)
				}
				check("backward data", dsrc, wantDsrc, absDsrc)
				check("backward weights", dw, wantDw, absDw)
				clear(dw)
				if err := c.Backward(src, g, nil, dw, nil); err != nil { // the weights' gradient alone
					t.Fatal(err)
				}
				check("backward weights alone", dw, wantDw, absDw)

				// Fused inference: relu(conv + bias + previous dst).
				f, err := NewConv(s, ConvOptions{Bias: true, Sum: true, ReLU: true, BF16: bf16})
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if bf16 && NativeBF16() && strings.Contains(f.Impl(), "ref") {
					t.Errorf("bf16 convolution %s runs oneDNN's reference code %q", s, f.Impl())
				}
				bias, residual := randoms(rng, s.OutC), randoms(rng, s.dstLen())
				copy(dst, residual)
				if err := f.Forward(src, w, bias, dst); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					want[i] = max(0, want[i]+float64(bias[i%s.OutC])+float64(residual[i]))
				}
				check("fused forward", dst, want, absFwd)

				// The same with the weights kept: the same bits.
				if err := f.Forward(src, nil, bias, dst); err == nil {
					t.Error("a forward without weights ran before any were kept")
				}
				if err := f.KeepWeights(w); err != nil {
					t.Fatal(err)
				}
				kept := slices.Clone(residual)
				if err := f.Forward(src, nil, bias, kept); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(kept, dst) {
					t.Error("the forward with kept weights differs from the one given them")
				}
			})
		}
	}
}

func TestConvRejectsBadShapesAndUse(t *testing.T) {
	if _, err := NewConv(ConvShape{N: 1, H: 4, W: 4, C: 3, OutC: 4, OH: 9, OW: 9, Kernel: 3, Stride: 1, Pad: 1}, ConvOptions{}); err == nil {
		t.Error("an output larger than its input allows was accepted")
	}
	if _, err := NewConv(ConvShape{N: 1, H: 4, W: 4, C: 3, OutC: 4, OH: 4, OW: 4, Kernel: 3, Stride: 1, Pad: 1}, ConvOptions{Training: true, ReLU: true}); err == nil {
		t.Error("a fused training convolution was accepted")
	}
	requireDNNL(t)
	s := ConvShape{N: 1, H: 4, W: 4, C: 3, OutC: 4, OH: 4, OW: 4, Kernel: 3, Stride: 1, Pad: 1}
	c, err := NewConv(s, ConvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Backward(make([]float32, s.srcLen()), make([]float32, s.dstLen()), make([]float32, s.weightsLen()), make([]float32, s.weightsLen()), nil); err == nil {
		t.Error("backward of an inference convolution ran")
	}
}

func TestBatchNormMatchesReference(t *testing.T) {
	requireDNNL(t)
	rng := rand.New(rand.NewPCG(5, 6))
	const eps = 1e-5
	for _, relu := range []bool{false, true} {
		s := BatchNormShape{N: 3, H: 5, W: 4, C: 19}
		rows, c := s.N*s.H*s.W, s.C
		src, dy := randoms(rng, rows*c), randoms(rng, rows*c)
		for i := range src {
			src[i] = 3 + 2*src[i] // mean and scale away from 0 and 1
		}
		gamma, beta := randoms(rng, c), randoms(rng, c)
		mean, variance := make([]float64, c), make([]float64, c)
		for r := 0; r < rows; r++ {
			for j := 0; j < c; j++ {
				mean[j] += float64(src[r*c+j]) / float64(rows)
			}
		}
		for r := 0; r < rows; r++ {
			for j := 0; j < c; j++ {
				d := float64(src[r*c+j]) - mean[j]
				variance[j] += d * d / float64(rows)
			}
		}
		y, dz := make([]float64, rows*c), make([]float64, rows*c)
		sumDz, sumDzXhat := make([]float64, c), make([]float64, c)
		for r := 0; r < rows; r++ {
			for j := 0; j < c; j++ {
				xhat := (float64(src[r*c+j]) - mean[j]) / math.Sqrt(variance[j]+eps)
				v := xhat*float64(gamma[j]) + float64(beta[j])
				g := float64(dy[r*c+j])
				if relu && v <= 0 {
					v, g = 0, 0
				}
				y[r*c+j], dz[r*c+j] = v, g
				sumDz[j] += g
				sumDzXhat[j] += g * xhat
			}
		}
		dx := make([]float64, rows*c)
		for r := 0; r < rows; r++ {
			for j := 0; j < c; j++ {
				inv := 1 / math.Sqrt(variance[j]+eps)
				xhat := (float64(src[r*c+j]) - mean[j]) * inv
				dx[r*c+j] = float64(gamma[j]) * inv / float64(rows) * (float64(rows)*dz[r*c+j] - sumDz[j] - xhat*sumDzXhat[j])
			}
		}

		bn, err := NewBatchNorm(s, eps, BatchNormOptions{ReLU: relu})
		if err != nil {
			t.Fatal(err)
		}
		gotY, gotMean, gotVar := make([]float32, rows*c), make([]float32, c), make([]float32, c)
		if err := bn.Forward(src, gamma, beta, gotY, gotMean, gotVar); err != nil {
			t.Fatal(err)
		}
		assertClose(t, "mean", gotMean, mean)
		assertClose(t, "variance", gotVar, variance)
		assertClose(t, "forward", gotY, y)
		gotDx, gotDgamma, gotDbeta := make([]float32, rows*c), make([]float32, c), make([]float32, c)
		if err := bn.Backward(src, dy, gamma, beta, gotMean, gotVar, gotDx, gotDgamma, gotDbeta); err != nil {
			t.Fatal(err)
		}
		assertClose(t, "backward data", gotDx, dx)
		assertClose(t, "backward scale", gotDgamma, sumDzXhat)
		assertClose(t, "backward shift", gotDbeta, sumDz)
		bn.Close()
	}
}

// TestDoRunsOnTheKernelThread: inside Do the caller is oneDNN's thread, so
// its calls run there directly; outside it they hand off and still work.
func TestDoRunsOnTheKernelThread(t *testing.T) {
	requireDNNL(t)
	if onWorker() {
		t.Fatal("a test goroutine claims to be the kernel thread")
	}
	s := ConvShape{N: 1, H: 4, W: 4, C: 3, OutC: 2, OH: 4, OW: 4, Kernel: 3, Stride: 1, Pad: 1}
	src, w := make([]float32, s.srcLen()), make([]float32, s.weightsLen())
	for i := range src {
		src[i] = 1
	}
	for i := range w {
		w[i] = 1
	}
	var inside bool
	var got []float32
	var err error
	Do(func() {
		inside = onWorker()
		c, e := NewConv(s, ConvOptions{})
		if e != nil {
			err = e
			return
		}
		defer c.Close()
		got = make([]float32, s.dstLen())
		err = c.Forward(src, w, nil, got)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !inside {
		t.Error("Do did not run its function on the kernel thread")
	}
	if got[0] != 4*3 || got[len(got)/2+2] != 9*3 { // a corner sees 4 taps, an inner pixel 9, of 3 channels
		t.Errorf("forward inside Do: %v", got)
	}
}

// TestBF16BuffersChain: convolutions that keep bf16 activations in their
// buffers (SrcBF16, DstBF16) give the same bits as the same bf16
// convolutions on float32 buffers, whose source is rounded to bf16 anyway:
// A's bf16 output is A's float32 output rounded, and B reads either.
func TestBF16BuffersChain(t *testing.T) {
	requireDNNL(t)
	rng := rand.New(rand.NewPCG(9, 10))
	a := ConvShape{N: 2, H: 9, W: 9, C: 16, OutC: 32, OH: 9, OW: 9, Kernel: 3, Stride: 1, Pad: 1}
	b := ConvShape{N: 2, H: 9, W: 9, C: 32, OutC: 16, OH: 5, OW: 5, Kernel: 3, Stride: 2, Pad: 1}
	src, wa, wb := randoms(rng, a.srcLen()), randoms(rng, a.weightsLen()), randoms(rng, b.weightsLen())
	biasA, biasB := randoms(rng, a.OutC), randoms(rng, b.OutC)
	build := func(s ConvShape, o ConvOptions) *Conv {
		c, err := NewConv(s, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	// float32 buffers throughout.
	midF := make([]float32, a.dstLen())
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(build(a, ConvOptions{BF16: true, Bias: true, ReLU: true}).Forward(src, wa, biasA, midF))
	outF := make([]float32, b.dstLen())
	must(build(b, ConvOptions{BF16: true, Bias: true}).Forward(midF, wb, biasB, outF))
	// A writes bf16, B reads it and writes float32; B' writes bf16.
	midH := make([]float32, a.dstLen())
	must(build(a, ConvOptions{BF16: true, Bias: true, ReLU: true, DstBF16: true}).Forward(src, wa, biasA, midH))
	want := make([]float32, a.dstLen())
	PackBF16(want, midF)
	if !slices.Equal(midH[:(a.dstLen()+1)/2], want[:(a.dstLen()+1)/2]) {
		t.Error("a bf16 destination is not the float32 one rounded to bf16")
	}
	outH := make([]float32, b.dstLen())
	must(build(b, ConvOptions{BF16: true, Bias: true, SrcBF16: true}).Forward(midH, wb, biasB, outH))
	if !slices.Equal(outH, outF) {
		t.Error("a bf16 source gives other results than the float32 one it rounds")
	}
	back := make([]float32, a.dstLen())
	UnpackBF16(back, midH)
	for i, v := range back {
		if math.Abs(float64(v-midF[i])) > math.Abs(float64(midF[i]))/256 {
			t.Fatalf("value %d: bf16 %v, float32 %v", i, v, midF[i])
		}
	}
	if _, err := NewConv(a, ConvOptions{SrcBF16: true}); err == nil {
		t.Error("bf16 buffers on a float32 convolution were accepted")
	}
}

// TestBF16TrainingBuffers: a bf16 training convolution on bf16 buffers
// (SrcBF16, DstBF16: source, destination and both their gradients bf16)
// gives the same bits as on float32 buffers holding the same values, which
// it rounds to bf16 anyway: the destination and the source gradient come
// out rounded, the weights gradient equal. A bf16 BatchNorm matches the
// float32 one on the same (bf16) values within the result's rounding.
func TestBF16TrainingBuffers(t *testing.T) {
	requireDNNL(t)
	rng := rand.New(rand.NewPCG(11, 12))
	s := ConvShape{N: 2, H: 9, W: 9, C: 16, OutC: 32, OH: 5, OW: 5, Kernel: 3, Stride: 2, Pad: 1}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	packed := func(v []float32) []float32 {
		p := make([]float32, len(v))
		PackBF16(p, v)
		return p
	}
	rounded := func(v []float32) []float32 { // v rounded to bf16, as float32
		r := make([]float32, len(v))
		UnpackBF16(r, packed(v))
		return r
	}
	src, w, dy := rounded(randoms(rng, s.srcLen())), randoms(rng, s.weightsLen()), rounded(randoms(rng, s.dstLen()))
	run := func(o ConvOptions, src, dy []float32) (dst, dx, dw []float32) {
		c, err := NewConv(s, o)
		must(err)
		defer c.Close()
		dst, dx, dw = make([]float32, s.dstLen()), make([]float32, s.srcLen()), make([]float32, s.weightsLen())
		must(c.Forward(src, w, nil, dst))
		must(c.Backward(src, dy, w, dw, dx))
		return dst, dx, dw
	}
	dstF, dxF, dwF := run(ConvOptions{Training: true, BF16: true}, src, dy)
	dstH, dxH, dwH := run(ConvOptions{Training: true, BF16: true, SrcBF16: true, DstBF16: true}, packed(src), packed(dy))
	half := func(n int) int { return (n + 1) / 2 }
	if !slices.Equal(dstH[:half(len(dstF))], packed(dstF)[:half(len(dstF))]) {
		t.Error("a bf16 destination is not the float32 one rounded to bf16")
	}
	if !slices.Equal(dxH[:half(len(dxF))], packed(dxF)[:half(len(dxF))]) {
		t.Error("a bf16 source gradient is not the float32 one rounded to bf16")
	}
	if !slices.Equal(dwH, dwF) {
		t.Error("bf16 buffers change the weights gradient")
	}

	bs := BatchNormShape{N: 2, H: 5, W: 5, C: 32}
	n := bs.N * bs.H * bs.W * bs.C
	x, g := rounded(randoms(rng, n)), rounded(randoms(rng, n))
	gamma, beta := randoms(rng, bs.C), randoms(rng, bs.C)
	runBN := func(o BatchNormOptions, x, g []float32) (y, dx, mean, variance, dgamma, dbeta []float32) {
		bn, err := NewBatchNorm(bs, 1e-5, o)
		must(err)
		defer bn.Close()
		y, dx, mean, variance = make([]float32, n), make([]float32, n), make([]float32, bs.C), make([]float32, bs.C)
		dgamma, dbeta = make([]float32, bs.C), make([]float32, bs.C)
		must(bn.Forward(x, gamma, beta, y, mean, variance))
		must(bn.Backward(x, g, gamma, beta, mean, variance, dx, dgamma, dbeta))
		return
	}
	yF, dxBF, meanF, varF, dgF, dbF := runBN(BatchNormOptions{ReLU: true}, x, g)
	yH, dxBH, meanH, varH, dgH, dbH := runBN(BatchNormOptions{ReLU: true, BF16: true}, packed(x), packed(g))
	for _, c := range []struct {
		what      string
		bf16, f32 []float32
	}{{"forward", yH, yF}, {"backward data", dxBH, dxBF}} {
		got := make([]float32, n)
		UnpackBF16(got, c.bf16)
		for i, v := range got {
			// bf16 rounding of the float32 result: half an ulp, at most 2^-8 of it.
			if d := math.Abs(float64(v - c.f32[i])); d > math.Abs(float64(c.f32[i]))/256+1e-6 {
				t.Fatalf("batchnorm %s value %d: bf16 %v, float32 %v", c.what, i, v, c.f32[i])
			}
		}
	}
	for _, c := range []struct {
		what      string
		bf16, f32 []float32
	}{{"mean", meanH, meanF}, {"variance", varH, varF}, {"scale gradient", dgH, dgF}, {"shift gradient", dbH, dbF}} {
		for i, v := range c.bf16 {
			if d := math.Abs(float64(v - c.f32[i])); d > 1e-4*(1+math.Abs(float64(c.f32[i]))) {
				t.Errorf("batchnorm %s %d: bf16 buffers %v, float32 %v", c.what, i, v, c.f32[i])
			}
		}
	}
}
