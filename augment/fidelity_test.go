package augment

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The vectors in testdata were made by testdata/gen.py with Debian's
// Pillow 9.4 / torchvision 0.14 (see vectors.json for the exact versions).

type vectors struct {
	Resize []struct {
		Left, Top, W, H, OW, OH int
		File                    string
	}
	Color []struct {
		Op     string
		Factor float32
		File   string
		Src    string
	}
	Blur []struct {
		Sigma float32
		File  string
	}
	Normalize struct {
		Mean, Std []float64
		Values    [][]float64
	}
	Chain []struct {
		Top, Left, H, W, Size int
		Flip                  bool
		Order                 []int
		B, C, S, Hue, Sigma   float32
		Gray                  bool
		File                  string
	}
	RRC []struct {
		W, H     int
		MinScale float64 `json:"min_scale"`
		MaxScale float64 `json:"max_scale"`
		N        int
		AreaMean float64 `json:"area_mean"`
		AreaStd  float64 `json:"area_std"`
		LogrMean float64 `json:"logr_mean"`
		LogrStd  float64 `json:"logr_std"`
		AreaP10  float64 `json:"area_p10"`
		AreaP90  float64 `json:"area_p90"`
	}
	Decode []struct {
		File, Expect string
		Exact        bool
	}
	Eval []struct {
		Src          string
		Resize, Crop int
		File         string
	}
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func loadImage(t testing.TB, name string) *Image {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	img, err := Decode(nil, b, DefaultMaxPixels)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return img
}

// maxDiff compares two RGB buffers: the largest absolute difference and the
// number of differing values.
func maxDiff(a, b []uint8) (maxd, ndiff int) {
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		if d > 0 {
			ndiff++
		}
		maxd = max(maxd, d)
	}
	return
}

func TestResizeMatchesPillow(t *testing.T) {
	v := loadVectors(t)
	src := loadImage(t, "src.png")
	var z resizer
	for _, c := range v.Resize {
		t.Run(c.File, func(t *testing.T) {
			want := loadImage(t, c.File)
			got := make([]uint8, 3*c.OW*c.OH)
			z.resizeCrop(got, src, cropBox{Top: c.Top, Left: c.Left, H: c.H, W: c.W}, c.OW, c.OH, false)
			if m, n := maxDiff(got, want.Pix); m != 0 {
				t.Errorf("%dx%d+%d+%d -> %dx%d: %d values differ, max %d grey levels (want bit-exact)", c.W, c.H, c.Left, c.Top, c.OW, c.OH, n, m)
			}
		})
	}
}

func TestColorOpsMatchPillow(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Color {
		t.Run(c.File, func(t *testing.T) {
			src := "color_src.png"
			if c.Src != "" {
				src = c.Src
			}
			pix := append([]uint8(nil), loadImage(t, src).Pix...)
			switch c.Op {
			case "brightness":
				adjustBrightness(pix, c.Factor)
			case "contrast":
				adjustContrast(pix, c.Factor)
			case "saturation":
				adjustSaturation(pix, c.Factor)
			case "hue":
				adjustHue(pix, c.Factor)
			case "grayscale":
				toGrayscale(pix)
			default:
				t.Fatalf("unknown op %q", c.Op)
			}
			if m, n := maxDiff(pix, loadImage(t, c.File).Pix); m != 0 {
				t.Errorf("%s(%v): %d values differ, max %d (want bit-exact)", c.Op, c.Factor, n, m)
			}
		})
	}
}

// TestBlurMatchesPillow: the blur is Pillow's extended-box approximation,
// bit-exact against GaussianBlur(radius=sigma).
func TestBlurMatchesPillow(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Blur {
		t.Run(c.File, func(t *testing.T) {
			img := loadImage(t, "color_src.png")
			pix := append([]uint8(nil), img.Pix...)
			gaussianBlur(pix, make([]uint8, blurScratchLen(img.W, img.H)), make([]uint32, 3*img.W), img.W, img.H, c.Sigma)
			if m, n := maxDiff(pix, loadImage(t, c.File).Pix); m != 0 {
				t.Errorf("sigma %v: %d values differ, max %d (want bit-exact)", c.Sigma, n, m)
			}
		})
	}
}

