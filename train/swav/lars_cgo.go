//go:build cgo

package swav

/*
#cgo CFLAGS: -O3
#include <stddef.h>

#pragma GCC optimize("fp-contract=off")

// The float32 kernels of LARS in C, so that the compiler vectorises them
// (Go's compiler does not): one binary carries AVX-512, AVX2 and plain
// versions and picks one at load time. fp-contract=off keeps every product
// rounded on its own, as the Go loops do, so the three versions and the Go
// fallback (lars_nocgo.go) give the same bits.

__attribute__((target_clones("avx512f", "avx2", "default")))
static double swav_norm_f32(const float* v, size_t n) {
	double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int k = 0; k < 8; k++) s[k] += (double)v[i + k] * (double)v[i + k];
	for (; i < n; i++) s[0] += (double)v[i] * (double)v[i];
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void swav_lars_f32(float* restrict data, const float* restrict grad, float* restrict buf, size_t n,
                          double wd, double a, double mom, double lr) {
	for (size_t j = 0; j < n; j++) {
		double x = data[j];
		double d = ((double)grad[j] + wd * x) * a;
		double m = mom * (double)buf[j] + d;
		buf[j] = (float)m;
		data[j] = (float)(x - lr * m);
	}
}
*/
import "C"

import "unsafe"

// sumSquares32 is the sum of the squares of v in float64, over eight
// interleaved partial sums (vectorised C).
func sumSquares32(v []float32) float64 {
	if len(v) == 0 {
		return 0
	}
	return float64(C.swav_norm_f32((*C.float)(unsafe.Pointer(&v[0])), C.size_t(len(v))))
}

// larsUpdate32 is LARS's common case (scaled, not the first step) on
// float32 tensors of equal length, vectorised C.
func larsUpdate32(data, grad, buf []float32, wd, a, mom, lr float64) {
	if len(grad) == 0 {
		return
	}
	C.swav_lars_f32((*C.float)(unsafe.Pointer(&data[0])), (*C.float)(unsafe.Pointer(&grad[0])), (*C.float)(unsafe.Pointer(&buf[0])),
		C.size_t(len(grad)), C.double(wd), C.double(a), C.double(mom), C.double(lr))
}
