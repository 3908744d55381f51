package eval

import (
	"errors"
	"fmt"
	"math"
)

// Head is SwAV's projection head and prototypes as plain weights, run in
// evaluation mode on stored features: trunk features go through
// Linear(In, Hidden) + BatchNorm1d (running statistics) + ReLU +
// Linear(Hidden, FeatDim) (or one Linear(In, FeatDim) when Hidden is 0),
// are L2-normalised, and scored against the prototypes; projection
// features (already normalised head outputs) are scored directly. The
// scores equal those of the network's own Embed(FeatureScores) up to
// float32 rounding.
type Head struct {
	In, Hidden, FeatDim, K int
	// W0 [Hidden x In], B0 [Hidden]; Gamma, Beta, Mean, Var [Hidden] and
	// Eps the BatchNorm's (empty when Hidden is 0).
	W0, B0                 []float32
	Gamma, Beta, Mean, Var []float32
	Eps                    float64
	// W1 [FeatDim x (Hidden, or In when Hidden is 0)], B1 [FeatDim].
	W1, B1 []float32
	// Prototypes [K x FeatDim], as the network holds them.
	Prototypes []float32
}

// Scores returns the K prototype scores of every row of d, which holds
// trunk features (kind "trunk") or projections (kind "projection"). A
// feature width that does not fit the head is an error naming d. Cost: the
// head's and prototypes' matrix products over d's rows.
func (h *Head) Scores(d *Dataset, kind string) (*Dataset, error) {
	n := 0
	if d.Dim > 0 {
		n = len(d.Data) / d.Dim
	}
	z := d.Data
	switch kind {
	case "projection":
		if d.Dim != h.FeatDim {
			return nil, fmt.Errorf("%s: projections of dim %d, the head's prototypes take %d", d.Name, d.Dim, h.FeatDim)
		}
	case "trunk":
		if d.Dim != h.In {
			return nil, fmt.Errorf("%s: trunk features of dim %d, the head takes %d", d.Name, d.Dim, h.In)
		}
		x, width := d.Data, h.In
		if h.Hidden > 0 {
			hid := make([]float32, n*h.Hidden)
			gemmNT(n, h.Hidden, h.In, x, h.In, h.W0, h.In, hid, h.Hidden)
			for i := range n {
				row := hid[i*h.Hidden : (i+1)*h.Hidden]
				for j := range row {
					v := (float64(row[j]+h.B0[j])-float64(h.Mean[j]))/math.Sqrt(float64(h.Var[j])+h.Eps)*float64(h.Gamma[j]) + float64(h.Beta[j])
					row[j] = float32(max(v, 0))
				}
			}
			x, width = hid, h.Hidden
		}
		z = make([]float32, n*h.FeatDim)
		gemmNT(n, h.FeatDim, width, x, width, h.W1, width, z, h.FeatDim)
		for i := range n {
			row := z[i*h.FeatDim : (i+1)*h.FeatDim]
			for j := range row {
				row[j] += h.B1[j]
			}
		}
		z = normalizedRows(&Dataset{Data: z, Dim: h.FeatDim, Labels: make([]int64, n)})
	default:
		return nil, fmt.Errorf("%s: %q features cannot be scored against prototypes (want trunk or projection)", d.Name, kind)
	}
	out := &Dataset{Name: d.Name + " (prototype scores)", Labels: d.Labels, Dim: h.K, Data: make([]float32, n*h.K)}
	gemmNT(n, h.K, h.FeatDim, z, h.FeatDim, h.Prototypes, h.FeatDim, out.Data, h.K)
	return out, nil
}

// NewHead builds a Head from named tensors, the network's names:
// head.0.weight/bias, head.1.weight/bias/running_mean/running_var (the
// BatchNorm), head.3.weight/bias (or head.weight/bias when hidden is 0) and
// prototypes.weight. get returns a tensor's values; a missing tensor or one
// of another size is an error naming it (all such problems at once).
func NewHead(in, hidden, featDim, k int, eps float64, get func(name string) ([]float32, bool)) (*Head, error) {
	h := &Head{In: in, Hidden: hidden, FeatDim: featDim, K: k, Eps: eps}
	var errs []error
	take := func(name string, dst *[]float32, numel int) {
		v, ok := get(name)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("no tensor %s", name))
		case len(v) != numel:
			errs = append(errs, fmt.Errorf("%s has %d values, want %d", name, len(v), numel))
		default:
			*dst = v
		}
	}
	if hidden == 0 {
		take("head.weight", &h.W1, featDim*in)
		take("head.bias", &h.B1, featDim)
	} else {
		take("head.0.weight", &h.W0, hidden*in)
		take("head.0.bias", &h.B0, hidden)
		take("head.1.weight", &h.Gamma, hidden)
		take("head.1.bias", &h.Beta, hidden)
		take("head.1.running_mean", &h.Mean, hidden)
		take("head.1.running_var", &h.Var, hidden)
		take("head.3.weight", &h.W1, featDim*hidden)
		take("head.3.bias", &h.B1, featDim)
	}
	take("prototypes.weight", &h.Prototypes, k*featDim)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return h, nil
}