func TestNormalizeMatchesTorch(t *testing.T) {
	v := loadVectors(t)
	cfg := DefaultConfig()
	r, err := NewRecipe(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	for c := range 3 {
		for i := range 256 {
			if want := float32(v.Normalize.Values[c][i]); r.norm[c][i] != want {
				t.Fatalf("channel %d value %d: got %v want %v", c, i, r.norm[c][i], want)
			}
		}
	}
}

// TestCropChainMatchesReference renders whole crops with fixed draws and
// compares with torchvision's resized_crop, hflip, adjust_* in the given
// order, rgb_to_grayscale and PIL GaussianBlur.
func TestCropChainMatchesReference(t *testing.T) {
	v := loadVectors(t)
	src := loadImage(t, "src.png")
	cfg := DefaultConfig()
	r, err := NewRecipe(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := GetCropper()
	defer PutCropper(c)
	for _, ch := range v.Chain {
		t.Run(ch.File, func(t *testing.T) {
			p := CropParams{Box: cropBox{Top: ch.Top, Left: ch.Left, H: ch.H, W: ch.W}, Flip: ch.Flip, Jitter: true,
				Brightness: ch.B, Contrast: ch.C, Saturation: ch.S, Hue: ch.Hue, Gray: ch.Gray, Blur: ch.Sigma > 0, Sigma: ch.Sigma}
			copy(p.Order[:], ch.Order)
			got := r.renderUint8(c, src, &p, ch.Size)
			if m, n := maxDiff(got, loadImage(t, ch.File).Pix); m != 0 {
				t.Errorf("%d values differ, max %d (want bit-exact)", n, m)
			}
		})
	}
}

// TestRandomResizedCropStatistics compares our sampler's area fraction and
// log aspect ratio with torchvision's get_params over 20000 draws each.
func TestRandomResizedCropStatistics(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.RRC {
		s := newRRCSampler(c.MinScale, c.MaxScale, []float64{3.0 / 4, 4.0 / 3})
		var sa, sa2, sl, sl2 float64
		areas := make([]float64, c.N)
		for i := range c.N {
			rng := newCropRNG(7, 0, "rrc", i)
			b := s.sample(&rng, c.W, c.H)
			if b.Top < 0 || b.Left < 0 || b.Top+b.H > c.H || b.Left+b.W > c.W || b.W < 1 || b.H < 1 {
				t.Fatalf("%dx%d: box %+v outside the image", c.W, c.H, b)
			}
			a := float64(b.W*b.H) / float64(c.W*c.H)
			l := math.Log(float64(b.W) / float64(b.H))
			areas[i] = a
			sa, sa2, sl, sl2 = sa+a, sa2+a*a, sl+l, sl2+l*l
		}
		n := float64(c.N)
		am, lm := sa/n, sl/n
		as, ls := math.Sqrt(sa2/n-am*am), math.Sqrt(sl2/n-lm*lm)
		// Standard error of the mean is std/sqrt(n) ~ 0.002: allow 4 of them
		// plus a little for rounding to integer sides.
		tol := func(std float64) float64 { return 4*std/math.Sqrt(n) + 0.002 }
		if math.Abs(am-c.AreaMean) > tol(c.AreaStd) || math.Abs(as-c.AreaStd) > 0.01 {
			t.Errorf("%dx%d scale %v-%v: area fraction mean/std %.4f/%.4f, torchvision %.4f/%.4f", c.W, c.H, c.MinScale, c.MaxScale, am, as, c.AreaMean, c.AreaStd)
		}
		if math.Abs(lm-c.LogrMean) > tol(c.LogrStd) || math.Abs(ls-c.LogrStd) > 0.01 {
			t.Errorf("%dx%d scale %v-%v: log ratio mean/std %.4f/%.4f, torchvision %.4f/%.4f", c.W, c.H, c.MinScale, c.MaxScale, lm, ls, c.LogrMean, c.LogrStd)
		}
	}
}

func TestDecodeMatchesPillow(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Decode {
		t.Run(c.File, func(t *testing.T) {
			got := loadImage(t, c.File)
			want := loadImage(t, c.Expect)
			if got.W != want.W || got.H != want.H {
				t.Fatalf("size %dx%d, Pillow %dx%d", got.W, got.H, want.W, want.H)
			}
			m, n := maxDiff(got.Pix, want.Pix)
			// libjpeg-turbo is what Pillow uses: JPEGs decode bit-exact with it.
			// image/jpeg (the fallback) and CMYK conversion differ by a few levels.
			exact := c.Exact && (DecoderName() == "libjpeg-turbo" || filepath.Ext(c.File) != ".jpg")
			limit := 0
			if !exact {
				limit = 12
			}
			if m > limit {
				t.Errorf("%s (%s): %d values differ, max %d > %d", c.File, DecoderName(), n, m, limit)
			}
		})
	}
}

func TestEvalTransformMatchesTorchvision(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Eval {
		t.Run(c.File, func(t *testing.T) {
			e := EvalTransform{Resize: c.Resize, Crop: c.Crop}
			src := loadImage(t, c.Src)
			got := make([]float32, e.Len())
			if err := e.ApplyImage(got, src); err != nil {
				t.Fatal(err)
			}
			want := loadImage(t, c.File)
			norm, _ := NormTables(nil, nil)
			exp := make([]float32, e.Len())
			normalizeCHW(exp, want.Pix, norm)
			for i := range got {
				if got[i] != exp[i] {
					t.Fatalf("value %d: got %v want %v (resize %d crop %d)", i, got[i], exp[i], c.Resize, c.Crop)
				}
			}
		})
	}
}

// TestHueTables: the table-driven hue path equals Pillow's per-pixel maths
// (rgbToHSV, shift, hsvToRGB) on every RGB colour for a few shifts.
func TestHueTables(t *testing.T) {
	if testing.Short() {
		t.Skip("2^24 colours")
	}
	pix := make([]uint8, 3<<16)
	for _, f := range []float32{-0.0371, 0.2} {
		shift := hueShift(f)
		for r := range 256 {
			for i := range 1 << 16 {
				pix[3*i], pix[3*i+1], pix[3*i+2] = uint8(r), uint8(i>>8), uint8(i)
			}
			adjustHue(pix, f)
			for i := range 1 << 16 {
				g, b := uint8(i>>8), uint8(i)
				h, s, v := rgbToHSV(uint8(r), g, b)
				// Pillow's hsv2rgb: s == 0 gives (v, v, v).
				wr, wg, wb := v, v, v
				if s != 0 {
					wr, wg, wb = hsvToRGB(h+shift, s, v)
				}
				if pix[3*i] != wr || pix[3*i+1] != wg || pix[3*i+2] != wb {
					t.Fatalf("hue %v on (%d,%d,%d): got (%d,%d,%d) want (%d,%d,%d)", f, r, g, b, pix[3*i], pix[3*i+1], pix[3*i+2], wr, wg, wb)
				}
			}
		}
	}
}

// TestSaturationTableEqualsBlend: the table path equals blend for every
// (luma, value) pair and a spread of factors.
func TestSaturationTableEqualsBlend(t *testing.T) {
	for _, f := range []float32{0.2, 0.4142, 0.999, 1.0, 1.33, 1.8, 3.7} {
		for l := range 256 {
			for v := range 256 {
				// A pixel whose luma is l: grey (l, l, l) with one channel set to v
				// would change the luma, so check the blend step directly.
				var prod [511]float32
				prod[v-l+255] = float32(f * float32(v-l))
				r := float32(float32(l) + prod[v-l+255])
				want := blend(int32(l), int32(v), f)
				got := uint8(0)
				switch {
				case r <= 0:
				case r >= 255:
					got = 255
				default:
					got = uint8(r)
				}
				if got != want {
					t.Fatalf("f %v l %d v %d: table %d, blend %d", f, l, v, got, want)
				}
			}
		}
	}
}

func TestEvalTransformBadInput(t *testing.T) {
	e := EvalTransform{Resize: 256, Crop: 224, MaxPixels: 1 << 20}
	thin := &Image{W: 1, H: 5000, Pix: make([]uint8, 3*5000)}
	if err := e.ApplyImage(make([]float32, e.Len()), thin); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("thin image: %v", err)
	}
	if _, err := e.Apply([]byte("no image"), "jpg"); !errors.Is(err, ErrNotImage) {
		t.Fatalf("text: %v", err)
	}
	if err := (EvalTransform{Resize: 10, Crop: 20}).ApplyImage(make([]float32, 3*400), thin); err == nil {
		t.Fatal("crop > resize accepted")
	}
}
