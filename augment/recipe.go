package augment

import (
	"fmt"
	"sync"
)

// Recipe is a validated Config compiled for rendering crops: one sampler per
// crop index, the jitter ranges and the normalisation tables. It is read-only
// after NewRecipe and safe for concurrent use; each goroutine renders with its
// own Cropper.
type Recipe struct {
	cfg   Config
	seed  int64
	crops []cropSpec // V entries, large crops first as configured

	brightness, contrast, saturation [2]float32 // factor ranges; enabled when != {1,1}
	hue                              [2]float32 // enabled when != {0,0}
	useB, useC, useS, useH           bool

	// norm[c][v] = (float32(v)/255 - mean[c]) / std[c] in float32, exactly as
	// ToTensor + Normalize compute it.
	norm [3][256]float32

	pool       sync.Pool // *SampleCrops with F32 or U8
	packedPool sync.Pool // *SampleCrops with RGB
}

type cropSpec struct {
	size, group int
	rrc         rrcSampler
}

// NewRecipe validates cfg and compiles it; seed is the job's root seed.
func NewRecipe(cfg Config, seed int64) (*Recipe, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Recipe{cfg: cfg, seed: seed}
	for gi, g := range cfg.Crops {
		for range g.Count {
			r.crops = append(r.crops, cropSpec{size: g.Size, group: gi, rrc: newRRCSampler(g.MinScale, g.MaxScale, cfg.Ratio)})
		}
	}
	factorRange := func(s float64) [2]float32 {
		return [2]float32{float32(max(0, 1-s)), float32(1 + s)}
	}
	j := cfg.Jitter
	r.brightness, r.useB = factorRange(j.Brightness), j.Brightness != 0
	r.contrast, r.useC = factorRange(j.Contrast), j.Contrast != 0
	r.saturation, r.useS = factorRange(j.Saturation), j.Saturation != 0
	r.hue, r.useH = [2]float32{float32(-j.Hue), float32(j.Hue)}, j.Hue != 0
	norm, err := NormTables(cfg.Mean, cfg.Std)
	if err != nil {
		return nil, err
	}
	r.norm = *norm
	r.pool.New = func() any { return r.allocCrops(false) }
	r.packedPool.New = func() any { return r.allocCrops(true) }
	return r, nil
}

// Config returns the recipe's configuration.
func (r *Recipe) Config() Config { return r.cfg }

// NumCrops is V.
func (r *Recipe) NumCrops() int { return len(r.crops) }

// CropSize is the side of crop i.
func (r *Recipe) CropSize(i int) int { return r.crops[i].size }

// CropParams are all the random draws of one crop, in the reference's order:
// RandomResizedCrop, flip, jitter (apply?, order, 4 factors), grayscale,
// blur (apply?, sigma).
type CropParams struct {
	Box        cropBox
	Flip       bool
	Jitter     bool
	Order      [4]int // 0 brightness, 1 contrast, 2 saturation, 3 hue
	Brightness float32
	Contrast   float32
	Saturation float32
	Hue        float32
	Gray       bool
	Blur       bool
	Sigma      float32
}

// Params draws crop `crop` of sample `key` in `epoch` for a w x h source. The
// draws depend only on (seed, epoch, key, crop), never on the worker.
func (r *Recipe) Params(epoch int, key string, crop, w, h int) CropParams {
	rng := newCropRNG(r.seed, epoch, key, crop)
	cs := &r.crops[crop]
	var p CropParams
	p.Box = cs.rrc.sample(&rng, w, h)
	p.Flip = rng.float64() < r.cfg.FlipP
	p.Jitter = rng.float64() < r.cfg.Jitter.P
	if p.Jitter {
		p.Order = rng.perm4()
		p.Brightness = rng.uniform32(r.brightness[0], r.brightness[1])
		p.Contrast = rng.uniform32(r.contrast[0], r.contrast[1])
		p.Saturation = rng.uniform32(r.saturation[0], r.saturation[1])
		p.Hue = rng.uniform32(r.hue[0], r.hue[1])
	}
	p.Gray = rng.float64() < r.cfg.GrayscaleP
	p.Blur = rng.float64() < r.cfg.Blur.P
	if p.Blur {
		lo, hi := r.cfg.Blur.SigmaMin, r.cfg.Blur.SigmaMax
		p.Sigma = float32(lo + (hi-lo)*rng.float64())
	}
	return p
}

// Cropper renders crops with reusable scratch buffers. One Cropper per
// goroutine; get them from the Recipe's pool (GetCropper/PutCropper).
type Cropper struct {
	rs      resizer
	pix     []uint8
	scratch []uint8
	blurAcc []uint32
}

var (
	cropperPool = sync.Pool{New: func() any { return new(Cropper) }}
	imagePool   = sync.Pool{New: func() any { return new(Image) }}
)

// GetImage returns a reusable decode target from a pool; PutImage returns it
// (the caller must not keep references to its pixels).
func GetImage() *Image  { return imagePool.Get().(*Image) }
func PutImage(i *Image) { imagePool.Put(i) }

// GetCropper returns a Cropper from a process-wide pool; PutCropper returns it.
func GetCropper() *Cropper  { return cropperPool.Get().(*Cropper) }
func PutCropper(c *Cropper) { cropperPool.Put(c) }

