package swav

import "math"

// Sinkhorn returns the N x K codes of scores (N x K, row n = one sample) with
// the reference's algorithm (SPEC §2, world size 1): Q = exp(s/eps)^T,
// Q /= sum(Q), then iters times (rows /= row sums, /K; columns /= column
// sums, /N), and finally Q *= N, transposed back. Rows of the result (one per
// sample) sum to 1.
//
// It is the same algorithm in exact arithmetic (the total, /K, /N and *N
// factors cancel) computed so that it stays finite for any finite scores,
// where the float32 reference overflows at s/eps > 88.7 and float64 at 709.8
// (SPEC §7, §12): normally as scaling factors on the kernel exp(s/eps - M)
// stabilised by the largest s/eps; when some prototype's or sample's best
// entry is more than 30 orders of magnitude below (tiny eps, unnormalised scores),
// in the log domain, Q = exp(s/eps + a_k + b_n) with potentials updated by
// log-sum-exp. Arithmetic is float64 whatever T is.
//
// Cost: normally N*K exponentials, 2*iters*N*K multiply-adds and N*K float64
// of scratch (94 MB for a 3840-row queue plus B = 64 at K = 3000); in the
// log domain 2*iters*N*K exponentials and O(N+K) scratch. The result is newly
// allocated (N*K values of T). It panics when len(scores) != n*k.
func Sinkhorn[T Float](scores []T, n, k int, eps float64, iters int) []T {
	return sinkhornTail(scores, n, k, eps, iters, n)
}

// SinkhornTail is Sinkhorn but returns only the last keep rows (keep x K),
// which is what the caller keeps when queue rows are prepended
// (Sinkhorn(..)[-B:]); it saves the exponentials and memory of the others.
func SinkhornTail[T Float](scores []T, n, k int, eps float64, iters, keep int) []T {
	if keep < 0 || keep > n {
		panic("swav.SinkhornTail: keep out of range [0, n]")
	}
	return sinkhornTail(scores, n, k, eps, iters, keep)
}

// scaledRangeLimit bounds the fast path: when some prototype's or some
// sample's largest kernel entry exp(s/eps - max(s/eps)) is below it, the
// scaling factors would span too many orders of magnitude for plain float64
// products, and the log-domain path runs instead. With L2-normalised
// embeddings and prototypes (|s| <= 1) this only happens for eps < 1/35.
const scaledRangeLimit = 1e-30

// forceLogDomain makes every call take the log-domain path (tests compare
// the two paths).
var forceLogDomain = false

func sinkhornTail[T Float](scores []T, n, k int, eps float64, iters, keep int) []T {
	checkLen("Sinkhorn", "scores", scores, n*k)
	if iters > 0 && !forceLogDomain {
		if out, ok := sinkhornScaled(scores, n, k, 1/eps, iters, keep); ok {
			return out
		}
	}
	return sinkhornLog(scores, n, k, eps, iters, keep)
}

// sinkhornScaled is the fast path: the kernel exp(s/eps - M), stabilised by
// the global maximum M (a constant factor, which cancels), scaled by
// prototype factors u and sample factors v. It costs N*K exponentials,
// 2*iters*N*K multiply-adds and N*K float64 of scratch, and reports false
// (having computed nothing usable) when some prototype's or some sample's
// largest kernel entry is below scaledRangeLimit or a factor is not finite;
// the caller then uses the log domain.
func sinkhornScaled[T Float](scores []T, n, k int, inv float64, iters, keep int) ([]T, bool) {
	top := math.Inf(-1)
	for _, v := range scores {
		if x := float64(v) * inv; x > top {
			top = x
		}
	}
	if math.IsInf(top, 0) || math.IsNaN(top) {
		return nil, false
	}
	kern := make([]float64, n*k)
	colMax := make([]float64, k)
	for i := 0; i < n; i++ {
		r := kern[i*k : (i+1)*k]
		rowMax := 0.0
		for j, v := range scores[i*k : (i+1)*k] {
			e := math.Exp(float64(v)*inv - top)
			r[j] = e
			if e > colMax[j] {
				colMax[j] = e
			}
			if e > rowMax {
				rowMax = e
			}
		}
		if !(rowMax >= scaledRangeLimit) { // NaN fails too
			return nil, false
		}
	}
	for _, c := range colMax {
		if !(c >= scaledRangeLimit) {
			return nil, false
		}
	}
	u := make([]float64, k)
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	for it := 0; it < iters; it++ {
		// Row step (per prototype, over samples): u_k = 1 / sum_n K_nk v_n.
		clear(u)
		for i := 0; i < n; i++ {
			vi := v[i]
			for j, e := range kern[i*k : (i+1)*k] {
				u[j] += e * vi
			}
		}
		for j, x := range u {
			u[j] = 1 / x
			if !finitePositive(u[j]) {
				return nil, false
			}
		}
		if it == iters-1 {
			break // the last column step is the output normalisation
		}
		// Column step (per sample, over prototypes): v_n = 1 / sum_k K_nk u_k.
		for i := 0; i < n; i++ {
			t := 0.0
			for j, e := range kern[i*k : (i+1)*k] {
				t += e * u[j]
			}
			v[i] = 1 / t
			if !finitePositive(v[i]) {
				return nil, false
			}
		}
	}
	out := make([]T, keep*k)
	row := make([]float64, k)
	for i := n - keep; i < n; i++ {
		t := 0.0
		for j, e := range kern[i*k : (i+1)*k] {
			row[j] = e * u[j]
			t += row[j]
		}
		if !finitePositive(t) {
			return nil, false
		}
		o := out[(i-n+keep)*k : (i-n+keep+1)*k]
		for j, x := range row {
			o[j] = T(x / t)
		}
	}
	return out, true
}

