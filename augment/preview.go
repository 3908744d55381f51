package augment

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
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
	sheet := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(sheet, sheet.Bounds(), &image.Uniform{color.RGBA{64, 64, 64, 255}}, image.Point{}, draw.Src)
	cfg := r.Config()
	c := GetCropper()
	defer PutCropper(c)
	var z resizer
	for si, s := range samples {
		y0 := gap + si*(rowH+gap)
		// Thumbnail: fit the source into thumbW x rowH, aspect kept.
		tw, th := thumbW, int(math.Round(float64(thumbW)*float64(s.Image.H)/float64(s.Image.W)))
		if th > rowH {
			th, tw = rowH, max(1, int(math.Round(float64(rowH)*float64(s.Image.W)/float64(s.Image.H))))
		}
		th = max(th, 1)
		thumb := make([]uint8, 3*tw*th)
		z.resizeCrop(thumb, s.Image, cropBox{W: s.Image.W, H: s.Image.H}, tw, th, false)
		putRGB(sheet, gap, y0, tw, th, func(i, ch int) uint8 { return thumb[3*i+ch] })
		x0 := gap + thumbW + gap
		for ci := range r.NumCrops() {
			size := r.CropSize(ci)
			vals := make([]float32, 3*size*size)
			if err := r.CropFloat32(c, vals, s.Image, epoch, s.Key, ci); err != nil {
				return nil, err
			}
			plane := size * size
			putRGB(sheet, x0+at[ci].x, y0+at[ci].y, size, size, func(i, ch int) uint8 {
				v := (float64(vals[ch*plane+i])*cfg.Std[ch] + cfg.Mean[ch]) * 255
				return uint8(math.Min(255, math.Max(0, math.Round(v))))
			})
		}
	}
	return sheet, nil
}

func putRGB(dst *image.RGBA, x0, y0, w, h int, at func(i, ch int) uint8) {
	for y := range h {
		for x := range w {
			i := y*w + x
			dst.SetRGBA(x0+x, y0+y, color.RGBA{at(i, 0), at(i, 1), at(i, 2), 255})
		}
	}
}
