package swav

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveLoss is the reference's loop (SPEC §1.6) written out.
func naiveLoss(scores []float64, codes [][]float64, assign []int, v, b, k int, temp float64) float64 {
	loss := 0.0
	for i, c := range assign {
		sub := 0.0
		for view := 0; view < v; view++ {
			if view == c {
				continue
			}
			mean := 0.0
			for bi := 0; bi < b; bi++ {
				row := scores[(view*b+bi)*k : (view*b+bi+1)*k]
				m := math.Inf(-1)
				for _, x := range row {
					m = math.Max(m, x/temp)
				}
				z := 0.0
				for _, x := range row {
					z += math.Exp(x/temp - m)
				}
				for j, x := range row {
					mean += codes[i][bi*k+j] * (x/temp - m - math.Log(z))
				}
			}
			sub -= mean / float64(b)
		}
		loss += sub / float64(v-1)
	}
	return loss / float64(len(assign))
}

type headCase struct {
	seed       uint64
	v, b, d, k int
	assign     []int
	temp, eps  float64
}

func (c headCase) String() string {
	return fmt.Sprintf("seed%d_V%d_B%d_D%d_K%d_A%v", c.seed, c.v, c.b, c.d, c.k, c.assign)
}

var headCases = []headCase{
	{1, 3, 4, 5, 6, []int{0, 1}, 0.1, 0.05},
	{2, 4, 3, 7, 5, []int{0}, 0.1, 0.05},
	{3, 2, 5, 4, 9, []int{0, 1}, 0.5, 0.03},
	{4, 5, 2, 3, 4, []int{1, 3, 4}, 0.2, 0.05},
}

// TestHeadGradientsFiniteDifferences checks every analytic gradient (scores,
// prototypes, and the raw head output through the L2 norm) against central
// differences of the loss with the codes held constant.
func TestHeadGradientsFiniteDifferences(t *testing.T) {
	for _, tc := range headCases {
		t.Run(tc.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 3))
			vb := tc.v * tc.b
			h := make([]float64, vb*tc.d)
			for i := range h {
				h[i] = rng.NormFloat64() * 2
			}
			c := unitRows(rng, tc.k, tc.d, 1)
			z := append([]float64(nil), h...)
			L2NormalizeRows(z, vb, tc.d)
			shape := Shape{Views: tc.v, Batch: tc.b, Dim: tc.d, Prototypes: tc.k, CropsForAssign: tc.assign,
				Temperature: tc.temp, Epsilon: tc.eps, SinkhornIterations: 3}
			res := Head(shape, z, c, nil)
			if want := naiveLoss(res.Scores, res.Codes, tc.assign, tc.v, tc.b, tc.k, tc.temp); math.Abs(res.Loss-want) > 1e-12 {
				t.Fatalf("loss %v, naive loop %v", res.Loss, want)
			}
			lossOf := func(h, c []float64) float64 {
				z := append([]float64(nil), h...)
				L2NormalizeRows(z, vb, tc.d)
				l, _ := SwappedLoss(MulABt(z, c, vb, tc.k, tc.d), res.Codes, tc.assign, tc.v, tc.b, tc.k, tc.temp)
				return l
			}
			const step = 1e-6
			fd := func(x []float64, f func() float64) []float64 {
				g := make([]float64, len(x))
				for i := range x {
					old := x[i]
					x[i] = old + step
					up := f()
					x[i] = old - step
					down := f()
					x[i] = old
					g[i] = (up - down) / (2 * step)
				}
				return g
			}
			gradRaw := L2NormalizeRowsBackward(h, res.GradEmbeddings, vb, tc.d)
			scores := append([]float64(nil), res.Scores...)
			for _, g := range []struct {
				name     string
				analytic []float64
				numeric  []float64
			}{
				{"scores", res.GradScores, fd(scores, func() float64 {
					l, _ := SwappedLoss(scores, res.Codes, tc.assign, tc.v, tc.b, tc.k, tc.temp)
					return l
				})},
				{"prototypes", res.GradPrototypes, fd(c, func() float64 { return lossOf(h, c) })},
				{"projection_output_raw", gradRaw, fd(h, func() float64 { return lossOf(h, c) })},
			} {
				if d := maxAbsDiff(g.analytic, g.numeric); !(d < 1e-7) {
					t.Errorf("grad %s: analytic vs finite differences differ by %g", g.name, d)
				}
			}
		})
	}
}

