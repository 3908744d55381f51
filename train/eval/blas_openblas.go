//go:build cgo && !noblas

package eval

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

// BLAS names the matrix-product implementation of this binary.
const BLAS = "openblas"

// gemmNT computes C = A * B^T for row-major A (m x k, leading dim lda), B
// (n x k, ldb) and C (m x n, ldc), overwriting C. It blocks for 2*m*n*k flops
// and allocates nothing; it is safe to call from several goroutines.
func gemmNT(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasTrans, C.blasint(m), C.blasint(n), C.blasint(k),
		1, (*C.float)(&a[0]), C.blasint(lda), (*C.float)(&b[0]), C.blasint(ldb),
		0, (*C.float)(&c[0]), C.blasint(ldc))
}

// gemmTN computes C = A^T * B for row-major A (k x m), B (k x n), C (m x n),
// overwriting C.
func gemmTN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	C.cblas_sgemm(C.CblasRowMajor, C.CblasTrans, C.CblasNoTrans, C.blasint(m), C.blasint(n), C.blasint(k),
		1, (*C.float)(&a[0]), C.blasint(lda), (*C.float)(&b[0]), C.blasint(ldb),
		0, (*C.float)(&c[0]), C.blasint(ldc))
}