func finitePositive(x float64) bool { return x > 0 && x <= math.MaxFloat64 }

// sinkhornLog is the log-domain path: finite for any finite scores.
func sinkhornLog[T Float](scores []T, n, k int, eps float64, iters, keep int) []T {
	inv := 1 / eps
	a := make([]float64, k)   // prototype (row of Q) log potentials
	b := make([]float64, n)   // sample (column of Q) log potentials
	mx := make([]float64, k)  // per-prototype maxima for the row step
	sum := make([]float64, k) // per-prototype sums for the row step
	row := make([]float64, k) // one sample's values for the column step
	// The constant factors of the reference (1/total, 1/K, 1/N, *N) shift a
	// or b uniformly and cancel in the next normalisation, so they are
	// dropped: each step only needs log-sum-exp over the other axis.
	for it := 0; it < iters; it++ {
		// Row step (over samples, per prototype): a_k = -LSE_n(L_nk + b_n).
		for j := range mx {
			mx[j] = math.Inf(-1)
			sum[j] = 0
		}
		for i := 0; i < n; i++ {
			s := scores[i*k : (i+1)*k]
			for j, v := range s {
				if x := float64(v)*inv + b[i]; x > mx[j] {
					mx[j] = x
				}
			}
		}
		for i := 0; i < n; i++ {
			s := scores[i*k : (i+1)*k]
			for j, v := range s {
				sum[j] += math.Exp(float64(v)*inv + b[i] - mx[j])
			}
		}
		for j := range a {
			a[j] = -(mx[j] + math.Log(sum[j]))
		}
		// Column step (over prototypes, per sample): b_n = -LSE_k(L_nk + a_k).
		// The last one is folded into the output pass below.
		if it == iters-1 {
			break
		}
		for i := 0; i < n; i++ {
			b[i] = -logSumExpShifted(scores[i*k:(i+1)*k], inv, a, row)
		}
	}
	// Output: the last column normalisation then *N makes each sample's row
	// a softmax over prototypes of L_n + a. With no iterations at all, Q is
	// the plain total-normalised exp(s/eps) times N.
	out := make([]T, keep*k)
	if iters <= 0 {
		total := 0.0
		m := math.Inf(-1)
		for _, v := range scores {
			m = math.Max(m, float64(v)*inv)
		}
		for _, v := range scores {
			total += math.Exp(float64(v)*inv - m)
		}
		for i := n - keep; i < n; i++ {
			for j := 0; j < k; j++ {
				out[(i-n+keep)*k+j] = T(math.Exp(float64(scores[i*k+j])*inv-m) / total * float64(n))
			}
		}
		return out
	}
	for i := n - keep; i < n; i++ {
		lse := logSumExpShifted(scores[i*k:(i+1)*k], inv, a, row)
		o := out[(i-n+keep)*k : (i-n+keep+1)*k]
		for j := range o {
			o[j] = T(math.Exp(row[j] - lse))
		}
	}
	return out
}

// logSumExpShifted returns log(sum_j exp(s_j*inv + a_j)) and leaves the
// shifted values s_j*inv + a_j in row.
func logSumExpShifted[T Float](s []T, inv float64, a, row []float64) float64 {
	m := math.Inf(-1)
	for j, v := range s {
		x := float64(v)*inv + a[j]
		row[j] = x
		if x > m {
			m = x
		}
	}
	if math.IsInf(m, 0) || math.IsNaN(m) {
		return m
	}
	t := 0.0
	for _, x := range row {
		t += math.Exp(x - m)
	}
	return m + math.Log(t)
}
