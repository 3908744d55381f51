//go:build !cgo || noblas

package eval

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// BLAS names the matrix-product implementation of this binary.
const BLAS = "gonum (pure Go)"

// gemmNT computes C = A * B^T (see blas_openblas.go) with gonum's pure-Go
// GEMM, the fallback when cgo is off or with -tags noblas.
func gemmNT(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
}

// gemmTN computes C = A^T * B.
func gemmTN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	gonum.Implementation{}.Sgemm(blas.Trans, blas.NoTrans, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
}
