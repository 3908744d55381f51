package cpu

import (
	"math"

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
}

func newEngine(threads int) *engine {
	return &engine{
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
	for i := range p.sec.bindings {
		b := &p.sec.bindings[i]
		if b.foldedRelu {
			continue
		}
		l := b.layer
		in, out := p.valueOf(l.Inputs[0]), p.vals[i]
		switch l.Op {
		case model.OpConv:
			e.convForward(l, b.weight.work, in, out)
		case model.OpBatchNorm:
			if p.train {
				e.batchStats(in, p.mean[i], p.invStd[i], p.varUnbiased[i])
				e.bnApply(in, out, b.weight.data, b.bias.data, p.mean[i], p.invStd[i], b.fusedRelu)
			} else {
				mean, invStd := make([]float32, l.Out), make([]float32, l.Out)
				for c := range mean {
					mean[c] = b.batchNorm.runningMean[c]
					invStd[c] = float32(1 / math.Sqrt(float64(b.batchNorm.runningVar[c])+model.BNEpsilon))
				}
				e.bnApply(in, out, b.weight.data, b.bias.data, mean, invStd, b.fusedRelu)
			}
		case model.OpReLU:
			e.elementwise(len(out.data), func(lo, hi int) {
				for j, x := range in.data[lo:hi] {
					out.data[lo+j] = max(x, 0)
				}
			})
		case model.OpAdd:
			o := p.valueOf(l.Inputs[1])
			relu := b.fusedRelu
			e.elementwise(len(out.data), func(lo, hi int) {
				a, c, y := in.data[lo:hi], o.data[lo:hi], out.data[lo:hi]
				for j := range y {
					s := a[j] + c[j]
					if relu {
						s = max(s, 0)
					}
					y[j] = s
				}
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
			continue // nothing flowed here
		}
		wantIn := in.grad != nil
		switch l.Op {
		case model.OpConv:
			e.convBackward(l, b.weight, in, out, wantIn)
		case model.OpBatchNorm:
			e.bnBackward(b, in, out, p.mean[i], p.invStd[i])
		case model.OpReLU:
			accumulate := in.gradSet
			e.elementwise(len(out.data), func(lo, hi int) {
				y, dy, dx := out.data[lo:hi], out.grad[lo:hi], in.grad[lo:hi]
				for j := range dy {
					g := dy[j]
					if y[j] <= 0 {
						g = 0
					}
					if accumulate {
						dx[j] += g
					} else {
						dx[j] = g
					}
				}
			})
			in.gradSet = true
		case model.OpAdd:
			o := p.valueOf(l.Inputs[1])
			relu := b.fusedRelu
			for _, dst := range []*value{in, o} {
				if dst.grad == nil {
					continue
				}
				accumulate := dst.gradSet
				e.elementwise(len(out.data), func(lo, hi int) {
					y, dy, dx := out.data[lo:hi], out.grad[lo:hi], dst.grad[lo:hi]
					for j := range dy {
						g := dy[j]
						if relu && y[j] <= 0 {
							g = 0
						}
						if accumulate {
							dx[j] += g
						} else {
							dx[j] = g
						}
					}
				})
				dst.gradSet = true
			}
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

// bnApply writes y = (x - mean)*invStd*gamma + beta (then max(y, 0) when
// relu) row by row.
func (e *engine) bnApply(x, y *value, gamma, beta, mean, invStd []float32, relu bool) {
	c := x.c
	scale, shift := make([]float32, c), make([]float32, c)
	for j := range scale {
		scale[j] = gamma[j] * invStd[j]
		shift[j] = beta[j] - mean[j]*scale[j]
	}
	e.elementwise(x.rows(), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xs, ys := x.data[r*c:(r+1)*c], y.data[r*c:(r+1)*c]
			for j, v := range xs {
				o := v*scale[j] + shift[j]
				if relu && o < 0 {
					o = 0
				}
				ys[j] = o
			}
		}
	})
}

// bnBackward is BatchNorm's backward with batch statistics (and the fused
// relu's mask): with dz = dy masked, xhat = (x-mean)*invStd,
// dgamma += sum dz*xhat, dbeta += sum dz,
// dx = gamma*invStd*(dz - sum(dz)/R - xhat*sum(dz*xhat)/R).
func (e *engine) bnBackward(b *layerBinding, x, y *value, mean, invStd []float32) {
	c, rows := x.c, x.rows()
	relu := b.fusedRelu
	s := e.channelSums(rows, 2*c, func(acc []float64, lo, hi int) {
		for r := lo; r < hi; r++ {
			xs, ys, dys := x.data[r*c:(r+1)*c], y.data[r*c:(r+1)*c], y.grad[r*c:(r+1)*c]
			for j, g := range dys {
				if relu && ys[j] <= 0 {
					continue
				}
				acc[j] += float64(g)
				acc[c+j] += float64(g) * float64((xs[j]-mean[j])*invStd[j])
			}
		}
	})
	gamma := b.weight.data
	for j := 0; j < c; j++ {
		b.bias.grad[j] += float32(s[j])
		b.weight.grad[j] += float32(s[c+j])
	}
	if x.grad == nil {
		return
	}
	scale, meanDz, meanDzXhat := make([]float32, c), make([]float32, c), make([]float32, c)
	for j := range scale {
		scale[j] = gamma[j] * invStd[j]
		meanDz[j] = float32(s[j] / float64(rows))
		meanDzXhat[j] = float32(s[c+j] / float64(rows))
	}
	accumulate := x.gradSet
	e.elementwise(rows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xs, ys, dys, dxs := x.data[r*c:(r+1)*c], y.data[r*c:(r+1)*c], y.grad[r*c:(r+1)*c], x.grad[r*c:(r+1)*c]
			for j, g := range dys {
				if relu && ys[j] <= 0 {
					g = 0
				}
				xhat := (xs[j] - mean[j]) * invStd[j]
				d := scale[j] * (g - meanDz[j] - xhat*meanDzXhat[j])
				if accumulate {
					dxs[j] += d
				} else {
					dxs[j] = d
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
	sgemm(false, true, n, l.Out, l.In, 1, x.data, l.In, b.weight.data, l.In, 0, y.data, l.Out)
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
	sgemm(true, false, l.Out, l.In, n, 1, y.grad, l.Out, x.data, l.In, 1, b.weight.grad, l.In)
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
		sgemm(false, false, n, l.In, l.Out, 1, y.grad, l.Out, b.weight.data, l.In, beta, x.grad, l.In)
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
	c := x.c
	parallelFor(x.n, threads, func(_, lo, hi int) {
		for n := lo; n < hi; n++ {
			for oy := 0; oy < y.h; oy++ {
				for ox := 0; ox < y.w; ox++ {
					o := ((n*y.h+oy)*y.w + ox) * c
					out, arg := y.data[o:o+c], argmax[o:o+c]
					for j := range out {
						out[j] = float32(math.Inf(-1))
						arg[j] = -1
					}
					for ky := 0; ky < l.Kernel; ky++ {
						iy := oy*l.Stride - l.Pad + ky
						if iy < 0 || iy >= x.h {
							continue
						}
						for kx := 0; kx < l.Kernel; kx++ {
							ix := ox*l.Stride - l.Pad + kx
							if ix < 0 || ix >= x.w {
								continue
							}
							base := ((n*x.h+iy)*x.w + ix) * c
							for j, v := range x.data[base : base+c] {
								if v > out[j] || arg[j] < 0 {
									out[j], arg[j] = v, int32(base+j)
								}
							}
						}
					}
				}
			}
		}
	})
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