func TestL2NormalizeRows(t *testing.T) {
	m := []float64{3, 4, 0, 0, 1e-13, 0}
	L2NormalizeRows(m, 3, 2)
	want := []float64{0.6, 0.8, 0, 0, 0.1, 0} // the 1e-13 row is divided by the 1e-12 clamp
	if d := maxAbsDiff(m, want); d > 1e-15 {
		t.Fatalf("got %v, want %v", m, want)
	}
	g := L2NormalizeRowsBackward([]float64{0, 0, 3, 4}, []float64{1, 2, 1, 0}, 2, 2)
	// clamped row: g/1e-12; normal row: (g - z(z.g))/|h| = ([1,0] - [.6,.8]*.6)/5
	wantG := []float64{1e12, 2e12, (1 - 0.36) / 5, (0 - 0.48) / 5}
	for i := range g {
		if math.Abs(g[i]-wantG[i]) > 1e-12*math.Max(1, math.Abs(wantG[i])) {
			t.Fatalf("backward %v, want %v", g, wantG)
		}
	}
}

// TestSwappedLossArbitraryCodes: the gradient is exact also for code rows
// that do not sum to 1 (softmax * sum(q) - q), e.g. hard or damaged codes.
func TestSwappedLossArbitraryCodes(t *testing.T) {
	const v, b, k = 3, 2, 4
	rng := newRng(9)
	scores := make([]float64, v*b*k)
	for i := range scores {
		scores[i] = rng.NormFloat64()
	}
	codes := [][]float64{make([]float64, b*k), make([]float64, b*k)}
	for _, c := range codes {
		for i := range c {
			c[i] = rng.Float64() * 2
		}
	}
	assign := []int{2, 0}
	loss, grad := SwappedLoss(scores, codes, assign, v, b, k, 0.3)
	if want := naiveLoss(scores, codes, assign, v, b, k, 0.3); math.Abs(loss-want) > 1e-12 {
		t.Fatalf("loss %v, naive %v", loss, want)
	}
	const step = 1e-6
	for i := range scores {
		old := scores[i]
		scores[i] = old + step
		up, _ := SwappedLoss(scores, codes, assign, v, b, k, 0.3)
		scores[i] = old - step
		down, _ := SwappedLoss(scores, codes, assign, v, b, k, 0.3)
		scores[i] = old
		if fd := (up - down) / (2 * step); math.Abs(fd-grad[i]) > 1e-7 {
			t.Fatalf("score %d: analytic %v, finite differences %v", i, grad[i], fd)
		}
	}
}

// TestCodesWithoutQueueIgnoresEmbeddings: with no queue the codes are the
// plain Sinkhorn codes of each assigned crop and embeddings may be nil.
func TestCodesWithoutQueueIgnoresEmbeddings(t *testing.T) {
	const v, b, k, d = 3, 4, 5, 2
	scores := cosineScores(61, v*b, k, d, 1)
	protos := unitRows(newRng(62), k, d, 1)
	codes := Codes(scores, nil, protos, nil, []int{2, 1}, b, k, d, 0.05, 3)
	for i, c := range []int{2, 1} {
		want := Sinkhorn(scores[c*b*k:(c+1)*b*k], b, k, 0.05, 3)
		if dd := maxAbsDiff(codes[i], want); dd != 0 {
			t.Fatalf("crop %d: differs by %g", c, dd)
		}
	}
}

// TestNonFiniteInputsPropagate: a NaN or infinite score is not an error
// here: it reaches the loss as NaN (the backend turns that into
// train.ErrNonFinite), without a panic.
func TestNonFiniteInputsPropagate(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		const v, b, k = 2, 2, 3
		scores := cosineScores(71, v*b, k, 4, 1)
		scores[1] = bad
		codes := Codes(scores, nil, make([]float64, k*4), nil, []int{0, 1}, b, k, 4, 0.05, 3)
		loss, _ := SwappedLoss(scores, codes, []int{0, 1}, v, b, k, 0.1)
		if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
			t.Errorf("score %v: loss %v, want non-finite", bad, loss)
		}
	}
}
