package cpu

import (
	"fmt"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/swavgo/swav/internal/dnnl"
	"github.com/swavgo/swav/train/model"
)

// Convolutions run on oneDNN where it is available (any cgo build, on a
// machine with libdnnl.so.2; internal/dnnl), and on the
// im2col + OpenBLAS path of conv.go otherwise, or when SWAV_CPU_CONV=gemm.
// oneDNN's primitives are built per plan (a few milliseconds a layer, once
// per input shape) and parallelise over the engine's threads with OpenMP.

// convKernels says which convolution kernels an engine of this process uses.
func convKernels() (useDNNL bool, why string) {
	if os.Getenv("SWAV_CPU_CONV") == "gemm" {
		return false, "im2col + GEMM (SWAV_CPU_CONV=gemm)"
	}
	if !dnnl.Available() {
		return false, "im2col + GEMM (" + dnnl.Name() + ")"
	}
	return true, dnnl.Name()
}

// Kernels says which convolution kernels the CPU backend uses in this
// process: "onednn 2.6.3 avx512_core_bf16" (oneDNN and the instruction set
// its kernels use), or "im2col + GEMM (why not oneDNN)".
func Kernels() string {
	_, why := convKernels()
	return why
}

// NativeBF16 says whether bf16 convolutions run on the processor's own
// bf16 units (AVX512-BF16 or AMX) in this process.
func NativeBF16() bool {
	useDNNL, _ := convKernels()
	return useDNNL && dnnl.NativeBF16()
}

// resolvePrecision is the precision the engine runs for the configured one
// ("" is float32), and why it differs when it does: bf16 needs oneDNN and a
// processor with native bf16 (elsewhere oneDNN emulates it, slower than
// float32), so it falls back to float32 there.
func resolvePrecision(configured string) (precision, why string) {
	if configured != "bf16" {
		return "float32", ""
	}
	if useDNNL, kernels := convKernels(); !useDNNL {
		return "float32", "bf16 needs oneDNN; convolutions run " + kernels
	}
	if !dnnl.NativeBF16() {
		return "float32", "this processor has no native bf16 (oneDNN's instruction set is " + dnnl.ISA() + "; emulated bf16 is slower than float32)"
	}
	return "bf16", ""
}

// warnedFallback keeps the float32 fallback's warning to one per process.
var warnedFallback sync.Once

// bindKernels builds the oneDNN primitives of p, when the engine uses
// oneDNN: every convolution (training ones plain, their backward built at
// first use; evaluation ones with their fusion) and every training
// BatchNorm (with its ReLU).
func (e *engine) bindKernels(p *plan) error {
	if !e.dnnl {
		return nil
	}
	for i := range p.sec.bindings {
		b := &p.sec.bindings[i]
		l := b.layer
		if l.Op == model.OpBatchNorm && p.train {
			x := p.valueOf(l.Inputs[0])
			bn, err := dnnl.NewBatchNorm(dnnl.BatchNormShape{N: x.n, H: x.h, W: x.w, C: x.c}, model.BNEpsilon, dnnl.BatchNormOptions{ReLU: b.fusedRelu, BF16: x.bf16})
			if err != nil {
				return fmt.Errorf("cpu: %s layer %s: %w", p.sec.name, l.Name, err)
			}
			p.bns[i] = bn
			continue
		}
		if l.Op != model.OpConv {
			continue
		}
		x, y := p.valueOf(l.Inputs[0]), p.vals[i]
		s := dnnl.ConvShape{N: x.n, H: x.h, W: x.w, C: x.c, OutC: y.c, OH: y.h, OW: y.w, Kernel: l.Kernel, Stride: l.Stride, Pad: l.Pad}
		o := dnnl.ConvOptions{Training: p.train, BF16: e.bf16}
		o.SrcBF16, o.DstBF16 = x.bf16, y.bf16
		if f := p.fused[i]; f.batchNorm > 0 {
			o.Bias, o.Sum, o.ReLU = true, f.sum, f.relu
			o.DstBF16 = p.vals[f.target].bf16
		}
		c, err := dnnl.NewConv(s, o)
		if err != nil {
			return fmt.Errorf("cpu: %s layer %s: %w", p.sec.name, l.Name, err)
		}
		p.convs[i] = c
	}
	return nil
}

// copyValue copies x's values into y, converting between float32 and
// bf16 where their types differ (bf16 values are dnnl.PackBF16's layout).
func (e *engine) copyValue(y, x *value) {
	n := x.n * x.h * x.w * x.c
	switch {
	case !x.bf16 && !y.bf16:
		e.elementwise(n, func(lo, hi int) { copy(y.data[lo:hi], x.data[lo:hi]) })
	case x.bf16 && y.bf16:
		dnnl.CopyBF16(y.data, x.data, n)
	case x.bf16:
		dnnl.UnpackBF16(y.data[:n], x.data)
	default:
		dnnl.PackBF16(y.data, x.data[:n])
	}
}

