package augment

import (
	"math"
	"sync"
)

// Colour operations with Pillow 9.4's integer maths, as torchvision 0.14's
// ColorJitter and RandomGrayscale run them on PIL images (SPEC §9). Each works
// in place on packed RGB.

// luma is Pillow's RGB -> L: (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 0x8000) >> 16)
}

// blend is ImagingBlend for one channel: float32 deg + f*(v-deg), truncated
// toward zero and clamped to [0, 255]. The explicit float32 conversions keep
// the compiler from fusing the multiply-add (Pillow rounds twice).
func blend(deg, v int32, f float32) uint8 {
	t := float32(f * float32(v-deg))
	r := float32(float32(deg) + t)
	if r <= 0 {
		return 0
	}
	if r >= 255 {
		return 255
	}
	return uint8(r)
}

// blendLUT is blend against a constant degenerate value for every v.
func blendLUT(lut *[256]uint8, deg int32, f float32) {
	for v := range lut {
		lut[v] = blend(deg, int32(v), f)
	}
}

func applyLUT(pix []uint8, lut *[256]uint8) {
	for i, v := range pix {
		pix[i] = lut[v]
	}
}

// adjustBrightness is ImageEnhance.Brightness(img).enhance(f): blend with black.
func adjustBrightness(pix []uint8, f float32) {
	var lut [256]uint8
	blendLUT(&lut, 0, f)
	applyLUT(pix, &lut)
}

// meanLuma is int(mean(L) + 0.5) over the image, as ImageEnhance.Contrast.
func meanLuma(pix []uint8) int32 {
	var sum uint64
	for i := 0; i+2 < len(pix); i += 3 {
		sum += uint64(luma(pix[i], pix[i+1], pix[i+2]))
	}
	n := len(pix) / 3
	if n == 0 {
		return 0
	}
	return int32(float64(sum)/float64(n) + 0.5)
}

// adjustContrast is ImageEnhance.Contrast(img).enhance(f): blend with the
// constant grey of the mean luma.
func adjustContrast(pix []uint8, f float32) {
	var lut [256]uint8
	blendLUT(&lut, meanLuma(pix), f)
	applyLUT(pix, &lut)
}

// adjustSaturation is ImageEnhance.Color(img).enhance(f): blend with the
// pixel's own luma. The products f*(v-l) come from a table over v-l (the
// same float32 operations as blend, computed once per call).
func adjustSaturation(pix []uint8, f float32) {
	if vectorColor {
		pix = pix[saturateVector(pix, f):]
	}
	adjustSaturationGo(pix, f)
}

// vectorColor selects the vector saturation kernel where it exists (tests
// turn it off to compare with the Go loop).
var vectorColor = true

// adjustSaturationGo is adjustSaturation in Go, one pixel at a time.
func adjustSaturationGo(pix []uint8, f float32) {
	var prod [511]float32
	for d := range prod {
		prod[d] = float32(f * float32(d-255))
	}
	sum := func(l float32, d int) uint8 {
		r := float32(l + prod[d])
		if r <= 0 {
			return 0
		}
		if r >= 255 {
			return 255
		}
		return uint8(r)
	}
	for i := 0; i+2 < len(pix); i += 3 {
		p := pix[i : i+3 : i+3]
		l := int(luma(p[0], p[1], p[2]))
		fl := float32(l)
		p[0], p[1], p[2] = sum(fl, int(p[0])-l+255), sum(fl, int(p[1])-l+255), sum(fl, int(p[2])-l+255)
	}
}

// toGrayscale replaces each pixel by its luma on 3 channels.
func toGrayscale(pix []uint8) {
	for i := 0; i+2 < len(pix); i += 3 {
		p := pix[i : i+3 : i+3]
		l := luma(p[0], p[1], p[2])
		p[0], p[1], p[2] = l, l, l
	}
}

// hueShift is torchvision's uint8 hue offset: np.uint8(hue_factor * 255),
// i.e. trunc(h*255) wrapped modulo 256.
func hueShift(f float32) uint8 {
	return uint8(int64(float64(f) * 255.0))
}

