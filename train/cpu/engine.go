package cpu

import (
	"math"

	"github.com/swavgo/swav/internal/blas"
	"github.com/swavgo/swav/internal/dnnl"
	"github.com/swavgo/swav/train/model"
)

// engine runs plans: the forward and backward kernels of every op, in NHWC,
// parallel over images (convolutions) or rows (everything else) on threads
// goroutines, each calling a single-threaded GEMM. Its scratch buffers
// (im2col columns and per-worker weight-gradient partials) are reused across
// layers and steps. It is owned by one goroutine at a time.
type engine struct {
	threads int
	// maxColFloats bounds one worker's im2col chunk (values).
	maxColFloats int
	cols         [][]float32 // per worker
	partials     [][]float32 // per worker, weight-gradient partial sums
	sums         [][]float64 // per worker, per-channel reductions
	// forceIm2col disables the 1x1 fast path (tests compare the two).
	forceIm2col bool
	// dnnl runs convolutions on oneDNN (onednn.go) instead of im2col + GEMM.
	dnnl bool
	// bf16 runs the oneDNN convolutions in bf16 (float32 in and out).
	bf16 bool
	// weightsGen counts the changes of the weights and running statistics
	// (the backend bumps it on each step and load): evaluation
	// convolutions fold and reorder their weights again only when it moved.
	weightsGen uint64
	folded     []float32 // an evaluation conv's weights with its BatchNorm folded in
}

// newEngine makes an engine of threads threads; precision is what
// resolvePrecision made of the configured one.
func newEngine(threads int, precision string) *engine {
	useDNNL, _ := convKernels()
	if useDNNL {
		dnnl.SetThreads(threads)
	}
	return &engine{
		dnnl:         useDNNL,
		bf16:         useDNNL && precision == "bf16",
		weightsGen:   1,
		threads:      threads,
		maxColFloats: 1 << 21, // 8 MiB per worker
		cols:         make([][]float32, threads),
		partials:     make([][]float32, threads),
		sums:         make([][]float64, threads),
	}
}

// forward runs every layer of p on p.input. In a training plan BatchNorm
// normalises with batch statistics and records them (the running estimates
// are updated later by commitRunningStats); otherwise it uses the running
// statistics and records nothing.
func (e *engine) forward(p *plan) {
	p.nonFinite = false
	for i := range p.sec.bindings {
		b := &p.sec.bindings[i]
		if b.foldedRelu || p.absorbed[i] {
			continue
		}
		l := b.layer
		in, out := p.valueOf(l.Inputs[0]), p.vals[i]
		switch l.Op {
		case model.OpConv:
			switch {
			case p.fused[i].batchNorm > 0:
				e.fusedConvForward(p, i)
			case p.convs[i] != nil:
				must(p.convs[i].Forward(in.data, b.weight.data, nil, out.data))
			default:
				e.convForward(l, b.weight.work, in, out, 0)
			}
		case model.OpBatchNorm:
			if p.bns[i] != nil {
				e.dnnlBatchNormForward(p, i, in, out)
			} else if p.train {
				e.batchStats(in, p.mean[i], p.invStd[i], p.varUnbiased[i])
				scale, shift := bnScaleShift(b.weight.data, b.bias.data, p.mean[i], p.invStd[i])
				e.bnApply(in, out, scale, shift, b.fusedRelu)
			} else {
				scale, shift := runningScaleShift(b)
				e.bnApply(in, out, scale, shift, b.fusedRelu)
			}
		case model.OpReLU:
			e.elementwise(len(out.data), func(lo, hi int) {
				for j, x := range in.data[lo:hi] {
					out.data[lo+j] = max(x, 0)
				}
			})
		case model.OpAdd:
			a, c := in, p.valueOf(l.Inputs[1])
			if c.bf16 {
				a, c = c, a // addition commutes, bit for bit
			}
			relu := b.fusedRelu
			if a.bf16 { // a training block's second half (chooseTrainBF16)
				ah := dnnl.Halves(a.data)
				e.elementwise(len(out.data), func(lo, hi int) {
					addBF16Kernel(out.data[lo:hi], ah[lo:hi], c.data[lo:hi], relu)
				})
				continue
			}
			e.elementwise(len(out.data), func(lo, hi int) {
				addKernel(out.data[lo:hi], a.data[lo:hi], c.data[lo:hi], relu)
			})
		case model.OpMaxPool:
			maxPoolForward(l, in, out, p.argmax[i], e.threads)
		case model.OpGlobalAvgPool:
			globalAvgPoolForward(in, out, e.threads)
		case model.OpLinear:
			e.linearForward(b, in, out)
		}
	}
}

