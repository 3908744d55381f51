package augment

import "fmt"

// EvalTransform is the evaluation transform of feature extraction and linear
// evaluation (SPEC §10): torchvision Resize(Resize) (shorter side to Resize,
// Pillow antialiased bilinear), CenterCrop(Crop), ToTensor, Normalize(Mean,
// Std). Bit-exact with torchvision 0.14 / Pillow 9.4 on the same decoded
// pixels. The zero Mean/Std mean the reference's (std 0.228). Safe for
// concurrent use; scratch buffers come from a pool.
type EvalTransform struct {
	Resize, Crop int
	Mean, Std    []float64
	// MaxPixels is the decoder's pixel limit (0: DefaultMaxPixels).
	MaxPixels int64
}

// NewEvalTransform builds the evaluation transform of an augment section.
func NewEvalTransform(cfg Config) EvalTransform {
	return EvalTransform{Resize: cfg.Eval.Resize, Crop: cfg.Eval.Crop, Mean: cfg.Mean, Std: cfg.Std, MaxPixels: cfg.MaxPixels}
}

// Len is the number of values Apply returns: 3*Crop*Crop.
func (e EvalTransform) Len() int { return 3 * e.Crop * e.Crop }

// Apply decodes data (JPEG, PNG or WebP; ext is only used in errors, the
// format is sniffed) and returns 3*Crop*Crop normalised float32 values, CHW.
func (e EvalTransform) Apply(data []byte, ext string) ([]float32, error) {
	out := make([]float32, e.Len())
	if err := e.ApplyInto(out, data, ext); err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyInto is Apply writing into dst (len 3*Crop*Crop), allocation-free in
// steady state.
func (e EvalTransform) ApplyInto(dst []float32, data []byte, ext string) error {
	img := GetImage()
	defer PutImage(img)
	if _, err := Decode(img, data, e.maxPixels()); err != nil {
		return fmt.Errorf("eval transform (%s): %w", ext, err)
	}
	return e.ApplyImage(dst, img)
}

// ApplyImage runs the transform on a decoded image.
func (e EvalTransform) ApplyImage(dst []float32, img *Image) error {
	if e.Resize < 1 || e.Crop < 1 || e.Crop > e.Resize {
		return fmt.Errorf("augment: eval transform needs 1 <= crop <= resize, got resize %d crop %d", e.Resize, e.Crop)
	}
	if len(dst) != e.Len() {
		return fmt.Errorf("augment: eval transform writes %d values, dst holds %d", e.Len(), len(dst))
	}
	norm, err := NormTables(e.Mean, e.Std)
	if err != nil {
		return err
	}
	// torchvision's _compute_resized_output_size for an int size.
	w, h := img.W, img.H
	nw, nh := e.Resize, e.Resize
	if w <= h {
		nh = int(float64(e.Resize) * float64(h) / float64(w))
	} else {
		nw = int(float64(e.Resize) * float64(w) / float64(h))
	}
	// A very thin image resized on its short side can explode (1 x 100000 ->
	// 256 x 25.6M): the resized size obeys the pixel limit too.
	if limit := e.maxPixels(); int64(nw)*int64(nh) > limit {
		return fmt.Errorf("%w: eval resize of %dx%d to %dx%d exceeds the pixel limit %d", ErrTooLarge, w, h, nw, nh, limit)
	}
	c := GetCropper()
	defer PutCropper(c)
	c.scratch = grow(c.scratch, 3*nw*nh)
	c.rs.resizeCrop(c.scratch, img, cropBox{W: w, H: h}, nw, nh, false)
	// CenterCrop: int(round((h - crop) / 2.0)), half to even.
	top := roundHalfEven(float64(nh-e.Crop) / 2)
	left := roundHalfEven(float64(nw-e.Crop) / 2)
	c.pix = grow(c.pix, 3*e.Crop*e.Crop)
	for y := range e.Crop {
		copy(c.pix[3*e.Crop*y:3*e.Crop*(y+1)], c.scratch[3*(nw*(top+y)+left):3*(nw*(top+y)+left+e.Crop)])
	}
	normalizeCHW(dst, c.pix, norm)
	return nil
}

func (e EvalTransform) maxPixels() int64 {
	if e.MaxPixels > 0 {
		return e.MaxPixels
	}
	return DefaultMaxPixels
}
