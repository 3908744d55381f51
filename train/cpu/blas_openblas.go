//go:build cgo && !noblas

package cpu

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
extern void openblas_set_num_threads(int num_threads);
*/
import "C"

// blasName says which GEMM this binary uses.
const blasName = "openblas"

// setBLASThreads fixes OpenBLAS's own thread count (process-wide). The
// backend parallelises over images itself, so it asks for 1.
func setBLASThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices, op(X)
// = X^T when the trans flag is set; op(A) is m x k, op(B) k x n, C m x n. It
// blocks for the whole product (cost 2*m*n*k flops) and allocates nothing.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleInPlace(c, m, n, ldc, beta)
		return
	}
	ta, tb := uint32(C.CblasNoTrans), uint32(C.CblasNoTrans)
	if transA {
		ta = uint32(C.CblasTrans)
	}
	if transB {
		tb = uint32(C.CblasTrans)
	}
	C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(&a[0]), C.blasint(lda), (*C.float)(&b[0]), C.blasint(ldb),
		C.float(beta), (*C.float)(&c[0]), C.blasint(ldc))
}
