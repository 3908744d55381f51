//go:build !cgo

package cpu

import "github.com/swavgo/swav/train/model"

// The Go twins of kernels_cgo.go's vectorised loops, for builds without cgo.

func addKernel(y, a, c []float32, relu bool)                        { addGo(y, a, c, relu) }
func maskTwoKernel(d1, d2, dy, y []float32)                         { maskTwoGo(d1, d2, dy, y) }
func addIntoKernel(dst, src []float32)                              { addIntoGo(dst, src) }
func addBF16Kernel(y []float32, a []uint16, c []float32, relu bool) { addBF16Go(y, a, c, relu) }
func maskTwoBF16Kernel(d1 []uint16, d2, dy, y []float32)            { maskTwoBF16Go(d1, d2, dy, y) }
func maxPoolKernel(l *model.Layer, x, y *value, argmax []int32, n0, n1 int) {
	maxPoolGo(l, x, y, argmax, n0, n1)
}
