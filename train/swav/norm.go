package swav

import "math"

// NormEpsilon is the lower clamp of the L2 norm in z = h / max(||h||, eps),
// PyTorch's F.normalize default, used for the embeddings and the prototypes.
const NormEpsilon = 1e-12

// L2NormalizeRows divides each of the rows of m (rows x cols) in place by
// max(||row||_2, 1e-12), as F.normalize(dim=1) does. The reference applies it
// to the embeddings (z = h/||h||, inside the graph) and, under no gradient,
// to the prototype matrix C (K x D) at the start of every iteration (SPEC §1.2,
// §1.4). Cost rows*cols; no allocation.
func L2NormalizeRows[T Float](m []T, rows, cols int) {
	checkLen("L2NormalizeRows", "m", m, rows*cols)
	for i := 0; i < rows; i++ {
		r := m[i*cols : (i+1)*cols]
		inv := 1 / math.Max(rowNorm(r), NormEpsilon)
		for j, v := range r {
			r[j] = T(float64(v) * inv)
		}
	}
}

// NormalizeRows is L2NormalizeRows under the name the prototype
// normalisation is usually called by.
func NormalizeRows[T Float](m []T, rows, cols int) { L2NormalizeRows(m, rows, cols) }

// L2NormalizeRowsBackward returns dL/dh for z = h / max(||h||, 1e-12) row-wise,
// given h (the raw rows, rows x cols) and dL/dz: (g - z (z.g)) / ||h|| for a
// row whose norm exceeds the clamp, g / 1e-12 where the clamp is active (no
// gradient flows through the clamped norm, as in PyTorch). Cost rows*cols;
// the result is newly allocated.
func L2NormalizeRowsBackward[T Float](h, gradZ []T, rows, cols int) []T {
	checkLen("L2NormalizeRowsBackward", "h", h, rows*cols)
	checkLen("L2NormalizeRowsBackward", "gradZ", gradZ, rows*cols)
	out := make([]T, rows*cols)
	for i := 0; i < rows; i++ {
		hr := h[i*cols : (i+1)*cols]
		gr := gradZ[i*cols : (i+1)*cols]
		o := out[i*cols : (i+1)*cols]
		nrm := rowNorm(hr)
		if nrm <= NormEpsilon {
			for j, g := range gr {
				o[j] = T(float64(g) / NormEpsilon)
			}
			continue
		}
		dot := 0.0
		for j, g := range gr {
			dot += float64(g) * float64(hr[j])
		}
		dot /= nrm // z.g
		for j, g := range gr {
			o[j] = T((float64(g) - float64(hr[j])/nrm*dot) / nrm)
		}
	}
	return out
}

func rowNorm[T Float](r []T) float64 {
	s := 0.0
	for _, v := range r {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}
