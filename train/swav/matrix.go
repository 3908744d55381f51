package swav

import "github.com/swavgo/swav/internal/blas"

// The three products run on the one SGEMM (internal/blas: OpenBLAS, or
// gonum) when T is float32, as PyTorch's float32 head does: a ResNet-18
// step's whole head (products, Sinkhorn, loss) took 33 ms with these loops
// and takes 10 ms with SGEMM, and a queue's scores (3840 x 3000 x 128) took
// about a second. float64 (the golden values) keeps the loops below, with
// float64 accumulation.

// MulABt returns a (m x d) times b^T (b is n x d): the m x n matrix of row dot
// products, e.g. scores = z C^T. Cost m*n*d.
func MulABt[T Float](a, b []T, m, n, d int) []T {
	checkLen("MulABt", "a", a, m*d)
	checkLen("MulABt", "b", b, n*d)
	out := make([]T, m*n)
	if a32, ok := any(a).([]float32); ok {
		blas.Sgemm(false, true, m, n, d, 1, a32, d, any(b).([]float32), d, 0, any(out).([]float32), n)
		return out
	}
	for i := 0; i < m; i++ {
		ai := a[i*d : (i+1)*d]
		for j := 0; j < n; j++ {
			out[i*n+j] = T(dot(ai, b[j*d:(j+1)*d]))
		}
	}
	return out
}

// MulAB returns a (m x n) times b (n x d), m x d, e.g. dL/dz = dL/dscores C.
// Cost m*n*d plus, for float64, d float64 scratch.
func MulAB[T Float](a, b []T, m, n, d int) []T {
	checkLen("MulAB", "a", a, m*n)
	checkLen("MulAB", "b", b, n*d)
	out := make([]T, m*d)
	if a32, ok := any(a).([]float32); ok {
		blas.Sgemm(false, false, m, d, n, 1, a32, n, any(b).([]float32), d, 0, any(out).([]float32), d)
		return out
	}
	acc := make([]float64, d)
	for i := 0; i < m; i++ {
		clear(acc)
		for j, av := range a[i*n : (i+1)*n] {
			x := float64(av)
			if x == 0 {
				continue
			}
			for l, bv := range b[j*d : (j+1)*d] {
				acc[l] += x * float64(bv)
			}
		}
		for l, v := range acc {
			out[i*d+l] = T(v)
		}
	}
	return out
}

// MulAtB returns a^T (a is m x n) times b (m x d), n x d, e.g.
// dL/dC = dL/dscores^T z. Cost m*n*d plus, for float64, n*d float64 scratch.
func MulAtB[T Float](a, b []T, m, n, d int) []T {
	checkLen("MulAtB", "a", a, m*n)
	checkLen("MulAtB", "b", b, m*d)
	if a32, ok := any(a).([]float32); ok {
		out := make([]float32, n*d)
		blas.Sgemm(true, false, n, d, m, 1, a32, n, any(b).([]float32), d, 0, out, d)
		return any(out).([]T)
	}
	acc := make([]float64, n*d)
	for i := 0; i < m; i++ {
		bi := b[i*d : (i+1)*d]
		for j, av := range a[i*n : (i+1)*n] {
			x := float64(av)
			if x == 0 {
				continue
			}
			r := acc[j*d : (j+1)*d]
			for l, bv := range bi {
				r[l] += x * float64(bv)
			}
		}
	}
	out := make([]T, n*d)
	for i, v := range acc {
		out[i] = T(v)
	}
	return out
}

// dot is the float64 dot product of two equal-length rows, with four
// independent accumulators so that the additions pipeline.
func dot[T Float](a, b []T) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	l := 0
	for ; l+4 <= len(a); l += 4 {
		s0 += float64(a[l]) * float64(b[l])
		s1 += float64(a[l+1]) * float64(b[l+1])
		s2 += float64(a[l+2]) * float64(b[l+2])
		s3 += float64(a[l+3]) * float64(b[l+3])
	}
	for ; l < len(a); l++ {
		s0 += float64(a[l]) * float64(b[l])
	}
	return (s0 + s1) + (s2 + s3)
}
