// Package eval measures how good frozen features are: the weighted kNN
// classifier of self-supervised learning papers (InstDisc, DINO) and a linear
// classifier (multinomial logistic regression) trained on the features.
// Both take a train and a test Dataset and report top-1 and top-5 accuracy.
//
// The heavy part, the train x test similarity matrix of the kNN, is computed
// in blocks with a BLAS matrix product (internal/blas: OpenBLAS
// through cgo, opened at run time; gonum's pure-Go GEMM with CGO_ENABLED=0
// or -tags noblas), so memory stays bounded whatever the sizes: about
// Workers x 256 x 4096 floats of similarities plus the normalised copies of
// the features.
package eval

import (
	"errors"
	"fmt"
	"math"
)

// Dataset is a set of labelled feature rows.
type Dataset struct {
	// Name identifies the set in errors (a file or folder URL).
	Name string
	// Data holds Rows()*Dim floats, row-major.
	Data   []float32
	Labels []int64
	Dim    int
}

// Rows is the number of rows.
func (d *Dataset) Rows() int { return len(d.Labels) }

// ErrEmpty is returned (wrapped) when a dataset has no rows.
var ErrEmpty = errors.New("no rows")

// check validates one dataset: shape and labels (every row labelled >= 0).
func (d *Dataset) check(role string) error {
	if d.Rows() == 0 {
		return fmt.Errorf("%s set %s: %w", role, d.Name, ErrEmpty)
	}
	if d.Dim <= 0 || len(d.Data) != d.Rows()*d.Dim {
		return fmt.Errorf("%s set %s: %d floats do not make %d rows of dim %d", role, d.Name, len(d.Data), d.Rows(), d.Dim)
	}
	for i, l := range d.Labels {
		if l < 0 {
			return fmt.Errorf("%s set %s: row %d has no label (%d)", role, d.Name, i, l)
		}
	}
	return nil
}

// checkPair validates a train/test pair and returns the number of classes
// (1 + the largest label of either set).
func checkPair(train, test *Dataset) (int, error) {
	if err := train.check("train"); err != nil {
		return 0, err
	}
	if err := test.check("test"); err != nil {
		return 0, err
	}
	if train.Dim != test.Dim {
		return 0, fmt.Errorf("feature dims differ: train set %s has dim %d, test set %s has dim %d",
			train.Name, train.Dim, test.Name, test.Dim)
	}
	classes := 0
	for _, ls := range [][]int64{train.Labels, test.Labels} {
		for _, l := range ls {
			classes = max(classes, int(l)+1)
		}
	}
	return classes, nil
}

// normalizedRows returns a copy of d's rows scaled to unit L2 norm (a zero
// row stays zero).
func normalizedRows(d *Dataset) []float32 {
	out := make([]float32, len(d.Data))
	for i := range d.Rows() {
		row := d.Data[i*d.Dim : (i+1)*d.Dim]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		inv := float32(0)
		if ss > 0 {
			inv = float32(1 / math.Sqrt(ss))
		}
		dst := out[i*d.Dim : (i+1)*d.Dim]
		for j, v := range row {
			dst[j] = v * inv
		}
	}
	return out
}

// Accuracy is the top-1 and top-5 accuracy (fractions in [0,1]) of one
// classifier on the test set.
type Accuracy struct {
	Top1 float64 `json:"top1"`
	Top5 float64 `json:"top5"`
}

// rankOf returns the rank (0 = best) of class want among scores, ties broken
// by the smaller class index: the prediction is correct at top-n when the
// rank is < n.
func rankOf(scores []float64, want int) int {
	s := scores[want]
	r := 0
	for c, v := range scores {
		if v > s || (v == s && c < want) {
			r++
		}
	}
	return r
}
