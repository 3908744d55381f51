package swav

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// refSinkhorn transcribes the reference's distributed_sinkhorn in T
// arithmetic (no stabilisation), emulating world size len(ranks): ranks[r]
// is rank r's n x k scores; the total and the row sums are all-reduced.
// It returns each rank's codes.
func refSinkhorn[T Float](ranks [][]T, n, k int, eps float64, iters int) [][]T {
	w := len(ranks)
	bGlob := T(n * w)
	qs := make([][]T, w) // per rank, K x N (transposed)
	var total T
	for r, s := range ranks {
		q := make([]T, k*n)
		for i := 0; i < n; i++ {
			for j := 0; j < k; j++ {
				q[j*n+i] = T(math.Exp(float64(s[i*k+j] / T(eps))))
			}
		}
		for _, v := range q {
			total += v
		}
		qs[r] = q
	}
	for _, q := range qs {
		for i := range q {
			q[i] /= total
		}
	}
	for it := 0; it < iters; it++ {
		rows := make([]T, k)
		for _, q := range qs {
			for j := 0; j < k; j++ {
				for i := 0; i < n; i++ {
					rows[j] += q[j*n+i]
				}
			}
		}
		for _, q := range qs {
			for j := 0; j < k; j++ {
				for i := 0; i < n; i++ {
					q[j*n+i] /= rows[j]
					q[j*n+i] /= T(k)
				}
			}
			for i := 0; i < n; i++ {
				var c T
				for j := 0; j < k; j++ {
					c += q[j*n+i]
				}
				for j := 0; j < k; j++ {
					q[j*n+i] /= c
					q[j*n+i] /= bGlob
				}
			}
		}
	}
	out := make([][]T, w)
	for r, q := range qs {
		o := make([]T, n*k)
		for i := 0; i < n; i++ {
			for j := 0; j < k; j++ {
				o[i*k+j] = q[j*n+i] * bGlob
			}
		}
		out[r] = o
	}
	return out
}

// unitRows returns rows x d random unit vectors, scaled by scale.
func unitRows(rng *rand.Rand, rows, d int, scale float64) []float64 {
	m := make([]float64, rows*d)
	for i := range m {
		m[i] = rng.NormFloat64()
	}
	L2NormalizeRows(m, rows, d)
	for i := range m {
		m[i] *= scale
	}
	return m
}

// cosineScores returns n x k scores z C^T of random unit z (times scale)
// and unit prototypes C.
func cosineScores(seed uint64, n, k, d int, scale float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	z := unitRows(rng, n, d, scale)
	c := unitRows(rng, k, d, 1)
	return MulABt(z, c, n, k, d)
}

func maxAbsDiff[T, U Float](a []T, b []U) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(d) {
			return math.NaN()
		}
		m = math.Max(m, d)
	}
	return m
}

func allFinite[T Float](x []T) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// sums returns the row sums (per sample) and column sums (per prototype).
func sums[T Float](q []T, n, k int) (rows, cols []float64) {
	rows, cols = make([]float64, n), make([]float64, k)
	for i := 0; i < n; i++ {
		for j := 0; j < k; j++ {
			rows[i] += float64(q[i*k+j])
			cols[j] += float64(q[i*k+j])
		}
	}
	return rows, cols
}

// TestSinkhornMatchesReference compares the log-domain codes with the plain
// float64 transcription of the reference on other seeds and shapes.
func TestSinkhornMatchesReference(t *testing.T) {
	cases := []struct {
		seed    uint64
		n, k, d int
		eps     float64
		iters   int
	}{
		{1, 8, 10, 16, 0.05, 3},
		{2, 32, 100, 32, 0.05, 3},
		{3, 64, 30, 128, 0.03, 3},
		{4, 5, 300, 8, 0.05, 1},
		{5, 17, 3, 4, 0.1, 10},
		{6, 16, 64, 16, 0.01, 3},
		{7, 1, 7, 5, 0.05, 3},
		{8, 40, 1, 5, 0.05, 3},
		{9, 6, 5, 4, 0.05, 0},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("seed%d_%dx%d_eps%g_it%d", tc.seed, tc.n, tc.k, tc.eps, tc.iters), func(t *testing.T) {
			s := cosineScores(tc.seed, tc.n, tc.k, tc.d, 1)
			ref := refSinkhorn([][]float64{s}, tc.n, tc.k, tc.eps, tc.iters)[0]
			got := Sinkhorn(s, tc.n, tc.k, tc.eps, tc.iters)
			if d := maxAbsDiff(got, ref); !(d < 1e-12) {
				t.Fatalf("max |ours - reference| = %g", d)
			}
			if tc.iters == 0 {
				return // no normalisation at all: rows need not sum to 1
			}
			rows, _ := sums(got, tc.n, tc.k)
			for i, r := range rows {
				if math.Abs(r-1) > 1e-12 {
					t.Fatalf("row %d sums to %v", i, r)
				}
			}
		})
	}
}

