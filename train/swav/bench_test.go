package swav

import (
	"fmt"
	"testing"
)

// BenchmarkSinkhorn: one crop's codes at the recipe's sizes (B = 64, K =
// 3000), without and with the bs256 recipe's queue (3840 rows prepended).
func BenchmarkSinkhorn(b *testing.B) {
	for _, n := range []int{64, 3840 + 64} {
		b.Run(fmt.Sprintf("N%d_K3000", n), func(b *testing.B) {
			s := toFloat32(cosineScores(1, n, 3000, 16, 1))
			b.ReportAllocs()
			for b.Loop() {
				SinkhornTail(s, n, 3000, 0.05, 3, 64)
			}
		})
	}
}

// BenchmarkHead: the whole head (scores, codes, loss, gradients) at the
// ImageNet recipe per GPU: V = 8, B = 64, D = 128, K = 3000, no queue.
func BenchmarkHead(b *testing.B) {
	const v, bs, d, k = 8, 64, 128, 3000
	rng := newRng(2)
	z := toFloat32(unitRows(rng, v*bs, d, 1))
	c := toFloat32(unitRows(rng, k, d, 1))
	s := Shape{Views: v, Batch: bs, Dim: d, Prototypes: k, CropsForAssign: []int{0, 1},
		Temperature: 0.1, Epsilon: 0.05, SinkhornIterations: 3}
	b.ReportAllocs()
	for b.Loop() {
		Head(s, z, c, nil)
	}
}

func toFloat32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
