package swav

import (
	"fmt"
	"github.com/swavgo/swav/train"
	"math"
)

// SwappedLoss is the swapped-prediction loss of SPEC §1.6. scores is (V*B) x K,
// crop-major (rows [c*B, (c+1)*B) belong to crop c); codes[i] is the B x K
// code of crop assign[i]. For every code crop c and every other crop v:
// l(c, v) = -(1/B) sum_b sum_k q_c[b,k] log_softmax(scores_v[b]/T)[k], and
// loss = (1/|A|) sum_c (1/(V-1)) sum_{v != c} l(c, v).
//
// It returns the loss and dL/dscores ((V*B) x K, newly allocated) with the
// codes held constant: (softmax(s_v[b]/T) * sum_k q_c[b,k] - q_c[b]) /
// (B T (V-1) |A|) summed over the code crops c != v. Arithmetic is float64.
// Cost: V*B*K exponentials plus |A|*V*B*K multiply-adds. It panics on
// mismatched lengths or a crop index outside [0, V); V must be at least 2.
func SwappedLoss[T Float](scores []T, codes [][]T, assign []int, v, b, k int, temperature float64) (float64, []T) {
	checkLen("SwappedLoss", "scores", scores, v*b*k)
	if len(codes) != len(assign) {
		panic(fmt.Sprintf("swav.SwappedLoss: %d codes for %d assigned crops", len(codes), len(assign)))
	}
	if v < 2 {
		panic("swav.SwappedLoss: needs at least 2 crops")
	}
	for i, c := range assign {
		if c < 0 || c >= v {
			panic(fmt.Sprintf("swav.SwappedLoss: assign[%d] = %d outside [0, %d)", i, c, v))
		}
		checkLen("SwappedLoss", fmt.Sprintf("codes[%d]", i), codes[i], b*k)
	}
	grad := make([]T, len(scores))
	logp := make([]float64, k)
	p := make([]float64, k)
	g := make([]float64, k)
	invT := 1 / temperature
	pairWeight := 1 / (float64(b) * float64(v-1) * float64(len(assign)))
	loss := 0.0
	for view := 0; view < v; view++ {
		for bi := 0; bi < b; bi++ {
			r := view*b + bi
			s := scores[r*k : (r+1)*k]
			logSoftmax(s, invT, logp)
			for j, x := range logp {
				p[j] = math.Exp(x)
			}
			clear(g)
			for i, c := range assign {
				if c == view {
					continue
				}
				q := codes[i][bi*k : (bi+1)*k]
				dot, qsum := 0.0, 0.0
				for j, qv := range q {
					dot += float64(qv) * logp[j]
					qsum += float64(qv)
				}
				loss -= dot * pairWeight
				for j, qv := range q {
					g[j] += p[j]*qsum - float64(qv)
				}
			}
			gs := grad[r*k : (r+1)*k]
			for j, x := range g {
				gs[j] = T(x * pairWeight * invT)
			}
		}
	}
	return loss, grad
}

// logSoftmax writes log_softmax(s*inv) into out.
func logSoftmax[T Float](s []T, inv float64, out []float64) {
	m := math.Inf(-1)
	for j, v := range s {
		x := float64(v) * inv
		out[j] = x
		if x > m {
			m = x
		}
	}
	t := 0.0
	for _, x := range out {
		t += math.Exp(x - m)
	}
	lse := m + math.Log(t)
	for j := range out {
		out[j] -= lse
	}
}

// Shape describes one SwAV head computation.
type Shape struct {
	Views      int // V, total crops per image
	Batch      int // B, images
	Dim        int // D, embedding size
	Prototypes int // K
	// CropsForAssign are the crops whose codes are computed (A).
	CropsForAssign []int
	Temperature    float64
	Epsilon        float64
	// SinkhornIterations is n_sk.
	SinkhornIterations int
}

// ShapeOf builds a Shape from the train section's SwAV settings.
func ShapeOf(cfg train.SwAVConfig, views, batch, dim, prototypes int) Shape {
	return Shape{
		Views: views, Batch: batch, Dim: dim, Prototypes: prototypes,
		CropsForAssign: cfg.CropsForAssign, Temperature: cfg.Temperature,
		Epsilon: cfg.Epsilon, SinkhornIterations: cfg.SinkhornIterations,
	}
}

// HeadResult is what Head computes; every slice is newly allocated.
type HeadResult[T Float] struct {
	Scores []T   // (V*B) x K, z C^T
	Codes  [][]T // B x K per crop of CropsForAssign
	Loss   float64
	// GradScores is dL/dscores, (V*B) x K.
	GradScores []T
	// GradEmbeddings is dL/dz = dL/dscores C, (V*B) x D.
	GradEmbeddings []T
	// GradPrototypes is dL/dC = dL/dscores^T z, K x D (w.r.t. the normalised
	// matrix, no Jacobian of the normalisation, SPEC §1.2).
	GradPrototypes []T
}

// Head runs the SwAV head on the L2-normalised embeddings z ((V*B) x D,
// crop-major) and the row-normalised prototypes C (K x D): scores, codes
// with the queue q (nil = none; updated in place as the reference does), the
// swapped loss and the gradients w.r.t. the scores, z and C. Chain
// GradEmbeddings through L2NormalizeRowsBackward to reach the raw head
// output. Cost: about 3*V*B*K*D multiply-adds plus Codes and SwappedLoss.
func Head[T Float](s Shape, embeddings, prototypes []T, q *Queue[T]) HeadResult[T] {
	vb := s.Views * s.Batch
	checkLen("Head", "embeddings", embeddings, vb*s.Dim)
	checkLen("Head", "prototypes", prototypes, s.Prototypes*s.Dim)
	var r HeadResult[T]
	r.Scores = MulABt(embeddings, prototypes, vb, s.Prototypes, s.Dim)
	r.Codes = Codes(r.Scores, embeddings, prototypes, q, s.CropsForAssign, s.Batch, s.Prototypes, s.Dim, s.Epsilon, s.SinkhornIterations)
	r.Loss, r.GradScores = SwappedLoss(r.Scores, r.Codes, s.CropsForAssign, s.Views, s.Batch, s.Prototypes, s.Temperature)
	r.GradEmbeddings = MulAB(r.GradScores, prototypes, vb, s.Prototypes, s.Dim)
	r.GradPrototypes = MulAtB(r.GradScores, embeddings, vb, s.Prototypes, s.Dim)
	return r
}
