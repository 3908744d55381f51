package train

import (
	"encoding/json"
	"fmt"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/train"
)

// converter turns an *augment.Batch into the backend's crop groups:
// consecutive crop columns of equal size form one group, concatenated
// crop-major (rows [c*B, (c+1)*B) are crop c of the group), as the
// reference concatenates them. It reuses its buffers from batch to batch,
// so the groups it returns are valid until the next call.
type converter struct {
	bufs [][]float32
	// norm caches the uint8 lookup tables of the last mean/std seen.
	normKey string
	norm    [3][256]float32
}

// groups converts b. A group of one float32 crop aliases the batch's
// column (no copy); other groups are copied (float32) or normalised
// (uint8, with the schema's mean and std) into the converter's buffers.
func (c *converter) groups(b *augment.Batch) ([]train.CropGroup, error) {
	n, rows := b.NumCrops(), b.Rows()
	if n < 1 {
		return nil, fmt.Errorf("batch has no crop columns")
	}
	sizes := make([]int, n)
	for i := range sizes {
		shape, err := b.CropShape(i)
		if err != nil {
			return nil, err
		}
		if shape[0] != 3 || shape[1] != shape[2] || shape[1] < 1 {
			return nil, fmt.Errorf("column %s: crop shape %v, want [3,S,S]", augment.CropColumn(i), shape)
		}
		sizes[i] = shape[1]
	}
	uint8s := b.DType() == augment.DTypeUint8
	if uint8s {
		if err := c.loadNorm(b); err != nil {
			return nil, err
		}
	}
	var out []train.CropGroup
	for first := 0; first < n; {
		last := first
		for last+1 < n && sizes[last+1] == sizes[first] {
			last++
		}
		s, count := sizes[first], last-first+1
		per := rows * 3 * s * s
		g := train.CropGroup{Size: s, Count: count}
		if count == 1 && !uint8s {
			col, err := b.CropFloat32(first)
			if err != nil {
				return nil, err
			}
			if len(col) != per {
				return nil, fmt.Errorf("column %s holds %d values, want %d (%d rows x 3x%dx%d)", augment.CropColumn(first), len(col), per, rows, s, s)
			}
			g.Data = col
		} else {
			g.Data = c.buffer(len(out), count*per)
			for i := first; i <= last; i++ {
				if err := c.fill(g.Data[(i-first)*per:(i-first+1)*per], b, i, uint8s); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, g)
		first = last + 1
	}
	return out, nil
}

// buffer returns reusable buffer i of n values.
func (c *converter) buffer(i, n int) []float32 {
	for len(c.bufs) <= i {
		c.bufs = append(c.bufs, nil)
	}
	if cap(c.bufs[i]) < n {
		c.bufs[i] = make([]float32, n)
	}
	return c.bufs[i][:n]
}

// fill writes crop column i into dst (len = rows*3*S*S).
func (c *converter) fill(dst []float32, b *augment.Batch, i int, uint8s bool) error {
	if !uint8s {
		col, err := b.CropFloat32(i)
		if err != nil {
			return err
		}
		if len(col) != len(dst) {
			return fmt.Errorf("column %s holds %d values, want %d", augment.CropColumn(i), len(col), len(dst))
		}
		copy(dst, col)
		return nil
	}
	col, err := b.CropUint8(i)
	if err != nil {
		return err
	}
	if len(col) != len(dst) {
		return fmt.Errorf("column %s holds %d values, want %d", augment.CropColumn(i), len(col), len(dst))
	}
	plane := len(dst) / b.Rows() / 3
	for off, ch := 0, 0; off < len(col); off, ch = off+plane, (ch+1)%3 {
		lut, d := &c.norm[ch], dst[off:off+plane]
		for k, v := range col[off : off+plane] {
			d[k] = lut[v]
		}
	}
	return nil
}

// loadNorm builds the uint8 lookup tables from the schema's "mean" and
// "std" with augment.NormTables, the code the augment stage normalises
// float32 crops with (so both dtypes give identical values).
func (c *converter) loadNorm(b *augment.Batch) error {
	md := b.Record.Schema().Metadata()
	get := func(key string) (string, []float64, error) {
		i := md.FindKey(key)
		if i < 0 {
			return "", nil, fmt.Errorf("uint8 batch without %q in its schema metadata", key)
		}
		var v []float64
		if err := json.Unmarshal([]byte(md.Values()[i]), &v); err != nil || len(v) != 3 {
			return "", nil, fmt.Errorf("schema metadata %q = %q: want a JSON array of 3 numbers", key, md.Values()[i])
		}
		return md.Values()[i], v, nil
	}
	ms, mean, err := get("mean")
	if err != nil {
		return err
	}
	ss, std, err := get("std")
	if err != nil {
		return err
	}
	if ms+"|"+ss == c.normKey {
		return nil
	}
	norm, err := augment.NormTables(mean, std)
	if err != nil {
		return fmt.Errorf("schema metadata mean %s, std %s: %w", ms, ss, err)
	}
	c.norm = *norm
	c.normKey = ms + "|" + ss
	return nil
}
