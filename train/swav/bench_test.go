package swav

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time; benchmarks report it per
// op beside the wall time because the shared 2-core machine is loaded.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loopCPU runs f in b.Loop and reports CPU milliseconds per op.
func loopCPU(b *testing.B, f func()) {
	b.ReportAllocs()
	start := cpuTime()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/1e6/float64(n), "cpu-ms/op")
}

// BenchmarkSinkhorn: one crop's codes at the recipe's sizes (B = 64, K =
// 3000), without and with the bs256 recipe's queue (3840 rows prepended).
func BenchmarkSinkhorn(b *testing.B) {
	for _, n := range []int{64, 3840 + 64} {
		for _, log := range []bool{false, true} {
			b.Run(fmt.Sprintf("N%d_K3000_log%v", n, log), func(b *testing.B) {
				forceLogDomain = log
				defer func() { forceLogDomain = false }()
				s := toFloat32(cosineScores(1, n, 3000, 16, 1))
				loopCPU(b, func() { SinkhornTail(s, n, 3000, 0.05, 3, 64) })
			})
		}
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
	loopCPU(b, func() { Head(s, z, c, nil) })
}

func toFloat32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
