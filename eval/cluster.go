package eval

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// Assignment is the prototype (cluster) of each row of a set of prototype
// scores: the prototype with the highest score, as SwAV's codes rank them.
type Assignment struct {
	// Cluster and Score are the chosen prototype of each row and its score
	// (ties: the lower prototype).
	Cluster []int32
	Score   []float32
	// Sizes counts the rows of each of the K prototypes.
	Sizes []int
}

// Assign picks each row's highest-scoring column of d (rows of K prototype
// scores). It costs one pass over the scores.
func Assign(d *Dataset) Assignment {
	k := d.Dim
	n := 0
	if k > 0 {
		n = len(d.Data) / k
	}
	a := Assignment{Cluster: make([]int32, n), Score: make([]float32, n), Sizes: make([]int, k)}
	for i := range n {
		row := d.Data[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		a.Cluster[i], a.Score[i] = int32(best), row[best]
		a.Sizes[best]++
	}
	return a
}

// ClusterStats are the numbers of an assignment: how the rows spread over
// the prototypes and, with labels, how well the clusters match them.
type ClusterStats struct {
	Rows       int `json:"rows"`
	Prototypes int `json:"prototypes"`
	// Empty is how many prototypes hold no row; Large how many hold more
	// than LargeShare of the rows; Largest the largest cluster's size.
	Empty      int     `json:"empty"`
	Large      int     `json:"large"`
	LargeShare float64 `json:"large_share"`
	Largest    int     `json:"largest"`
	// Labelled says whether Purity and NMI were computed (every row has a
	// label >= 0).
	Labelled bool `json:"labelled"`
	// Purity is the share of rows whose cluster's most frequent label is
	// their own; NMI the normalised mutual information between clusters and
	// labels, I(C;L) / ((H(C)+H(L))/2) (scikit-learn's default, arithmetic
	// mean), 0 when both have one value only.
	Purity float64 `json:"purity,omitempty"`
	NMI    float64 `json:"nmi,omitempty"`
}

// Stats computes the ClusterStats of a with the rows' labels (nil, or any
// label < 0: no Purity and NMI). largeShare is the share above which a
// cluster counts as large (e.g. 0.1). It costs O(rows + K x classes).
func (a Assignment) Stats(labels []int64, largeShare float64) (ClusterStats, error) {
	st := ClusterStats{Rows: len(a.Cluster), Prototypes: len(a.Sizes), LargeShare: largeShare}
	for _, n := range a.Sizes {
		switch {
		case n == 0:
			st.Empty++
		case float64(n) > largeShare*float64(st.Rows):
			st.Large++
		}
		st.Largest = max(st.Largest, n)
	}
	if labels == nil || slices.ContainsFunc(labels, func(l int64) bool { return l < 0 }) {
		return st, nil
	}
	if len(labels) != len(a.Cluster) {
		return st, fmt.Errorf("clusters: %d labels for %d rows", len(labels), len(a.Cluster))
	}
	st.Labelled = true
	st.Purity, st.NMI = purityNMI(a.Cluster, labels, len(a.Sizes))
	return st, nil
}

// purityNMI computes purity and NMI from the contingency table.
func purityNMI(clusters []int32, labels []int64, k int) (purity, nmi float64) {
	classes := 0
	for _, l := range labels {
		classes = max(classes, int(l)+1)
	}
	table := make([]float64, k*classes)
	for i, c := range clusters {
		table[int(c)*classes+int(labels[i])]++
	}
	n := float64(len(clusters))
	rowSum := make([]float64, k)
	colSum := make([]float64, classes)
	for c := range k {
		best := 0.0
		for l := range classes {
			v := table[c*classes+l]
			rowSum[c] += v
			colSum[l] += v
			best = max(best, v)
		}
		purity += best
	}
	entropy := func(p []float64) float64 {
		h := 0.0
		for _, v := range p {
			if v > 0 {
				h -= v / n * math.Log(v/n)
			}
		}
		return h
	}
	mi := 0.0
	for c := range k {
		for l := range classes {
			if v := table[c*classes+l]; v > 0 {
				mi += v / n * math.Log(v*n/(rowSum[c]*colSum[l]))
			}
		}
	}
	hc, hl := entropy(rowSum), entropy(colSum)
	if hc+hl > 0 {
		nmi = max(0, 2*mi/(hc+hl))
	}
	return purity / n, nmi
}

// Neighbour is one bank row near a query: its index and cosine similarity.
type Neighbour struct {
	Index      int
	Similarity float32
}

// Neighbours returns, for each query row, its k most similar bank rows by
// cosine similarity (most similar first; ties: the lower bank index), the
// search of the kNN evaluation (KNN) without the vote. Labels are not
// needed. Cost: as KNN's similarity part; it blocks until done or ctx ends.
func Neighbours(ctx context.Context, bank, queries *Dataset, k int) ([][]Neighbour, error) {
	for _, d := range []*Dataset{bank, queries} {
		if d.Dim <= 0 || len(d.Data) == 0 || len(d.Data)%d.Dim != 0 {
			return nil, fmt.Errorf("neighbours: set %s: %d floats do not make rows of dim %d: %w", d.Name, len(d.Data), d.Dim, ErrEmpty)
		}
	}
	if bank.Dim != queries.Dim {
		return nil, fmt.Errorf("neighbours: feature dims differ: bank %s has dim %d, queries %s have dim %d", bank.Name, bank.Dim, queries.Name, queries.Dim)
	}
	if k < 1 {
		return nil, fmt.Errorf("neighbours: k must be at least 1, got %d", k)
	}
	nb, nq := len(bank.Data)/bank.Dim, len(queries.Data)/queries.Dim
	bankN := normalizedRows(&Dataset{Data: bank.Data, Dim: bank.Dim, Labels: make([]int64, nb)})
	qN := normalizedRows(&Dataset{Data: queries.Data, Dim: queries.Dim, Labels: make([]int64, nq)})
	out := make([][]Neighbour, 0, nq)
	for lo := 0; lo < nq; lo += testBlock {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(nq, lo+testBlock)
		for _, top := range nearest(qN[lo*bank.Dim:hi*bank.Dim], hi-lo, bankN, nb, bank.Dim, min(k, nb)) {
			row := make([]Neighbour, len(top))
			for i, t := range top {
				row[i] = Neighbour{Index: int(t.idx), Similarity: t.sim}
			}
			out = append(out, row)
		}
	}
	return out, nil
}