// backward runs the layers of p in reverse, from the gradient of the
// section's output (which the caller wrote into p.output().grad) to the
// parameters' gradients (accumulated) and, when p.input.grad is allocated,
// the input's gradient (overwritten).
func (e *engine) backward(p *plan) {
	for _, v := range p.vals {
		v.gradSet = false
	}
	p.input.gradSet = false
	p.output().gradSet = true
	for i := len(p.sec.bindings) - 1; i >= 0; i-- {
		b := &p.sec.bindings[i]
		if b.foldedRelu {
			continue
		}
		l := b.layer
		in, out := p.valueOf(l.Inputs[0]), p.vals[i]
		if !out.gradSet {
			p.releaseGrad(out)
			continue // nothing flowed here
		}
		for _, j := range l.Inputs {
			if j >= 0 && p.vals[j].grad == nil {
				p.vals[j].grad = p.takeGrad(len(p.vals[j].data))
			}
		}
		e.layerBackward(p, i, b, in, out)
		p.releaseGrad(out)
	}
}

// layerBackward runs the backward of layer i (b) from out's gradient into
// its parameters' gradients and its inputs' (those that have a buffer).
func (e *engine) layerBackward(p *plan, i int, b *layerBinding, in, out *value) {
	l := b.layer
	wantIn := in.grad != nil
	switch l.Op {
	case model.OpConv:
		if c := p.convs[i]; c != nil {
			e.dnnlConvBackward(c, b.weight, in, out, wantIn)
		} else {
			e.convBackward(l, b.weight, in, out, wantIn)
		}
	case model.OpBatchNorm:
		if p.bns[i] != nil {
			e.dnnlBatchNormBackward(p, i, in, out)
		} else {
			e.bnBackward(b, in, out, p.mean[i], p.invStd[i])
		}
	case model.OpReLU:
		accumulate := in.gradSet
		e.elementwise(len(out.data), func(lo, hi int) {
			y, dy, dx := out.data[lo:hi], out.grad[lo:hi], in.grad[lo:hi]
			y, dx = y[:len(dy)], dx[:len(dy)]
			for j, g := range dy {
				if accumulate {
					dx[j] += reluMask(g, y[j])
				} else {
					dx[j] = reluMask(g, y[j])
				}
			}
		})
		in.gradSet = true
	case model.OpAdd:
		e.addBackward(p.valueOf(l.Inputs[0]), p.valueOf(l.Inputs[1]), out, b.fusedRelu)
	case model.OpMaxPool:
		if wantIn {
			maxPoolBackward(in, out, p.argmax[i])
		}
	case model.OpGlobalAvgPool:
		if wantIn {
			globalAvgPoolBackward(in, out, e.threads)
		}
	case model.OpLinear:
		e.linearBackward(b, in, out, wantIn)
	}
}

// addBackward routes dy (masked by y > 0 when relu) to both addends in one
// pass, overwriting or adding to each as its gradSet says. An addend in
// bf16 (at most one: chooseTrainBF16) has this add as its only reader, so
// its gradient is written once, rounded to bf16.
func (e *engine) addBackward(x1, x2, y *value, relu bool) {
	if x2.bf16 {
		x1, x2 = x2, x1
	}
	if x2.bf16 {
		panic("cpu: an add of two bf16 addends") // chooseTrainBF16 allows one
	}
	x1.writeOnce()
	acc1, acc2 := x1.gradSet, x2.gradSet
	has1, has2 := x1.grad != nil, x2.grad != nil
	var h1 []uint16
	if x1.bf16 && has1 {
		h1 = dnnl.Halves(x1.grad)
	}
	e.elementwise(len(y.data), func(lo, hi int) {
		ys, dy := y.data[lo:hi], y.grad[lo:hi]
		ys = ys[:len(dy)]
		if relu && has1 && has2 && !acc1 && !acc2 { // a residual block's add: its own kernel, no branches
			if h1 != nil {
				maskTwoBF16Kernel(h1[lo:hi], x2.grad[lo:hi], dy, ys)
			} else {
				maskTwoKernel(x1.grad[lo:hi], x2.grad[lo:hi], dy, ys)
			}
			return
		}
		var d1, d2 []float32
		if has1 && h1 == nil {
			d1 = x1.grad[lo:hi][:len(dy)]
		}
		if has2 {
			d2 = x2.grad[lo:hi][:len(dy)]
		}
		for j, g := range dy {
			if relu {
				g = reluMask(g, ys[j])
			}
			switch {
			case h1 != nil:
				h1[lo+j] = dnnl.ToBF16(g)
			case has1 && acc1:
				d1[j] += g
			case has1:
				d1[j] = g
			}
			if has2 {
				if acc2 {
					d2[j] += g
				} else {
					d2[j] = g
				}
			}
		}
	})
	x1.gradSet = x1.gradSet || has1
	x2.gradSet = x2.gradSet || has2
}

