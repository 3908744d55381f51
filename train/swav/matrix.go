package swav

// MulABt returns a (m x d) times b^T (b is n x d): the m x n matrix of row dot
// products, e.g. scores = z C^T. float64 accumulation; cost m*n*d.
func MulABt[T Float](a, b []T, m, n, d int) []T {
	checkLen("MulABt", "a", a, m*d)
	checkLen("MulABt", "b", b, n*d)
	out := make([]T, m*n)
	for i := 0; i < m; i++ {
		ai := a[i*d : (i+1)*d]
		for j := 0; j < n; j++ {
			bj := b[j*d : (j+1)*d]
			s := 0.0
			for l, v := range ai {
				s += float64(v) * float64(bj[l])
			}
			out[i*n+j] = T(s)
		}
	}
	return out
}

// MulAB returns a (m x n) times b (n x d), m x d, e.g. dL/dz = dL/dscores C.
// float64 accumulation; cost m*n*d plus d float64 scratch.
func MulAB[T Float](a, b []T, m, n, d int) []T {
	checkLen("MulAB", "a", a, m*n)
	checkLen("MulAB", "b", b, n*d)
	out := make([]T, m*d)
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
// dL/dC = dL/dscores^T z. float64 accumulation; cost m*n*d plus n*d float64
// scratch.
func MulAtB[T Float](a, b []T, m, n, d int) []T {
	checkLen("MulAtB", "a", a, m*n)
	checkLen("MulAtB", "b", b, m*d)
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