// chooseBF16 marks the values of a bf16 evaluation plan that stay bf16
// between layers (value.bf16): those a fused oneDNN convolution writes
// and only oneDNN convolutions read, as their source or as a fused
// residual. The chain of a ResNet then passes bf16 activations from
// convolution to convolution without converting them; values that Go
// code reads (max pooling, the global average pool, the section's output)
// stay float32. Every convolution of a plan runs on oneDNN when the
// engine does (bindKernels).
func (p *plan) chooseBF16() {
	bs := p.sec.bindings
	ok := map[*value]bool{}
	for i := range bs {
		if f := p.fused[i]; f.batchNorm > 0 {
			ok[p.vals[f.target]] = true
		}
	}
	for r := range bs {
		l := bs[r].layer
		if bs[r].foldedRelu || (p.absorbed[r] && l.Op != model.OpAdd) {
			continue // reads the value it shares, or a fused convolution computes it
		}
		for k, in := range l.Inputs {
			v := p.valueOf(in)
			if !ok[v] {
				continue
			}
			convSource := l.Op == model.OpConv && k == 0 && !p.absorbed[r]
			residual := l.Op == model.OpAdd && p.absorbed[r]
			if !convSource && !residual {
				ok[v] = false
			}
		}
	}
	delete(ok, p.output())
	for v, bf16 := range ok {
		v.bf16 = bf16
	}
}

// chooseTrainBF16 marks the values of a bf16 training plan that stay bf16
// (value.bf16), with their gradients: a convolution's value whose only
// reader is a BatchNorm, together with that BatchNorm's value (its ReLU's,
// folded in) when its only reader is a convolution, as its source, or a
// residual add whose other addend stays float32 (the add reads bf16 and
// writes float32). Both or neither, as a oneDNN BatchNorm reads and writes
// one type. In a ResNet that is each block's convolutions and BatchNorms
// but the downsample's; values that other Go code or several layers read
// stay float32. With one reader, each such gradient has one writer
// (oneDNN, or the add's backward, in bf16): nothing adds into it.
func (p *plan) chooseTrainBF16() {
	bs := p.sec.bindings
	readers := map[*value][]int{}
	for r := range bs {
		if bs[r].foldedRelu {
			continue // reads the value it shares
		}
		for _, in := range bs[r].layer.Inputs {
			v := p.valueOf(in)
			readers[v] = append(readers[v], r)
		}
	}
	for j := range bs {
		l := bs[j].layer
		if l.Op != model.OpBatchNorm || l.Inputs[0] < 0 || bs[l.Inputs[0]].layer.Op != model.OpConv {
			continue
		}
		x, y := p.valueOf(l.Inputs[0]), p.vals[j]
		if len(readers[x]) != 1 || len(readers[y]) != 1 || y == p.output() {
			continue
		}
		r := bs[readers[y][0]].layer
		convSource := r.Op == model.OpConv && p.valueOf(r.Inputs[0]) == y
		addend := r.Op == model.OpAdd && !p.valueOf(r.Inputs[0]).bf16 && !p.valueOf(r.Inputs[1]).bf16
		if convSource || addend {
			x.bf16, y.bf16 = true, true
		}
	}
}

// releaseKernels frees p's oneDNN primitives (p is being replaced).
func releaseKernels(p *plan) {
	if p == nil {
		return
	}
	for i, c := range p.convs {
		if c != nil {
			c.Close()
			p.convs[i] = nil
		}
	}
	for i, bn := range p.bns {
		if bn != nil {
			bn.Close()
			p.bns[i] = nil
		}
	}
}

// dnnlBatchNormForward is the training BatchNorm i of p on oneDNN: batch
// statistics into p.mean, p.variance and p.varUnbiased.
func (e *engine) dnnlBatchNormForward(p *plan, i int, x, y *value) {
	b := &p.sec.bindings[i]
	mean, variance := p.mean[i], p.variance[i]
	must(p.bns[i].Forward(x.data, b.weight.data, b.bias.data, y.data, mean, variance))
	rows := float64(x.rows())
	p.nonFinite = p.nonFinite || !allFinite(mean) || !allFinite(variance)
	for j, v := range variance {
		if rows > 1 {
			p.varUnbiased[i][j] = float32(float64(v) * rows / (rows - 1))
		} else {
			p.varUnbiased[i][j] = float32(math.Inf(1)) // as batchStats
		}
	}
}

// dnnlBatchNormBackward is bnBackward on oneDNN: gamma's and beta's
// gradients are added into theirs, the input's written or added as
// x.gradSet says.
func (e *engine) dnnlBatchNormBackward(p *plan, i int, x, y *value) {
	b := &p.sec.bindings[i]
	c := x.c
	e.partials[0] = growFloats(e.partials[0], 2*c)
	dgamma, dbeta := e.partials[0][:c], e.partials[0][c:2*c]
	x.writeOnce()
	dx := x.grad
	if dx == nil || x.gradSet {
		e.cols[0] = growFloats(e.cols[0], len(x.data))
		dx = e.cols[0][:len(x.data)]
	}
	must(p.bns[i].Backward(x.data, y.grad, b.weight.data, b.bias.data, p.mean[i], p.variance[i], dx, dgamma, dbeta))
	for j := 0; j < c; j++ {
		b.weight.grad[j] += dgamma[j]
		b.bias.grad[j] += dbeta[j]
	}
	switch {
	case x.grad == nil:
	case x.gradSet:
		e.addInto(x.grad, dx)
	default:
		x.gradSet = true
	}
}