// elementwise splits [0, n) over the engine's threads in ranges of at least
// 16 Ki values.
func (e *engine) elementwise(n int, fn func(lo, hi int)) {
	workers := min(e.threads, max(1, n/(1<<14)))
	parallelFor(n, workers, func(_, lo, hi int) { fn(lo, hi) })
}

// channelSums reduces f(row, channel sums) over the rows of a [rows, c]
// matrix in parallel: each worker gets a zeroed float64 accumulator of
// width*c values, fn fills it from rows [lo, hi), and the accumulators are
// added into the returned slice (width*c values).
func (e *engine) channelSums(rows, width int, fn func(acc []float64, lo, hi int)) []float64 {
	workers := min(e.threads, max(1, rows/256))
	for w := 0; w < workers; w++ {
		if cap(e.sums[w]) < width {
			e.sums[w] = make([]float64, width)
		}
		e.sums[w] = e.sums[w][:width]
		clear(e.sums[w])
	}
	parallelFor(rows, workers, func(w, lo, hi int) { fn(e.sums[w], lo, hi) })
	total := e.sums[0]
	for w := 1; w < workers; w++ {
		for j, v := range e.sums[w] {
			total[j] += v
		}
	}
	return total
}

// batchStats computes the per-channel mean, 1/sqrt(var+eps) (biased
// variance) and the unbiased variance of x over its N*H*W rows in one pass of
// float64 sums of x and x² (float64 keeps E[x²]-E[x]² exact enough for
// activations whose mean is within 1e6 standard deviations of zero).
func (e *engine) batchStats(x *value, mean, invStd, varUnbiased []float32) {
	c, rows := x.c, x.rows()
	s := e.channelSums(rows, 2*c, func(acc []float64, lo, hi int) {
		for r := lo; r < hi; r++ {
			for j, v := range x.data[r*c : (r+1)*c] {
				f := float64(v)
				acc[j] += f
				acc[c+j] += f * f
			}
		}
	})
	n := float64(rows)
	for j := 0; j < c; j++ {
		m := s[j] / n
		sq := max(s[c+j]-m*s[j], 0) // sum of squared deviations
		mean[j] = float32(m)
		invStd[j] = float32(1 / math.Sqrt(sq/n+model.BNEpsilon))
		if rows > 1 {
			varUnbiased[j] = float32(sq / (n - 1))
		} else {
			varUnbiased[j] = float32(math.Inf(1)) // PyTorch: running_var gets inf/nan with one value
		}
	}
}

// bnScaleShift is BatchNorm as a per-channel affine map: scale =
// gamma*invStd, shift = beta - mean*scale.
func bnScaleShift(gamma, beta, mean, invStd []float32) (scale, shift []float32) {
	scale, shift = make([]float32, len(gamma)), make([]float32, len(gamma))
	for j := range scale {
		scale[j] = gamma[j] * invStd[j]
		shift[j] = beta[j] - mean[j]*scale[j]
	}
	return scale, shift
}

// runningScaleShift is BatchNorm b in evaluation mode (its running
// statistics) as a per-channel affine map.
func runningScaleShift(b *layerBinding) (scale, shift []float32) {
	invStd := make([]float32, len(b.batchNorm.runningVar))
	for c, v := range b.batchNorm.runningVar {
		invStd[c] = float32(1 / math.Sqrt(float64(v)+model.BNEpsilon))
	}
	return bnScaleShift(b.weight.data, b.bias.data, b.batchNorm.runningMean, invStd)
}