// adjustHue is torchvision's PIL adjust_hue: RGB -> Pillow's 8-bit HSV, add
// the shift to H with uint8 wrap-around, HSV -> RGB. Grey pixels (max == min)
// come back unchanged. The RGB -> HSV step reads tables equal to rgbToHSV
// (see hsvTables); HSV -> RGB uses per-call tables over H and S.
func adjustHue(pix []uint8, f float32) {
	shift := hueShift(f)
	if shift == 0 {
		return
	}
	t := getHSVTables()
	// Per shifted hue: the sector and the float32 fraction of hsv2rgb.
	var sector [256]uint8
	var frac [256]float32
	var oneMinusFrac [256]float64
	for h := range 256 {
		sector[h], frac[h] = hsvSector(uint8(h))
		oneMinusFrac[h] = float64(1.0 - float64(frac[h]))
	}
	for i := 0; i+2 < len(pix); i += 3 {
		p := pix[i : i+3 : i+3]
		r, g, b := p[0], p[1], p[2]
		maxc := max(r, g, b)
		minc := min(r, g, b)
		if maxc == minc {
			continue // hsv2rgb returns (v, v, v) = the grey pixel itself
		}
		cr := int(maxc - minc)
		var h uint8
		// The branch order of rgb2hsv: r == max first, then g == max.
		switch {
		case r == maxc && b == minc:
			h = t.h[0][cr][maxc-g]
		case r == maxc:
			h = t.h[1][cr][maxc-b]
		case g == maxc && r == minc:
			h = t.h[2][cr][maxc-b]
		case g == maxc:
			h = t.h[3][cr][maxc-r]
		case b == maxc && g == minc:
			h = t.h[4][cr][maxc-r]
		default:
			h = t.h[5][cr][maxc-g]
		}
		s := t.s[cr][maxc]
		if s == 0 {
			// Nearly grey (cr/max < 1/255): hsv2rgb gives (v, v, v).
			p[0], p[1], p[2] = maxc, maxc, maxc
			continue
		}
		h += shift
		p[0], p[1], p[2] = hsvToRGBTab(sector[h], frac[h], oneMinusFrac[h], s, maxc)
	}
}

// hsvToRGBTab is hsvToRGBFast with its per-saturation values read from
// tables (no division per pixel) and 1-f given: the same operations on the
// same values.
func hsvToRGBTab(i uint8, f float32, oneMinusF float64, s, v uint8) (uint8, uint8, uint8) {
	fs := hsvFS[s]
	fv := float64(float32(v))
	p := roundHalfUp8(fv * hsvOneMinusFS[s])
	switch i {
	case 0:
		return v, roundHalfUp8(fv * float64(1.0-float64(fs)*oneMinusF)), p
	case 1:
		return roundHalfUp8(fv * float64(1.0-float64(float32(fs*f)))), v, p
	case 2:
		return p, v, roundHalfUp8(fv * float64(1.0-float64(fs)*oneMinusF))
	case 3:
		return p, roundHalfUp8(fv * float64(1.0-float64(float32(fs*f)))), v
	case 4:
		return roundHalfUp8(fv * float64(1.0-float64(fs)*oneMinusF)), p, v
	default:
		return v, p, roundHalfUp8(fv * float64(1.0-float64(float32(fs*f))))
	}
}

// hsvFS[s] is hsv2rgb's fs = float32(s / 255.0); hsvOneMinusFS[s] is 1 - fs
// in float64.
var hsvFS, hsvOneMinusFS = func() (fs [256]float32, omfs [256]float64) {
	for s := range fs {
		fs[s] = float32(float64(float32(s)) / 255.0)
		omfs[s] = float64(1.0 - float64(fs[s]))
	}
	return fs, omfs
}()

// hsvTables hold rgb2hsv's H and S: H depends only on which channel is the
// maximum and which the minimum (in rgb2hsv's branch order), on
// cr = max - min and on max - mid; S on cr and max. Built once from rgbToHSV
// itself (so equal to it by construction; TestHueTables checks all 2^24
// colours).
type hsvTables struct {
	h [6][256][256]uint8 // [case][cr][max - mid]
	s [256][256]uint8    // [cr][max]
}

var (
	hsvOnce sync.Once
	hsvTab  *hsvTables
)