// must panics on an error of a oneDNN call whose shapes were checked when
// its primitive was built: only a broken library returns one.
func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("cpu: %v", err))
	}
}

// fusedConvForward runs evaluation conv i of p with the BatchNorm after it
// folded in (running statistics): w' = w*scale and a bias shift per output
// channel, scale = gamma/sqrt(running_var+eps), shift = beta -
// running_mean*scale, then the residual sum and the ReLU its fusion holds.
// It writes the value of the fusion's target.
func (e *engine) fusedConvForward(p *plan, i int) {
	b := &p.sec.bindings[i]
	l, f := b.layer, p.fused[i]
	x, y := p.valueOf(l.Inputs[0]), p.vals[f.target]
	if c := p.convs[i]; c != nil {
		// oneDNN keeps the folded weights reordered until the weights change.
		k := &p.kept[i]
		if k.gen != e.weightsGen {
			w, _, shift, nonFinite := e.foldBatchNorm(p, i, b.weight.data)
			must(c.KeepWeights(w))
			*k = keptWeights{gen: e.weightsGen, shift: shift, nonFinite: nonFinite}
		}
		p.nonFinite = p.nonFinite || k.nonFinite
		if f.sum && !f.inPlace {
			e.copyValue(y, p.valueOf(f.residual))
		}
		must(c.Forward(x.data, nil, k.shift, y.data))
		return
	}
	w, scale, shift, nonFinite := e.foldBatchNorm(p, i, b.weight.work)
	p.nonFinite = p.nonFinite || nonFinite
	beta := float32(0)
	if f.sum {
		if !f.inPlace {
			e.copyValue(y, p.valueOf(f.residual))
		}
		beta = 1
	}
	e.convForward(l, w, x, y, beta)
	for o := range scale {
		scale[o] = 1 // the scale is in the weights; v*1 + shift is v + shift exactly
	}
	e.bnApply(y, y, scale, shift, f.relu)
}

// foldBatchNorm folds evaluation conv i's BatchNorm (running statistics)
// into its weights (given in either layout: both keep each output
// channel's weights together, oneDNN's canonical [Out][In][Kh][Kw] and the
// GEMM path's work copy [Out][Kh][Kw][In]): w' = w*scale in e.folded, and
// the per-channel scale (a fresh slice the caller may reuse) and shift;
// nonFinite says whether the folded weights or the shift hold a NaN or an
// infinity.
func (e *engine) foldBatchNorm(p *plan, i int, weights []float32) (w, scale, shift []float32, nonFinite bool) {
	l := p.sec.bindings[i].layer
	scale, shift = runningScaleShift(&p.sec.bindings[p.fused[i].batchNorm])
	width := l.Kernel * l.Kernel * l.In
	e.folded = growFloats(e.folded, l.Out*width)
	w = e.folded
	for o := range scale {
		src, dst := weights[o*width:(o+1)*width], w[o*width:(o+1)*width]
		for j, v := range src {
			dst[j] = v * scale[o]
		}
	}
	return w, scale, shift, !allFinite(w) || !allFinite(shift)
}

// dnnlConvBackward is convBackward on oneDNN, with the weights in their
// canonical (PyTorch) layout: the weight gradient is written into p.grad
// (added after the step's first), the input gradient written or added as
// x.gradSet says.
func (e *engine) dnnlConvBackward(c *dnnl.Conv, p *param, x, y *value, wantIn bool) {
	dw := p.grad
	if p.gradWritten {
		e.partials[0] = growFloats(e.partials[0], len(p.data))
		dw = e.partials[0][:len(p.data)]
	}
	x.writeOnce()
	var dx []float32
	switch {
	case !wantIn:
	case !x.gradSet:
		dx = x.grad
	default:
		e.cols[0] = growFloats(e.cols[0], len(x.grad))
		dx = e.cols[0][:len(x.grad)]
	}
	must(c.Backward(x.data, y.grad, p.data, dw, dx))
	if p.gradWritten {
		e.addInto(p.grad, dw)
	}
	p.gradWritten = true
	switch {
	case !wantIn:
	case !x.gradSet:
		x.gradSet = true
	default:
		e.addInto(x.grad, dx)
	}
}

// addInto adds src into dst (len(src) values) on the engine's threads.
func (e *engine) addInto(dst, src []float32) {
	e.elementwise(len(src), func(lo, hi int) { addIntoKernel(dst[lo:hi], src[lo:hi]) })
}

// nonFinite says whether x is a NaN or an infinity (x - x is NaN for both).
func nonFinite(x float32) bool { return x-x != 0 }

// allFinite says whether v holds no NaN and no infinity.
func allFinite(v []float32) bool { return !slices.ContainsFunc(v, nonFinite) }