// TestSinkhornDistributedEquivalence: the reference at world size 2 (each
// rank holding half the samples, sums all-reduced) computes the same codes
// as world size 1 on all samples, which is what this package implements.
func TestSinkhornDistributedEquivalence(t *testing.T) {
	for _, seed := range []uint64{11, 12, 13} {
		const n, k = 8, 10
		s := cosineScores(seed, 2*n, k, 16, 1)
		ranks := refSinkhorn([][]float64{s[:n*k], s[n*k:]}, n, k, 0.05, 3)
		got := Sinkhorn(s, 2*n, k, 0.05, 3)
		if d := maxAbsDiff(got, append(ranks[0], ranks[1]...)); !(d < 1e-12) {
			t.Fatalf("seed %d: world size 2 vs 1 differ by %g", seed, d)
		}
	}
}

// TestSinkhornConverges: with many iterations the prototype marginals
// converge to N/K (equipartition) while every sample's row sums to 1.
func TestSinkhornConverges(t *testing.T) {
	cases := []struct {
		n, k  int
		eps   float64
		iters int
	}{
		{16, 4, 0.1, 300},
		{64, 32, 0.05, 500},
		{30, 30, 0.05, 500},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%dx%d", tc.n, tc.k), func(t *testing.T) {
			s := cosineScores(uint64(tc.n*tc.k), tc.n, tc.k, 8, 1)
			q := Sinkhorn(s, tc.n, tc.k, tc.eps, tc.iters)
			rows, cols := sums(q, tc.n, tc.k)
			for i, r := range rows {
				if math.Abs(r-1) > 1e-12 {
					t.Fatalf("row %d sums to %v", i, r)
				}
			}
			want := float64(tc.n) / float64(tc.k)
			for j, c := range cols {
				if math.Abs(c-want) > 1e-6*want {
					t.Fatalf("prototype %d has mass %v after %d iterations, want %v", j, c, tc.iters, want)
				}
			}
			// 3 iterations are only approximately balanced: more iterations
			// must not be further from equipartition.
			q3 := Sinkhorn(s, tc.n, tc.k, tc.eps, 3)
			_, cols3 := sums(q3, tc.n, tc.k)
			if spread(cols3, want) < spread(cols, want) {
				t.Fatalf("3 iterations closer to equipartition than %d", tc.iters)
			}
		})
	}
}

func spread(cols []float64, want float64) float64 {
	m := 0.0
	for _, c := range cols {
		m = math.Max(m, math.Abs(c-want))
	}
	return m
}

// TestSinkhornStability covers the situations where the plain reference
// overflows in float32 (SPEC §7, §12): small epsilon, peaked and
// unnormalised scores. Ours stays finite in float32, rows sum to 1, and the
// float32 path equals the float64 log-domain result on the same inputs; where
// the float64 reference is still finite, ours matches it.
func TestSinkhornStability(t *testing.T) {
	peaked := func() []float64 { // embeddings = noisy copies of prototypes
		rng := rand.New(rand.NewPCG(21, 7))
		const n, k, d = 16, 10, 16
		c := unitRows(rng, k, d, 1)
		z := make([]float64, n*d)
		for i := 0; i < n; i++ {
			for l := 0; l < d; l++ {
				z[i*d+l] = c[(i%k)*d+l] + 0.01*rng.NormFloat64()
			}
		}
		L2NormalizeRows(z, n, d)
		return MulABt(z, c, n, k, d)
	}
	cases := []struct {
		name             string
		scores           []float64
		n, k             int
		eps              float64
		refFloat64Finite bool
	}{
		{"eps0.01", cosineScores(31, 32, 20, 4, 1), 32, 20, 0.01, true},
		{"eps0.005", cosineScores(32, 32, 20, 4, 1), 32, 20, 0.005, true},
		{"peaked_eps0.005", peaked(), 16, 10, 0.005, true},
		{"unnormalised_x80_eps0.05", cosineScores(33, 16, 10, 16, 80), 16, 10, 0.05, false},
		{"unnormalised_x200_eps0.01", cosineScores(34, 16, 10, 16, 200), 16, 10, 0.01, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s32 := make([]float32, len(tc.scores))
			s64 := make([]float64, len(tc.scores)) // the float32-rounded inputs
			for i, v := range tc.scores {
				s32[i] = float32(v)
				s64[i] = float64(s32[i])
			}
			if allFinite(refSinkhorn([][]float32{s32}, tc.n, tc.k, tc.eps, 3)[0]) {
				t.Fatal("the plain float32 reference is finite here: the case tests nothing")
			}
			got32 := Sinkhorn(s32, tc.n, tc.k, tc.eps, 3)
			got64 := Sinkhorn(s64, tc.n, tc.k, tc.eps, 3)
			if !allFinite(got32) || !allFinite(got64) {
				t.Fatal("non-finite codes")
			}
			if d := maxAbsDiff(got32, got64); d > 1e-7 {
				t.Fatalf("float32 codes differ from float64 log-domain by %g", d)
			}
			rows, _ := sums(got32, tc.n, tc.k)
			for i, r := range rows {
				if math.Abs(r-1) > 1e-6 {
					t.Fatalf("float32 row %d sums to %v", i, r)
				}
			}
			ref64 := refSinkhorn([][]float64{s64}, tc.n, tc.k, tc.eps, 3)[0]
			if allFinite(ref64) != tc.refFloat64Finite {
				t.Fatalf("float64 reference finite = %v, want %v", allFinite(ref64), tc.refFloat64Finite)
			}
			if tc.refFloat64Finite {
				if d := maxAbsDiff(got64, ref64); !(d < 1e-10) {
					t.Fatalf("float64 codes differ from the float64 reference by %g", d)
				}
			}
		})
	}
}

