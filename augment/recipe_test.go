package augment

import (
	"slices"
	"sync"
	"testing"

	"github.com/swavgo/swav/internal/field/fieldtest"
)

// TestCropsDependOnlyOnSeedEpochKeyCrop: the same (seed, epoch, key, crop)
// gives the same pixels from any goroutine and in any order; another epoch,
// key or seed gives other crops.
func TestCropsDependOnlyOnSeedEpochKeyCrop(t *testing.T) {
	img := loadImage(t, "dec_color.jpg")
	r, err := NewRecipe(DefaultConfig(), 31)
	if err != nil {
		t.Fatal(err)
	}
	render := func(r *Recipe, epoch int, key string) [][]float32 {
		out := r.NewSampleCrops()
		c := GetCropper()
		defer PutCropper(c)
		if err := r.Render(c, out, img, epoch, key); err != nil {
			t.Error(err)
		}
		res := make([][]float32, len(out.F32))
		for i := range out.F32 {
			res[i] = slices.Clone(out.F32[i])
		}
		out.Release()
		return res
	}
	want := render(r, 3, "sample-1")
	var wg sync.WaitGroup
	results := make([][][]float32, 4)
	for i := range results {
		wg.Go(func() {
			render(r, 4, "other") // interleave other work on the pooled buffers
			results[i] = render(r, 3, "sample-1")
		})
	}
	wg.Wait()
	for i, got := range results {
		for c := range want {
			if !slices.Equal(got[c], want[c]) {
				t.Fatalf("goroutine %d crop %d differs", i, c)
			}
		}
	}
	r2, _ := NewRecipe(DefaultConfig(), 32)
	for name, other := range map[string][][]float32{"epoch": render(r, 4, "sample-1"), "key": render(r, 3, "sample-2"), "seed": render(r2, 3, "sample-1")} {
		same := 0
		for c := range want {
			if slices.Equal(other[c], want[c]) {
				same++
			}
		}
		if same == len(want) {
			t.Errorf("another %s gave the same crops", name)
		}
	}
}

// TestParamsFollowConfig: probabilities and ranges from config hold over many
// draws (flip 0.5, jitter 0.8, gray 0.2, blur 0.5, sigma in range, factors in
// range), and p=0 / p=1 are respected.
func TestParamsFollowConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Blur = BlurConfig{P: 0.5, SigmaMin: 0.3, SigmaMax: 0.7}
	cfg.Jitter.Hue = 0.1
	r, err := NewRecipe(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2500
	var flip, jit, gray, blur int
	for i := range n {
		p := r.Params(i, "k", i%8, 500, 375)
		if p.Flip {
			flip++
		}
		if p.Jitter {
			jit++
			if p.Brightness < 0.2 || p.Brightness > 1.8 || p.Hue < -0.1 || p.Hue > 0.1 {
				t.Fatalf("factors out of range: %+v", p)
			}
		}
		if p.Gray {
			gray++
		}
		if p.Blur {
			blur++
			if p.Sigma < 0.3 || p.Sigma > 0.7 {
				t.Fatalf("sigma %v", p.Sigma)
			}
		}
	}
	m := float64(n)
	for _, c := range []struct {
		name string
		got  int
		p    float64
	}{{"flip", flip, 0.5}, {"jitter", jit, 0.8}, {"gray", gray, 0.2}, {"blur", blur, 0.5}} {
		if f := float64(c.got) / m; f < c.p-0.04 || f > c.p+0.04 {
			t.Errorf("%s frequency %.3f, want %.2f", c.name, f, c.p)
		}
	}
	cfg.FlipP, cfg.Jitter.P, cfg.GrayscaleP, cfg.Blur.P = 0, 1, 1, 0
	r, _ = NewRecipe(cfg, 1)
	for i := range 100 {
		p := r.Params(i, "k", 0, 10, 10)
		if p.Flip || !p.Jitter || !p.Gray || p.Blur {
			t.Fatalf("p=0/1 not respected: %+v", p)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no crops", func(c *Config) { c.Crops = nil }, "crops"},
		{"size", func(c *Config) { c.Crops[1].Size = 0 }, "crops[1].size"},
		{"scale", func(c *Config) { c.Crops[0].MaxScale = 0.01 }, "crops[0].max_scale"},
		{"dtype", func(c *Config) { c.DType = "float16" }, "dtype"},
		{"ratio", func(c *Config) { c.Ratio = []float64{2, 1} }, "ratio"},
		{"flip p", func(c *Config) { c.FlipP = 1.5 }, "flip_p"},
		{"hue", func(c *Config) { c.Jitter.Hue = 0.7 }, "jitter.hue"},
		{"blur", func(c *Config) { c.Blur.SigmaMin = 0 }, "blur"},
		{"std", func(c *Config) { c.Std = []float64{0.2, 0, 0.2} }, "std[1]"},
		{"mean", func(c *Config) { c.Mean = []float64{0.5} }, "mean"},
		{"max pixels", func(c *Config) { c.MaxPixels = 0 }, "max_pixels"},
		{"eval", func(c *Config) { c.Eval.Crop = 300 }, "eval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.edit(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			fieldtest.Want(t, err, c.field)
		})
	}
	d := DefaultConfig()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestRenderTinyAndThinImages: degenerate sources (1x1, one row, one
// column) render every crop without panicking (RandomResizedCrop falls back
// to a centre crop; the resize upsamples).
func TestRenderTinyAndThinImages(t *testing.T) {
	r, err := NewRecipe(DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	c := GetCropper()
	defer PutCropper(c)
	out := r.NewSampleCrops()
	defer out.Release()
	for _, wh := range [][2]int{{1, 1}, {1, 300}, {300, 1}, {2, 2}, {5, 1000}} {
		img := &Image{W: wh[0], H: wh[1], Pix: make([]uint8, 3*wh[0]*wh[1])}
		for i := range img.Pix {
			img.Pix[i] = uint8(i * 13)
		}
		for epoch := range 5 {
			if err := r.Render(c, out, img, epoch, "tiny"); err != nil {
				t.Fatalf("%dx%d: %v", wh[0], wh[1], err)
			}
		}
	}
}