func getHSVTables() *hsvTables {
	hsvOnce.Do(func() {
		t := new(hsvTables)
		for cr := 1; cr < 256; cr++ {
			for d := 0; d <= cr; d++ {
				mid := uint8(cr - d)
				c := uint8(cr)
				// A representative colour of each case with max = cr, min = 0.
				reps := [6][3]uint8{{c, mid, 0}, {c, 0, mid}, {0, c, mid}, {mid, c, 0}, {mid, 0, c}, {0, mid, c}}
				for k, rgb := range reps {
					h, _, _ := rgbToHSV(rgb[0], rgb[1], rgb[2])
					t.h[k][cr][d] = h
				}
			}
			for m := cr; m < 256; m++ {
				_, s, _ := rgbToHSV(uint8(m), uint8(m-cr), uint8(m-cr))
				t.s[cr][m] = s
			}
		}
		hsvTab = t
	})
	return hsvTab
}

// hsvSector is hsv2rgb's i = floor(h*6/255) and f = h*6/255 - i (float32).
func hsvSector(h uint8) (uint8, float32) {
	i := int(math.Floor(float64(float32(h)) * 6.0 / 255.0))
	f := float32(float64(float32(h))*6.0/255.0 - float64(float32(i)))
	return uint8(i % 6), f
}

// hsvToRGBFast is hsv2rgb for s != 0 given the hue's sector and fraction.
// Only the two of p, q, t that the sector uses are computed.
func hsvToRGBFast(i uint8, f float32, s, v uint8) (uint8, uint8, uint8) {
	fs := float32(float64(float32(s)) / 255.0)
	fv := float64(float32(v))
	p := roundHalfUp8(fv * float64(1.0-float64(fs)))
	switch i {
	case 0:
		return v, roundHalfUp8(fv * float64(1.0-float64(float64(fs)*float64(1.0-float64(f))))), p
	case 1:
		return roundHalfUp8(fv * float64(1.0-float64(float32(fs*f)))), v, p
	case 2:
		return p, v, roundHalfUp8(fv * float64(1.0-float64(float64(fs)*float64(1.0-float64(f)))))
	case 3:
		return p, roundHalfUp8(fv * float64(1.0-float64(float32(fs*f)))), v
	case 4:
		return roundHalfUp8(fv * float64(1.0-float64(float64(fs)*float64(1.0-float64(f))))), p, v
	default:
		return v, p, roundHalfUp8(fv * float64(1.0-float64(float32(fs*f))))
	}
}

// roundHalfUp8 is CLIP8(round(x)) for 0 <= x <= 255 (C round: half away
// from zero). int(x + 0.5) differs from round(x) only if x lies within
// 2^-45 below a half-integer; x is v (8 bits) times a factor built from
// float32 values, and TestHueTables checks every colour.
func roundHalfUp8(x float64) uint8 {
	r := int(x + 0.5)
	if r > 255 {
		return 255
	}
	if r < 0 {
		return 0
	}
	return uint8(r)
}

// rgbToHSV is Pillow's rgb2hsv (Convert.c), float32 and float64 steps as C
// evaluates them.
func rgbToHSV(r, g, b uint8) (uh, us, uv uint8) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	if maxc == minc {
		return 0, 0, maxc
	}
	cr := float32(maxc - minc)
	s := float32(cr / float32(maxc))
	rc := float32(float32(maxc-r) / cr)
	gc := float32(float32(maxc-g) / cr)
	bc := float32(float32(maxc-b) / cr)
	var h float32
	switch {
	case r == maxc:
		h = float32(bc - gc)
	case g == maxc:
		h = float32(2.0 + float64(rc) - float64(bc))
	default:
		h = float32(4.0 + float64(gc) - float64(rc))
	}
	h = float32(math.Mod(float64(h)/6.0+1.0, 1.0))
	return clip8int(int(float64(h) * 255.0)), clip8int(int(float64(s) * 255.0)), maxc
}

func clip8int(v int) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// hsvToRGB is Pillow's hsv2rgb for s != 0.
func hsvToRGB(h, s, v uint8) (uint8, uint8, uint8) {
	i, f := hsvSector(h)
	return hsvToRGBFast(i, f, s, v)
}
