package eval

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/sourcegraph/conc/pool"
)

// KNNOptions tune the kNN evaluation.
type KNNOptions struct {
	// Ks are the neighbour counts to evaluate (default [20]).
	Ks []int
	// Temperature T of the vote weights exp(sim/T) (default 0.07).
	Temperature float64
	// Workers is the number of goroutines (0: GOMAXPROCS).
	Workers int
	// Progress, when set, is called with the number of test rows done so far
	// (from worker goroutines, so it must be safe for concurrent use).
	Progress func(done, total int)
}

// KNNResult is the accuracy for one k.
type KNNResult struct {
	K int `json:"k"`
	Accuracy
}

// Block sizes of the similarity computation: a worker holds testBlock x
// trainBlock similarities (4 MiB).
const (
	testBlock  = 256
	trainBlock = 4096
)

// KNN classifies every test row by the weighted vote of its nearest train
// rows under cosine similarity, as in the usual self-supervised kNN protocol
// (Wu et al. 2018, DINO): the k most similar train rows each vote for their
// label with weight exp(sim/T); the classes ranked by total vote give the
// top-1 and top-5 predictions. Results come in the order of opts.Ks.
//
// Cost: 2 x test x train x dim flops in BLAS plus test x train top-k
// updates; memory: normalised copies of both sets plus Workers x 4 MiB.
// It blocks until done or ctx is cancelled. Errors: empty sets (ErrEmpty),
// dims that differ (naming both sets), unlabelled rows, bad k or T.
func KNN(ctx context.Context, train, test *Dataset, opts KNNOptions) ([]KNNResult, error) {
	classes, err := checkPair(train, test)
	if err != nil {
		return nil, err
	}
	ks := opts.Ks
	if len(ks) == 0 {
		ks = []int{20}
	}
	kmax := 0
	for _, k := range ks {
		if k < 1 {
			return nil, fmt.Errorf("knn: k must be at least 1, got %d", k)
		}
		kmax = max(kmax, k)
	}
	kmax = min(kmax, train.Rows())
	t := opts.Temperature
	if t == 0 {
		t = 0.07
	}
	if t < 0 || math.IsNaN(t) {
		return nil, fmt.Errorf("knn: temperature must be positive, got %v", t)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	trainN := normalizedRows(train)
	testN := normalizedRows(test)
	dim := train.Dim

	// correct[k index][0: top1, 1: top5], summed over workers.
	correct := make([][2]atomic.Int64, len(ks))
	var done atomic.Int64
	p := pool.New().WithContext(ctx).WithCancelOnError().WithMaxGoroutines(workers)
	for lo := 0; lo < test.Rows(); lo += testBlock {
		hi := min(test.Rows(), lo+testBlock)
		p.Go(func(ctx context.Context) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			tops := nearest(testN[lo*dim:hi*dim], hi-lo, trainN, train.Rows(), dim, kmax)
			votes := make([]float64, classes)
			for i, top := range tops {
				want := int(test.Labels[lo+i])
				for ki, k := range ks {
					clear(votes)
					for _, nb := range top[:min(k, len(top))] {
						votes[train.Labels[nb.idx]] += math.Exp(float64(nb.sim) / t)
					}
					r := rankOf(votes, want)
					if r < 1 {
						correct[ki][0].Add(1)
					}
					if r < 5 {
						correct[ki][1].Add(1)
					}
				}
			}
			n := done.Add(int64(hi - lo))
			if opts.Progress != nil {
				opts.Progress(int(n), test.Rows())
			}
			return nil
		})
	}
	if err := p.Wait(); err != nil {
		return nil, fmt.Errorf("knn: %w", err)
	}
	out := make([]KNNResult, len(ks))
	n := float64(test.Rows())
	for i, k := range ks {
		out[i] = KNNResult{K: k, Accuracy: Accuracy{
			Top1: float64(correct[i][0].Load()) / n,
			Top5: float64(correct[i][1].Load()) / n,
		}}
	}
	return out, nil
}

type neighbour struct {
	sim float32
	idx int32
}

// nearest returns, for each of the m query rows q (unit norm), its k most
// similar rows of base (n unit rows), most similar first (ties: lower
// index first). It computes similarities trainBlock base rows at a time.
func nearest(q []float32, m int, base []float32, n, dim, k int) [][]neighbour {
	tops := make([][]neighbour, m)
	for i := range tops {
		tops[i] = make([]neighbour, 0, k+1)
	}
	sims := make([]float32, m*min(trainBlock, n))
	for blo := 0; blo < n; blo += trainBlock {
		bhi := min(n, blo+trainBlock)
		w := bhi - blo
		gemmNT(m, w, dim, q, dim, base[blo*dim:bhi*dim], dim, sims, w)
		for i := range m {
			row := sims[i*w : (i+1)*w]
			top := tops[i]
			for j, s := range row {
				if len(top) == k && s <= top[k-1].sim {
					continue
				}
				top = insertTop(top, neighbour{s, int32(blo + j)}, k)
			}
			tops[i] = top
		}
	}
	return tops
}

// insertTop inserts nb into top (sorted by decreasing sim, at most k long).
// A new entry with a sim equal to an existing one goes after it, so earlier
// (lower-index) rows win ties.
func insertTop(top []neighbour, nb neighbour, k int) []neighbour {
	pos, _ := slices.BinarySearchFunc(top, nb.sim, func(e neighbour, s float32) int {
		if e.sim >= s {
			return -1
		}
		return 1
	})
	if len(top) < k {
		top = append(top, neighbour{})
	} else if pos >= k {
		return top
	}
	copy(top[pos+1:], top[pos:len(top)-1])
	top[pos] = nb
	return top
}
