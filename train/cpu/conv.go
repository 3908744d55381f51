package cpu

import (
	"github.com/swavgo/swav/internal/blas"
	"github.com/swavgo/swav/train/model"
)

// Convolutions run as GEMMs on NHWC rows: each output pixel is a row of the
// im2col matrix col [pixels, Kh*Kw*In] (columns ordered ky, kx, channel), so
// y[pixels, Out] = col W^T with W in the work layout [Out][Kh][Kw][In].
// A 1x1 stride-1 unpadded convolution needs no im2col: col is x itself.
// Work is split over the engine's threads by whole images (so col2im never
// races), in chunks of images whose columns fit the worker's scratch buffer.

// toWorkLayout permutes a PyTorch conv weight [Out][In][Kh][Kw] into dst
// [Out][Kh][Kw][In].
func toWorkLayout(dst, src []float32, out, in, k int) {
	kk := k * k
	for o := 0; o < out; o++ {
		s, d := src[o*in*kk:(o+1)*in*kk], dst[o*in*kk:(o+1)*in*kk]
		for ci := 0; ci < in; ci++ {
			for p := 0; p < kk; p++ {
				d[p*in+ci] = s[ci*kk+p]
			}
		}
	}
}

// fromWorkLayout is toWorkLayout's inverse; it adds into dst (a gradient).
func addFromWorkLayout(dst, src []float32, out, in, k int) {
	kk := k * k
	for o := 0; o < out; o++ {
		s, d := src[o*in*kk:(o+1)*in*kk], dst[o*in*kk:(o+1)*in*kk]
		for ci := 0; ci < in; ci++ {
			for p := 0; p < kk; p++ {
				d[ci*kk+p] += s[p*in+ci]
			}
		}
	}
}

// toFlippedLayout writes the weight of the stride-1 input-gradient
// convolution: dst [In][Kh][Kw][Out] with both kernel axes reversed, so that
// dx = im2col(dy, pad Kernel-1-Pad) dst^T.
func toFlippedLayout(dst, src []float32, out, in, k int) {
	kk := k * k
	for o := 0; o < out; o++ {
		for ci := 0; ci < in; ci++ {
			s := src[(o*in+ci)*kk : (o*in+ci+1)*kk]
			for ky := 0; ky < k; ky++ {
				for kx := 0; kx < k; kx++ {
					dst[((ci*k+(k-1-ky))*k+(k-1-kx))*out+o] = s[ky*k+kx]
				}
			}
		}
	}
}

// usesFlippedBackward says whether the input gradient runs as a convolution
// of dy with the flipped kernel (stride 1, not pointwise): one im2col and a
// GEMM with K = Kh*Kw*Out instead of a GEMM with K = Out and a col2im
// scatter.
func (e *engine) usesFlippedBackward(l *model.Layer) bool {
	return l.Stride == 1 && l.Pad <= l.Kernel-1 && !e.isPointwise(l) && !e.forceIm2col && !e.dnnl
}

func (e *engine) isPointwise(l *model.Layer) bool {
	return !e.forceIm2col && l.Kernel == 1 && l.Stride == 1 && l.Pad == 0
}

// imagesPerChunk is how many images one GEMM covers so that the chunk's
// columns stay within maxColFloats (at least one image).
func (e *engine) imagesPerChunk(l *model.Layer, y *value) int {
	perImage := y.h * y.w * l.Kernel * l.Kernel * l.In
	return max(1, e.maxColFloats/perImage)
}

// im2col writes the columns of images [n0, n1) of x into col.
func im2col(l *model.Layer, x, y *value, n0, n1 int, col []float32) {
	k, in := l.Kernel, x.c
	width := k * k * in
	r := 0
	for n := n0; n < n1; n++ {
		for oy := 0; oy < y.h; oy++ {
			for ox := 0; ox < y.w; ox++ {
				row := col[r*width : (r+1)*width]
				r++
				for ky := 0; ky < k; ky++ {
					iy := oy*l.Stride - l.Pad + ky
					dst := row[ky*k*in : (ky+1)*k*in]
					if iy < 0 || iy >= x.h {
						clear(dst)
						continue
					}
					for kx := 0; kx < k; kx++ {
						ix := ox*l.Stride - l.Pad + kx
						d := dst[kx*in : (kx+1)*in]
						if ix < 0 || ix >= x.w {
							clear(d)
							continue
						}
						base := ((n*x.h+iy)*x.w + ix) * in
						if in <= 8 { // a loop beats a memmove call for a few values (the RGB input)
							for j, v := range x.data[base : base+in] {
								d[j] = v
							}
						} else {
							copy(d, x.data[base:base+in])
						}
					}
				}
			}
		}
	}
}

