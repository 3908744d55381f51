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

// g where y's bits, as int32, are > 0 (y > 0), else +0 (reluMask).
static inline float swav_relu_mask(float g, float y) {
	int32_t yb; uint32_t gb;
	memcpy(&yb, &y, 4);
	memcpy(&gb, &g, 4);
	gb &= yb > 0 ? 0xffffffffu : 0u;
	float m; memcpy(&m, &gb, 4);
	return m;
}

// d1 = d2 = dy masked by y > 0.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void swav_mask2(float* restrict d1, float* restrict d2, const float* dy, const float* y, size_t n) {
	for (size_t j = 0; j < n; j++) d1[j] = d2[j] = swav_relu_mask(dy[j], y[j]);
}

// bf16 (the high half of a float32) to float32, exactly.
static inline float swav_widen(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }

// float32 to bf16, to nearest, ties to even; NaNs stay NaN (quiet), as
// oneDNN (and dnnl.ToBF16) round.
static inline uint16_t swav_round_bf16(float f) {
	uint32_t u; memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
	return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

// swav_add with a in bf16.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void swav_add_bf16(float* restrict y, const uint16_t* a, const float* c, size_t n, int relu) {
	if (!relu) {
		for (size_t j = 0; j < n; j++) y[j] = swav_widen(a[j]) + c[j];
		return;
	}
	for (size_t j = 0; j < n; j++) {
		float x = swav_widen(a[j]) + c[j];
		y[j] = (x > 0 || x != x) ? x : 0.0f;
	}
}

// swav_mask2 with d1 in bf16.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void swav_mask2_bf16(uint16_t* restrict d1, float* restrict d2, const float* dy, const float* y, size_t n) {
	for (size_t j = 0; j < n; j++) {
		float g = swav_relu_mask(dy[j], y[j]);
		d1[j] = swav_round_bf16(g);
		d2[j] = g;
	}
}

// dst += src.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void swav_add_into(float* restrict dst, const float* restrict src, size_t n) {
	for (size_t j = 0; j < n; j++) dst[j] += src[j];
}

// Max pooling of NHWC images [n0, n1): y and arg (the flat index of each
// maximum in x) take the first valid tap, then any strictly greater one;
// an output with no valid tap is -inf with index -1.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void swav_max_pool(const float* restrict x, float* restrict y, int32_t* restrict arg, int n0, int n1,
                          int h, int w, int c, int oh, int ow, int k, int stride, int pad) {
	for (int n = n0; n < n1; n++)
	for (int oy = 0; oy < oh; oy++)
	for (int ox = 0; ox < ow; ox++) {
		size_t o = ((size_t)(n * oh + oy) * ow + ox) * c;
		float* out = y + o;
		int32_t* a = arg + o;
		int first = 1;
		for (int ky = 0; ky < k; ky++) {
			int iy = oy * stride - pad + ky;
			if (iy < 0 || iy >= h) continue;
			for (int kx = 0; kx < k; kx++) {
				int ix = ox * stride - pad + kx;
				if (ix < 0 || ix >= w) continue;
				int32_t base = (int32_t)(((size_t)(n * h + iy) * w + ix) * c);
				const float* in = x + base;
				if (first) {
					for (int j = 0; j < c; j++) { out[j] = in[j]; a[j] = base + j; }
					first = 0;
					continue;
				}
				for (int j = 0; j < c; j++) {
					float v = in[j], m = out[j];
					int gt = v > m;
					out[j] = gt ? v : m;
					a[j] = gt ? base + j : a[j];
				}
			}
		}
		if (first)
			for (int j = 0; j < c; j++) { out[j] = -__builtin_inff(); a[j] = -1; }
	}
}
*/
import "C"

import (
	"unsafe"

	"github.com/swavgo/swav/train/model"
)

func fptr(s []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(s))) }

// cflag is b as a C int (1 or 0).
func cflag(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// addKernel writes y = a + c (max(a+c, 0) when relu) for len(y) values.
func addKernel(y, a, c []float32, relu bool) {
	if len(y) == 0 {
		return
	}
	a, c = a[:len(y)], c[:len(y)]
	C.swav_add(fptr(y), fptr(a), fptr(c), C.size_t(len(y)), cflag(relu))
}

// maskTwoKernel writes reluMask(dy, y) into both d1 and d2 (len(dy) values).
func maskTwoKernel(d1, d2, dy, y []float32) {
	if len(dy) == 0 {
		return
	}
	d1, d2, y = d1[:len(dy)], d2[:len(dy)], y[:len(dy)]
	C.swav_mask2(fptr(d1), fptr(d2), fptr(dy), fptr(y), C.size_t(len(dy)))
}

// maxPoolKernel is maxPoolGo's vectorised twin for images [n0, n1).
func maxPoolKernel(l *model.Layer, x, y *value, argmax []int32, n0, n1 int) {
	if n1 <= n0 || len(y.data) == 0 {
		return
	}
	C.swav_max_pool(fptr(x.data), fptr(y.data), (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(argmax))), C.int(n0), C.int(n1),
		C.int(x.h), C.int(x.w), C.int(x.c), C.int(y.h), C.int(y.w), C.int(l.Kernel), C.int(l.Stride), C.int(l.Pad))
}

// addBF16Kernel is addKernel with a in bf16 (dnnl.Halves' values).
func addBF16Kernel(y []float32, a []uint16, c []float32, relu bool) {
	if len(y) == 0 {
		return
	}
	a, c = a[:len(y)], c[:len(y)]
	C.swav_add_bf16(fptr(y), (*C.uint16_t)(unsafe.SliceData(a)), fptr(c), C.size_t(len(y)), cflag(relu))
}

// maskTwoBF16Kernel is maskTwoKernel writing d1 in bf16.
func maskTwoBF16Kernel(d1 []uint16, d2, dy, y []float32) {
	if len(dy) == 0 {
		return
	}
	d1, d2, y = d1[:len(dy)], d2[:len(dy)], y[:len(dy)]
	C.swav_mask2_bf16((*C.uint16_t)(unsafe.SliceData(d1)), fptr(d2), fptr(dy), fptr(y), C.size_t(len(dy)))
}

// addIntoKernel adds src into dst (len(src) values).
func addIntoKernel(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	dst = dst[:len(src)]
	C.swav_add_into(fptr(dst), fptr(src), C.size_t(len(src)))
}