// bnApply writes y = x*scale + shift per channel (then max(y, 0) when relu)
// row by row; y may be x.
func (e *engine) bnApply(x, y *value, scale, shift []float32, relu bool) {
	c := x.c
	e.elementwise(x.rows(), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xs := x.data[r*c : (r+1)*c]
			ys, sc, sh := y.data[r*c:(r+1)*c], scale[:len(xs)], shift[:len(xs)]
			ys = ys[:len(xs)]
			if relu {
				for j, v := range xs {
					ys[j] = max(v*sc[j]+sh[j], 0)
				}
			} else {
				for j, v := range xs {
					ys[j] = v*sc[j] + sh[j]
				}
			}
		}
	})
}

// reluMask returns g where y > 0 and +0 elsewhere (y = -0 included),
// without a branch: ReLU outputs are zero about half the time in no
// predictable pattern.
func reluMask(g, y float32) float32 {
	m := uint32(-int64(int32(math.Float32bits(y))) >> 63) // all ones iff y's bits, as int32, are > 0
	return math.Float32frombits(math.Float32bits(g) & m)
}

// maskRows returns dy, or, when relu, dy masked by y > 0 into scratch.
func maskRows(dy, y, scratch []float32, relu bool) []float32 {
	if !relu {
		return dy
	}
	scratch, y = scratch[:len(dy)], y[:len(dy)]
	for j, g := range dy {
		scratch[j] = reluMask(g, y[j])
	}
	return scratch
}

// bnBackward is BatchNorm's backward with batch statistics (and the fused
// relu's mask): with dz = dy masked, xhat = (x-mean)*invStd,
// dgamma += sum dz*xhat, dbeta += sum dz,
// dx = gamma*invStd*(dz - sum(dz)/R - xhat*sum(dz*xhat)/R), evaluated as
// dx = scale*dz + a*x + b per channel. Sums run in float32 over blocks of 64
// rows and in float64 across blocks.
func (e *engine) bnBackward(b *layerBinding, x, y *value, mean, invStd []float32) {
	c, rows := x.c, x.rows()
	relu := b.fusedRelu
	const block = 64
	s := e.channelSums(rows, 2*c, func(acc []float64, lo, hi int) {
		sumDz, sumDzX, dz := make([]float32, c), make([]float32, c), make([]float32, c)
		for r0 := lo; r0 < hi; r0 += block {
			clear(sumDz)
			clear(sumDzX)
			for r := r0; r < min(hi, r0+block); r++ {
				xs := x.data[r*c : (r+1)*c]
				g := maskRows(y.grad[r*c:(r+1)*c], y.data[r*c:(r+1)*c], dz, relu)
				g, a0, a1 := g[:len(xs)], sumDz[:len(xs)], sumDzX[:len(xs)]
				for j, v := range xs {
					a0[j] += g[j]
					a1[j] += g[j] * v
				}
			}
			for j := 0; j < c; j++ {
				acc[j] += float64(sumDz[j])
				acc[c+j] += float64(sumDzX[j])
			}
		}
	})
	// s[c+j] holds sum dz*x; sum dz*xhat = invStd*(sum dz*x - mean*sum dz).
	n := float64(rows)
	gamma := b.weight.data
	scale, a, off := make([]float32, c), make([]float32, c), make([]float32, c)
	for j := 0; j < c; j++ {
		sumDz := s[j]
		sumDzXhat := float64(invStd[j]) * (s[c+j] - float64(mean[j])*sumDz)
		b.bias.grad[j] += float32(sumDz)
		b.weight.grad[j] += float32(sumDzXhat)
		sc := float64(gamma[j]) * float64(invStd[j])
		k := sumDzXhat / n * float64(invStd[j]) // coefficient of (x - mean)
		scale[j] = float32(sc)
		a[j] = float32(-sc * k)
		off[j] = float32(sc * (k*float64(mean[j]) - sumDz/n))
	}
	if x.grad == nil {
		return
	}
	accumulate := x.gradSet
	e.elementwise(rows, func(lo, hi int) {
		dz := make([]float32, c)
		for r := lo; r < hi; r++ {
			xs := x.data[r*c : (r+1)*c]
			g := maskRows(y.grad[r*c:(r+1)*c], y.data[r*c:(r+1)*c], dz, relu)
			g, dxs, sc, aa, oo := g[:len(xs)], x.grad[r*c:(r+1)*c], scale[:len(xs)], a[:len(xs)], off[:len(xs)]
			dxs = dxs[:len(xs)]
			if accumulate {
				for j, v := range xs {
					dxs[j] += sc[j]*g[j] + aa[j]*v + oo[j]
				}
			} else {
				for j, v := range xs {
					dxs[j] = sc[j]*g[j] + aa[j]*v + oo[j]
				}
			}
		}
	})
	x.gradSet = true
}

