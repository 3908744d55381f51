package eval

import "github.com/swavgo/swav/internal/blas"

// BLAS names the matrix-product implementation of this process, e.g.
// "openblas (SkylakeX)" or "gonum (pure Go)" (see internal/blas; the
// first call opens OpenBLAS, about a millisecond).
func BLAS() string { return blas.Name() }

// gemmNT computes C = A * B^T for row-major A (m x k, leading dim lda), B
// (n x k, ldb) and C (m x n, ldc), overwriting C; with m, n or k zero it
// leaves C alone. It blocks for 2*m*n*k flops and allocates nothing; it is
// safe to call from several goroutines.
func gemmNT(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	blas.Sgemm(false, true, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
}

// gemmTN computes C = A^T * B for row-major A (k x m), B (k x n), C (m x n),
// overwriting C, as gemmNT does.
func gemmTN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	blas.Sgemm(true, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
}
