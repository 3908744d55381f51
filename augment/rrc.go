package augment

import "math"

// cropBox is a crop rectangle in source pixels.
type cropBox struct{ Top, Left, H, W int }

// rrcSampler is torchvision 0.14's RandomResizedCrop.get_params (SPEC §9):
// up to 10 attempts of a float32 area fraction and a float32 log-uniform
// aspect ratio, sides rounded half-to-even, then a centre crop clipped to the
// ratio range. Only the random stream differs from torch's.
type rrcSampler struct {
	minScale, maxScale float32
	logRatio           [2]float32
	ratio              [2]float64
}

func newRRCSampler(minScale, maxScale float64, ratio []float64) rrcSampler {
	return rrcSampler{
		minScale: float32(minScale), maxScale: float32(maxScale),
		logRatio: [2]float32{float32(math.Log(float64(float32(ratio[0])))), float32(math.Log(float64(float32(ratio[1]))))},
		ratio:    [2]float64{ratio[0], ratio[1]},
	}
}

func (s *rrcSampler) sample(r *cropRNG, width, height int) cropBox {
	area := float64(width) * float64(height)
	for range 10 {
		target := area * float64(r.uniform32(s.minScale, s.maxScale))
		ar := float64(float32(math.Exp(float64(r.uniform32(s.logRatio[0], s.logRatio[1])))))
		w := roundHalfEven(math.Sqrt(target * ar))
		h := roundHalfEven(math.Sqrt(target / ar))
		if w > 0 && w <= width && h > 0 && h <= height {
			top := r.intn(height - h + 1)
			left := r.intn(width - w + 1)
			return cropBox{Top: top, Left: left, H: h, W: w}
		}
	}
	return centreCropBox(width, height, s.ratio)
}

// centreCropBox is RandomResizedCrop's fallback: the whole image clipped to
// the ratio range, centred.
func centreCropBox(width, height int, ratio [2]float64) cropBox {
	inRatio := float64(width) / float64(height)
	w, h := width, height
	switch {
	case inRatio < math.Min(ratio[0], ratio[1]):
		h = roundHalfEven(float64(w) / math.Min(ratio[0], ratio[1]))
	case inRatio > math.Max(ratio[0], ratio[1]):
		w = roundHalfEven(float64(h) * math.Max(ratio[0], ratio[1]))
	}
	return cropBox{Top: (height - h) / 2, Left: (width - w) / 2, H: h, W: w}
}