// commitRunningStats applies the PyTorch running-statistics update
// (momentum 0.1, unbiased variance) of every BatchNorm layer of p's last
// training forward.
func commitRunningStats(p *plan) {
	const m = model.BNMomentum
	for i := range p.sec.bindings {
		b := &p.sec.bindings[i]
		if b.layer.Op != model.OpBatchNorm {
			continue
		}
		rm, rv := b.batchNorm.runningMean, b.batchNorm.runningVar
		for j := range rm {
			rm[j] = float32((1-m)*float64(rm[j]) + m*float64(p.mean[i][j]))
			rv[j] = float32((1-m)*float64(rv[j]) + m*float64(p.varUnbiased[i][j]))
		}
	}
}

// linearForward is y = x W^T + b on [N, In] rows.
func (e *engine) linearForward(b *layerBinding, x, y *value) {
	l := b.layer
	n := x.rows()
	blas.Sgemm(false, true, n, l.Out, l.In, 1, x.data, l.In, b.weight.data, l.In, 0, y.data, l.Out)
	if b.bias != nil {
		for r := 0; r < n; r++ {
			row := y.data[r*l.Out : (r+1)*l.Out]
			for j, v := range b.bias.data {
				row[j] += v
			}
		}
	}
}

// linearBackward accumulates dW += dy^T x and db += colsum(dy), and writes or
// adds dx = dy W.
func (e *engine) linearBackward(b *layerBinding, x, y *value, wantIn bool) {
	l := b.layer
	n := x.rows()
	blas.Sgemm(true, false, l.Out, l.In, n, 1, y.grad, l.Out, x.data, l.In, 1, b.weight.grad, l.In)
	if b.bias != nil {
		for r := 0; r < n; r++ {
			for j, g := range y.grad[r*l.Out : (r+1)*l.Out] {
				b.bias.grad[j] += g
			}
		}
	}
	if wantIn {
		beta := float32(0)
		if x.gradSet {
			beta = 1
		}
		blas.Sgemm(false, false, n, l.In, l.Out, 1, y.grad, l.Out, b.weight.data, l.In, beta, x.grad, l.In)
		x.gradSet = true
	}
}

// globalAvgPoolForward averages each image's H*W rows: y[n, c].
func globalAvgPoolForward(x, y *value, threads int) {
	hw, c := x.h*x.w, x.c
	inv := 1 / float32(hw)
	parallelFor(x.n, threads, func(_, lo, hi int) {
		for n := lo; n < hi; n++ {
			acc := y.data[n*c : (n+1)*c]
			clear(acc)
			for p := 0; p < hw; p++ {
				for j, v := range x.data[(n*hw+p)*c : (n*hw+p+1)*c] {
					acc[j] += v
				}
			}
			for j := range acc {
				acc[j] *= inv
			}
		}
	})
}

// globalAvgPoolBackward spreads dy[n, c]/(H*W) over the image's rows.
func globalAvgPoolBackward(x, y *value, threads int) {
	hw, c := x.h*x.w, x.c
	inv := 1 / float32(hw)
	accumulate := x.gradSet
	parallelFor(x.n, threads, func(_, lo, hi int) {
		for n := lo; n < hi; n++ {
			g := y.grad[n*c : (n+1)*c]
			for p := 0; p < hw; p++ {
				dx := x.grad[(n*hw+p)*c : (n*hw+p+1)*c]
				for j, v := range g {
					if accumulate {
						dx[j] += v * inv
					} else {
						dx[j] = v * inv
					}
				}
			}
		}
	})
	x.gradSet = true
}

// maxPoolForward takes the window maximum per channel (padding never wins)
// and records the flat input index of each maximum.
func maxPoolForward(l *model.Layer, x, y *value, argmax []int32, threads int) {
	parallelFor(x.n, threads, func(_, lo, hi int) { maxPoolKernel(l, x, y, argmax, lo, hi) })
}

// maxPoolBackward routes each output gradient to its maximum's input.
func maxPoolBackward(x, y *value, argmax []int32) {
	if !x.gradSet {
		clear(x.grad)
	}
	for o, g := range y.grad {
		x.grad[argmax[o]] += g
	}
	x.gradSet = true
}