// col2im adds the column gradients of images [n0, n1) into dx.
func col2im(l *model.Layer, x, y *value, n0, n1 int, col []float32) {
	k, in := l.Kernel, x.c
	width := k * k * in
	r := 0
	for n := n0; n < n1; n++ {
		for oy := 0; oy < y.h; oy++ {
			for ox := 0; ox < y.w; ox++ {
				row := col[r*width : (r+1)*width]
				r++
				for ky := 0; ky < k; ky++ {
					iy := oy*l.Stride - l.Pad + ky
					if iy < 0 || iy >= x.h {
						continue
					}
					for kx := 0; kx < k; kx++ {
						ix := ox*l.Stride - l.Pad + kx
						if ix < 0 || ix >= x.w {
							continue
						}
						base := ((n*x.h+iy)*x.w + ix) * in
						dx := x.grad[base : base+in]
						for j, v := range row[(ky*k+kx)*in : (ky*k+kx+1)*in] {
							dx[j] += v
						}
					}
				}
			}
		}
	}
}

// convForward computes y = conv(x) + beta*y with the work-layout weight w
// (beta 0 or 1).
func (e *engine) convForward(l *model.Layer, w []float32, x, y *value, beta float32) {
	width := l.Kernel * l.Kernel * l.In
	pix := y.h * y.w
	chunk := e.imagesPerChunk(l, y)
	parallelFor(x.n, e.threads, func(worker, lo, hi int) {
		if e.isPointwise(l) {
			rows := (hi - lo) * pix
			blas.Sgemm(false, true, rows, l.Out, width, 1, x.data[lo*pix*l.In:], l.In, w, width, beta, y.data[lo*pix*l.Out:], l.Out)
			return
		}
		for n0 := lo; n0 < hi; n0 += chunk {
			n1 := min(hi, n0+chunk)
			rows := (n1 - n0) * pix
			e.cols[worker] = growFloats(e.cols[worker], rows*width)
			col := e.cols[worker]
			im2col(l, x, y, n0, n1, col)
			blas.Sgemm(false, true, rows, l.Out, width, 1, col, width, w, width, beta, y.data[n0*pix*l.Out:], l.Out)
		}
	})
}

// convBackward accumulates the weight gradient into p.workGrad and, when
// wantIn, writes or adds dx.
func (e *engine) convBackward(l *model.Layer, p *param, x, y *value, wantIn bool) {
	width := l.Kernel * l.Kernel * l.In
	pix := y.h * y.w
	chunk := e.imagesPerChunk(l, y)
	accumulate := x.gradSet
	workers := min(e.threads, x.n)
	parallelFor(x.n, workers, func(worker, lo, hi int) {
		e.partials[worker] = growFloats(e.partials[worker], l.Out*width)
		dw := e.partials[worker]
		if e.isPointwise(l) {
			rows := (hi - lo) * pix
			dy := y.grad[lo*pix*l.Out:]
			blas.Sgemm(true, false, l.Out, width, rows, 1, dy, l.Out, x.data[lo*pix*l.In:], l.In, 0, dw, width)
			if wantIn {
				beta := float32(0)
				if accumulate {
					beta = 1
				}
				blas.Sgemm(false, false, rows, width, l.Out, 1, dy, l.Out, p.work, width, beta, x.grad[lo*pix*l.In:], l.In)
			}
			return
		}
		flipped := wantIn && e.usesFlippedBackward(l)
		if wantIn && !accumulate && !flipped {
			clear(x.grad[lo*x.h*x.w*x.c : hi*x.h*x.w*x.c])
		}
		for n0 := lo; n0 < hi; n0 += chunk {
			n1 := min(hi, n0+chunk)
			rows := (n1 - n0) * pix
			e.cols[worker] = growFloats(e.cols[worker], rows*width)
			col := e.cols[worker]
			dy := y.grad[n0*pix*l.Out:]
			im2col(l, x, y, n0, n1, col)
			beta := float32(1)
			if n0 == lo {
				beta = 0
			}
			blas.Sgemm(true, false, l.Out, width, rows, 1, dy, l.Out, col, width, beta, dw, width)
			if wantIn && !flipped {
				blas.Sgemm(false, false, rows, width, l.Out, 1, dy, l.Out, p.work, width, 0, col, width)
				col2im(l, x, y, n0, n1, col)
			}
		}
		if !flipped {
			return
		}
		// dx = conv(dy, flipped kernel, pad Kernel-1-Pad), output geometry of x.
		lt := &model.Layer{Kernel: l.Kernel, Stride: 1, Pad: l.Kernel - 1 - l.Pad, In: l.Out, Out: l.In}
		gy := &value{n: y.n, h: y.h, w: y.w, c: y.c, data: y.grad}
		tWidth := l.Kernel * l.Kernel * l.Out
		xPix := x.h * x.w
		tChunk := e.imagesPerChunk(lt, x)
		beta := float32(0)
		if accumulate {
			beta = 1
		}
		for n0 := lo; n0 < hi; n0 += tChunk {
			n1 := min(hi, n0+tChunk)
			rows := (n1 - n0) * xPix
			e.cols[worker] = growFloats(e.cols[worker], rows*tWidth)
			col := e.cols[worker]
			im2col(lt, gy, x, n0, n1, col)
			blas.Sgemm(false, true, rows, l.In, tWidth, 1, col, tWidth, p.flip, tWidth, beta, x.grad[n0*xPix*l.In:], l.In)
		}
	})
	for w := 0; w < workers; w++ {
		for j, v := range e.partials[w][:l.Out*width] {
			p.workGrad[j] += v
		}
	}
	if wantIn {
		x.gradSet = true
	}
}
