//go:build !cgo || noblas

package cpu

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// blasName says which GEMM this binary uses.
const blasName = "gonum (pure Go)"

// setBLASThreads is a no-op for gonum, which sizes its own parallelism.
func setBLASThreads(int) {}

// sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices with
// gonum's pure-Go GEMM (the fallback when cgo is off or with -tags noblas).
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleInPlace(c, m, n, ldc, beta)
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	gonum.Implementation{}.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