func TestSinkhornTailIsTheLastRows(t *testing.T) {
	s := cosineScores(41, 24, 12, 8, 1)
	all := Sinkhorn(s, 24, 12, 0.05, 3)
	tail := SinkhornTail(s, 24, 12, 0.05, 3, 8)
	if d := maxAbsDiff(tail, all[16*12:]); d != 0 {
		t.Fatalf("tail differs from the last rows by %g", d)
	}
}

func TestShapeMismatchPanicsNamingTheArgument(t *testing.T) {
	cases := []struct {
		name string
		call func()
		want string
	}{
		{"sinkhorn", func() { Sinkhorn(make([]float64, 5), 2, 3, 0.05, 3) }, "swav.Sinkhorn: scores has 5 elements, want 6"},
		{"tail", func() { SinkhornTail(make([]float64, 6), 2, 3, 0.05, 3, 3) }, "keep out of range"},
		{"loss codes", func() {
			SwappedLoss(make([]float64, 12), [][]float64{make([]float64, 5)}, []int{0}, 2, 2, 3, 0.1)
		}, "swav.SwappedLoss: codes[0] has 5 elements, want 6"},
		{"loss crop", func() {
			SwappedLoss(make([]float64, 12), [][]float64{make([]float64, 6)}, []int{2}, 2, 2, 3, 0.1)
		}, "assign[0] = 2 outside [0, 2)"},
		{"matmul", func() { MulABt(make([]float32, 3), make([]float32, 4), 1, 2, 2) }, "swav.MulABt: a has 3 elements, want 2"},
		{"lars", func() {
			NewLARS[float64](testOptim).Step([]Param[float64]{{Name: "w", Data: make([]float64, 3), Grad: make([]float64, 2)}}, 1)
		}, "swav.LARS.Step: w grad has 2 elements, want 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), tc.want) {
					t.Fatalf("panic %v, want one containing %q", r, tc.want)
				}
			}()
			tc.call()
		})
	}
}

func newRng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }

// TestSinkhornPathsAgree: the scaled kernel and the log domain give the same
// codes wherever the scaled path applies, and the scaled path declines the
// wide-range inputs.
func TestSinkhornPathsAgree(t *testing.T) {
	cases := []struct {
		name   string
		scores []float64
		n, k   int
		eps    float64
		scaled bool
	}{
		{"eps0.05", cosineScores(51, 64, 300, 16, 1), 64, 300, 0.05, true},
		{"eps0.03", cosineScores(52, 40, 50, 8, 1), 40, 50, 0.03, true},
		{"eps0.01", cosineScores(53, 32, 20, 4, 1), 32, 20, 0.01, true},
		{"unnormalised_x10_eps0.01", cosineScores(55, 32, 20, 4, 10), 32, 20, 0.01, false},
		{"unnormalised_x80", cosineScores(54, 16, 10, 16, 80), 16, 10, 0.05, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ok := sinkhornScaled(tc.scores, tc.n, tc.k, 1/tc.eps, 3, tc.n)
			if ok != tc.scaled {
				t.Fatalf("scaled path taken = %v, want %v", ok, tc.scaled)
			}
			logd := sinkhornLog(tc.scores, tc.n, tc.k, tc.eps, 3, tc.n)
			got := Sinkhorn(tc.scores, tc.n, tc.k, tc.eps, 3)
			if d := maxAbsDiff(got, logd); !(d < 1e-13) {
				t.Fatalf("paths differ by %g", d)
			}
		})
	}
}
