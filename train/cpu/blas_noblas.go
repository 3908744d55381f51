//go:build !cgo || noblas

package cpu

// blasName says which GEMM this binary uses.
func blasName() string { return "gonum (pure Go)" }

// setBLASThreads is a no-op for gonum, which sizes its own parallelism.
func setBLASThreads(int) {}

// sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices with
// gonum's pure-Go GEMM (CGO_ENABLED=0 or -tags noblas).
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleInPlace(c, m, n, ldc, beta)
		return
	}
	gonumSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
