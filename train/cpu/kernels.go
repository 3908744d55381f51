package cpu

import (
	"math"

	"github.com/swavgo/swav/internal/dnnl"
	"github.com/swavgo/swav/train/model"
)

// The elementwise loops the engine runs most, in Go: kernels_cgo.go has
// vectorised C twins that give the same bits, kernels_nocgo.go uses these.

// addGo writes y = a + c (max(a+c, 0) when relu) for len(y) values.
func addGo(y, a, c []float32, relu bool) {
	a, c = a[:len(y)], c[:len(y)]
	if relu {
		for j := range y {
			y[j] = max(a[j]+c[j], 0)
		}
		return
	}
	for j := range y {
		y[j] = a[j] + c[j]
	}
}

// maskTwoGo writes reluMask(dy, y) into both d1 and d2 (len(dy) values).
func maskTwoGo(d1, d2, dy, y []float32) {
	d1, d2, y = d1[:len(dy)], d2[:len(dy)], y[:len(dy)]
	for j, g := range dy {
		g = reluMask(g, y[j])
		d1[j], d2[j] = g, g
	}
}

// addBF16Go is addGo with a in bf16 (dnnl.Halves' values).
func addBF16Go(y []float32, a []uint16, c []float32, relu bool) {
	a, c = a[:len(y)], c[:len(y)]
	for j := range y {
		v := dnnl.FromBF16(a[j]) + c[j]
		if relu {
			v = max(v, 0)
		}
		y[j] = v
	}
}

// maskTwoBF16Go is maskTwoGo writing d1 in bf16 (rounded to nearest even).
func maskTwoBF16Go(d1 []uint16, d2, dy, y []float32) {
	d1, d2, y = d1[:len(dy)], d2[:len(dy)], y[:len(dy)]
	for j, g := range dy {
		g = reluMask(g, y[j])
		d1[j], d2[j] = dnnl.ToBF16(g), g
	}
}

// addIntoGo adds src into dst (len(src) values).
func addIntoGo(dst, src []float32) {
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] += v
	}
}

// maxPoolGo is max pooling of NHWC images [lo, hi) of x into y, with the
// flat index of each maximum in argmax: the first valid tap, then any
// strictly greater one; an output with no valid tap is -inf with index -1.
func maxPoolGo(l *model.Layer, x, y *value, argmax []int32, lo, hi int) {
	c := x.c
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
}
