//go:build cgo

package cpu

/*
#cgo CFLAGS: -O3
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// The engine's elementwise loops in C, so that the compiler vectorises them
// (Go's does not): one binary carries AVX-512, AVX2 and plain versions and
// picks one at load time. Each gives the bits of its Go twin in
// kernels_nocgo.go (TestElementwiseKernelsMatchGo): NaNs propagate, and
// ReLU maps -0 to +0 as Go's max(x, 0) does.

// y = a + c, or max(a + c, 0) when relu.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void swav_add(float* restrict y, const float* a, const float* c, size_t n, int relu) {
	if (!relu) {
		for (size_t j = 0; j < n; j++) y[j] = a[j] + c[j];
		return;
	}
	for (size_t j = 0; j < n; j++) {
		float x = a[j] + c[j];
		y[j] = (x > 0 || x != x) ? x : 0.0f;
	}
}

// d1 = d2 = dy where y's bits, as int32, are > 0 (y > 0), else +0.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void swav_mask2(float* restrict d1, float* restrict d2, const float* dy, const float* y, size_t n) {
	for (size_t j = 0; j < n; j++) {
		int32_t yb; uint32_t gb;
		memcpy(&yb, &y[j], 4);
		memcpy(&gb, &dy[j], 4);
		uint32_t g = gb & (yb > 0 ? 0xffffffffu : 0u);
		memcpy(&d1[j], &g, 4);
		memcpy(&d2[j], &g, 4);
	}
}

// dst += src.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void swav_add_into(float* restrict dst, const float* restrict src, size_t n) {
	for (size_t j = 0; j < n; j++) dst[j] += src[j];
}
*/
import "C"

import "unsafe"

func fptr(s []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(s))) }

// addKernel writes y = a + c (max(a+c, 0) when relu) for len(y) values.
func addKernel(y, a, c []float32, relu bool) {
	if len(y) == 0 {
		return
	}
	a, c = a[:len(y)], c[:len(y)]
	r := C.int(0)
	if relu {
		r = 1
	}
	C.swav_add(fptr(y), fptr(a), fptr(c), C.size_t(len(y)), r)
}

// maskTwoKernel writes reluMask(dy, y) into both d1 and d2 (len(dy) values).
func maskTwoKernel(d1, d2, dy, y []float32) {
	if len(dy) == 0 {
		return
	}
	d1, d2, y = d1[:len(dy)], d2[:len(dy)], y[:len(dy)]
	C.swav_mask2(fptr(d1), fptr(d2), fptr(dy), fptr(y), C.size_t(len(dy)))
}

// addIntoKernel adds src into dst (len(src) values).
func addIntoKernel(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	dst = dst[:len(src)]
	C.swav_add_into(fptr(dst), fptr(src), C.size_t(len(src)))
}
