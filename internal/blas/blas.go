// Package blas is the one single-precision matrix product (SGEMM) of the
// training and evaluation code: Debian's OpenBLAS through cgo, opened with
// dlopen at first use so that its kernel set can be chosen at run time, or
// gonum's pure-Go GEMM when built with CGO_ENABLED=0 or -tags noblas, or
// when libopenblas.so.0 cannot be opened.
//
// OpenBLAS is never linked at build time: a link-time OpenBLAS runs its
// constructor at process start and fixes its kernels before this package
// can choose them. The kernel set is SWAV_OPENBLAS_CORETYPE when set, else
// OPENBLAS_CORETYPE when set, else SkylakeX on CPUs with AVX-512 F/BW/DQ/VL
// (Debian's OpenBLAS 0.3.21 runs AVX-512 Zen 4/5 cores on its Haswell
// kernels, half as fast on our GEMM shapes), else OpenBLAS's own choice.
//
// All state is process-wide: one OpenBLAS, one thread setting, shared by
// every caller. Sgemm is safe for concurrent use.
package blas

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Name says which GEMM this process uses, e.g. "openblas (SkylakeX)",
// "gonum (pure Go)" or "gonum (pure Go): libopenblas.so.0 not found". It
// opens OpenBLAS when nothing has yet (about a millisecond).
func Name() string { return name() }

// SetThreads fixes OpenBLAS's own thread count, process-wide (a no-op on
// gonum, which sizes its own parallelism). Called before any other function
// of the package, it also sizes OpenBLAS's thread pool when the library is
// opened, unless OPENBLAS_NUM_THREADS is set; otherwise OpenBLAS starts with
// its default (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or one per core), as a
// link-time OpenBLAS would. Callers that parallelise over their own
// goroutines ask for 1.
func SetThreads(n int) { setThreads(n) }

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices, op(X)
// = X^T when the trans flag is set; op(A) is m x k, op(B) k x n, C m x n,
// with row strides lda, ldb and ldc. It blocks for the whole product (cost
// 2*m*n*k flops) and allocates nothing. With m or n zero it does nothing;
// with k zero it scales C by beta (zeros when beta is 0, as BLAS does).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleInPlace(c, m, n, ldc, beta)
		return
	}
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// scaleInPlace multiplies the m x n block of c (row stride ldc) by beta,
// writing zeros when beta is 0 (BLAS semantics: old NaNs do not survive).
func scaleInPlace(c []float32, m, n, ldc int, beta float32) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// gonumSgemm is Sgemm (m, n, k > 0) on gonum's pure-Go GEMM: the fallback
// when cgo is off, with -tags noblas, or when OpenBLAS cannot be opened.
func gonumSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	gonum.Implementation{}.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
