//go:build !cgo || noblas

package blas

// name: this binary has no OpenBLAS (CGO_ENABLED=0 or -tags noblas).
func name() string { return "gonum (pure Go)" }

// setThreads is a no-op for gonum.
func setThreads(int) {}

// sgemm is Sgemm for m, n, k > 0.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonumSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
