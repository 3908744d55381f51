package augment

import (
	"fmt"
	"image"
	"math"
)

// PreviewSample is one decoded sample for the contact sheet.
type PreviewSample struct {
	Key   string
	Image *Image
}

// ContactSheet renders every crop of each sample as the training stage
// receives it (normalised float32, then de-normalised with the recipe's
// mean/std back to 8-bit RGB), one row per sample: the source image scaled
// to the row height, then the crops in order (large ones first; small ones
// stacked in columns), separated by a grey gap. Cost: one full recipe per sample.
func ContactSheet(r *Recipe, samples []PreviewSample, epoch int) (*image.RGBA, error) {
	if len(samples) == 0 {
		return nil, fmt.Errorf("augment: contact sheet of no samples")
	}
	const gap = 6
	rowH := 0
	for i := range r.NumCrops() {
		rowH = max(rowH, r.CropSize(i))
	}
	// Layout of the crops in a row: small crops stack in columns as many as
	// fit in the row height.
	type pos struct{ x, y int }
	var at []pos
	cropsW, x, slot, colW := 0, 0, 0, 0
	for i := range r.NumCrops() {
		size := r.CropSize(i)
		perCol := max(1, (rowH+gap)/(size+gap))
		if slot >= perCol || (i > 0 && size != r.CropSize(i-1) && slot > 0) {
			x += colW + gap
			slot, colW = 0, 0
		}
		at = append(at, pos{x, slot * (size + gap)})
		colW = max(colW, size)
		slot++
		cropsW = x + colW + gap
	}
	thumbW := rowH * 4 / 3
	width := gap + thumbW + gap + cropsW
	height := gap + len(samples)*(rowH+gap)
	sheet := NewSheet(width, height)
	cfg := r.Config()
	c := GetCropper()
	defer PutCropper(c)
	for si, s := range samples {
		y0 := gap + si*(rowH+gap)
		sheet.Thumb(s.Image, gap, y0, thumbW, rowH)
		x0 := gap + thumbW + gap
		for ci := range r.NumCrops() {
			size := r.CropSize(ci)
			vals := make([]float32, 3*size*size)
			if err := r.CropFloat32(c, vals, s.Image, epoch, s.Key, ci); err != nil {
				return nil, err
			}
			plane := size * size
			sheet.PutRGB(x0+at[ci].x, y0+at[ci].y, size, size, func(i, ch int) uint8 {
				v := (float64(vals[ch*plane+i])*cfg.Std[ch] + cfg.Mean[ch]) * 255
				return uint8(math.Min(255, math.Max(0, math.Round(v))))
			})
		}
	}
	return sheet.Image(), nil
}