// renderUint8 renders the crop into c.pix (S*S*3 packed RGB) and returns it.
func (r *Recipe) renderUint8(c *Cropper, img *Image, p *CropParams, size int) []uint8 {
	c.pix = grow(c.pix, 3*size*size)
	r.renderInto(c, c.pix, img, p, size)
	return c.pix
}

// renderInto renders the crop into pix (S*S*3 packed RGB): resize (with the
// flip), colour jitter in the drawn order, grayscale, blur.
func (r *Recipe) renderInto(c *Cropper, pix []uint8, img *Image, p *CropParams, size int) {
	n := 3 * size * size
	pix = pix[:n]
	c.rs.resizeCrop(pix, img, p.Box, size, size, p.Flip)
	if p.Jitter {
		for _, op := range p.Order {
			switch {
			case op == 0 && r.useB:
				adjustBrightness(pix, p.Brightness)
			case op == 1 && r.useC:
				adjustContrast(pix, p.Contrast)
			case op == 2 && r.useS:
				adjustSaturation(pix, p.Saturation)
			case op == 3 && r.useH:
				adjustHue(pix, p.Hue)
			}
		}
	}
	if p.Gray {
		toGrayscale(pix)
	}
	if p.Blur {
		c.scratch = grow(c.scratch, blurScratchLen(size, size))
		c.blurAcc = grow(c.blurAcc, 3*size)
		gaussianBlur(pix, c.scratch, c.blurAcc, size, size, p.Sigma)
	}
}

// NormTables returns ToTensor+Normalize of a uint8 value as a table per
// channel: t[c][v] = (float32(v)/255 - mean[c]) / std[c] in float32, exactly
// as torch computes it. Nil mean and std are the reference's. The augment
// stage normalises float32 crops with it and the trainer normalises uint8
// batches with it, so both give bit-identical values. It errors unless mean
// and std hold 3 values each and every std is positive. Cost: 768 divisions.
func NormTables(mean, std []float64) (*[3][256]float32, error) {
	if mean == nil && std == nil {
		d := DefaultConfig()
		mean, std = d.Mean, d.Std
	}
	if len(mean) != 3 || len(std) != 3 {
		return nil, fmt.Errorf("augment: mean and std need 3 values each, got %v and %v", mean, std)
	}
	var t [3][256]float32
	for c := range 3 {
		m, s := float32(mean[c]), float32(std[c])
		if !(s > 0) {
			return nil, fmt.Errorf("augment: std[%d] must be positive, got %v", c, std[c])
		}
		for v := range 256 {
			x := float32(v) / 255
			t[c][v] = float32(x-m) / s
		}
	}
	return &t, nil
}

// normalizeCHW writes packed RGB pix as normalised float32 CHW.
func normalizeCHW(dst []float32, pix []uint8, norm *[3][256]float32) {
	plane := len(pix) / 3
	d0, d1, d2 := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	n0, n1, n2 := &norm[0], &norm[1], &norm[2]
	for i := range d0 {
		p := pix[3*i : 3*i+3 : 3*i+3]
		d0[i], d1[i], d2[i] = n0[p[0]], n1[p[1]], n2[p[2]]
	}
}

// planarCHW writes packed RGB pix as uint8 CHW.
func planarCHW(dst []uint8, pix []uint8) {
	plane := len(pix) / 3
	d0, d1, d2 := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	for i := range d0 {
		p := pix[3*i : 3*i+3 : 3*i+3]
		d0[i], d1[i], d2[i] = p[0], p[1], p[2]
	}
}

// CropFloat32 renders crop `crop` of img (drawn for sample key in epoch) into
// dst, 3*S*S normalised float32 values in CHW order.
func (r *Recipe) CropFloat32(c *Cropper, dst []float32, img *Image, epoch int, key string, crop int) error {
	s := r.crops[crop].size
	if len(dst) != 3*s*s {
		return fmt.Errorf("augment: crop %d needs %d values, got %d", crop, 3*s*s, len(dst))
	}
	p := r.Params(epoch, key, crop, img.W, img.H)
	normalizeCHW(dst, r.renderUint8(c, img, &p, s), &r.norm)
	return nil
}

// CropUint8 renders crop `crop` into dst as 3*S*S raw uint8 values, CHW
// (normalise on the device with the schema's mean/std).
func (r *Recipe) CropUint8(c *Cropper, dst []uint8, img *Image, epoch int, key string, crop int) error {
	s := r.crops[crop].size
	if len(dst) != 3*s*s {
		return fmt.Errorf("augment: crop %d needs %d values, got %d", crop, 3*s*s, len(dst))
	}
	p := r.Params(epoch, key, crop, img.W, img.H)
	planarCHW(dst, r.renderUint8(c, img, &p, s))
	return nil
}

// CropRGB renders crop `crop` as packed RGB (S*S*3) into dst, before
// normalisation (the preview's pixels).
func (r *Recipe) CropRGB(c *Cropper, dst []uint8, img *Image, epoch int, key string, crop int) []uint8 {
	s := r.crops[crop].size
	p := r.Params(epoch, key, crop, img.W, img.H)
	return append(dst[:0], r.renderUint8(c, img, &p, s)...)
}
