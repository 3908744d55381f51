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
	Label int64
	Epoch int
	// Pos is the sample's ingest position (ingest.Position).
	Pos any
	// Skip is non-empty when the sample could not be decoded: the reason
	// (SkipReason) and the error text. The sample has no crops then.
	Skip string
	// F32 (float32 recipes) or U8 (uint8 recipes) holds one 3*S*S CHW slice
	// per crop.
	F32 [][]float32
	U8  [][]uint8

	pool *sync.Pool
}

// Release returns the buffers to the recipe's pool.
func (s *SampleCrops) Release() {
	if s.pool != nil {
		p := s.pool
		s.pool = nil
		s.Skip, s.Pos, s.Key, s.Shard = "", nil, "", ""
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
	return n
}

// NewSampleCrops returns an empty SampleCrops with buffers sized for the
// recipe (pooled; Release it).
func (r *Recipe) NewSampleCrops() *SampleCrops {
	r.poolOnce.Do(func() {
		r.pool.New = func() any {
			s := &SampleCrops{}
			for _, c := range r.crops {
				n := 3 * c.size * c.size
				if r.cfg.DType == DTypeUint8 {
					s.U8 = append(s.U8, make([]uint8, n))
				} else {
					s.F32 = append(s.F32, make([]float32, n))
				}
			}
			return s
		}
	})
	s := r.pool.Get().(*SampleCrops)
	s.pool = &r.pool
	return s
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
