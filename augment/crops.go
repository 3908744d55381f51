package augment

import (
	"fmt"
	"sync"
)

// SampleCrops is the V crops of one sample, rendered by the crop stage's
// workers and copied into a batch by the batch stage. Its buffers come from
// the Recipe's pool: whoever holds it calls Release once (the batch stage
// after copying; the engine when the run is cancelled).
type SampleCrops struct {
	Key   string
	Shard string
	// Where locates the sample in its shard (ingest.Sample.Where).
	Where string
	Label int64
	Epoch int
	// Pos is the sample's ingest position (ingest.Position).
	Pos any
	// Skip is non-empty when the sample could not be decoded: the reason
	// (SkipReason) and the error text. The sample has no crops then.
	// SkipClass is SkipReason alone.
	Skip, SkipClass string
	// F32 (float32 recipes) or U8 (uint8 recipes) holds one 3*S*S CHW slice
	// per crop (Render).
	F32 [][]float32
	U8  [][]uint8
	// RGB holds one S*S*3 packed-RGB slice per crop, before normalisation
	// (RenderPacked); Recipe.WriteFloat32/WriteUint8 turn one into the
	// recipe's CHW layout at its destination (the Arrow buffer), so the
	// float32 values are written once, where they are kept.
	RGB [][]uint8

	pool *sync.Pool
}

// NewPackedCrops returns an empty SampleCrops with one packed-RGB buffer
// per crop (RGB), for RenderPacked (pooled; Release it). A quarter of the
// float32 crops' memory.
func (r *Recipe) NewPackedCrops() *SampleCrops {
	return takeCrops(&r.packedPool)
}

// takeCrops gets a SampleCrops from pool; its Release puts it back there.
func takeCrops(pool *sync.Pool) *SampleCrops {
	s := pool.Get().(*SampleCrops)
	s.pool = pool
	return s
}

// allocCrops allocates one buffer per crop of the recipe: packed RGB, or
// CHW in the recipe's dtype (the pools' New).
func (r *Recipe) allocCrops(packed bool) *SampleCrops {
	s := &SampleCrops{}
	for _, c := range r.crops {
		n := 3 * c.size * c.size
		switch {
		case packed:
			s.RGB = append(s.RGB, make([]uint8, n))
		case r.cfg.DType == DTypeUint8:
			s.U8 = append(s.U8, make([]uint8, n))
		default:
			s.F32 = append(s.F32, make([]float32, n))
		}
	}
	return s
}

// RenderPacked renders every crop of img (sample key in epoch) into dst.RGB
// as packed RGB, the pixels Render normalises (dst from NewPackedCrops).
// Cost: Render's without the normalisation.
func (r *Recipe) RenderPacked(c *Cropper, dst *SampleCrops, img *Image, epoch int, key string) error {
	if img.W < 1 || img.H < 1 {
		return fmt.Errorf("augment: sample %q: empty image", key)
	}
	if len(dst.RGB) != len(r.crops) {
		return fmt.Errorf("augment: sample %q: %d packed crop buffers for %d crops", key, len(dst.RGB), len(r.crops))
	}
	for i, cs := range r.crops {
		if len(dst.RGB[i]) != 3*cs.size*cs.size {
			return fmt.Errorf("augment: sample %q: crop %d needs %d bytes, got %d", key, i, 3*cs.size*cs.size, len(dst.RGB[i]))
		}
		p := r.Params(epoch, key, i, img.W, img.H)
		r.renderInto(c, dst.RGB[i], img, &p, cs.size)
	}
	return nil
}

// WriteFloat32 writes packed RGB crop pix as the recipe's normalised float32
// CHW values into dst (3*S*S values): the values CropFloat32 gives.
func (r *Recipe) WriteFloat32(dst []float32, pix []uint8) error {
	if len(dst) != len(pix) {
		return fmt.Errorf("augment: %d float32 values for a crop of %d bytes", len(dst), len(pix))
	}
	normalizeCHW(dst, pix, &r.norm)
	return nil
}

// WriteUint8 writes packed RGB crop pix as uint8 CHW into dst (3*S*S bytes):
// the values CropUint8 gives.
func (r *Recipe) WriteUint8(dst []uint8, pix []uint8) error {
	if len(dst) != len(pix) {
		return fmt.Errorf("augment: %d bytes for a crop of %d bytes", len(dst), len(pix))
	}
	planarCHW(dst, pix)
	return nil
}

// Release returns the buffers to the recipe's pool.
func (s *SampleCrops) Release() {
	if s.pool != nil {
		p := s.pool
		s.pool = nil
		s.Skip, s.SkipClass, s.Pos, s.Key, s.Shard, s.Where = "", "", nil, "", "", ""
		p.Put(s)
	}
}

// SizeBytes implements pipeline.Sizer.
func (s *SampleCrops) SizeBytes() int64 {
	var n int64
	for _, c := range s.F32 {
		n += 4 * int64(len(c))
	}
	for _, c := range s.U8 {
		n += int64(len(c))
	}
	for _, c := range s.RGB {
		n += int64(len(c))
	}
	return n
}

// NewSampleCrops returns an empty SampleCrops with buffers sized for the
// recipe (pooled; Release it).
func (r *Recipe) NewSampleCrops() *SampleCrops {
	return takeCrops(&r.pool)
}

// Render renders every crop of img (sample key in epoch) into dst, in the
// recipe's dtype. Cost: one resize per crop from the decoded image plus the
// colour ops, blur and normalisation of the crop's pixels (SPEC §9).
func (r *Recipe) Render(c *Cropper, dst *SampleCrops, img *Image, epoch int, key string) error {
	if img.W < 1 || img.H < 1 {
		return fmt.Errorf("augment: sample %q: empty image", key)
	}
	for i := range r.crops {
		var err error
		if r.cfg.DType == DTypeUint8 {
			err = r.CropUint8(c, dst.U8[i], img, epoch, key, i)
		} else {
			err = r.CropFloat32(c, dst.F32[i], img, epoch, key, i)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
