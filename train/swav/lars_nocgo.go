//go:build !cgo

package swav

// sumSquares32 is lars_cgo.go's kernel in Go, for builds without cgo.
func sumSquares32(v []float32) float64 { return sumSquares(v) }

// larsUpdate32 is lars_cgo.go's kernel in Go, for builds without cgo.
func larsUpdate32(data, grad, buf []float32, wd, a, mom, lr float64) {
	larsUpdate(data, grad, buf, wd, a, mom, lr)
}
